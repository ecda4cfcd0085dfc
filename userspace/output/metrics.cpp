// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/metrics.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace treetrace {

const std::array<MetricFamilyInfo, 22> kMetricFamilies = {{
    {MetricFamily::BuildInfo, "treetrace_build_info", MetricType::Gauge, "Always 1; the version of treetrace."},
    {MetricFamily::RecordsAttempted, "treetrace_records_attempted_total", MetricType::Counter,
     "Records the kernel side tried to emit. Equals records_total plus "
     "records_lost_total{cause=\"ring_buffer_full\"} once in-flight records are read."},
    {MetricFamily::Records, "treetrace_records_total", MetricType::Counter, "Records read from the kernel."},
    {MetricFamily::RecordsLost, "treetrace_records_lost_total", MetricType::Counter,
     "What was lost, by cause, as in the summary record: ring_buffer_full and output_too_slow are records "
     "and output lines, proc_table_full and procs_untracked are processes that could not be tracked."},
    {MetricFamily::TrackedProcesses, "treetrace_tracked_processes", MetricType::Gauge,
     "Live processes treetrace is tracking."},
    {MetricFamily::Collections, "treetrace_collections_total", MetricType::Counter,
     "Collections of live state made for scrapes and the textfile."},
    {MetricFamily::CollectionDuration, "treetrace_collection_duration_seconds", MetricType::Gauge,
     "How long the previous collection took: the kernel refresh, PSS reads and building the exposition."},
    {MetricFamily::HttpRequests, "treetrace_http_requests_total", MetricType::Counter,
     "HTTP requests answered, by status code."},
    {MetricFamily::SeriesDropped, "treetrace_series_dropped_total", MetricType::Counter,
     "Group and process series left out of collections by --max-series, summed over collections."},
    {MetricFamily::GroupCpu, "treetrace_group_cpu_seconds_total", MetricType::Counter,
     "Scheduler CPU time of every process that ever ran in the group, exited and reparented ones included."},
    {MetricFamily::GroupProcesses, "treetrace_group_processes", MetricType::Gauge, "Live processes in the group."},
    {MetricFamily::GroupProcessesStarted, "treetrace_group_processes_started_total", MetricType::Counter,
     "Processes the group has had, live and exited."},
    {MetricFamily::GroupRss, "treetrace_group_memory_rss_bytes", MetricType::Gauge,
     "Sum of the live processes' RSS. Pages shared between them are counted once per process: an upper bound."},
    {MetricFamily::GroupPss, "treetrace_group_memory_pss_bytes", MetricType::Gauge,
     "Sum of the live processes' PSS (shared pages split between their users), as read after the previous "
     "collection (at most every 5 s). Absent when the group could not be read whole."},
    {MetricFamily::GroupRssPeak, "treetrace_group_memory_rss_peak_bytes", MetricType::Gauge,
     "The highest value the group's RSS sum has reached."},
    {MetricFamily::GroupOomKills, "treetrace_group_oom_kills_total", MetricType::Counter,
     "Processes of the group killed by the OOM killer."},
    {MetricFamily::GroupMemcgUsage, "treetrace_group_memcg_usage_bytes", MetricType::Gauge,
     "The group's memory cgroup usage, as the kernel charges it (v2 memory.current, v1 memory.usage_in_bytes), "
     "read at the collection. Only for groups that are one memory cgroup (--group-by container, pod, unit, "
     "cgroup)."},
    {MetricFamily::GroupMemcgPeak, "treetrace_group_memcg_peak_bytes", MetricType::Gauge,
     "The group's memory cgroup peak usage (v2 memory.peak, v1 memory.max_usage_in_bytes)."},
    {MetricFamily::GroupMemcgLimit, "treetrace_group_memcg_limit_bytes", MetricType::Gauge,
     "The group's memory cgroup limit (v2 memory.max, v1 memory.limit_in_bytes). Absent when unlimited."},
    {MetricFamily::GroupCommandCpu, "treetrace_group_command_cpu_seconds_total", MetricType::Counter,
     "The group's CPU by command name (comm); commands past --metrics-commands are command=\"other\"."},
    {MetricFamily::ProcessRss, "treetrace_process_memory_rss_bytes", MetricType::Gauge,
     "RSS of a live process (--metrics-processes)."},
    {MetricFamily::ProcessCpu, "treetrace_process_cpu_seconds_total", MetricType::Counter,
     "Scheduler CPU time of a live process (--metrics-processes)."},
}};

const MetricFamilyInfo &family_info(MetricFamily id) { return kMetricFamilies[static_cast<size_t>(id)]; }

namespace {

constexpr std::string_view kOtherCommand = "other";

// The rows a counter sums. A row that leaves (exits the aggregator's
// tables, or moves to another series) leaves its last value in `base`, so
// the counter only ever rises while its series exists.
class CounterCell {
public:
  void add(const std::string &row, uint64_t value) { current_.emplace_back(row, value); }

  uint64_t finish() {
    std::sort(current_.begin(), current_.end());
    // One row can add several times (commands folded into "other").
    size_t out = 0;
    for (size_t i = 0; i < current_.size(); ++i) {
      if (out && current_[out - 1].first == current_[i].first)
        current_[out - 1].second += current_[i].second;
      else if (out++ != i)
        current_[out - 1] = std::move(current_[i]); // never onto itself: that empties a string
    }
    current_.resize(out);
    size_t j = 0;
    for (const auto &[row, value] : previous_) {
      while (j < current_.size() && current_[j].first < row)
        ++j;
      if (j == current_.size() || current_[j].first != row)
        base_ += value;
    }
    uint64_t sum = base_;
    for (const auto &part : current_)
      sum += part.second;
    exported_ = std::max(exported_, sum);
    previous_.swap(current_);
    current_.clear();
    return exported_;
  }

  uint64_t value() const { return exported_; }

private:
  // Integers (nanoseconds, counts): exact, where doubles would round.
  uint64_t base_ = 0;
  uint64_t exported_ = 0;
  std::vector<std::pair<std::string, uint64_t>> previous_, current_;
};

// Label values of a group series, in the order of kGroupLabelNames.
constexpr std::array<std::string_view, 6> kGroupLabelNames = {"group",     "container_id", "pod",
                                                              "namespace", "pod_uid",      "unit"};
using GroupLabels = std::array<std::string, 6>;

struct Series {
  GroupLabels labels;
  uint64_t created = 0; // admission order
  bool admitted = false;
  uint64_t last_activity_ns = 0;
  std::vector<std::string> rows; // contributing this collection
  CounterCell cpu, started, oom_kills;
  std::vector<std::string> commands; // sticky, at most commands_per_group
  std::unordered_map<std::string, CounterCell> command_cpu;
  CounterCell other_cpu;
  bool other_used = false;
  // Gauges, rebuilt at each collection.
  uint64_t live = 0, rss = 0, pss = 0, rss_peak = 0;
  bool pss_known = true;
  // Only a series that is one memory cgroup has its figures; they are
  // never summed, which would count shared parents twice.
  std::optional<uint64_t> memcg_usage, memcg_peak, memcg_limit;
  size_t memcg_rows = 0;

  void add_memcg(const TreeReport &row) {
    if (++memcg_rows == 1) {
      memcg_usage = row.memcg_current_bytes;
      memcg_peak = row.memcg_peak_bytes;
      memcg_limit = row.memcg_limit_bytes;
    } else {
      memcg_usage = memcg_peak = memcg_limit = std::nullopt;
    }
  }
  size_t memcg_series() const { return (memcg_usage ? 1 : 0) + (memcg_peak ? 1 : 0) + (memcg_limit ? 1 : 0); }
  size_t series_count() const {
    return 6 + (pss_known ? 1 : 0) + memcg_series() + commands.size() + (other_used ? 1 : 0);
  }
};

std::string series_key(const GroupLabels &labels) {
  std::string key;
  for (const auto &value : labels) {
    key += value;
    key.push_back('\x1f'); // cannot occur in a label we build: unit separator
  }
  return key;
}

} // namespace

struct MetricsCollector::Impl {
  MetricsConfig config;
  IdentityLookup identity;
  std::unordered_map<std::string, Series> series;
  // Rows whose series outlived its grace period: they never count again.
  std::unordered_set<std::string> retired;
  uint64_t created = 0;
  uint64_t dropped_total = 0;
  size_t groups_exported = 0;
  size_t last_size = 0;

  GroupLabels labels_of(const TreeReport &row) const {
    GroupLabels l;
    if (config.group_by == GroupBy::Tree) {
      // Trees are named by their root's command; PIDs never become labels
      // by default, so trees with one root command share a series.
      l[0] = row.root_comm;
      return l;
    }
    l[0] = group_label(row, config.group_by);
    if (config.group_by == GroupBy::Comm)
      return l;
    const std::optional<CgroupIdentity> id = identity && row.cgroup_id ? identity(row.cgroup_id) : std::nullopt;
    if (!id)
      return l;
    // Only what the whole group shares: a pod's containers differ.
    const bool per_container = config.group_by == GroupBy::Container || config.group_by == GroupBy::Cgroup;
    if (per_container)
      l[1] = id->container_id;
    l[2] = id->pod_name;
    l[3] = id->pod_namespace;
    l[4] = id->pod_uid;
    if (config.group_by != GroupBy::Pod)
      l[5] = id->systemd_unit;
    return l;
  }

  static std::string row_id(const TreeReport &row, GroupBy group_by) {
    if (group_by == GroupBy::Tree)
      return std::to_string(row.root.pid) + ":" + std::to_string(row.root.start_ns);
    return row.group;
  }

  void accumulate(const std::vector<TreeReport> &rows, uint64_t now_ns) {
    for (auto &[key, s] : series) {
      s.rows.clear();
      s.live = s.rss = s.pss = s.rss_peak = 0;
      s.pss_known = true;
      s.memcg_usage = s.memcg_peak = s.memcg_limit = std::nullopt;
      s.memcg_rows = 0;
    }
    std::unordered_set<std::string> still_retired;
    for (const TreeReport &row : rows) {
      std::string id = row_id(row, config.group_by);
      if (retired.count(id)) {
        still_retired.insert(std::move(id));
        continue;
      }
      GroupLabels labels = labels_of(row);
      auto [it, inserted] = series.try_emplace(series_key(labels));
      Series &s = it->second;
      if (inserted) {
        s.labels = std::move(labels);
        s.created = created++;
      }
      s.cpu.add(id, row.cpu_ns);
      s.started.add(id, row.procs_total);
      s.oom_kills.add(id, row.oom_kills);
      for (const CommUsage &c : row.by_comm) {
        // A command keeps its series once it has one, so "other" only grows.
        bool named = std::find(s.commands.begin(), s.commands.end(), c.comm) != s.commands.end();
        if (!named && c.comm != "[other]" && c.comm != kOtherCommand && s.commands.size() < config.commands_per_group) {
          s.commands.push_back(c.comm);
          named = true;
        }
        if (named) {
          s.command_cpu[c.comm].add(id, c.cpu_ns);
        } else {
          s.other_cpu.add(id, c.cpu_ns);
          s.other_used = true;
        }
      }
      s.live += row.procs_live;
      s.rss += row.rss_bytes;
      s.rss_peak = std::max(s.rss_peak, row.rss_peak_bytes);
      if (row.procs_live) {
        if (row.pss_bytes)
          s.pss += *row.pss_bytes;
        else
          s.pss_known = false;
      }
      if (row.procs_live && row.memcg_current_bytes)
        s.add_memcg(row);
      s.last_activity_ns = std::max(s.last_activity_ns, row.procs_live ? now_ns : row.last_ts_ns);
      s.rows.push_back(std::move(id));
    }
    retired.swap(still_retired);

    for (auto it = series.begin(); it != series.end();) {
      Series &s = it->second;
      s.cpu.finish();
      s.started.finish();
      s.oom_kills.finish();
      for (auto &[name, cell] : s.command_cpu)
        cell.finish();
      s.other_cpu.finish();
      const bool expired = s.live == 0 && now_ns > s.last_activity_ns && now_ns - s.last_activity_ns > config.grace_ns;
      if (expired) {
        for (auto &id : s.rows)
          retired.insert(std::move(id));
        it = series.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Which series this collection exports: admitted ones first, in the
  // order they were admitted, then new ones by CPU, within the budget.
  std::vector<const Series *> admit(uint64_t &budget) {
    std::vector<Series *> order;
    order.reserve(series.size());
    for (auto &[key, s] : series)
      order.push_back(&s);
    std::sort(order.begin(), order.end(), [](const Series *a, const Series *b) {
      if (a->admitted != b->admitted)
        return a->admitted;
      if (a->admitted)
        return a->created < b->created;
      if (a->cpu.value() != b->cpu.value())
        return a->cpu.value() > b->cpu.value();
      return a->created < b->created;
    });
    std::vector<const Series *> out;
    for (Series *s : order) {
      const size_t n = s->series_count();
      if (n > budget) {
        dropped_total += n;
        continue;
      }
      budget -= n;
      s->admitted = true;
      out.push_back(s);
    }
    return out;
  }

  void write_self(ExpositionWriter &w, const SelfStats &self) const {
    auto family = [&](MetricFamily id) {
      const auto &f = family_info(id);
      w.family(f.name, f.type, f.help);
      return f.name;
    };
    const Label version[] = {{"version", config.version}};
    w.sample(family(MetricFamily::BuildInfo), version, uint64_t{1});
    w.sample(family(MetricFamily::RecordsAttempted), {}, self.session.loss.attempts);
    w.sample(family(MetricFamily::Records), {}, self.session.loss.delivered);
    auto lost = family(MetricFamily::RecordsLost);
    for (const LossCause &cause : kLossCauses) {
      const Label l[] = {{"cause", cause.metric_cause}};
      w.sample(lost, l, self.session.loss.*cause.member);
    }
    w.sample(family(MetricFamily::TrackedProcesses), {}, self.session.tracked_processes);
    w.sample(family(MetricFamily::Collections), {}, self.collections);
    w.sample(family(MetricFamily::CollectionDuration), {}, self.session.last_rows_seconds);
    auto http = family(MetricFamily::HttpRequests);
    for (const auto &[code, count] : self.http_responses) {
      const std::string code_text = std::to_string(code);
      const Label l[] = {{"code", code_text}};
      w.sample(http, l, count);
    }
  }

  void write_groups(ExpositionWriter &w, const std::vector<const Series *> &out) const {
    auto labels = [](const Series &s) {
      std::array<Label, 6> l;
      for (size_t i = 0; i < l.size(); ++i)
        l[i] = {kGroupLabelNames[i], s.labels[i]};
      return l;
    };
    using Opt = std::optional<uint64_t>;
    auto each = [&](MetricFamily id, auto value_of) {
      const auto &f = family_info(id);
      w.family(f.name, f.type, f.help);
      for (const Series *s : out)
        if (Opt v = value_of(*s))
          w.sample(f.name, labels(*s), *v);
    };
    {
      const auto &f = family_info(MetricFamily::GroupCpu);
      w.family(f.name, f.type, f.help);
      for (const Series *s : out)
        w.sample_seconds(f.name, labels(*s), s->cpu.value());
    }
    each(MetricFamily::GroupProcesses, [](const Series &s) { return Opt(s.live); });
    each(MetricFamily::GroupProcessesStarted, [](const Series &s) { return Opt(s.started.value()); });
    each(MetricFamily::GroupRss, [](const Series &s) { return Opt(s.rss); });
    each(MetricFamily::GroupPss, [](const Series &s) { return s.pss_known ? Opt(s.pss) : std::nullopt; });
    each(MetricFamily::GroupRssPeak, [](const Series &s) { return Opt(s.rss_peak); });
    each(MetricFamily::GroupOomKills, [](const Series &s) { return Opt(s.oom_kills.value()); });
    each(MetricFamily::GroupMemcgUsage, [](const Series &s) { return s.memcg_usage; });
    each(MetricFamily::GroupMemcgPeak, [](const Series &s) { return s.memcg_peak; });
    each(MetricFamily::GroupMemcgLimit, [](const Series &s) { return s.memcg_limit; });

    const auto &f = family_info(MetricFamily::GroupCommandCpu);
    w.family(f.name, f.type, f.help);
    for (const Series *s : out) {
      std::array<Label, 7> l;
      const auto base = labels(*s);
      std::copy(base.begin(), base.end(), l.begin());
      for (const std::string &command : s->commands) {
        l[6] = {"command", command};
        w.sample_seconds(f.name, l, s->command_cpu.at(command).value());
      }
      if (s->other_used) {
        l[6] = {"command", kOtherCommand};
        w.sample_seconds(f.name, l, s->other_cpu.value());
      }
    }
  }

  void write_processes(ExpositionWriter &w, const std::vector<TreeReport> &rows, uint64_t budget) {
    struct Live {
      const ProcessReport *proc;
      std::string group;
    };
    std::vector<Live> live;
    for (const TreeReport &row : rows)
      for (const ProcessReport &p : row.processes)
        if (p.live)
          live.push_back({&p, config.group_by == GroupBy::Tree ? row.root_comm : group_label(row, config.group_by)});
    // The biggest first: per-process series are for finding who grows.
    std::sort(live.begin(), live.end(),
              [](const Live &a, const Live &b) { return a.proc->rss_bytes > b.proc->rss_bytes; });
    const size_t fit = std::min<size_t>(live.size(), budget / 2);
    dropped_total += 2 * (live.size() - fit);
    live.resize(fit);
    std::vector<std::string> pids;
    pids.reserve(live.size());
    for (const Live &l : live)
      pids.push_back(std::to_string(l.proc->key.pid));
    auto write = [&](MetricFamily id, bool seconds) {
      const auto &f = family_info(id);
      w.family(f.name, f.type, f.help);
      for (size_t i = 0; i < live.size(); ++i) {
        const Label l[] = {{"group", live[i].group}, {"pid", pids[i]}, {"command", live[i].proc->comm}};
        if (seconds)
          w.sample_seconds(f.name, l, live[i].proc->cpu_ns);
        else
          w.sample(f.name, l, live[i].proc->rss_bytes);
      }
    };
    write(MetricFamily::ProcessRss, false);
    write(MetricFamily::ProcessCpu, true);
  }
};

MetricsCollector::MetricsCollector(MetricsConfig config, IdentityLookup identity) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->identity = std::move(identity);
}

MetricsCollector::~MetricsCollector() = default;

std::string MetricsCollector::collect(const std::vector<TreeReport> &rows, const SelfStats &self, uint64_t now_ns) {
  impl_->accumulate(rows, now_ns);
  uint64_t budget = impl_->config.max_series;
  std::vector<const Series *> out = impl_->admit(budget);
  impl_->groups_exported = out.size();
  std::string text;
  // Sized from the previous exposition: a string that outgrows its
  // reservation doubles, and the freed copies stay in the heap.
  text.reserve(impl_->last_size + impl_->last_size / 8 + 4096);
  ExpositionWriter w(text);
  if (impl_->config.processes)
    impl_->write_processes(w, rows, budget);
  impl_->write_groups(w, out);
  // Last, so that series_dropped_total includes this collection's cuts.
  impl_->write_self(w, self);
  const auto &f = family_info(MetricFamily::SeriesDropped);
  w.family(f.name, f.type, f.help);
  w.sample(f.name, {}, impl_->dropped_total);
  impl_->last_size = text.size();
  return text;
}

uint64_t MetricsCollector::series_dropped_total() const { return impl_->dropped_total; }
size_t MetricsCollector::groups_exported() const { return impl_->groups_exported; }

} // namespace treetrace
