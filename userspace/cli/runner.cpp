// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "cli/runner.h"

#include "cli/command.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/recording_setup.h"
#include "core/aggregator.h"
#include "core/decode.h"
#include "core/event_kind.h"
#include "loader/live_state.h"
#include "loader/tracer.h"
#include "output/metrics_sink.h"
#include "output/render.h"
#include "output/stream_sink.h"
#include "util/cgroup.h"
#include "util/cgroup_identity.h"
#include "util/proc_parse.h"
#include "util/unique_fd.h"

namespace treetrace {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;
// The kernel side wakes the reader at the first record after a quiet
// spell; records that follow it within the spell wait for this timeout.
constexpr int kPollMs = 25;
// After the command is reaped, its last records may still be in flight:
// the exit record is made at the final context switch, just after the
// parent is notified.
constexpr uint64_t kExitRecordGraceNs = 2 * kSecond;
constexpr uint64_t kLivenessCheckNs = kSecond / 4;
constexpr uint64_t kInFlightGraceNs = kSecond / 2;

uint64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kSecond + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t boottime_ns() { return clock_ns(CLOCK_BOOTTIME); }

class Session {
public:
  explicit Session(const Options &options) : options_(options) {}

  int run();

private:
  TracerConfig tracer_config() const;
  AggregatorConfig aggregator_config() const;
  void on_record(const void *data, size_t size);
  std::optional<Attribution> aggregate(const void *data, size_t size);
  void setup_memcg_paths();
  std::string group_key(uint64_t cgroup_id);
  Result<void> setup_metrics();
  void collect_rows_if_wanted(uint64_t now);
  void snapshot_trees(uint64_t now);
  LossReport loss() const;
  void report_loss_if_grown(uint64_t now);
  void reconcile_with_kernel(uint64_t now);
  bool command_tree_done(uint64_t now);
  void finish(uint64_t now);
  int exit_status() const;

  const Options &options_;
  std::unique_ptr<Tracer> tracer_;
  Aggregator aggregator_{aggregator_config()};
  // The output seam: every consumer of records and live state.
  std::vector<std::unique_ptr<Sink>> sinks_;
  StreamSink *stream_ = nullptr;     // stdout, among sinks_ (none when recording)
  RecorderSink *recorder_ = nullptr; // record -o, among sinks_
  MetricsSink *metrics_ = nullptr;   // --listen / --textfile, among sinks_
  double last_rows_seconds_ = 0;
  std::unique_ptr<CgroupPathCache> cgroups_;
  std::unique_ptr<PodDirectory> pods_;
  std::unique_ptr<IdentityCache> identities_;
  std::unique_ptr<CgroupPathCache> memory_cgroups_v1_; // hybrid layouts: the v1 memory hierarchy
  std::optional<uint32_t> memory_hierarchy_v1_;
  std::unique_ptr<LiveState> live_;
  RenderContext render_;
  uint64_t delivered_ = 0;
  uint64_t decode_errors_ = 0;
  uint64_t last_reported_loss_ = 0;
  uint64_t last_kernel_loss_ = 0;
  uint64_t reconcile_at_ = 0; // 0: none due

  // run-a-command mode
  pid_t child_pid_ = -1;
  std::optional<ProcKey> child_key_;
  std::optional<int> child_status_;
  uint64_t child_reaped_at_ = 0;
  bool child_exit_seen_ = false;
  uint64_t last_liveness_check_ = 0;
  uint64_t members_gone_at_ = 0;
  uint64_t started_at_ = 0;
};

TracerConfig Session::tracer_config() const {
  TracerConfig c;
  c.trace_kernel_threads = options_.kernel_threads;
  c.comm_patterns = options_.comm_patterns;
  for (const auto &cg : options_.cgroups)
    c.cgroups.push_back({cg.id, cg.level});
  c.pids = options_.pids;
  if (child_pid_ > 0)
    c.pids.push_back(static_cast<uint32_t>(child_pid_));
  c.sample_interval_ns = options_.interval_ns.value_or(kSecond);
  c.ringbuf_bytes = options_.ringbuf_bytes;
  c.max_procs = options_.max_procs;
  // Wake the reader once a sixteenth of the ring is used, or at the first
  // record after 50 ms without a wakeup; the loop's poll timeout delivers
  // the rest within kPollMs.
  c.wakeup_min_bytes = options_.ringbuf_bytes / 16;
  c.libbpf_verbosity = options_.log_verbosity >= 2 ? 2 : options_.log_verbosity >= 1 ? 1 : 0;
  return c;
}

AggregatorConfig Session::aggregator_config() const {
  AggregatorConfig c;
  c.max_live_procs = options_.max_procs;
  // Node-wide: every service (child of init) is its own tree.
  c.init_children_are_roots =
      options_.command.empty() && options_.pids.empty() && options_.comm_patterns.empty() && options_.cgroups.empty();
  c.group_by = options_.group_by;
  Session *self = const_cast<Session *>(this); // called later, from the event path
  c.cgroup_group_key = [self](uint64_t cgroup_id) { return self->group_key(cgroup_id); };
  return c;
}

// Decodes a record (from the ring buffer or a refresh) into the aggregator.
std::optional<Attribution> Session::aggregate(const void *data, size_t size) {
  DecodeResult r = decode_event(data, size);
  if (!r.event) {
    decode_errors_++;
    spdlog::debug("undecodable record ({} bytes): {}", size, to_string(r.error));
    return std::nullopt;
  }
  for (auto &sink : sinks_)
    sink->on_input(*r.event);
  return aggregator_.on_event(*r.event);
}

void Session::on_record(const void *data, size_t size) {
  delivered_++;
  DecodeResult r = decode_event(data, size);
  if (!r.event) {
    decode_errors_++;
    spdlog::debug("undecodable record ({} bytes): {}", size, to_string(r.error));
    return;
  }
  const Event &event = *r.event;
  for (auto &sink : sinks_)
    sink->on_input(event);
  Attribution attr = aggregator_.on_event(event);
  if (child_key_ && !child_exit_seen_)
    if (const auto *exit = std::get_if<ExitEvent>(&event); exit && exit->hdr.proc == *child_key_)
      child_exit_seen_ = true;
  if (!child_key_ && child_pid_ > 0) {
    // The held child is found by the startup scan: that fixes its identity.
    if (const auto *ex = std::get_if<ExistingEvent>(&event);
        ex && ex->hdr.proc.pid == static_cast<uint32_t>(child_pid_))
      child_key_ = ex->hdr.proc;
  }
  for (auto &sink : sinks_)
    sink->on_event(event, attr);
}

LossReport Session::loss() const {
  KernelCounters k = tracer_->counters();
  LossReport l;
  l.attempts = k.total_attempts();
  l.delivered = delivered_;
  l.dropped_kernel = k.total_dropped();
  l.dropped_output = stream_ ? stream_->dropped_lines() : 0;
  l.proc_table_full = k.proc_table_full;
  l.procs_untracked = aggregator_.stats().procs_untracked;
  return l;
}

// After lost records the aggregator may hold processes whose exit was
// lost and miss processes whose fork was: the kernel's own table of traced
// processes says which are live, /proc says who their parents are.
void Session::reconcile_with_kernel(uint64_t now) {
  std::vector<Aggregator::LiveProcess> live;
  for (const ProcKey &key : tracer_->traced_processes()) {
    auto stat = read_proc_stat(static_cast<int>(key.pid));
    if (!stat || stat->state == 'Z' || stat->state == 'X')
      continue; // exiting: its exit record is on its way or lost
    live.push_back({key, static_cast<uint32_t>(stat->ppid), stat->comm});
  }
  for (auto &sink : sinks_)
    sink->on_reconcile(live, now);
  const size_t changed = aggregator_.reconcile(live, now);
  spdlog::debug("reconciled with the kernel's table of {} processes: {} changes", live.size(), changed);
}

void Session::report_loss_if_grown(uint64_t now) {
  LossReport l = loss();
  if (l.lost() == last_reported_loss_)
    return;
  // Reconcile only when records were lost in the kernel, not when output
  // lines were dropped: those records reached the aggregator.
  if (l.dropped_kernel + l.proc_table_full > last_kernel_loss_) {
    last_kernel_loss_ = l.dropped_kernel + l.proc_table_full;
    // Shortly after, so records already in the ring are read first; at most
    // once a second while losses go on, well within 5 s of each loss.
    if (!reconcile_at_)
      reconcile_at_ = now + kSecond / 2;
  }
  spdlog::warn("lost {} records so far ({} ring buffer full, {} output too slow, {} processes untracked)", l.lost(),
               l.dropped_kernel, l.dropped_output, l.proc_table_full + l.procs_untracked);
  last_reported_loss_ = l.lost();
  for (auto &sink : sinks_)
    sink->on_loss(l, now);
}

void Session::snapshot_trees(uint64_t now) {
  std::vector<TreeReport> trees = live_->snapshot(now);
  for (auto &sink : sinks_)
    sink->on_snapshot(trees, now);
}

// Pulled sinks (a scrape arrived, the textfile is due) get every row, live
// and finished, current now: one refresh serves them all.
void Session::collect_rows_if_wanted(uint64_t now) {
  bool wanted = false;
  for (auto &sink : sinks_)
    wanted |= sink->wants_rows(now);
  if (!wanted)
    return;
  const uint64_t began = boottime_ns();
  std::vector<TreeReport> rows = live_->rows_for_sinks(now, options_.metrics_processes);
  SessionStats stats;
  stats.loss = loss();
  stats.tracked_processes = aggregator_.live_procs();
  stats.last_rows_seconds = last_rows_seconds_;
  for (auto &sink : sinks_)
    sink->on_rows(rows, stats, now);
  last_rows_seconds_ = static_cast<double>(boottime_ns() - began) / 1e9;
  // After publishing, so no scrape waits for it: the next collection has it.
  live_->refresh_pss_if_older(now, LiveState::kPssMaxAgeForMetricsNs);
}

// In run-a-command mode: is there nothing left to wait for?
bool Session::command_tree_done(uint64_t now) {
  if (!child_status_)
    return false;
  const bool grace_over = now - child_reaped_at_ > kExitRecordGraceNs;
  if (!child_exit_seen_ && !grace_over)
    return false;
  if (!child_key_)
    return true;
  std::vector<ProcKey> members = aggregator_.live_members(*child_key_);
  if (members.empty())
    return true;
  // Members whose exit record has not come are checked against the live
  // system, so a lost record cannot hang the wait. A member leaves /proc
  // a moment before its last context switch, which makes its record: once
  // all are gone, in-flight records get a grace period.
  if (now - last_liveness_check_ < kLivenessCheckNs)
    return false;
  last_liveness_check_ = now;
  if (!options_.wait_tree) {
    // Running descendants are left behind, but dead ones are waited for:
    // the command can reap a child before the child's last context switch,
    // so the child's exit record can come after the command's (seen under
    // QEMU on Linux 6.12, where a vCPU can stall between the two).
    if (std::all_of(members.begin(), members.end(), still_running))
      return true;
  } else if (std::any_of(members.begin(), members.end(), still_running)) {
    members_gone_at_ = 0;
    return false;
  }
  if (!members_gone_at_)
    members_gone_at_ = now;
  return now - members_gone_at_ > kInFlightGraceNs;
}

int Session::exit_status() const {
  if (!child_status_)
    return 0;
  if (WIFSIGNALED(*child_status_))
    return 128 + WTERMSIG(*child_status_);
  return WEXITSTATUS(*child_status_);
}

void Session::finish(uint64_t now) {
  tracer_->consume();
  std::vector<TreeReport> trees = live_->final_report(now, child_key_);
  RunSummary summary;
  summary.loss = loss();
  for (const OomVictim &v : aggregator_.oom_victims())
    if (!child_key_ || v.tree == *child_key_)
      summary.oom_victims.push_back(v);
  for (const auto &t : trees) {
    summary.procs += t.procs_total;
    summary.oom_kills += t.oom_kills;
    summary.cpu_ns += t.cpu_ns;
    summary.rss_peak_bytes = std::max(summary.rss_peak_bytes, t.proc_rss_peak_bytes);
    for (const auto &c : t.by_comm) {
      auto it = std::find_if(summary.by_comm.begin(), summary.by_comm.end(),
                             [&](const CommUsage &u) { return u.comm == c.comm; });
      if (it == summary.by_comm.end()) {
        summary.by_comm.push_back(c);
      } else {
        it->procs += c.procs;
        it->cpu_ns += c.cpu_ns;
        it->rss_peak_bytes = std::max(it->rss_peak_bytes, c.rss_peak_bytes);
      }
    }
  }
  std::sort(summary.by_comm.begin(), summary.by_comm.end(),
            [](const CommUsage &a, const CommUsage &b) { return a.cpu_ns > b.cpu_ns; });
  summary.wall_ns = now - started_at_;
  if (!options_.command.empty()) {
    std::string cmd;
    for (const auto &a : options_.command)
      cmd += (cmd.empty() ? "" : " ") + a;
    summary.command = cmd;
    if (options_.group_by == GroupBy::Tree)
      summary.command_tree = child_key_;
    if (child_key_ && !trees.empty())
      summary.wall_ns = trees.front().last_ts_ns > child_key_->start_ns
                            ? trees.front().last_ts_ns - child_key_->start_ns
                            : summary.wall_ns;
    if (child_status_ && WIFSIGNALED(*child_status_))
      summary.signal = WTERMSIG(*child_status_);
    else if (child_status_)
      summary.exit_code = WEXITSTATUS(*child_status_);
  }
  for (auto &sink : sinks_)
    sink->on_final(trees, summary, now);
  collect_rows_if_wanted(now);
  if (summary.loss.lost())
    spdlog::warn("{} records lost in total: {} ring buffer full, {} output too slow, {} processes untracked",
                 summary.loss.lost(), summary.loss.dropped_kernel, summary.loss.dropped_output,
                 summary.loss.proc_table_full + summary.loss.procs_untracked);
  if (decode_errors_)
    spdlog::warn("{} records could not be decoded", decode_errors_);
  const KernelCounters k = tracer_->counters();
  if (k.credit_contended)
    spdlog::warn("{} thread counter updates lost to contention", k.credit_contended);
  spdlog::debug("{} live-state refreshes; OOM: {} victims already exiting (no kill), {} kills outside the filters",
                live_->refreshes(), k.oom_not_killed, k.oom_untraced);
}

// --listen and --textfile: the Prometheus exposition, as one more sink.
Result<void> Session::setup_metrics() {
  if (!options_.listen && options_.textfile.empty())
    return {};
  MetricsSinkOptions o;
  o.metrics.group_by = options_.group_by;
  o.metrics.max_series = options_.max_series;
  o.metrics.commands_per_group = options_.metrics_commands;
  o.metrics.grace_ns = options_.metrics_grace_ns;
  o.metrics.processes = options_.metrics_processes;
  o.metrics.version = TREETRACE_VERSION;
  o.listen = options_.listen;
  o.textfile = options_.textfile;
  o.textfile_interval_ns = options_.textfile_interval_ns;
  auto created = MetricsSink::create(std::move(o), render_.identity);
  if (!created)
    return Error(created.error());
  metrics_ = created->get();
  sinks_.push_back(std::move(*created));
  if (options_.listen) {
    ListenAddress a = *options_.listen;
    a.port = metrics_->port(); // the one bound, when 0 asked for any
    if (!a.loopback())
      spdlog::warn("metrics at http://{}/metrics have no authentication: anyone who can reach {} can read them",
                   a.to_string(), a.host);
    else
      spdlog::info("metrics at http://{}/metrics", a.to_string());
  }
  return {};
}

// The key of the group a cgroup belongs to under --group-by; "" for none.
std::string Session::group_key(uint64_t cgroup_id) {
  if (options_.group_by == GroupBy::Cgroup)
    return cgroups_ ? cgroups_->lookup(cgroup_id).value_or("") : std::string();
  const std::optional<CgroupIdentity> id = identities_ ? identities_->lookup(cgroup_id) : std::nullopt;
  if (!id)
    return {};
  switch (options_.group_by) {
  case GroupBy::Container:
    return id->container_id;
  case GroupBy::Pod:
    return id->pod_uid;
  case GroupBy::Unit:
    return id->systemd_unit;
  case GroupBy::Tree:
  case GroupBy::Cgroup:
  case GroupBy::Comm:
    break;
  }
  return {};
}

// The memory cgroup named in an OOM record is a cgroup v2 one, or, on a
// hybrid layout, one of the v1 memory hierarchy: /proc/cgroups says which
// hierarchy the memory controller is on.
void Session::setup_memcg_paths() {
  std::string mountinfo = read_text_file("/proc/self/mountinfo").value_or("");
  std::string proc_cgroups = read_text_file("/proc/cgroups").value_or("");
  memory_hierarchy_v1_ = cgroup1_hierarchy_of(proc_cgroups, "memory");
  if (memory_hierarchy_v1_ && *memory_hierarchy_v1_ != 0)
    if (auto mount = find_cgroup1_mount(mountinfo, "memory"))
      memory_cgroups_v1_ = std::make_unique<CgroupPathCache>(*mount);
  render_.memcg_path = [this](uint32_t hierarchy, uint64_t id) -> std::optional<std::string> {
    if (hierarchy == 0)
      return cgroups_ ? cgroups_->lookup(id) : std::nullopt;
    if (memory_cgroups_v1_ && memory_hierarchy_v1_ == hierarchy)
      return memory_cgroups_v1_->lookup(id);
    return std::nullopt;
  };
}

int Session::run() {
  // Signals arrive through a signalfd in the event loop. The mask is set
  // before any thread starts, so every thread inherits it.
  sigset_t handled, original;
  sigemptyset(&handled);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, &original);
  signal(SIGPIPE, SIG_IGN); // a closed stdout shows up as EPIPE in the writer

  HeldChild child;
  if (!options_.command.empty()) {
    auto resolved = resolve_command(options_.command[0]);
    if (auto *code = std::get_if<int>(&resolved)) {
      spdlog::error("{}: {}", options_.command[0], *code == 127 ? "command not found" : "Permission denied");
      return *code;
    }
    child = fork_held(std::get<std::string>(resolved), options_.command, original);
    if (child.pid < 0) {
      spdlog::error("cannot start {}: {}", options_.command[0], strerror(errno));
      return 1;
    }
    child_pid_ = child.pid;
  }
  auto abandon_child = [&] {
    if (child_pid_ > 0) {
      child.release_fd.reset(); // the held child exits without running COMMAND
      waitpid(child_pid_, nullptr, 0);
    }
  };

  render_.format = options_.format;
  render_.realtime_offset_ns = static_cast<int64_t>(clock_ns(CLOCK_REALTIME)) - static_cast<int64_t>(boottime_ns());
  if (!options_.cgroup_mount.empty()) {
    cgroups_ = std::make_unique<CgroupPathCache>(options_.cgroup_mount);
    render_.cgroup_path = [this](uint64_t id) { return cgroups_->lookup(id); };
    // Container, pod and unit come from the cgroup's path, worked out once
    // per cgroup; pod names from the kubelet's log directory where it exists.
    pods_ = std::make_unique<PodDirectory>();
    identities_ = std::make_unique<IdentityCache>([this](uint64_t id) { return cgroups_->lookup(id); }, pods_.get());
    render_.identity = [this](uint64_t id) { return identities_->lookup(id); };
  }
  render_.group_by = options_.group_by;
  setup_memcg_paths();
  // `--listen PORT --events none` is a node agent: its output is the
  // metrics, and stdout stays empty, final report included.
  const bool exporting = options_.listen || !options_.textfile.empty();
  const bool quiet_agent = exporting && options_.events.empty() && !options_.interval_ns && options_.command.empty();
  if (options_.mode == Mode::Record) {
    // Before loading: a file that cannot be written is reported first.
    auto recorder = make_recorder(
        options_, [this](uint64_t id) { return cgroups_ ? cgroups_->lookup(id) : std::nullopt; }, boottime_ns(),
        render_.realtime_offset_ns);
    if (!recorder) {
      spdlog::error("{}", recorder.error());
      abandon_child();
      return 1;
    }
    recorder_ = recorder->get();
    sinks_.push_back(std::move(*recorder));
  } else {
    // Snapshots carry leak verdicts as they form; without them there is
    // nothing to judge, and no history is kept.
    auto leaks = options_.interval_ns ? std::make_unique<LiveLeaks>(options_.group_by, boottime_ns()) : nullptr;
    auto stream = std::make_unique<StreamSink>(STDOUT_FILENO, options_.output_queue_bytes, render_, options_.events,
                                               !quiet_agent, std::move(leaks));
    stream_ = stream.get();
    sinks_.push_back(std::move(stream));
  }
  // Before loading: a busy port is reported before anything is attached.
  if (auto metrics = setup_metrics(); !metrics) {
    spdlog::error("{}", metrics.error());
    abandon_child();
    return 1;
  }

  auto created = Tracer::create(tracer_config(), [this](const void *d, size_t n) { on_record(d, n); });
  if (!created) {
    spdlog::error("{}", created.error());
    abandon_child();
    return 1;
  }
  tracer_ = std::move(*created);
  live_ = std::make_unique<LiveState>(
      *tracer_, aggregator_, [this](const void *d, size_t n) { aggregate(d, n); },
      LiveStateOptions{options_.pss_budget, options_.per_process});
  spdlog::debug("kernel {}: programs loaded", tracer_->features().release);
  // Before the startup scan, whose `existing` records may be printed.
  if (stream_)
    stream_->begin();
  started_at_ = boottime_ns();
  if (auto started = tracer_->start(); !started) {
    spdlog::error("{}", started.error());
    abandon_child();
    return 1;
  }
  aggregator_.finish_startup_scan();
  for (auto &sink : sinks_)
    sink->on_startup_scan_done();
  tracer_->consume();
  for (auto &sink : sinks_)
    sink->end_round();
  // Loading parsed the kernel's BTF twice (several MiB each) and freed it;
  // hand that memory back instead of carrying it for the whole run.
  malloc_trim(0);

  if (child_pid_ > 0) {
    if (!child_key_) {
      spdlog::error("the command's process was not found by the startup scan; not running it untraced");
      abandon_child();
      return 1;
    }
    char go = 1;
    if (write(child.release_fd.get(), &go, 1) != 1) {
      spdlog::error("cannot release the command: {}", strerror(errno));
      abandon_child();
      return 1;
    }
    child.release_fd.reset();
  }
  // From here on nothing is missed (tests wait for this line).
  spdlog::debug("tracing: {} processes found running", aggregator_.live_procs());

  UniqueFd sigfd(signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
  UniqueFd epfd(epoll_create1(EPOLL_CLOEXEC));
  if (sigfd.get() < 0 || epfd.get() < 0) {
    spdlog::error("cannot set up the event loop: {}", strerror(errno));
    return 1;
  }
  std::vector<int> wake_fds = {tracer_->ring_fd(), sigfd.get()};
  for (auto &sink : sinks_)
    if (sink->wake_fd() >= 0)
      wake_fds.push_back(sink->wake_fd());
  for (int fd : wake_fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epfd.get(), EPOLL_CTL_ADD, fd, &ev);
  }

  const uint64_t deadline = options_.duration_ns ? started_at_ + *options_.duration_ns : UINT64_MAX;
  uint64_t next_snapshot = options_.interval_ns ? started_at_ + *options_.interval_ns : UINT64_MAX;
  uint64_t next_loss_check = started_at_ + kSecond;
  bool stop = false;
  while (!stop) {
    epoll_event events[4];
    // Batched wakeups: the timeout bounds how long a lone record waits, and
    // paces snapshots and loss checks.
    int n = epoll_wait(epfd.get(), events, 4, kPollMs);
    if (n < 0 && errno != EINTR) {
      spdlog::error("event loop: {}", strerror(errno));
      break;
    }
    tracer_->consume();

    signalfd_siginfo si{};
    while (read(sigfd.get(), &si, sizeof si) == sizeof si) {
      if (si.ssi_signo == SIGCHLD) {
        int status = 0;
        if (child_pid_ > 0 && !child_status_ && waitpid(child_pid_, &status, WNOHANG) == child_pid_) {
          child_status_ = status;
          child_reaped_at_ = boottime_ns();
        }
      } else if (child_pid_ > 0 && !child_status_) {
        // The command decides how to end: a signal sent to treetrace is
        // passed on (a terminal's ^C already reached the whole group).
        if (si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE)
          kill(child_pid_, static_cast<int>(si.ssi_signo));
      } else {
        stop = true;
      }
    }

    const uint64_t now = boottime_ns();
    if (now >= next_snapshot) {
      snapshot_trees(now);
      next_snapshot = now + *options_.interval_ns;
    }
    if (now >= next_loss_check) {
      report_loss_if_grown(now);
      next_loss_check = now + kSecond;
    }
    if (reconcile_at_ && now >= reconcile_at_) {
      reconcile_with_kernel(now);
      reconcile_at_ = 0;
    }
    collect_rows_if_wanted(now);
    for (auto &sink : sinks_)
      sink->end_round(); // this round's lines, in one write
    if (stream_ && stream_->closed())
      return child_pid_ > 0 ? exit_status() : 0; // nobody reads: leave quietly
    for (auto &sink : sinks_)
      stop |= sink->stop_requested(); // a recording's bound or a failed disk
    if (now >= deadline && child_pid_ < 0)
      stop = true;
    if (child_pid_ > 0 && command_tree_done(now))
      stop = true;
  }

  finish(boottime_ns());
  if (stream_)
    stream_->flush(5000);
  if (recorder_ && recorder_->failed())
    return 1;
  return exit_status();
}

} // namespace

int run(const Options &options) {
  Session session(options);
  return session.run();
}

} // namespace treetrace
