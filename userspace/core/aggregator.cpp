// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "core/aggregator.h"
#include "core/pid_table.h"
#include "core/reports.h"
#include "core/ring.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>

namespace treetrace {
namespace {

// Earlier comms kept per process; longer exec chains keep the latest ones.
constexpr size_t comm_history_kept = 8;
// OOM victims named in reports; a storm of kills keeps the latest.
constexpr size_t max_oom_victims_kept = 1024;

using Tree = Account;

// What a record says about a process the aggregator has not seen yet.
struct Newcomer {
  uint32_t ppid = 0;
  std::string comm;
  uint64_t ts_ns = 0;
  LearnedVia via = LearnedVia::Inferred;
  uint64_t cgroup_id = 0;
};

} // namespace

const char *to_string(LearnedVia v) {
  switch (v) {
  case LearnedVia::Fork:
    return "fork";
  case LearnedVia::Existing:
    return "existing";
  case LearnedVia::Inferred:
    return "inferred";
  }
  return "unknown";
}

struct Aggregator::Impl {
  explicit Impl(AggregatorConfig config)
      : config_(std::move(config)), groups_(config_.max_trees, config_.max_comms_per_tree) {}

  bool grouping() const { return config_.group_by != GroupBy::Tree; }

  // The group a process belongs in now.
  std::string group_key_of(const Process &p) const {
    switch (config_.group_by) {
    case GroupBy::Tree:
      return {};
    case GroupBy::Comm:
      return p.comm;
    case GroupBy::Container:
    case GroupBy::Pod:
    case GroupBy::Unit:
    case GroupBy::Cgroup:
      return config_.cgroup_group_key ? config_.cgroup_group_key(p.cgroup_id) : std::string();
    }
    return {};
  }

  // Moves a process to the group its cgroup or comm now says, if that
  // changed. What it used in the old group is recorded there under the
  // comm it had then (`old_comm`, when an exec just changed it).
  void regroup(Process &p, uint64_t ts_ns, const std::string *old_comm = nullptr) {
    if (!grouping())
      return;
    std::string key = group_key_of(p);
    if (key == p.group)
      return;
    CommUsage leaving = p.group_usage();
    if (old_comm)
      leaving.comm = *old_comm;
    groups_.leave(p.group, p.key, p.rss_bytes, leaving, ts_ns);
    p.group = groups_.join(key, p.key, p.rss_bytes, p.cgroup_id, ts_ns);
    p.group_cpu_base = p.cpu_ns;
  }

  // The accounts a process's counters go to: its tree, and its group.
  template <typename F> void for_accounts(const Process &p, F &&f) {
    f(trees_.at(p.tree));
    if (grouping())
      if (Account *g = groups_.find(p.group))
        f(*g);
  }

  Attribution on_event(const Event &event) {
    ++stats_.events;
    return std::visit([this](const auto &ev) { return handle(ev); }, event);
  }

  void finish_startup_scan() {
    std::vector<ProcKey> roots;
    for (const auto &[root, tree] : trees_) {
      auto it = live_.find(root);
      if (it != live_.end() && it->second.learned_via == LearnedVia::Existing)
        roots.push_back(root);
    }
    for (const ProcKey &root : roots) {
      const ProcKey settled = settled_tree(live_.at(root));
      if (settled != root)
        merge_tree(root, settled);
    }
  }

  std::vector<TreeReport> snapshot(uint64_t now_ns, bool with_processes) {
    const std::optional<ExitedByTree> exited = reports().exited_by_tree(with_processes);
    const std::optional<ExitedByGroup> exited_groups = reports().exited_by_group(with_processes && grouping());
    std::vector<TreeReport> out;
    auto take = [&](Account &a) {
      if (a.members.empty())
        return;
      out.push_back(reports().account(a, now_ns, exited, exited_groups, grouping()));
      a.cpu_baseline_ns = a.cpu_ns;
    };
    if (grouping())
      for (auto &[key, g] : groups_.all())
        take(g);
    else
      for (auto &[root, t] : trees_)
        take(t);
    std::sort(out.begin(), out.end(), [](const TreeReport &a, const TreeReport &b) {
      if (a.cpu_interval_ns != b.cpu_interval_ns)
        return a.cpu_interval_ns > b.cpu_interval_ns;
      if (a.cpu_ns != b.cpu_ns)
        return a.cpu_ns > b.cpu_ns;
      return a.group != b.group ? a.group < b.group : key_less(a.root, b.root);
    });
    return out;
  }

  std::vector<TreeReport> final_report(uint64_t now_ns, bool with_processes) const {
    const std::optional<ExitedByTree> exited = reports().exited_by_tree(with_processes);
    const std::optional<ExitedByGroup> exited_groups = reports().exited_by_group(with_processes && grouping());
    std::vector<TreeReport> out;
    if (grouping())
      for (const auto &[key, g] : groups_.all())
        out.push_back(reports().account(g, now_ns, exited, exited_groups, true));
    else
      for (const auto &[root, t] : trees_)
        out.push_back(reports().account(t, now_ns, exited, exited_groups, false));
    std::sort(out.begin(), out.end(), [](const TreeReport &a, const TreeReport &b) {
      if (a.cpu_ns != b.cpu_ns)
        return a.cpu_ns > b.cpu_ns;
      return a.group != b.group ? a.group < b.group : key_less(a.root, b.root);
    });
    return out;
  }

  std::optional<ProcKey> tree_of(const ProcKey &proc) const {
    auto it = live_.find(proc);
    if (it == live_.end())
      return std::nullopt;
    return it->second.tree;
  }

  std::optional<TreeReport> tree(const ProcKey &root, uint64_t now_ns, bool with_processes) const {
    auto it = trees_.find(root);
    if (it == trees_.end())
      return std::nullopt;
    const std::optional<ExitedByTree> exited = reports().exited_by_tree(with_processes);
    return reports().account(it->second, now_ns, exited, std::nullopt, false);
  }

  size_t reconcile(const std::vector<Aggregator::LiveProcess> &live, uint64_t now_ns) {
    ProcSet running;
    for (const auto &l : live)
      running.insert(l.key);
    std::vector<ProcKey> gone;
    for (const auto &[key, p] : live_)
      if (!running.contains(key))
        gone.push_back(key);
    for (const ProcKey &key : gone) {
      ++stats_.exits_lost;
      retire(live_.at(key), now_ns, nullptr);
    }
    // Parents start before their children: admitting in start order lets
    // each newcomer find its parent already admitted.
    std::vector<const Aggregator::LiveProcess *> order;
    for (const auto &l : live)
      if (!live_.contains(l.key) && !holds_pid(l.key))
        order.push_back(&l);
    std::sort(order.begin(), order.end(),
              [](const auto *a, const auto *b) { return a->key.start_ns < b->key.start_ns; });
    size_t admitted = 0;
    for (const auto *l : order) {
      // Admitted as Existing: its CPU so far is not CPU of this interval.
      if (admit(l->key, {l->ppid, l->comm, now_ns, LearnedVia::Existing})) {
        ++stats_.procs_recovered;
        ++admitted;
      }
    }
    return gone.size() + admitted;
  }

  std::vector<ProcKey> live_members(const ProcKey &root) const {
    auto it = trees_.find(root);
    if (it == trees_.end())
      return {};
    return {it->second.members.begin(), it->second.members.end()};
  }

  std::vector<Aggregator::LiveMember> live_members_with_rss(const ProcKey &root) const {
    auto it = trees_.find(root);
    return it == trees_.end() ? std::vector<Aggregator::LiveMember>() : members_with_rss(it->second);
  }

  std::vector<Aggregator::LiveMember> members_with_rss(const Account &a) const {
    std::vector<Aggregator::LiveMember> out;
    for (const ProcKey &member : a.members)
      out.push_back({member, live_.at(member).rss_bytes});
    return out;
  }

  const Account *row_account(const TreeReport &row) const {
    if (!grouping()) {
      auto it = trees_.find(row.root);
      return it == trees_.end() ? nullptr : &it->second;
    }
    return groups_.find(row.group);
  }

  std::vector<Aggregator::LiveMember> live_members_with_rss(const TreeReport &row) const {
    const Account *a = row_account(row);
    return a ? members_with_rss(*a) : std::vector<Aggregator::LiveMember>();
  }

  void set_pss(const TreeReport &row, std::optional<uint64_t> pss_bytes) {
    if (const Account *a = row_account(row))
      const_cast<Account *>(a)->pss_bytes = pss_bytes;
  }

  GroupBy group_by() const { return config_.group_by; }

  void set_tree_pss(const ProcKey &root, std::optional<uint64_t> pss_bytes) {
    if (auto it = trees_.find(root); it != trees_.end())
      it->second.pss_bytes = pss_bytes;
  }

  std::vector<OomVictim> oom_victims() const { return {oom_victims_.begin(), oom_victims_.end()}; }

  size_t live_procs() const { return live_.size(); }
  size_t trees() const { return trees_.size(); }
  const AggregatorStats &stats() const {
    stats_.groups_evicted = groups_.evicted();
    stats_.groups_overflowed = groups_.overflowed();
    return stats_;
  }

private:
  Attribution handle(const ForkEvent &ev) {
    const Process *parent = subject(ev.hdr, ev.hdr.comm, LearnedVia::Inferred);
    // The forking thread's comm may be a thread name; the child starts with the process's.
    Newcomer child_info{ev.hdr.proc.pid, parent ? parent->comm : ev.hdr.comm, ev.hdr.ts_ns, LearnedVia::Fork,
                        ev.hdr.cgroup_id};
    Process *child = find_or_admit(ev.child, std::move(child_info));
    if (!child)
      return {};
    if (parent && child->learned_via == LearnedVia::Inferred)
      settle_inferred_child(*child, *parent);
    return attributed(*child);
  }

  Attribution handle(const ExecEvent &ev) {
    // When the exec is the first record of a process (its fork record lost
    // or late), the process had the old comm until now.
    Process *p = subject(ev.hdr, ev.old_comm, LearnedVia::Inferred);
    if (!p)
      return {};
    if (p->comm_history.size() == comm_history_kept)
      p->comm_history.erase(p->comm_history.begin());
    p->comm_history.push_back(ev.old_comm);
    const std::string comm_before = std::exchange(p->comm, ev.hdr.comm);
    if (Tree &t = trees_.at(p->tree); t.root == p->key)
      t.root_comm = p->comm;
    if (config_.group_by == GroupBy::Comm)
      regroup(*p, ev.hdr.ts_ns, &comm_before);
    return attributed(*p);
  }

  Attribution handle(const SampleEvent &ev) {
    // A refresh row updates a process already known and never admits one:
    // the records of its birth came before it, or were lost and counted.
    Process *p =
        ev.origin == SampleOrigin::Refresh ? known(ev.hdr) : subject(ev.hdr, ev.hdr.comm, LearnedVia::Inferred);
    if (!p)
      return {};
    observe(*p, ev.counters, ev.hdr.ts_ns);
    observe_activity(*p, ev.activity);
    return attributed(*p);
  }

  Attribution handle(const OomKillEvent &ev) {
    Process *p = nullptr;
    if (ev.victim_pid_only) {
      // Only a thread id: the live process holding it, when it is a leader.
      if (auto holder = pids_.holder(ev.hdr.proc.pid))
        if (auto it = live_.find(*holder); it != live_.end())
          p = &it->second;
    } else {
      p = subject(ev.hdr, ev.hdr.comm, LearnedVia::Inferred);
    }
    if (!p) {
      ++stats_.oom_kills_unattributed;
      return {};
    }
    if (!p->oom_killed) { // one kill per process, as the kernel side already ensures
      p->oom_killed = true;
      for_accounts(*p, [](Account &a) { ++a.oom_kills; });
      remember_victim(*p, ev.hdr.ts_ns, ev.victim_pid_only ? std::nullopt : std::optional<uint64_t>(ev.rss_bytes()));
    }
    return attributed(*p);
  }

  Attribution handle(const ExitEvent &ev) {
    Process *p = subject(ev.hdr, ev.hdr.comm, LearnedVia::Inferred);
    if (!p) {
      forget_untracked(ev.hdr.proc);
      return {};
    }
    observe(*p, ev.counters, ev.hdr.ts_ns);
    observe_activity(*p, ev.activity);
    if (ev.oom_killed && !p->oom_killed) { // its oom_kill record was lost
      p->oom_killed = true;
      for_accounts(*p, [](Account &a) { ++a.oom_kills; });
      remember_victim(*p, ev.hdr.ts_ns, std::nullopt); // its memory at the kill is unknown
    }
    Attribution attribution = attributed(*p);
    attribution.rss_avg_bytes = p->rss_avg_bytes();
    retire(*p, ev.hdr.ts_ns, &ev);
    return attribution;
  }

  Attribution handle(const ExistingEvent &ev) {
    Process *p = subject(ev.hdr, ev.hdr.comm, LearnedVia::Existing);
    if (!p)
      return {};
    if (p->learned_via == LearnedVia::Inferred)
      confirm_existing(*p);
    return attributed(*p);
  }

  // The group travels only when rows are groups: trees need no string copy.
  Attribution attributed(const Process &p) const {
    return {p.tree, true, 0, config_.group_by == GroupBy::Tree ? std::string() : p.group};
  }

  // The live process a header names, without admitting it.
  Process *known(const EventHeader &hdr) {
    auto it = live_.find(hdr.proc);
    if (it == live_.end()) {
      if (has_exited(hdr.proc))
        ++stats_.stale_events;
      return nullptr;
    }
    Process &p = it->second;
    if (hdr.cgroup_id != p.cgroup_id) {
      p.cgroup_id = hdr.cgroup_id;
      regroup(p, hdr.ts_ns);
    }
    return &p;
  }

  void observe_activity(Process &p, const ProcActivity &a) {
    p.activity.minflt = std::max(p.activity.minflt, a.minflt);
    p.activity.majflt = std::max(p.activity.majflt, a.majflt);
    p.activity.nvcsw = std::max(p.activity.nvcsw, a.nvcsw);
    p.activity.nivcsw = std::max(p.activity.nivcsw, a.nivcsw);
  }

  void remember_victim(const Process &p, uint64_t ts_ns, std::optional<uint64_t> rss_bytes) {
    if (oom_victims_.size() >= max_oom_victims_kept) {
      oom_victims_.pop_front();
      ++stats_.oom_victims_dropped;
    }
    OomVictim v;
    v.key = p.key;
    v.tree = p.tree;
    v.comm = p.comm;
    v.ts_ns = ts_ns;
    v.rss_bytes = rss_bytes;
    oom_victims_.push_back(std::move(v));
  }

  // The process a record's header is about, admitted if new; nullptr when
  // it is untracked or already exited.
  Process *subject(const EventHeader &hdr, const std::string &comm, LearnedVia via) {
    Process *p = find_or_admit(hdr.proc, {hdr.ppid, comm, hdr.ts_ns, via, hdr.cgroup_id});
    if (p) {
      p->ppid = hdr.ppid;
      Tree &t = trees_.at(p->tree);
      t.last_ts_ns = std::max(t.last_ts_ns, hdr.ts_ns);
      if (hdr.cgroup_id != p->cgroup_id) { // moved to another cgroup
        p->cgroup_id = hdr.cgroup_id;
        regroup(*p, hdr.ts_ns);
      }
    }
    return p;
  }

  Process *find_or_admit(const ProcKey &key, Newcomer newcomer) {
    if (auto it = live_.find(key); it != live_.end())
      return &it->second;
    if (holds_pid(key)) // refused earlier: stays untracked for life
      return nullptr;
    if (has_exited(key)) {
      ++stats_.stale_events;
      return nullptr;
    }
    return admit(key, std::move(newcomer));
  }

  Process *admit(const ProcKey &key, Newcomer newcomer) {
    ++stats_.procs_seen;
    claim_pid(key, newcomer.ts_ns);
    Tree *tree = live_.size() < config_.max_live_procs ? tree_for(key, newcomer) : nullptr;
    if (!tree) {
      ++stats_.procs_untracked;
      return nullptr;
    }
    if (newcomer.via == LearnedVia::Inferred)
      ++stats_.procs_inferred;
    Process &p = live_[key];
    p.key = key;
    p.tree = tree->root;
    p.ppid = newcomer.ppid;
    p.learned_via = newcomer.via;
    p.comm = std::move(newcomer.comm);
    p.cgroup_id = newcomer.cgroup_id;
    tree->members.insert(key);
    ++tree->procs_total;
    tree->last_ts_ns = std::max(tree->last_ts_ns, newcomer.ts_ns);
    if (grouping())
      p.group = groups_.join(group_key_of(p), key, 0, p.cgroup_id, newcomer.ts_ns);
    return &p;
  }

  Tree *tree_for(const ProcKey &key, const Newcomer &newcomer) {
    if (const Process *parent = tree_parent(newcomer.ppid))
      return &trees_.at(parent->tree);
    return plant_tree(key, newcomer);
  }

  // The live process whose tree a newcomer with this parent PID joins.
  const Process *tree_parent(uint32_t ppid) const {
    if (config_.init_children_are_roots && ppid <= 1)
      return nullptr;
    auto holder = pids_.holder(ppid);
    if (!holder)
      return nullptr;
    auto it = live_.find(*holder);
    return it == live_.end() ? nullptr : &it->second;
  }

  Tree *plant_tree(const ProcKey &root, const Newcomer &newcomer) {
    if (trees_.size() >= config_.max_trees && !evict_finished_tree())
      return nullptr;
    Tree &t = trees_[root];
    t.root = root;
    t.root_comm = newcomer.comm;
    // A root seen being forked started with the tree; otherwise our view starts now.
    t.first_ts_ns = newcomer.via == LearnedVia::Fork ? root.start_ns : newcomer.ts_ns;
    t.last_ts_ns = newcomer.ts_ns;
    t.rss_integrated_to_ns = t.first_ts_ns;
    return &t;
  }

  bool evict_finished_tree() {
    if (finished_trees_.empty())
      return false;
    auto oldest = finished_trees_.begin();
    trees_.erase(oldest->second);
    finished_trees_.erase(oldest);
    ++stats_.trees_evicted;
    return true;
  }

  bool holds_pid(const ProcKey &key) const { return pids_.holds(key); }
  bool has_exited(const ProcKey &key) const { return pids_.has_exited(key); }

  void claim_pid(const ProcKey &key, uint64_t ts_ns) {
    // The PID was freed and reused, so the old holder's exit record was lost
    // (or is later than everything else): fold it with what we have.
    if (auto displaced = pids_.claim(key))
      if (auto it = live_.find(*displaced); it != live_.end()) {
        ++stats_.exits_lost;
        retire(it->second, ts_ns, nullptr);
      }
  }

  void forget_untracked(const ProcKey &key) {
    if (pids_.holds(key))
      pids_.release(key);
  }

  void observe(Process &p, const ProcCounters &c, uint64_t ts_ns) {
    if (!p.observed) {
      p.observed = true;
      p.cpu_first_ns = c.cpu_ns;
      p.rss_first_bytes = c.rss_bytes;
      // CPU used before tracing began is not CPU of the first interval,
      // nor of its group.
      if (p.learned_via == LearnedVia::Existing)
        for_accounts(p, [&](Account &a) { a.cpu_baseline_ns += c.cpu_ns; });
    }
    // A late record may carry an older cumulative value; never go back.
    const uint64_t cpu_growth = c.cpu_ns > p.cpu_ns ? c.cpu_ns - p.cpu_ns : 0;
    const uint64_t old_rss = p.rss_bytes;
    p.cpu_ns += cpu_growth;
    p.rss_bytes = c.rss_bytes;
    p.rss_peak_bytes = std::max({p.rss_peak_bytes, c.rss_bytes, c.rss_peak_bytes, c.rss_peak_sampled_bytes});
    for_accounts(p, [&](Account &a) { apply_observation(a, cpu_growth, old_rss, c, p.rss_peak_bytes, ts_ns); });
    p.rss_integral_byte_ns += c.rss_integral_byte_ns;
    p.rss_integral_span_ns += c.rss_integral_span_ns;
  }

  // Its records merely beat the startup scan: it was running before tracing.
  void confirm_existing(Process &p) {
    p.learned_via = LearnedVia::Existing;
    --stats_.procs_inferred;
    if (p.observed)
      for_accounts(p, [&](Account &a) { a.cpu_baseline_ns += p.cpu_first_ns; });
  }

  // Folds an exited process into its tree and frees it. `exit` is null when
  // its exit record was lost.
  void retire(Process &p, uint64_t ts_ns, const ExitEvent *exit) {
    Tree &t = trees_.at(p.tree);
    keep_report(p, ts_ns, exit);
    remove_member(t, p.key, p.rss_bytes, p.usage(), config_.max_comms_per_tree, ts_ns);
    if (grouping())
      groups_.leave(p.group, p.key, p.rss_bytes, p.group_usage(), ts_ns);
    if (t.members.empty())
      finished_trees_.emplace(t.last_ts_ns, t.root);
    const ProcKey key = p.key;
    pids_.release(key);
    live_.erase(key);
  }

  void keep_report(const Process &p, uint64_t ts_ns, const ExitEvent *exit) {
    if (config_.max_exited_reports == 0) {
      ++stats_.exited_reports_dropped;
      return;
    }
    if (exited_reports_.size() >= config_.max_exited_reports)
      ++stats_.exited_reports_dropped;
    // Once full, the oldest report's slot is rewritten in place: its
    // strings keep their buffers, so an exit allocates nothing here.
    ExitedReport &kept = exited_reports_.push(config_.max_exited_reports);
    kept.tree = p.tree;
    kept.group = p.group;
    reports().process_into(kept.report, p, ts_ns);
    kept.report.live = false;
    if (exit && exit->signal != 0)
      kept.report.signal = exit->signal;
    else if (exit)
      kept.report.exit_code = exit->exit_code;
  }

  // The tree an Existing process belongs in once the whole scan is known:
  // that of its highest ancestor that was itself running at startup.
  ProcKey settled_tree(const Process &start) const {
    const Process *p = &start;
    // At most one hop per live process: PID reuse can make ppid links cycle.
    for (size_t hops = 0; hops < live_.size(); ++hops) {
      const Process *parent = tree_parent(p->ppid);
      if (!parent)
        break;
      p = parent;
      if (p->learned_via != LearnedVia::Existing) // born while traced: its tree is final
        break;
    }
    return p->tree;
  }

  // A child whose own records beat its parent's fork record may have rooted
  // a tree because the parent was unknown; the fork record says where it
  // was born.
  void settle_inferred_child(const Process &child, const Process &parent) {
    const bool roots_alone = child.tree == child.key;
    const bool init_rule = config_.init_children_are_roots && parent.key.pid <= 1;
    if (roots_alone && !init_rule && parent.tree != child.tree)
      merge_tree(child.key, parent.tree);
  }

  void merge_tree(const ProcKey &from, const ProcKey &into) {
    Tree &src = trees_.at(from);
    Tree &dst = trees_.at(into);
    const uint64_t ts_ns = std::max(src.rss_integrated_to_ns, dst.rss_integrated_to_ns);
    integrate_rss(src, ts_ns);
    integrate_rss(dst, ts_ns);
    dst.rss_integral_byte_ns += src.rss_integral_byte_ns;
    dst.rss_sum_bytes += src.rss_sum_bytes;
    dst.rss_peak_bytes = std::max({dst.rss_peak_bytes, src.rss_peak_bytes, dst.rss_sum_bytes});
    dst.proc_rss_peak_bytes = std::max(dst.proc_rss_peak_bytes, src.proc_rss_peak_bytes);
    dst.cpu_ns += src.cpu_ns;
    dst.cpu_baseline_ns += src.cpu_baseline_ns;
    dst.procs_total += src.procs_total;
    dst.oom_kills += src.oom_kills;
    for (OomVictim &v : oom_victims_)
      if (v.tree == from)
        v.tree = into;
    dst.first_ts_ns = std::min(dst.first_ts_ns, src.first_ts_ns);
    dst.last_ts_ns = std::max(dst.last_ts_ns, src.last_ts_ns);
    for (const ProcKey &member : src.members) {
      live_.at(member).tree = into;
      dst.members.insert(member);
    }
    for (const auto &[comm, usage] : src.exited_by_comm)
      accumulate(comm_slot(dst.exited_by_comm, comm, config_.max_comms_per_tree), usage);
    for (ExitedReport &kept : exited_reports_)
      if (kept.tree == from)
        kept.tree = into;
    trees_.erase(from);
  }

  // Reports read the live table and the kept reports of exited processes.
  ReportBuilder reports() const { return ReportBuilder(live_, exited_reports_, config_.max_comms_per_tree); }

  AggregatorConfig config_;
  mutable AggregatorStats stats_; // the group counters are copied in when read
  ProcMap<Process> live_;
  // The process holding each PID, tracked or not: a holder missing from
  // live_ was refused when the table was full.
  PidTable pids_;
  ProcMap<Tree> trees_;
  GroupIndex groups_;                               // --group-by other than tree
  std::multimap<uint64_t, ProcKey> finished_trees_; // by end time, for eviction
  Ring<ExitedReport> exited_reports_;               // oldest dropped first
  std::deque<OomVictim> oom_victims_;               // oldest dropped first
};

Aggregator::Aggregator(AggregatorConfig config) : impl_(std::make_unique<Impl>(config)) {}
Aggregator::~Aggregator() = default;

Attribution Aggregator::on_event(const Event &event) { return impl_->on_event(event); }
void Aggregator::finish_startup_scan() { impl_->finish_startup_scan(); }

std::vector<TreeReport> Aggregator::snapshot(uint64_t now_ns, bool with_processes) {
  return impl_->snapshot(now_ns, with_processes);
}

std::vector<TreeReport> Aggregator::final_report(uint64_t now_ns, bool with_processes) const {
  return impl_->final_report(now_ns, with_processes);
}

std::optional<ProcKey> Aggregator::tree_of(const ProcKey &proc) const { return impl_->tree_of(proc); }

std::optional<TreeReport> Aggregator::tree(const ProcKey &root, uint64_t now_ns, bool with_processes) const {
  return impl_->tree(root, now_ns, with_processes);
}

size_t Aggregator::reconcile(const std::vector<LiveProcess> &live, uint64_t now_ns) {
  return impl_->reconcile(live, now_ns);
}
std::vector<ProcKey> Aggregator::live_members(const ProcKey &root) const { return impl_->live_members(root); }
std::vector<Aggregator::LiveMember> Aggregator::live_members_with_rss(const ProcKey &root) const {
  return impl_->live_members_with_rss(root);
}
std::vector<Aggregator::LiveMember> Aggregator::live_members_with_rss(const TreeReport &row) const {
  return impl_->live_members_with_rss(row);
}
void Aggregator::set_pss(const TreeReport &row, std::optional<uint64_t> pss_bytes) { impl_->set_pss(row, pss_bytes); }
GroupBy Aggregator::group_by() const { return impl_->group_by(); }
void Aggregator::set_tree_pss(const ProcKey &root, std::optional<uint64_t> pss_bytes) {
  impl_->set_tree_pss(root, pss_bytes);
}
std::vector<OomVictim> Aggregator::oom_victims() const { return impl_->oom_victims(); }
size_t Aggregator::live_procs() const { return impl_->live_procs(); }
size_t Aggregator::trees() const { return impl_->trees(); }
const AggregatorStats &Aggregator::stats() const { return impl_->stats(); }

} // namespace treetrace
