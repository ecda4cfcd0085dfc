// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// End-to-end: the real treetrace binary, the real BPF programs, real
// processes. Numbers are checked against what the kernel told each process
// about itself (wait4 rusage, VmHWM), recorded by tests/workloads.
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "harness.h"

namespace tt_test {
namespace {

constexpr double kMs = 1e6;

std::optional<json> exit_of(const RunResult &r, int64_t pid) {
  for (const auto &e : r.events("exit"))
    if (e["pid"] == pid)
      return e;
  return std::nullopt;
}

size_t count_exits(const RunResult &r, int64_t pid) {
  size_t n = 0;
  for (const auto &e : r.events("exit"))
    n += e["pid"] == pid;
  return n;
}

TEST(Lifecycle, CpuMatchesWait4Rusage) {
  TT_REQUIRE_BPF();
  TruthFile truth;
  auto r =
      run_treetrace({"--format", "json", "--", workload_bin(), "wait4", workload_bin(), "burn", "300"}, {truth.env()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto w = truth.with("kind", "wait4");
  ASSERT_EQ(w.size(), 1u);
  auto ex = exit_of(r, w[0]["pid"].get<int64_t>());
  ASSERT_TRUE(ex) << r.out;
  const double wait4_ns = w[0]["cpu_us"].get<double>() * 1000;
  EXPECT_GT(wait4_ns, 250 * kMs); // the workload really burned CPU
  EXPECT_TRUE(within((*ex)["cpu_ns"].get<double>(), wait4_ns, 0.01, 2 * kMs));
  EXPECT_EQ((*ex)["cpu_user_ns"].get<uint64_t>() + (*ex)["cpu_sys_ns"].get<uint64_t>(),
            (*ex)["cpu_ns"].get<uint64_t>());
  EXPECT_EQ((*ex)["exit_code"], 0);
  EXPECT_EQ((*ex)["signal"], 0);
}

TEST(Lifecycle, PeakRssCatchesShortSpikeLikeVmHWM) {
  TT_REQUIRE_BPF();
  TruthFile truth;
  auto r = run_treetrace({"--format", "json", "--", workload_bin(), "wait4", workload_bin(), "spike", "200", "15"},
                         {truth.env()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto self = truth.with("role", "spike");
  ASSERT_EQ(self.size(), 1u);
  auto ex = exit_of(r, self[0]["pid"].get<int64_t>());
  ASSERT_TRUE(ex) << r.out;
  const double vmhwm = self[0]["vmhwm_kb"].get<double>() * 1024;
  EXPECT_GT(vmhwm, 200.0 * (1 << 20)); // the 200 MiB spike happened
  EXPECT_TRUE(within((*ex)["rss_peak_bytes"].get<double>(), vmhwm, 0.01, rss_counter_slack_bytes()));
  // wait4()'s ru_maxrss is the kernel's hiwater mark of the exiting image,
  // taken in exit_mm() from the same counters treetrace reads just before:
  // the two agree to the page (the image before exec, the wrapper's fork,
  // is far smaller, so it cannot be the one ru_maxrss reports).
  auto reaped = truth.with("kind", "wait4");
  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ((*ex)["rss_peak_bytes"].get<int64_t>(), reaped[0]["maxrss_kb"].get<int64_t>() * 1024);
  // ... and is over: RSS at exit is far below the peak.
  EXPECT_LT((*ex)["rss_bytes"].get<double>(), vmhwm / 4);
  EXPECT_EQ((*ex)["mem_source"], "exit");
}

// A spike that is touched, held (busy, no switch-out needed) and unmapped
// between two of its process's samples is still in the next sample's
// rss_peak_sampled_bytes: the kernel raised its hiwater mark at the
// munmap, and the next fold sees the rise.
TEST(Samples, FreedSpikeShowsInTheNextSample) {
  TT_REQUIRE_BPF();
  TruthFile truth;
  auto r = run_treetrace({"--format", "json", "--events", "sample,exit", "--interval", "100ms", "--", workload_bin(),
                          "spike", "200", "15", "600"},
                         {truth.env()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto self = truth.with("role", "spike");
  ASSERT_EQ(self.size(), 1u);
  const int64_t pid = self[0]["pid"];
  const double spike = 200.0 * (1 << 20);
  // The first sample whose hiwater mark includes the spike must carry it in
  // rss_peak_sampled_bytes: usually the one after the munmap, or one taken
  // during the hold or the munmap. A sample taken during the hold may be
  // followed by one that carries it too (the hold went on into its
  // interval). But once a sample has seen the spike gone, no later sample
  // may carry it: the peak since the previous record starts again there.
  size_t samples = 0, after_gone = 0, stale = 0;
  bool first_with_peak_seen = false, first_with_peak_carries = false, gone = false;
  for (const auto &s : r.events("sample")) {
    if (s["pid"] != pid)
      continue;
    samples++;
    const bool peak_reached = s["rss_peak_bytes"].get<double>() >= spike;
    const bool carries = s["rss_peak_sampled_bytes"].get<double>() >= spike;
    if (peak_reached && !first_with_peak_seen) {
      first_with_peak_seen = true;
      first_with_peak_carries = carries;
    }
    if (gone) {
      after_gone++;
      stale += carries;
    }
    gone = gone || (peak_reached && s["rss_bytes"].get<double>() < spike / 4);
  }
  EXPECT_GE(samples, 3u) << "the process lived 600 ms past its spike at 100 ms intervals: " << r.out;
  EXPECT_TRUE(first_with_peak_carries) << "the first sample after the spike's peak carries it: " << r.out;
  ASSERT_GE(after_gone, 1u) << "no sample followed one that saw the spike gone: " << r.out;
  EXPECT_EQ(stale, 0u) << "a sample after the spike was gone still carries it: " << r.out;
}

TEST(Lifecycle, ForkWithoutExecLikePreforkWorkers) {
  TT_REQUIRE_BPF();
  TruthFile truth;
  auto r = run_treetrace({"--format", "json", "--events", "fork,exec,exit", "--", workload_bin(), "prefork", "3", "50"},
                         {truth.env()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto workers = truth.with("role", "worker");
  ASSERT_EQ(workers.size(), 3u);
  auto master = truth.with("role", "master");
  ASSERT_EQ(master.size(), 1u);
  const int64_t master_pid = master[0]["pid"];
  size_t forks = 0;
  for (const auto &f : r.events("fork"))
    forks += f["pid"] == master_pid;
  EXPECT_EQ(forks, 3u);
  auto reaped = truth.with("kind", "wait4");
  ASSERT_EQ(reaped.size(), 3u) << "the master wait4()s each worker";
  for (const auto &w : reaped) {
    const int64_t pid = w["pid"];
    EXPECT_EQ(count_exits(r, pid), 1u);
    for (const auto &e : r.events("exec"))
      EXPECT_NE(e["pid"], pid) << "a prefork worker never execs";
    auto ex = exit_of(r, pid);
    ASSERT_TRUE(ex);
    EXPECT_EQ((*ex)["ppid"], master_pid);
    EXPECT_EQ((*ex)["tree_root_pid"], master_pid);
    EXPECT_GT(w["cpu_us"].get<double>(), 40e3);
    EXPECT_TRUE(within((*ex)["cpu_ns"].get<double>(), w["cpu_us"].get<double>() * 1000, 0.01, 2 * kMs));
    // A worker that never execs has one image: its peak is ru_maxrss.
    EXPECT_EQ((*ex)["rss_peak_bytes"].get<int64_t>(), w["maxrss_kb"].get<int64_t>() * 1024);
  }
}

TEST(Lifecycle, ExecFromShellCarriesArgvAndOldComm) {
  TT_REQUIRE_BPF();
  const std::string cmd = workload_bin() + " exit 0 'quoted \"arg\"' back\\\\slash";
  auto r = run_treetrace({"--format", "json", "--", "/bin/sh", "-c", cmd + "; true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  bool found = false;
  for (const auto &e : r.events("exec")) {
    if (e["comm"] != "tt_workload")
      continue;
    found = true;
    EXPECT_EQ(e["old_comm"], "sh");
    EXPECT_EQ(e["filename"], workload_bin());
    ASSERT_EQ(e["argv"].size(), 5u) << e.dump();
    EXPECT_EQ(e["argv"][3], "quoted \"arg\"");
    EXPECT_EQ(e["argv"][4], "back\\slash");
    EXPECT_EQ(e["argv_truncated"], false);
  }
  EXPECT_TRUE(found) << r.out;
}

TEST(Lifecycle, LongArgvIsBoundedAndMarkedTruncated) {
  TT_REQUIRE_BPF();
  std::string long_arg(5000, 'x');
  auto r = run_treetrace({"--format", "json", "--", workload_bin(), "exit", "0", long_arg});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto execs = r.events("exec");
  ASSERT_FALSE(execs.empty());
  EXPECT_EQ(execs[0]["argv_truncated"], true);
  size_t total = 0;
  for (const auto &a : execs[0]["argv"])
    total += a.get<std::string>().size() + 1;
  EXPECT_LE(total, 1024u + 1);
}

TEST(Lifecycle, LeaderExitsFirstGivesOneExitAfterLastThread) {
  TT_REQUIRE_BPF();
  TruthFile truth;
  auto r = run_treetrace({"--format", "json", "--", workload_bin(), "wait4", workload_bin(), "threads", "2000"},
                         {truth.env()}, 120);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto w = truth.with("kind", "wait4");
  ASSERT_EQ(w.size(), 1u);
  const int64_t pid = w[0]["pid"];
  ASSERT_EQ(count_exits(r, pid), 1u) << "one exit record per process, not per thread";
  auto ex = exit_of(r, pid);
  const double wait4_ns = w[0]["cpu_us"].get<double>() * 1000;
  EXPECT_GT(wait4_ns, 1900 * kMs);
  EXPECT_TRUE(within((*ex)["cpu_ns"].get<double>(), wait4_ns, 0.01, 2 * kMs));
  // The record comes after the last thread, which outlived the leader by ~2 s.
  EXPECT_GT((*ex)["wall_ns"].get<double>(), 1900 * kMs);
  EXPECT_EQ((*ex)["exit_code"], 0);
}

TEST(Lifecycle, KilledBySignal) {
  TT_REQUIRE_BPF();
  auto r = run_treetrace({"--format", "json", "--", workload_bin(), "signal", "9"});
  EXPECT_EQ(r.exit_code, 128 + 9) << "treetrace passes the command's fate on";
  auto exits = r.events("exit");
  ASSERT_EQ(exits.size(), 1u) << r.out;
  EXPECT_EQ(exits[0]["signal"], 9);
  EXPECT_EQ(exits[0]["exit_code"], 0);
  auto s = r.summary();
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["signal"], 9);
}

TEST(Lifecycle, ExitCodePassedThrough) {
  TT_REQUIRE_BPF();
  auto r = run_treetrace({"--format", "json", "--", workload_bin(), "exit", "7"});
  EXPECT_EQ(r.exit_code, 7);
  auto exits = r.events("exit");
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0]["exit_code"], 7);
}

TEST(Lifecycle, DoubleForkDaemonCountsInTreeWithWaitTree) {
  TT_REQUIRE_BPF();
  TruthFile truth;
  auto r = run_treetrace({"--format", "json", "--wait-tree", "--", workload_bin(), "daemon", "400"}, {truth.env()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto daemon = truth.with("role", "daemon");
  ASSERT_EQ(daemon.size(), 1u) << "the daemon ran to completion before treetrace ended";
  auto parent = truth.with("role", "daemon-parent");
  ASSERT_EQ(parent.size(), 1u);
  const int64_t root = parent[0]["pid"];
  auto ex = exit_of(r, daemon[0]["pid"].get<int64_t>());
  ASSERT_TRUE(ex) << r.out;
  EXPECT_NE((*ex)["ppid"], parent[0]["pid"]) << "the daemon was reparented";
  EXPECT_EQ((*ex)["tree_root_pid"], root) << "but it stays in the tree it was born into";
  const double daemon_ns = daemon[0]["cpu_us"].get<double>() * 1000;
  EXPECT_TRUE(within((*ex)["cpu_ns"].get<double>(), daemon_ns, 0.01, 2 * kMs));
  auto s = r.summary();
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["procs"], 3);
  // Tree CPU is the sum of its members' exit records, the daemon included.
  double sum = 0;
  for (const auto &e : r.events("exit"))
    sum += e["cpu_ns"].get<double>();
  EXPECT_EQ((*s)["cpu_ns"].get<double>(), sum);
  EXPECT_GT((*s)["cpu_ns"].get<double>(), daemon_ns);
  EXPECT_EQ((*s)["lost"], 0);
}

TEST(Lifecycle, WithoutWaitTreeSummaryDoesNotWaitForDaemon) {
  TT_REQUIRE_BPF();
  TruthFile truth;
  auto r = run_treetrace({"--format", "json", "--", workload_bin(), "daemon", "3000"}, {truth.env()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(r.seconds, 2.9) << "returned when the command exited";
  EXPECT_TRUE(truth.with("role", "daemon").empty());
}

TEST(Filters, CommFilterExcludesEverythingElse) {
  TT_REQUIRE_BPF();
  // A uniquely named copy of the workload, so only it matches.
  char dir[] = "/tmp/tt-comm-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string bin = std::string(dir) + "/ttcommfilter01";
  ASSERT_EQ(run_command({"/bin/cp", workload_bin(), bin}), 0);
  BackgroundTracer tracer({"--format", "json", "--events", "fork,exec,exit", "--comm", "ttcommfilt*"});
  ASSERT_TRUE(tracer.ready());
  EXPECT_EQ(run_command({"/bin/sh", "-c", "true; /bin/true"}), 0);
  // The match is on the name after exec; the shell child that execs it is
  // traced from then on, and so is everything it starts.
  EXPECT_EQ(run_command({"/bin/sh", "-c", bin + " prefork 2 20"}), 0);
  EXPECT_EQ(run_command({"/bin/sh", "-c", "true; /bin/true"}), 0);
  auto r = tracer.stop();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  size_t exits = 0;
  for (const auto &e : r.events("exit")) {
    EXPECT_EQ(e["comm"], "ttcommfilter01") << e.dump();
    exits++;
  }
  EXPECT_EQ(exits, 3u) << "master + 2 workers: " << r.out;
  for (const auto &e : r.events("exec"))
    EXPECT_EQ(e["comm"], "ttcommfilter01");
  run_command({"/bin/rm", "-rf", dir});
}

TEST(Filters, CgroupFilterOnCgroupTheTestCreates) {
  TT_REQUIRE_BPF();
  const std::string mount = cgroup2_mount();
  if (mount.empty())
    GTEST_SKIP() << "no cgroup2 mount";
  const std::string name = "tt-test-" + std::to_string(getpid());
  const std::string path = mount + "/" + name;
  ASSERT_EQ(mkdir(path.c_str(), 0755), 0) << strerror(errno);
  {
    BackgroundTracer tracer({"--format", "json", "--events", "exec,exit", "--cgroup", name});
    ASSERT_TRUE(tracer.ready());
    // Outside the cgroup: not traced.
    EXPECT_EQ(run_command({workload_bin(), "burn", "5"}), 0);
    // Inside: the shell moves itself in, then execs; the exec is seen.
    EXPECT_EQ(
        run_command({"/bin/sh", "-c", "echo $$ > " + path + "/cgroup.procs && exec " + workload_bin() + " burn 20"}),
        0);
    auto r = tracer.stop();
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto exits = r.events("exit");
    ASSERT_EQ(exits.size(), 1u) << r.out;
    EXPECT_EQ(exits[0]["comm"], "tt_workload");
    EXPECT_EQ(exits[0]["cgroup"], "/" + name);
    EXPECT_GT(exits[0]["cpu_ns"].get<double>(), 15 * kMs);
  }
  EXPECT_EQ(rmdir(path.c_str()), 0) << strerror(errno);
}

TEST(Filters, PidFilterTracesAnExistingProcessAndItsChildren) {
  TT_REQUIRE_BPF();
  TruthFile truth;
  // A shell that waits, then starts a child: it exists before treetrace.
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t sh = fork();
  if (sh == 0) {
    dup2(go[0], 0);
    close(go[1]);
    putenv(strdup(truth.env().c_str()));
    execl("/bin/sh", "sh", "-c", ("read x; " + workload_bin() + " burn 30").c_str(), static_cast<char *>(nullptr));
    _exit(127);
  }
  close(go[0]);
  BackgroundTracer tracer({"--format", "json", "--events", "fork,exec,exit", "--pid", std::to_string(sh)});
  ASSERT_TRUE(tracer.ready());
  EXPECT_EQ(run_command({"/bin/true"}), 0); // not traced
  ASSERT_EQ(write(go[1], "\n", 1), 1);
  close(go[1]);
  int status = 0;
  waitpid(sh, &status, 0);
  auto r = tracer.stop();
  auto burn = truth.with("role", "burn");
  ASSERT_EQ(burn.size(), 1u);
  auto ex = exit_of(r, burn[0]["pid"].get<int64_t>());
  ASSERT_TRUE(ex) << r.out;
  EXPECT_EQ((*ex)["tree_root_pid"], sh);
  EXPECT_TRUE(exit_of(r, sh)) << "the --pid process's own exit is reported";
  for (const auto &e : r.events("exit"))
    EXPECT_TRUE(e["pid"] == sh || e["ppid"] == sh) << e.dump();
}

TEST(Shutdown, SigintAndSigtermDetachEverything) {
  TT_REQUIRE_BPF();
  for (int signo : {SIGINT, SIGTERM}) {
    auto before = loaded_bpf_programs();
    BackgroundTracer tracer({"--format", "json", "--events", "none"});
    ASSERT_TRUE(tracer.ready());
    const std::set<uint32_t> mine = treetrace_programs_since(before);
    EXPECT_GE(mine.size(), 4u) << "the tracepoint programs are attached while running";
    auto r = tracer.stop(signo);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_LT(r.seconds, 5.0);
    ASSERT_TRUE(r.summary()) << "a summary is printed on the way out";
    const auto left = still_loaded_after(mine, std::chrono::seconds(1));
    EXPECT_TRUE(left.empty()) << left.size() << " programs still loaded 1 s after exit";
  }
}

TEST(Shutdown, ClosedPipeEndsPromptlyAndQuietly) {
  TT_REQUIRE_BPF();
  // Like `treetrace | head -1`: read one line, close the pipe, and time
  // how long treetrace takes to notice while the node keeps exec'ing.
  const Spawned tt = spawn({treetrace_bin(), "--events", "exec,exit"}, {}, Capture::stdout_only);
  ASSERT_GT(tt.pid, 0);
  const pid_t pid = tt.pid;
  std::atomic<bool> done{false};
  std::thread load([&] {
    while (!done)
      run_command({"/bin/true"});
  });
  char c = 0;
  while (read(tt.out_fd, &c, 1) == 1 && c != '\n') {
  }
  close(tt.out_fd);
  const auto closed_at = std::chrono::steady_clock::now();
  int status = 0;
  for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - closed_at).count();
  done = true;
  load.join();
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "treetrace still running 5 s after its stdout closed";
  }
  EXPECT_LT(secs, 1.0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "quietly: status " << status;
}

} // namespace
} // namespace tt_test
