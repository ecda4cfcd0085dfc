#include "core/aggregator.h"

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
// Exited processes remembered so that their late records (reordered across
// CPUs, a short range) are recognised as stale rather than as new processes.
constexpr size_t recent_exits_kept = 4096;
constexpr std::string_view other_comm = "[other]";
// OOM victims named in reports; a storm of kills keeps the latest.
constexpr size_t max_oom_victims_kept = 1024;

using ProcSet = std::unordered_set<ProcKey, ProcKeyHash>;
template <typename V> using ProcMap = std::unordered_map<ProcKey, V, ProcKeyHash>;
using CommMap = std::unordered_map<std::string, CommUsage>;

uint64_t saturating_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

uint64_t rounded(double v) { return static_cast<uint64_t>(std::llround(v)); }

bool key_less(const ProcKey &a, const ProcKey &b) { return std::tie(a.pid, a.start_ns) < std::tie(b.pid, b.start_ns); }

struct Process {
  ProcKey key;
  ProcKey tree;      // root of the tree it was born into
  uint32_t ppid = 0; // current parent, which changes on reparenting
  LearnedVia learned_via = LearnedVia::Fork;
  std::string comm;
  std::vector<std::string> comm_history;
  bool observed = false; // counters seen at least once
  uint64_t cpu_ns = 0;
  uint64_t cpu_first_ns = 0;
  uint64_t rss_bytes = 0;
  uint64_t rss_first_bytes = 0;
  uint64_t rss_peak_bytes = 0;
  double rss_integral_byte_ns = 0;
  uint64_t rss_integral_span_ns = 0;
  ProcActivity activity;
  bool oom_killed = false;

  uint64_t rss_avg_bytes() const {
    if (rss_integral_span_ns == 0)
      return rss_bytes;
    return rounded(rss_integral_byte_ns / static_cast<double>(rss_integral_span_ns));
  }

  CommUsage usage() const { return {comm, 1, cpu_ns, rss_peak_bytes}; }
};

struct Tree {
  ProcKey root;
  std::string root_comm;
  uint64_t procs_total = 0;
  ProcSet members; // the live ones
  // Only ever grows, by the growth of a member's CPU, which is itself clamped
  // to never shrink: the tree's high-water CPU by construction.
  uint64_t cpu_ns = 0;
  // cpu_ns at the previous snapshot, plus the CPU that Existing members had
  // used before they were first observed.
  uint64_t cpu_baseline_ns = 0;
  uint64_t rss_sum_bytes = 0;
  uint64_t rss_peak_bytes = 0;
  uint64_t proc_rss_peak_bytes = 0;
  // Integral of rss_sum_bytes over [first_ts_ns, rss_integrated_to_ns].
  double rss_integral_byte_ns = 0;
  uint64_t rss_integrated_to_ns = 0;
  uint64_t first_ts_ns = 0;
  uint64_t last_ts_ns = 0;
  std::optional<uint64_t> pss_bytes;
  CommMap exited_by_comm;
  uint64_t oom_kills = 0;
};

// A report kept after its process was freed, labelled with its tree.
struct ExitedReport {
  ProcKey tree;
  ProcessReport report;
};
using ExitedByTree = ProcMap<std::vector<const ProcessReport *>>;

// What a record says about a process the aggregator has not seen yet.
struct Newcomer {
  uint32_t ppid = 0;
  std::string comm;
  uint64_t ts_ns = 0;
  LearnedVia via = LearnedVia::Inferred;
};

void accumulate(CommUsage &into, const CommUsage &from) {
  into.procs += from.procs;
  into.cpu_ns += from.cpu_ns;
  into.rss_peak_bytes = std::max(into.rss_peak_bytes, from.rss_peak_bytes);
}

// The slot of `comm`; names past `max_comms` share "[other]" so that a tree
// running many differently named commands stays bounded.
CommUsage &comm_slot(CommMap &by_comm, const std::string &comm, size_t max_comms) {
  if (auto it = by_comm.find(comm); it != by_comm.end())
    return it->second;
  const std::string other(other_comm);
  const size_t named = by_comm.size() - by_comm.count(other);
  const std::string &name = named < max_comms ? comm : other;
  CommUsage &slot = by_comm[name];
  slot.comm = name;
  return slot;
}

void integrate_rss(Tree &t, uint64_t ts_ns) {
  // Records of different processes interleave: a timestamp behind the last
  // one adds nothing rather than subtracting area.
  if (ts_ns <= t.rss_integrated_to_ns)
    return;
  t.rss_integral_byte_ns += static_cast<double>(t.rss_sum_bytes) * static_cast<double>(ts_ns - t.rss_integrated_to_ns);
  t.rss_integrated_to_ns = ts_ns;
}

uint64_t tree_rss_avg(const Tree &t, uint64_t end_ns) {
  const uint64_t span = saturating_sub(end_ns, t.first_ts_ns);
  if (span == 0)
    return t.rss_sum_bytes;
  const double tail =
      static_cast<double>(t.rss_sum_bytes) * static_cast<double>(saturating_sub(end_ns, t.rss_integrated_to_ns));
  return rounded((t.rss_integral_byte_ns + tail) / static_cast<double>(span));
}

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
  explicit Impl(AggregatorConfig config) : config_(config) {}

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
    const std::optional<ExitedByTree> exited = exited_index(with_processes);
    std::vector<TreeReport> out;
    for (auto &[root, t] : trees_) {
      if (t.members.empty())
        continue;
      out.push_back(tree_report(t, now_ns, exited));
      t.cpu_baseline_ns = t.cpu_ns;
    }
    std::sort(out.begin(), out.end(), [](const TreeReport &a, const TreeReport &b) {
      if (a.cpu_interval_ns != b.cpu_interval_ns)
        return a.cpu_interval_ns > b.cpu_interval_ns;
      if (a.cpu_ns != b.cpu_ns)
        return a.cpu_ns > b.cpu_ns;
      return key_less(a.root, b.root);
    });
    return out;
  }

  std::vector<TreeReport> final_report(uint64_t now_ns, bool with_processes) const {
    const std::optional<ExitedByTree> exited = exited_index(with_processes);
    std::vector<TreeReport> out;
    for (const auto &[root, t] : trees_)
      out.push_back(tree_report(t, now_ns, exited));
    std::sort(out.begin(), out.end(), [](const TreeReport &a, const TreeReport &b) {
      if (a.cpu_ns != b.cpu_ns)
        return a.cpu_ns > b.cpu_ns;
      return key_less(a.root, b.root);
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
    const std::optional<ExitedByTree> exited = exited_index(with_processes);
    return tree_report(it->second, now_ns, exited);
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
    std::sort(order.begin(), order.end(), [](const auto *a, const auto *b) { return a->key.start_ns < b->key.start_ns; });
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
    std::vector<Aggregator::LiveMember> out;
    if (auto it = trees_.find(root); it != trees_.end())
      for (const ProcKey &member : it->second.members)
        out.push_back({member, live_.at(member).rss_bytes});
    return out;
  }

  void set_tree_pss(const ProcKey &root, std::optional<uint64_t> pss_bytes) {
    if (auto it = trees_.find(root); it != trees_.end())
      it->second.pss_bytes = pss_bytes;
  }

  std::vector<OomVictim> oom_victims() const { return {oom_victims_.begin(), oom_victims_.end()}; }

  size_t live_procs() const { return live_.size(); }
  size_t trees() const { return trees_.size(); }
  const AggregatorStats &stats() const { return stats_; }

private:
  Attribution handle(const ForkEvent &ev) {
    const Process *parent = subject(ev.hdr, ev.hdr.comm, LearnedVia::Inferred);
    // The forking thread's comm may be a thread name; the child starts with the process's.
    Newcomer child_info{ev.hdr.proc.pid, parent ? parent->comm : ev.hdr.comm, ev.hdr.ts_ns, LearnedVia::Fork};
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
    p->comm = ev.hdr.comm;
    if (Tree &t = trees_.at(p->tree); t.root == p->key)
      t.root_comm = p->comm;
    return attributed(*p);
  }

  Attribution handle(const SampleEvent &ev) {
    // A refresh row updates a process already known and never admits one:
    // the records of its birth came before it, or were lost and counted.
    Process *p = ev.origin == SampleOrigin::Refresh ? known(ev.hdr) : subject(ev.hdr, ev.hdr.comm, LearnedVia::Inferred);
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
      if (auto holder = pid_holder_.find(ev.hdr.proc.pid); holder != pid_holder_.end())
        if (auto it = live_.find(holder->second); it != live_.end())
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
      ++trees_.at(p->tree).oom_kills;
      remember_victim(*p, ev);
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
      ++trees_.at(p->tree).oom_kills;
      OomKillEvent from_exit;
      from_exit.hdr = ev.hdr;
      remember_victim(*p, from_exit);
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

  Attribution attributed(const Process &p) const { return {p.tree, true, 0}; }

  // The live process a header names, without admitting it.
  Process *known(const EventHeader &hdr) {
    auto it = live_.find(hdr.proc);
    if (it == live_.end()) {
      if (has_exited(hdr.proc))
        ++stats_.stale_events;
      return nullptr;
    }
    return &it->second;
  }

  void observe_activity(Process &p, const ProcActivity &a) {
    p.activity.minflt = std::max(p.activity.minflt, a.minflt);
    p.activity.majflt = std::max(p.activity.majflt, a.majflt);
    p.activity.nvcsw = std::max(p.activity.nvcsw, a.nvcsw);
    p.activity.nivcsw = std::max(p.activity.nivcsw, a.nivcsw);
  }

  void remember_victim(const Process &p, const OomKillEvent &ev) {
    if (oom_victims_.size() >= max_oom_victims_kept) {
      oom_victims_.pop_front();
      ++stats_.oom_victims_dropped;
    }
    OomVictim v;
    v.key = p.key;
    v.tree = p.tree;
    v.comm = p.comm;
    v.ts_ns = ev.hdr.ts_ns;
    v.rss_bytes = ev.rss_bytes();
    oom_victims_.push_back(std::move(v));
  }

  // The process a record's header is about, admitted if new; nullptr when
  // it is untracked or already exited.
  Process *subject(const EventHeader &hdr, const std::string &comm, LearnedVia via) {
    Process *p = find_or_admit(hdr.proc, {hdr.ppid, comm, hdr.ts_ns, via});
    if (p) {
      p->ppid = hdr.ppid;
      Tree &t = trees_.at(p->tree);
      t.last_ts_ns = std::max(t.last_ts_ns, hdr.ts_ns);
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
    tree->members.insert(key);
    ++tree->procs_total;
    tree->last_ts_ns = std::max(tree->last_ts_ns, newcomer.ts_ns);
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
    auto holder = pid_holder_.find(ppid);
    if (holder == pid_holder_.end())
      return nullptr;
    auto it = live_.find(holder->second);
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

  bool holds_pid(const ProcKey &key) const {
    auto holder = pid_holder_.find(key.pid);
    return holder != pid_holder_.end() && holder->second == key;
  }

  bool has_exited(const ProcKey &key) const {
    if (recent_exits_.contains(key))
      return true;
    // PIDs are unique among live processes: a newer holder means this one is gone.
    auto holder = pid_holder_.find(key.pid);
    return holder != pid_holder_.end() && holder->second.start_ns > key.start_ns;
  }

  void claim_pid(const ProcKey &key, uint64_t ts_ns) {
    auto [holder, inserted] = pid_holder_.try_emplace(key.pid, key);
    if (inserted || holder->second == key)
      return;
    const ProcKey displaced = std::exchange(holder->second, key);
    // The PID was freed and reused, so the old holder's exit record was lost
    // (or is later than everything else): fold it with what we have.
    if (auto it = live_.find(displaced); it != live_.end()) {
      ++stats_.exits_lost;
      retire(it->second, ts_ns, nullptr);
    }
  }

  void release_pid(const ProcKey &key) {
    if (auto holder = pid_holder_.find(key.pid); holder != pid_holder_.end() && holder->second == key)
      pid_holder_.erase(holder);
  }

  void forget_untracked(const ProcKey &key) {
    if (!holds_pid(key))
      return;
    release_pid(key);
    remember_exit(key);
  }

  void remember_exit(const ProcKey &key) {
    if (!recent_exits_.insert(key).second)
      return;
    recent_exit_order_.push_back(key);
    if (recent_exit_order_.size() > recent_exits_kept) {
      recent_exits_.erase(recent_exit_order_.front());
      recent_exit_order_.pop_front();
    }
  }

  void observe(Process &p, const ProcCounters &c, uint64_t ts_ns) {
    Tree &t = trees_.at(p.tree);
    if (!p.observed) {
      p.observed = true;
      p.cpu_first_ns = c.cpu_ns;
      p.rss_first_bytes = c.rss_bytes;
      // CPU used before tracing began is not CPU of the first interval.
      if (p.learned_via == LearnedVia::Existing)
        t.cpu_baseline_ns += c.cpu_ns;
    }
    // A late record may carry an older cumulative value; never go back.
    if (c.cpu_ns > p.cpu_ns) {
      t.cpu_ns += c.cpu_ns - p.cpu_ns;
      p.cpu_ns = c.cpu_ns;
    }

    integrate_rss(t, ts_ns);
    const uint64_t others = t.rss_sum_bytes - p.rss_bytes;
    t.rss_sum_bytes = others + c.rss_bytes;
    // The sampled peak is this member's high point since its previous
    // record; it may have coincided with the rest of the tree as it is now.
    t.rss_peak_bytes = std::max({t.rss_peak_bytes, t.rss_sum_bytes, others + c.rss_peak_sampled_bytes});
    p.rss_bytes = c.rss_bytes;
    p.rss_peak_bytes = std::max({p.rss_peak_bytes, c.rss_bytes, c.rss_peak_bytes, c.rss_peak_sampled_bytes});
    t.proc_rss_peak_bytes = std::max(t.proc_rss_peak_bytes, p.rss_peak_bytes);
    p.rss_integral_byte_ns += c.rss_integral_byte_ns;
    p.rss_integral_span_ns += c.rss_integral_span_ns;
  }

  // Its records merely beat the startup scan: it was running before tracing.
  void confirm_existing(Process &p) {
    p.learned_via = LearnedVia::Existing;
    --stats_.procs_inferred;
    if (p.observed)
      trees_.at(p.tree).cpu_baseline_ns += p.cpu_first_ns;
  }

  // Folds an exited process into its tree and frees it. `exit` is null when
  // its exit record was lost.
  void retire(Process &p, uint64_t ts_ns, const ExitEvent *exit) {
    Tree &t = trees_.at(p.tree);
    integrate_rss(t, ts_ns);
    t.rss_sum_bytes -= p.rss_bytes;
    accumulate(comm_slot(t.exited_by_comm, p.comm, config_.max_comms_per_tree), p.usage());
    keep_report(p, ts_ns, exit);
    t.members.erase(p.key);
    t.last_ts_ns = std::max(t.last_ts_ns, ts_ns);
    if (t.members.empty())
      finished_trees_.emplace(t.last_ts_ns, t.root);
    const ProcKey key = p.key;
    release_pid(key);
    remember_exit(key);
    live_.erase(key);
  }

  void keep_report(const Process &p, uint64_t ts_ns, const ExitEvent *exit) {
    if (config_.max_exited_reports == 0) {
      ++stats_.exited_reports_dropped;
      return;
    }
    if (exited_reports_.size() >= config_.max_exited_reports) {
      exited_reports_.pop_front();
      ++stats_.exited_reports_dropped;
    }
    ProcessReport report = process_report(p, ts_ns);
    report.live = false;
    if (exit && exit->signal != 0)
      report.signal = exit->signal;
    else if (exit)
      report.exit_code = exit->exit_code;
    exited_reports_.push_back({p.tree, std::move(report)});
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

  ProcessReport process_report(const Process &p, uint64_t now_ns) const {
    ProcessReport r;
    r.key = p.key;
    r.ppid = p.ppid;
    r.comm = p.comm;
    r.comm_history = p.comm_history;
    r.learned_via = p.learned_via;
    r.cpu_ns = p.cpu_ns;
    r.rss_bytes = p.rss_bytes;
    r.rss_first_bytes = p.rss_first_bytes;
    r.rss_peak_bytes = p.rss_peak_bytes;
    r.rss_avg_bytes = p.rss_avg_bytes();
    r.wall_ns = saturating_sub(now_ns, p.key.start_ns);
    r.activity = p.activity;
    r.oom_killed = p.oom_killed;
    return r;
  }

  // Kept reports of exited processes by tree, built only for reports that
  // list processes.
  std::optional<ExitedByTree> exited_index(bool with_processes) const {
    if (!with_processes)
      return std::nullopt;
    ExitedByTree index;
    for (const ExitedReport &kept : exited_reports_)
      index[kept.tree].push_back(&kept.report);
    return index;
  }

  TreeReport tree_report(const Tree &t, uint64_t now_ns, const std::optional<ExitedByTree> &exited) const {
    const bool live = !t.members.empty();
    TreeReport r;
    r.root = t.root;
    r.root_comm = t.root_comm;
    r.procs_total = t.procs_total;
    r.procs_live = t.members.size();
    r.cpu_ns = t.cpu_ns;
    r.cpu_interval_ns = saturating_sub(t.cpu_ns, t.cpu_baseline_ns);
    r.rss_bytes = t.rss_sum_bytes;
    if (live)
      r.pss_bytes = t.pss_bytes;
    r.rss_peak_bytes = t.rss_peak_bytes;
    r.rss_avg_bytes = tree_rss_avg(t, live ? std::max(now_ns, t.rss_integrated_to_ns) : t.last_ts_ns);
    r.proc_rss_peak_bytes = t.proc_rss_peak_bytes;
    r.oom_kills = t.oom_kills;
    r.first_ts_ns = t.first_ts_ns;
    r.last_ts_ns = t.last_ts_ns;
    r.by_comm = by_comm(t);
    r.top_grower = top_grower(t, now_ns);
    if (exited)
      r.processes = processes(t, now_ns, *exited);
    return r;
  }

  std::vector<CommUsage> by_comm(const Tree &t) const {
    CommMap merged = t.exited_by_comm;
    for (const ProcKey &member : t.members)
      accumulate(comm_slot(merged, live_.at(member).comm, config_.max_comms_per_tree), live_.at(member).usage());
    std::vector<CommUsage> out;
    out.reserve(merged.size());
    for (auto &[comm, usage] : merged)
      out.push_back(std::move(usage));
    std::sort(out.begin(), out.end(), [](const CommUsage &a, const CommUsage &b) {
      return a.cpu_ns != b.cpu_ns ? a.cpu_ns > b.cpu_ns : a.comm < b.comm;
    });
    return out;
  }

  std::optional<ProcessReport> top_grower(const Tree &t, uint64_t now_ns) const {
    const Process *best = nullptr;
    uint64_t best_growth = 0;
    for (const ProcKey &member : t.members) {
      const Process &p = live_.at(member);
      const uint64_t growth = saturating_sub(p.rss_bytes, p.rss_first_bytes);
      if (growth == 0)
        continue;
      if (!best || growth > best_growth || (growth == best_growth && key_less(p.key, best->key))) {
        best = &p;
        best_growth = growth;
      }
    }
    if (!best)
      return std::nullopt;
    return process_report(*best, now_ns);
  }

  // Live members by CPU, then the retained reports of exited ones in exit order.
  std::vector<ProcessReport> processes(const Tree &t, uint64_t now_ns, const ExitedByTree &exited) const {
    std::vector<ProcessReport> out;
    for (const ProcKey &member : t.members)
      out.push_back(process_report(live_.at(member), now_ns));
    std::sort(out.begin(), out.end(), [](const ProcessReport &a, const ProcessReport &b) {
      return a.cpu_ns != b.cpu_ns ? a.cpu_ns > b.cpu_ns : key_less(a.key, b.key);
    });
    if (auto it = exited.find(t.root); it != exited.end())
      for (const ProcessReport *report : it->second)
        out.push_back(*report);
    return out;
  }

  AggregatorConfig config_;
  AggregatorStats stats_;
  ProcMap<Process> live_;
  // The process holding each PID, tracked or not: a holder missing from
  // live_ was refused when the table was full.
  std::unordered_map<uint32_t, ProcKey> pid_holder_;
  ProcMap<Tree> trees_;
  std::multimap<uint64_t, ProcKey> finished_trees_; // by end time, for eviction
  ProcSet recent_exits_;
  std::deque<ProcKey> recent_exit_order_;
  std::deque<ExitedReport> exited_reports_; // oldest dropped first
  std::deque<OomVictim> oom_victims_;        // oldest dropped first
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
void Aggregator::set_tree_pss(const ProcKey &root, std::optional<uint64_t> pss_bytes) {
  impl_->set_tree_pss(root, pss_bytes);
}
std::vector<OomVictim> Aggregator::oom_victims() const { return impl_->oom_victims(); }
size_t Aggregator::live_procs() const { return impl_->live_procs(); }
size_t Aggregator::trees() const { return impl_->trees(); }
const AggregatorStats &Aggregator::stats() const { return impl_->stats(); }

} // namespace treetrace
