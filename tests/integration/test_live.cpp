// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Live state against the kernel: every tree snapshot (--interval) must show
// each process's CPU and RSS as they are at that snapshot, not as they were
// at the process's last sampled context switch. Each test streams
// treetrace's output and, the moment a snapshot arrives, reads the kernel's
// own figures for the same processes (the process CPU clock, which counts
// exited threads; VmRSS; a cgroup's cpu.stat) and compares.
//
// A figure read after the snapshot can only be larger than the one the
// snapshot saw, and CPU grows by at most one CPU per running thread:
// treetrace may be behind the kernel by the tolerance plus what the
// processes could have run between the snapshot (its ts_ns) and the read,
// and never ahead by more than the tolerance. The tolerance (10 ms, or 1 %)
// covers the scheduler's own lag: a thread running on another CPU has its
// runtime brought up to date at each tick (4 ms at HZ=250), while the
// process CPU clock the test reads adds the running slice.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "cgroup_fixture.h"
#include "harness.h"

namespace tt_test {
namespace {

constexpr double kMs = 1e6;
constexpr double kMiB = 1024.0 * 1024.0;

uint64_t boottime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

double online_cpus() { return static_cast<double>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))); }

// The kernel's CPU time of a whole process now: its thread group's clock,
// threads that already exited included, the running slice included.
std::optional<double> process_cpu_ns(int64_t pid) {
  clockid_t clock;
  if (clock_getcpuclockid(static_cast<pid_t>(pid), &clock) != 0)
    return std::nullopt;
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0)
    return std::nullopt;
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Sum of Pss over processes from /proc/PID/smaps_rollup; nullopt if one
// cannot be read.
std::optional<double> pss_sum_bytes(const std::vector<int64_t> &pids) {
  double sum = 0;
  for (int64_t pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
    std::string line;
    bool found = false;
    while (std::getline(in, line))
      if (line.rfind("Pss:", 0) == 0) {
        sum += std::stod(line.substr(4)) * 1024;
        found = true;
        break;
      }
    if (!found)
      return std::nullopt;
  }
  return sum;
}

// treetrace's CPU against the kernel's, read `lag_ns` after the snapshot
// by processes that can run on at most `parallel` CPUs at once.
::testing::AssertionResult cpu_current(double shown_ns, double kernel_ns, double lag_ns, double parallel,
                                       double rel = 0.01, double abs_ns = 10 * kMs) {
  const double tol = std::max(rel * kernel_ns, abs_ns);
  const double ran_since = std::max(0.0, lag_ns) * parallel;
  if (shown_ns <= kernel_ns + tol && shown_ns >= kernel_ns - tol - ran_since)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "treetrace shows " << shown_ns / kMs << " ms, the kernel " << kernel_ns / kMs
                                       << " ms read " << lag_ns / kMs
                                       << " ms after the snapshot: " << (kernel_ns - shown_ns) / kMs
                                       << " ms behind (allowed: " << tol / kMs << " ms, + " << ran_since / kMs
                                       << " ms it may have run since)";
}

const json *process_in(const json &tree, int64_t pid) {
  if (!tree.contains("processes"))
    return nullptr;
  for (const auto &p : tree["processes"])
    if (p["pid"] == pid)
      return &p;
  return nullptr;
}

std::vector<const json *> live_members(const json &tree) {
  std::vector<const json *> out;
  if (tree.contains("processes"))
    for (const auto &p : tree["processes"])
      if (p["live"] == true)
        out.push_back(&p);
  return out;
}

// Groups streamed records into snapshot rounds: the non-final tree records
// of one snapshot share its ts_ns and arrive in one write.
class SnapshotStream {
public:
  explicit SnapshotStream(BackgroundTracer &tracer) : tracer_(tracer) {}

  // The next round, or nullopt at the final report, at the end of output
  // or at `deadline`.
  std::optional<std::vector<json>> next_round(std::chrono::steady_clock::time_point deadline) {
    std::vector<json> round;
    for (;;) {
      std::optional<json> r;
      if (carry_) {
        r = std::move(carry_);
        carry_.reset();
      } else {
        // Once a round has begun, its other trees are already here.
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        r = tracer_.next_record(round.empty() ? std::max(left, std::chrono::milliseconds(0))
                                              : std::chrono::milliseconds(0));
      }
      if (!r)
        return round.empty() ? std::nullopt : std::optional(round);
      if ((*r)["event"] != "tree")
        continue;
      if ((*r)["final"] == true) {
        if (!round.empty()) {
          carry_ = std::move(r);
          return round;
        }
        return std::nullopt;
      }
      if (!round.empty() && (*r)["ts_ns"] != round.front()["ts_ns"]) {
        carry_ = std::move(r);
        return round;
      }
      round.push_back(std::move(*r));
    }
  }

private:
  BackgroundTracer &tracer_;
  std::optional<json> carry_;
};

// Kills and reaps a child the test spawned, however the test ends.
struct ChildGuard {
  pid_t pid = -1;
  ~ChildGuard() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

std::chrono::steady_clock::time_point in_seconds(int s) {
  return std::chrono::steady_clock::now() + std::chrono::seconds(s);
}

// A process that burns in bursts shorter than the interval and sleeps in
// between is rarely switched out at the moment a sample is due: its CPU at
// each snapshot must still be what the kernel says then.
TEST(LiveState, BurstyProcessCpuIsCurrentAtEverySnapshot) {
  TT_REQUIRE_BPF();
  BackgroundTracer tracer({"--format", "json", "--events", "exit", "--interval", "500ms", "--verbose", "--",
                           workload_bin(), "burn-sleep", "40", "60", "30"});
  ASSERT_TRUE(tracer.ready());
  SnapshotStream stream(tracer);
  std::vector<json> snaps;
  size_t compared = 0;
  const auto deadline = in_seconds(20); // the workload runs 3 s at most
  while (auto round = stream.next_round(deadline)) {
    const json &tree = round->front();
    const int64_t pid = tree["root_pid"];
    const auto kernel = process_cpu_ns(pid);
    const double lag = static_cast<double>(boottime_ns()) - tree["ts_ns"].get<double>();
    snaps.push_back(tree);
    const json *p = process_in(tree, pid);
    ASSERT_NE(p, nullptr) << "--verbose lists the root: " << tree.dump();
    if (!kernel || (*p)["live"] != true)
      continue;
    compared++;
    EXPECT_TRUE(cpu_current((*p)["cpu_ns"].get<double>(), *kernel, lag, 1)) << "snapshot " << snaps.size();
    // One process: the tree is that process.
    EXPECT_TRUE(cpu_current(tree["cpu_ns"].get<double>(), *kernel, lag, 1)) << "tree, snapshot " << snaps.size();
  }
  auto r = tracer.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 30 rounds of 100 ms at 500 ms intervals.
  EXPECT_GE(compared, 4u) << r.out;
  auto exits = r.events("exit");
  ASSERT_FALSE(exits.empty()) << r.out;
  EXPECT_GT(exits.back()["cpu_ns"].get<double>(), 0.95 * 30 * 40 * kMs) << "the bursts really burned";
  for (size_t i = 1; i < snaps.size(); i++) {
    const uint64_t prev = snaps[i - 1]["cpu_ns"], cur = snaps[i]["cpu_ns"];
    EXPECT_GE(cur, prev) << "tree CPU never decreases, snapshot " << i;
    EXPECT_EQ(snaps[i]["cpu_interval_ns"].get<uint64_t>(), cur - std::min(cur, prev))
        << "cpu_interval_ns is the growth of cpu_ns since the previous snapshot, snapshot " << i;
  }
}

// A process that grows once and then sleeps is never switched out again
// after the growth: its RSS at each snapshot must be its VmRSS then.
TEST(LiveState, IdleAfterGrowthRssIsCurrentAtEverySnapshot) {
  TT_REQUIRE_BPF();
  const double slack = rss_counter_slack_bytes();
  BackgroundTracer tracer({"--format", "json", "--events", "exit", "--interval", "500ms", "--verbose", "--",
                           workload_bin(), "alloc-sleep", "64", "2500"});
  ASSERT_TRUE(tracer.ready());
  SnapshotStream stream(tracer);
  size_t compared = 0;
  const auto deadline = in_seconds(20); // the workload runs 3 s at most
  while (auto round = stream.next_round(deadline)) {
    const json &tree = round->front();
    const int64_t pid = tree["root_pid"];
    const double vm_rss = static_cast<double>(vm_rss_kb(static_cast<pid_t>(pid))) * 1024;
    const json *p = process_in(tree, pid);
    ASSERT_NE(p, nullptr) << "--verbose lists the root: " << tree.dump();
    // Members' sum, PSS bound: hold at every snapshot.
    double live_sum = 0;
    for (const json *m : live_members(tree))
      live_sum += (*m)["rss_bytes"].get<double>();
    EXPECT_EQ(tree["rss_bytes"].get<double>(), live_sum) << "tree RSS is the sum of live members': " << tree.dump();
    if (!tree["pss_bytes"].is_null()) {
      EXPECT_LE(tree["pss_bytes"].get<double>(), tree["rss_bytes"].get<double>()) << tree.dump();
    }
    if (vm_rss == 0 || (*p)["live"] != true)
      continue; // exited meanwhile
    compared++;
    EXPECT_GE(vm_rss, 64 * kMiB) << "the workload holds its 64 MiB while it sleeps";
    EXPECT_TRUE(within((*p)["rss_bytes"].get<double>(), vm_rss, 0, slack))
        << "treetrace's RSS of the sleeping process vs its VmRSS now (MiB: " << (*p)["rss_bytes"].get<double>() / kMiB
        << " vs " << vm_rss / kMiB << ")";
  }
  auto r = tracer.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(compared, 3u) << r.out;
}

// Prefork workers that sleep from birth (the gunicorn case) never run
// after their fork: each must still show its current RSS, the master's
// pages it shares copy-on-write included.
TEST(LiveState, ForkedIdleWorkersShowCurrentRss) {
  TT_REQUIRE_BPF();
  const double slack = rss_counter_slack_bytes();
  constexpr int kWorkers = 4;
  TruthFile truth;
  BackgroundTracer tracer({"--format", "json", "--events", "exit", "--interval", "500ms", "--verbose", "--",
                           workload_bin(), "idle-workers", std::to_string(kWorkers), "3", "32"},
                          {truth.env()});
  ASSERT_TRUE(tracer.ready());
  SnapshotStream stream(tracer);
  size_t full_snapshots = 0;
  const auto deadline = in_seconds(20); // the workload runs 3 s at most
  while (auto round = stream.next_round(deadline)) {
    const json &tree = round->front();
    // Read the kernel's figures first, all of them, before checking.
    std::map<int64_t, double> vm_rss;
    std::vector<int64_t> live;
    for (const json *m : live_members(tree)) {
      const int64_t pid = (*m)["pid"];
      vm_rss[pid] = static_cast<double>(vm_rss_kb(static_cast<pid_t>(pid))) * 1024;
      live.push_back(pid);
    }
    const auto kernel_pss = pss_sum_bytes(live);
    if (tree["procs_live"] != kWorkers + 1)
      continue; // still forking, or already exiting
    full_snapshots++;
    double live_sum = 0;
    for (const json *m : live_members(tree)) {
      const int64_t pid = (*m)["pid"];
      const double shown = (*m)["rss_bytes"].get<double>();
      live_sum += shown;
      if (vm_rss[pid] == 0)
        continue; // exited between the snapshot and the read
      EXPECT_GT(shown, 0) << "pid " << pid << " is live and maps " << vm_rss[pid] / kMiB << " MiB";
      EXPECT_TRUE(within(shown, vm_rss[pid], 0, slack))
          << "pid " << pid << ": treetrace " << shown / kMiB << " MiB vs VmRSS " << vm_rss[pid] / kMiB << " MiB";
    }
    EXPECT_EQ(tree["rss_bytes"].get<double>(), live_sum) << tree.dump();
    ASSERT_FALSE(tree["pss_bytes"].is_null()) << "five processes are well within the PSS budget: " << tree.dump();
    const double pss = tree["pss_bytes"].get<double>();
    EXPECT_LE(pss, tree["rss_bytes"].get<double>())
        << "each shared page counts once in PSS and once per member in RSS: " << tree.dump();
    // PSS is read from smaps_rollup by treetrace too; nothing runs between
    // its read and ours, so they agree up to a few pages.
    if (kernel_pss) {
      EXPECT_TRUE(within(pss, *kernel_pss, 0.01, slack)) << "tree PSS vs the members' smaps_rollup now";
    }
  }
  auto r = tracer.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto started = truth.with("kind", "idle-workers");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0]["workers"].size(), static_cast<size_t>(kWorkers));
  // The workers sleep 3 s; snapshots every 500 ms.
  EXPECT_GE(full_snapshots, 3u) << r.out;
}

// Threads that burn and exit one after another, then a process that only
// sleeps: the CPU of the exited threads must be in every snapshot, as the
// process's CPU clock counts it, and the exit record must equal wait4().
TEST(LiveState, ExitedThreadsCpuIsCurrentAtEverySnapshot) {
  TT_REQUIRE_BPF();
  constexpr int kThreads = 4;
  constexpr int kStepMs = 100;
  TruthFile truth;
  BackgroundTracer tracer({"--format", "json", "--events", "exit", "--interval", "200ms", "--verbose", "--",
                           workload_bin(), "wait4", workload_bin(), "staggered-threads", std::to_string(kThreads),
                           std::to_string(kStepMs), "1000"},
                          {truth.env()});
  ASSERT_TRUE(tracer.ready());
  SnapshotStream stream(tracer);
  const double parallel = std::min<double>(kThreads, online_cpus());
  size_t compared = 0;
  int64_t worker = 0;
  std::vector<double> shown_history;
  const auto deadline = in_seconds(20); // the workload runs 3 s at most
  while (auto round = stream.next_round(deadline)) {
    const json &tree = round->front();
    const int64_t root = tree["root_pid"];
    const json *p = nullptr;
    for (const json *m : live_members(tree))
      if ((*m)["ppid"] == root)
        p = m;
    if (!p)
      continue; // not started yet, or already reaped
    worker = (*p)["pid"];
    const auto kernel = process_cpu_ns(worker);
    const double lag = static_cast<double>(boottime_ns()) - tree["ts_ns"].get<double>();
    if (!kernel)
      continue;
    compared++;
    const double shown = (*p)["cpu_ns"].get<double>();
    EXPECT_TRUE(cpu_current(shown, *kernel, lag, parallel)) << "snapshot at ts_ns " << tree["ts_ns"];
    if (!shown_history.empty()) {
      EXPECT_GE(shown, shown_history.back()) << "a process's CPU never decreases";
    }
    shown_history.push_back(shown);
  }
  auto r = tracer.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // ~0.6 s of threads on 2 CPUs, then 1 s asleep, at 200 ms intervals.
  EXPECT_GE(compared, 5u) << r.out;
  auto reaped = truth.with("kind", "wait4");
  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0]["pid"], worker);
  const double wait4_ns = reaped[0]["cpu_us"].get<double>() * 1000;
  EXPECT_GT(wait4_ns, 0.95 * kStepMs * kMs * kThreads * (kThreads + 1) / 2) << "the threads really burned";
  std::optional<json> ex;
  for (const auto &e : r.events("exit"))
    if (e["pid"] == reaped[0]["pid"])
      ex = e;
  ASSERT_TRUE(ex) << r.out;
  EXPECT_TRUE(within((*ex)["cpu_ns"].get<double>(), wait4_ns, 0.01, 2 * kMs)) << "exit record vs wait4()";
}

// Attach mode: a pool already running in its cgroup before treetrace
// starts. From the second snapshot on, the trees' CPU (the kernel's
// cumulative figure, CPU before startup included) must be what the
// cgroup itself has charged.
TEST(LiveState, AttachedPoolCpuMatchesItsCgroup) {
  TT_REQUIRE_BPF();
  constexpr int kWorkers = 2;
  if (cgroup2_mount().empty())
    GTEST_SKIP() << "no cgroup2 mount";
  ScratchCgroup cg;
  ASSERT_TRUE(cg.ok()) << cg.error();
  ChildGuard pool;
  pool.pid =
      spawn({workload_bin(), "pool-burn", std::to_string(kWorkers), "10"}, {"TT_CGROUP_PROCS=" + cg.procs_file()}).pid;
  ASSERT_GT(pool.pid, 0);
  const auto started_by = in_seconds(5);
  while (cgroup_procs(cg.procs_file()).size() < kWorkers + 1 && std::chrono::steady_clock::now() < started_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(cgroup_procs(cg.procs_file()).size(), static_cast<size_t>(kWorkers + 1))
      << "the pool is in " << cg.abs_path();
  std::this_thread::sleep_for(std::chrono::seconds(1));

  BackgroundTracer tracer({"--cgroup", cg.abs_path(), "--interval", "500ms", "--format", "json", "--events", "none"});
  ASSERT_TRUE(tracer.ready());
  SnapshotStream stream(tracer);
  const double parallel = std::min<double>(kWorkers + 1, online_cpus());
  const auto deadline = in_seconds(4);
  size_t rounds = 0, compared = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto round = stream.next_round(deadline);
    if (!round)
      break;
    const auto usage_usec = cg.cpu_usage_usec();
    const double lag = static_cast<double>(boottime_ns()) - round->front()["ts_ns"].get<double>();
    ASSERT_TRUE(usage_usec) << "cannot read " << cg.abs_path() << "/cpu.stat";
    if (++rounds < 2)
      continue; // the first snapshot may come before the startup scan's figures are folded in
    double trees_cpu = 0;
    for (const auto &t : *round)
      trees_cpu += t["cpu_ns"].get<double>();
    compared++;
    EXPECT_TRUE(cpu_current(trees_cpu, static_cast<double>(*usage_usec) * 1000, lag, parallel, 0.02, 0))
        << "snapshot " << rounds << ": " << round->size() << " tree(s) vs " << cg.rel_path() << "'s cpu.stat";
  }
  auto r = tracer.stop();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(compared, 4u) << r.out;
}

} // namespace
} // namespace tt_test
