// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// `treetrace report FILE`: the recording is the source. Its items go to
// the same Aggregator, in the order the live run fed them, and the rows
// go to the report sink, so a report's figures are the live run's.
#include "cli/recording_setup.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "core/aggregator.h"
#include "core/recording.h"
#include "output/report_sink.h"
#include "util/cgroup_identity.h"
#include "util/unique_fd.h"

namespace treetrace {
namespace {

template <class... F> struct Overloaded : F... { using F::operator()...; };
template <class... F> Overloaded(F...) -> Overloaded<F...>;

class Replay {
public:
  explicit Replay(const Options &options) : options_(options) {}

  Result<void> run();
  const std::string &output() const { return sink_->output(); }

private:
  void on_meta(const RecordingMeta &meta);
  std::string group_key(uint64_t cgroup_id) const;
  // The recorded PSS and memory cgroup charge, onto the rows replay made.
  void apply(std::vector<TreeReport> &rows, const RecordedTick &tick);
  void finish(const RecordingReader::Outcome &outcome);

  const Options &options_;
  RecordingMeta meta_;
  GroupBy group_by_ = GroupBy::Tree;
  bool same_grouping_ = true; // rows are those recorded: their PSS applies
  std::unique_ptr<Aggregator> aggregator_;
  std::unique_ptr<ReportSink> sink_;
  std::unordered_map<uint64_t, std::string> cgroup_paths_;
  std::optional<RecordedTick> final_tick_;
  std::optional<RecordedEnd> end_;
  RecordedLoss loss_;
  uint64_t last_ts_ = 0;
};

std::string Replay::group_key(uint64_t cgroup_id) const {
  auto it = cgroup_paths_.find(cgroup_id);
  if (it == cgroup_paths_.end())
    return {};
  if (group_by_ == GroupBy::Cgroup)
    return it->second;
  const CgroupIdentity id = identity_from_cgroup_path(it->second);
  switch (group_by_) {
  case GroupBy::Container:
    return id.container_id;
  case GroupBy::Pod:
    return id.pod_uid;
  case GroupBy::Unit:
    return id.systemd_unit;
  case GroupBy::Tree:
  case GroupBy::Cgroup:
  case GroupBy::Comm:
    break;
  }
  return {};
}

void Replay::on_meta(const RecordingMeta &meta) {
  meta_ = meta;
  const auto recorded = group_by_from_name(meta.group_by).value_or(GroupBy::Tree);
  group_by_ = options_.report.group_by.value_or(recorded);
  same_grouping_ = group_by_ == recorded;
  AggregatorConfig c;
  c.max_live_procs = meta.max_live_procs ? meta.max_live_procs : c.max_live_procs;
  c.init_children_are_roots = meta.init_children_are_roots;
  c.group_by = group_by_;
  c.cgroup_group_key = [this](uint64_t id) { return group_key(id); };
  aggregator_ = std::make_unique<Aggregator>(c);

  ReportMeta rm;
  rm.version = meta.treetrace_version;
  rm.hostname = meta.hostname;
  rm.kernel = meta.kernel;
  rm.command = meta.command;
  rm.group_by = to_string(group_by_);
  rm.start_ns = meta.start_ns;
  rm.realtime_offset_ns = meta.realtime_offset_ns;
  rm.interval_ns = meta.interval_ns;
  HistoryConfig h;
  if (options_.report.since_ns)
    h.since_ns = meta.start_ns + *options_.report.since_ns;
  if (options_.report.until_ns)
    h.until_ns = meta.start_ns + *options_.report.until_ns;
  ReportConfig rc;
  rc.verbose = options_.per_process;
  const std::string &f = options_.report.format;
  const ReportFormat format = f == "json" ? ReportFormat::Json : f == "html" ? ReportFormat::Html : ReportFormat::Text;
  sink_ = std::make_unique<ReportSink>(format, group_by_, std::move(rm), h, rc);
}

void Replay::apply(std::vector<TreeReport> &rows, const RecordedTick &tick) {
  std::unordered_map<std::string, const RecordedRow *> by_group;
  ProcMap<const RecordedRow *> by_root;
  for (const RecordedRow &r : tick.rows) {
    if (group_by_ == GroupBy::Tree)
      by_root[r.root] = &r;
    else
      by_group[r.group] = &r;
  }
  for (TreeReport &row : rows) {
    const RecordedRow *r = nullptr;
    if (same_grouping_) {
      if (group_by_ == GroupBy::Tree) {
        auto it = by_root.find(row.root);
        r = it == by_root.end() ? nullptr : it->second;
      } else {
        auto it = by_group.find(row.group);
        r = it == by_group.end() ? nullptr : it->second;
      }
    }
    // As LiveState::measure_pss did: every live row's PSS is set, to
    // nothing when it was not measured.
    if (row.procs_live) {
      row.pss_bytes = r ? r->pss_bytes : std::nullopt;
      aggregator_->set_pss(row, row.pss_bytes);
    }
    if (r) {
      row.memcg_current_bytes = r->memcg_current_bytes;
      row.memcg_peak_bytes = r->memcg_peak_bytes;
      row.memcg_limit_bytes = r->memcg_limit_bytes;
    }
  }
}

Result<void> Replay::run() {
  bool meta_seen = false;
  auto handler = [&](RecordingItem &&item) {
    std::visit(Overloaded{
                   [&](RecordingMeta &m) {
                     on_meta(m);
                     meta_seen = true;
                   },
                   [&](Event &e) {
                     last_ts_ = std::max(last_ts_, std::visit([](const auto &x) { return x.hdr.ts_ns; }, e));
                     const Attribution a = aggregator_->on_event(e);
                     sink_->on_event(e, a);
                   },
                   [&](RecordedCgroup &c) {
                     if (cgroup_paths_.size() < (1u << 16) || cgroup_paths_.count(c.id))
                       cgroup_paths_[c.id] = std::move(c.path);
                   },
                   [&](RecordedTick &t) {
                     last_ts_ = std::max(last_ts_, t.now_ns);
                     if (t.final) {
                       final_tick_ = std::move(t);
                       return;
                     }
                     std::vector<TreeReport> rows = aggregator_->snapshot(t.now_ns, meta_.per_process);
                     apply(rows, t);
                     sink_->on_snapshot(rows, t.now_ns);
                   },
                   [&](RecordedLoss &l) { loss_ = l; },
                   [&](RecordedReconcile &r) { aggregator_->reconcile(r.live, r.now_ns); },
                   [&](RecordedStartupDone &) { aggregator_->finish_startup_scan(); },
                   [&](RecordedEnd &e) { end_ = e; },
               },
               item);
  };
  auto outcome = RecordingReader::read_file(options_.report.path, handler);
  if (!outcome)
    return Error(outcome.error());
  if (!meta_seen)
    return Error(options_.report.path + ": the recording has no description");
  finish(*outcome);
  return {};
}

void Replay::finish(const RecordingReader::Outcome &outcome) {
  const uint64_t now = final_tick_ ? final_tick_->now_ns : last_ts_;
  std::vector<TreeReport> rows;
  const bool one_tree = final_tick_ && final_tick_->only_tree && group_by_ == GroupBy::Tree;
  if (one_tree) {
    if (auto t = aggregator_->tree(*final_tick_->only_tree, now, meta_.per_process))
      rows.push_back(std::move(*t));
  } else {
    rows = aggregator_->final_report(now, meta_.per_process);
  }
  if (final_tick_)
    apply(rows, *final_tick_);
  RunSummary summary;
  summary.loss.attempts = loss_.attempts;
  summary.loss.delivered = loss_.delivered;
  summary.loss.dropped_kernel = loss_.dropped_kernel;
  summary.loss.dropped_output = loss_.dropped_output;
  summary.loss.proc_table_full = loss_.proc_table_full;
  summary.loss.procs_untracked = loss_.procs_untracked;
  for (const OomVictim &v : aggregator_->oom_victims())
    if (!one_tree || v.tree == *final_tick_->only_tree)
      summary.oom_victims.push_back(v);
  if (end_) {
    summary.exit_code = end_->exit_code;
    summary.signal = end_->signal;
    summary.wall_ns = end_->wall_ns;
    summary.stop_reason = end_->stop_reason;
  }
  if (!meta_.command.empty())
    summary.command = meta_.command;
  sink_->set_recording_outcome(outcome.events, !outcome.ended_cleanly, outcome.cut_note);
  sink_->on_final(rows, summary, now);
}

Result<void> write_output(const std::string &path, const std::string &text) {
  UniqueFd owned;
  int fd = STDOUT_FILENO;
  if (path != "-") {
    owned = UniqueFd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (owned.get() < 0)
      return Error("-o " + path + ": " + strerror(errno));
    fd = owned.get();
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return Error((path == "-" ? std::string("stdout") : path) + ": " + strerror(n < 0 ? errno : ENOSPC));
    done += static_cast<size_t>(n);
  }
  return {};
}

} // namespace

int run_report(const Options &options) {
  Replay replay(options);
  if (auto r = replay.run(); !r) {
    spdlog::error("{}", r.error());
    return 1;
  }
  if (auto w = write_output(options.report.out, replay.output()); !w) {
    spdlog::error("{}", w.error());
    return 1;
  }
  return 0;
}

} // namespace treetrace
