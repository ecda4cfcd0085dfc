// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Loss accounting, PID reuse, reparenting, namespaces, cgroup migration,
// slow consumers, hard kills and least privilege, each spawned for real.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "harness.h"

namespace tt_test {
namespace {

constexpr double kMs = 1e6;

bool have(const char *path) { return access(path, X_OK) == 0; }

TEST(Loss, TinyRingBufferDropsAreCountedExactly) {
  TT_REQUIRE_BPF();
  // A 4 KiB ring and a reader paused (SIGSTOP) through an exec storm:
  // records are dropped, and every one is counted.
  const std::string storm = "sleep 1; i=0; while [ $i -lt 1500 ]; do /bin/true; i=$((i+1)); done; sleep 2";
  BackgroundTracer tracer(
      {"--format", "json", "--ringbuf-size", "4096", "--events", "exec,exit", "--", "/bin/sh", "-c", storm});
  ASSERT_TRUE(tracer.ready());
  tracer.pause_for(3);
  auto r = tracer.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = r.summary();
  ASSERT_TRUE(s);
  const uint64_t attempts = (*s)["attempts"], delivered = (*s)["delivered"], dropped = (*s)["dropped_kernel"];
  EXPECT_GT(dropped, 100u) << "the storm must overflow a 4 KiB ring";
  EXPECT_EQ(attempts, delivered + dropped) << "every record is either delivered or counted as dropped";
  EXPECT_EQ((*s)["lost"].get<uint64_t>(), dropped);
  // Reported while running, too: on stderr and as `lost` records.
  EXPECT_NE(r.err.find("lost"), std::string::npos) << r.err;
  auto lost = r.events("lost");
  ASSERT_FALSE(lost.empty());
  for (const auto &l : lost)
    EXPECT_GE(l["attempts"].get<uint64_t>(), l["delivered"].get<uint64_t>() + l["dropped_kernel"].get<uint64_t>())
        << "records in flight aside, the identity holds while running";
}

TEST(Loss, TreeIsReconciledWithTheLiveSystemAfterLoss) {
  TT_REQUIRE_BPF();
  // The reader is paused (SIGSTOP) while the tree forks 400 short-lived
  // processes into a 4 KiB ring: the first forks are recorded, their exits
  // are lost, so the tree holds dead processes. Within 5 s of the loss it
  // must match the system again: the exec'd sleep alone.
  const std::string script = "sleep 1; i=0; while [ $i -lt 400 ]; do /bin/true; i=$((i+1)); done; exec sleep 8";
  BackgroundTracer tracer({"--format", "json", "--ringbuf-size", "4096", "--interval", "500ms", "--events", "none",
                           "--", "/bin/sh", "-c", script});
  ASSERT_TRUE(tracer.ready());
  tracer.pause_for(3);
  auto r = tracer.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = r.summary();
  ASSERT_TRUE(s);
  ASSERT_GT((*s)["dropped_kernel"].get<uint64_t>(), 100u) << "the paused reader must lose records";
  std::vector<json> snaps;
  for (const auto &t : r.events("tree"))
    if (t["final"] == false)
      snaps.push_back(t);
  ASSERT_GE(snaps.size(), 6u);
  // The last snapshots come more than 5 s after the loss, during `sleep 8`.
  const json &last = snaps.back();
  EXPECT_EQ(last["procs_live"], 1) << "only the exec'd sleep is alive: " << last.dump();
  EXPECT_NE(r.err.find("lost"), std::string::npos) << r.err;
}

TEST(Loss, SlowStdoutNeverStallsTheRingBuffer) {
  TT_REQUIRE_BPF();
  // stdout drained at ~10 KiB/s while the tree execs as fast as it can:
  // lines that cannot be printed in time are dropped and counted; the
  // kernel side loses nothing, and treetrace's memory stays bounded.
  const Spawned tt = spawn({treetrace_bin(), "--format", "json", "--events", "all", "--output-queue", "65536", "--",
                            "/bin/sh", "-c", "i=0; while [ $i -lt 1500 ]; do /bin/true; i=$((i+1)); done"},
                           {}, Capture::stdout_only);
  ASSERT_GT(tt.pid, 0);
  const pid_t pid = tt.pid;
  std::string output;
  uint64_t max_rss_kb = 0;
  char buf[1024];
  for (;;) {
    ssize_t n = read(tt.out_fd, buf, sizeof buf);
    if (n <= 0)
      break;
    output.append(buf, static_cast<size_t>(n));
    max_rss_kb = std::max(max_rss_kb, vm_rss_kb(pid));
    std::this_thread::sleep_for(std::chrono::milliseconds(100)); // ~10 KiB/s
  }
  close(tt.out_fd);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const auto last_line = output.substr(output.rfind('\n', output.size() - 2) + 1);
  json s = json::parse(last_line);
  ASSERT_EQ(s["event"], "summary");
  EXPECT_GT(s["dropped_output"].get<uint64_t>(), 0u);
  EXPECT_EQ(s["dropped_kernel"], 0) << "the ring buffer reader kept up";
  EXPECT_EQ(s["attempts"], s["delivered"]);
  EXPECT_LT(max_rss_kb, 64u * 1024) << "bounded queue, bounded memory";
}

// Where pids.max can be set: the cgroup2 hierarchy when it has the pids
// controller, else the cgroup v1 pids hierarchy (hybrid layouts).
std::string pids_hierarchy(const std::string &v2_mount) {
  std::ifstream controllers(v2_mount + "/cgroup.controllers");
  std::string c;
  while (controllers >> c)
    if (c == "pids") {
      std::ofstream(v2_mount + "/cgroup.subtree_control") << "+pids";
      return v2_mount;
    }
  return access("/sys/fs/cgroup/pids/tasks", R_OK) == 0 ? "/sys/fs/cgroup/pids" : "";
}

TEST(Storms, ForkBombInPidsLimitedCgroup) {
  TT_REQUIRE_BPF();
  const std::string mount = cgroup2_mount();
  if (mount.empty())
    GTEST_SKIP() << "no cgroup2 mount";
  const std::string pids_root = pids_hierarchy(mount);
  if (pids_root.empty())
    GTEST_SKIP() << "no pids controller";
  const std::string name = "tt-bomb-" + std::to_string(getpid());
  const std::string path = mount + "/" + name;
  const std::string limit = pids_root + "/" + name;
  ASSERT_EQ(mkdir(path.c_str(), 0755), 0) << strerror(errno);
  if (limit != path) {
    ASSERT_EQ(mkdir(limit.c_str(), 0755), 0) << strerror(errno);
  }
  { std::ofstream(limit + "/pids.max") << "256"; }

  // 64 slots in treetrace's process tables against 256 processes at once:
  // inserts must fail, and every failure must be counted.
  BackgroundTracer tracer({"--format", "json", "--events", "none", "--max-procs", "64", "--cgroup", name});
  ASSERT_TRUE(tracer.ready());
  const uint64_t rss_before = vm_rss_kb(tracer.pid());
  const int seconds = 60;
  pid_t bomb = fork();
  if (bomb == 0) {
    std::ofstream(path + "/cgroup.procs") << getpid();
    if (limit != path)
      std::ofstream(limit + "/cgroup.procs") << getpid();
    execl(workload_bin().c_str(), "tt_workload", "forkbomb", std::to_string(seconds).c_str(),
          static_cast<char *>(nullptr));
    _exit(127);
  }
  uint64_t rss_max = 0;
  for (int i = 0; i < seconds; i++) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    rss_max = std::max(rss_max, vm_rss_kb(tracer.pid()));
    ASSERT_EQ(kill(tracer.pid(), 0), 0) << "treetrace died during the bomb";
  }
  waitpid(bomb, nullptr, 0);
  { std::ofstream(path + "/cgroup.kill") << "1"; }
  auto r = tracer.stop();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(r.seconds, 5.0) << "still responsive";
  auto s = r.summary();
  ASSERT_TRUE(s);
  auto lost = r.events("lost");
  ASSERT_FALSE(lost.empty()) << "table overflows are reported while running";
  EXPECT_GT(lost.back()["proc_table_full"].get<uint64_t>(), 0u);
  EXPECT_GE((*s)["lost"].get<uint64_t>(), lost.back()["proc_table_full"].get<uint64_t>());
  EXPECT_GT((*s)["attempts"].get<uint64_t>(), 1000u) << "the bomb churned through many processes";
  EXPECT_EQ((*s)["attempts"], (*s)["delivered"].get<uint64_t>() + (*s)["dropped_kernel"].get<uint64_t>());
  EXPECT_LT(rss_max, rss_before + 32 * 1024) << "memory stays bounded: " << rss_before << " kB -> " << rss_max << " kB";
  for (int i = 0; i < 50 && rmdir(path.c_str()) != 0; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (limit != path)
    rmdir(limit.c_str());
}

// Runs `tt_workload churn TOTAL ALIVE vm` while `sample` is called about
// every 100 ms; returns the workload's own record of what it started.
json run_churn(uint64_t total, uint64_t alive, const std::function<void()> &sample) {
  TruthFile truth;
  const pid_t pid =
      spawn({workload_bin(), "churn", std::to_string(total), std::to_string(alive), "vm"}, {truth.env()}).pid;
  if (pid < 0)
    return json();
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    sample();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto records = truth.with("kind", "churn");
  return records.size() == 1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? records[0] : json();
}

// A million short-lived processes, about 1000 alive at a time, on a node
// traced without a filter: treetrace keeps up, and once they are gone its
// memory and its kernel process table are back where they started.
TEST(Storms, MillionProcessChurnReturnsToBaseline) {
  TT_REQUIRE_BPF();
  BackgroundTracer tracer({"--format", "json", "--events", "none"});
  ASSERT_TRUE(tracer.ready());
  const pid_t tt = tracer.pid();
  // Warm up first: the ring buffer's pages become resident as records pass
  // through them, and the tables reach their working size. That is the
  // steady state the churn must come back to, so it is the baseline.
  ASSERT_FALSE(run_churn(50'000, 1000, [] {}).is_null());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const uint64_t rss_start = vm_rss_kb(tt);
  const auto table_start = bpf_map_entries(tt, "procs");
  ASSERT_TRUE(table_start) << "treetrace holds its process table";

  uint64_t rss_max = rss_start, table_max = 0;
  bool tracer_alive = true;
  const json churn = run_churn(1'000'000, 1000, [&] {
    rss_max = std::max(rss_max, vm_rss_kb(tt));
    table_max = std::max<uint64_t>(table_max, bpf_map_entries(tt, "procs").value_or(0));
    tracer_alive = tracer_alive && kill(tt, 0) == 0;
  });
  ASSERT_FALSE(churn.is_null()) << "the churn workload failed";
  ASSERT_TRUE(tracer_alive) << "treetrace died during the churn";
  EXPECT_EQ(churn["forked"], 1'000'000);
  EXPECT_GT(table_max, 900u) << "the table really held the ~1000 live processes";

  // The exit records of the last processes may still be in flight.
  uint64_t table_end = 0;
  for (int i = 0; i < 50; i++) {
    table_end = bpf_map_entries(tt, "procs").value_or(0);
    if (table_end <= *table_start + 16)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const uint64_t rss_end = vm_rss_kb(tt);
  auto r = tracer.stop();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = r.summary();
  ASSERT_TRUE(s);
  const double seconds = churn["wall_ns"].get<double>() / 1e9;
  std::printf("churn: 1000000 processes in %.1f s (%.0f/s); treetrace VmRSS %lu kB after warm-up, %lu kB max, "
              "%lu kB after; procs table %lu entries after warm-up, %lu max, %lu after; lost %lu\n",
              seconds, 1e6 / seconds, rss_start, rss_max, rss_end, *table_start, table_max, table_end,
              (*s)["lost"].get<uint64_t>());
  // Other processes on the node come and go too: a little slack.
  EXPECT_LE(table_end, *table_start + 16) << "every exited process left the kernel table";
  // Allocator slack, not growth: a leak of even 8 bytes per process would
  // be 8 MB here.
  EXPECT_LE(rss_end, rss_start + 1024) << "treetrace's memory came back to its baseline";
  EXPECT_LE(rss_max, rss_start + 16 * 1024) << "and stayed bounded on the way";
  EXPECT_GE((*s)["attempts"].get<uint64_t>(), 1'000'000u);
  EXPECT_EQ((*s)["attempts"], (*s)["delivered"].get<uint64_t>() + (*s)["dropped_kernel"].get<uint64_t>());
}

TEST(ProcessSemantics, ReusedPidNeverMixesProcesses) {
  TT_REQUIRE_BPF();
  TruthFile truth;
  auto r = run_treetrace({"--format", "json", "--", workload_bin(), "pid-reuse", "5"}, {truth.env()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto runs = truth.with("kind", "wait4");
  ASSERT_EQ(runs.size(), 5u);
  const int64_t pid = runs[0]["pid"];
  for (const auto &w : runs)
    ASSERT_EQ(w["pid"], pid) << "the workload reuses one PID";
  std::vector<json> exits;
  std::set<uint64_t> starts;
  for (const auto &e : r.events("exit"))
    if (e["pid"] == pid) {
      exits.push_back(e);
      starts.insert(e["start_ns"].get<uint64_t>());
    }
  ASSERT_EQ(exits.size(), 5u) << "one exit per process, not per PID";
  EXPECT_EQ(starts.size(), 5u) << "each is its own (pid, start_ns)";
  // In order, each with its own CPU: 10, 20, 30, 40, 50 ms.
  for (size_t i = 0; i < 5; i++)
    EXPECT_TRUE(within(exits[i]["cpu_ns"].get<double>(), runs[i]["cpu_us"].get<double>() * 1000, 0.01, 2 * kMs))
        << "process " << i;
  auto s = r.summary();
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["procs"], 6);
}

TEST(ProcessSemantics, ReparentedToSubreaperStaysInItsTree) {
  TT_REQUIRE_BPF();
  TruthFile truth;
  auto r = run_treetrace({"--format", "json", "--", workload_bin(), "subreaper", "50"}, {truth.env()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto orphan = truth.with("role", "orphan");
  auto reaper = truth.with("role", "subreaper");
  ASSERT_EQ(orphan.size(), 1u);
  ASSERT_EQ(reaper.size(), 1u);
  EXPECT_EQ(orphan[0]["ppid"], reaper[0]["pid"]) << "the orphan went to the subreaper";
  for (const auto &e : r.events("exit")) {
    if (e["pid"] != orphan[0]["pid"])
      continue;
    EXPECT_EQ(e["ppid"], reaper[0]["pid"]);
    EXPECT_EQ(e["tree_root_pid"], reaper[0]["pid"]);
    EXPECT_TRUE(within(e["cpu_ns"].get<double>(), orphan[0]["cpu_us"].get<double>() * 1000, 0.01, 5 * kMs));
    return;
  }
  FAIL() << "no exit record for the orphan: " << r.out;
}

TEST(ProcessSemantics, ExecFromNonLeaderThreadKeepsTheProcess) {
  TT_REQUIRE_BPF();
  TruthFile truth;
  auto r = run_treetrace({"--format", "json", "--", workload_bin(), "exec-from-thread", workload_bin(), "burn", "30"},
                         {truth.env()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto burn = truth.with("role", "burn");
  ASSERT_EQ(burn.size(), 1u);
  const int64_t pid = burn[0]["pid"];
  // Two execs: treetrace starting the workload, then the thread's.
  auto execs = r.events("exec");
  ASSERT_EQ(execs.size(), 2u) << r.out;
  const json &by_thread = execs[1];
  EXPECT_EQ(by_thread["pid"], pid) << "the exec'ing thread takes the process's PID";
  ASSERT_TRUE(by_thread.contains("exec_tid")) << "a thread other than the leader exec'd";
  EXPECT_NE(by_thread["exec_tid"], pid);
  EXPECT_EQ(by_thread["argv"][1], "burn");
  EXPECT_EQ(execs[0]["start_ns"], by_thread["start_ns"]);
  auto exits = r.events("exit");
  ASSERT_EQ(exits.size(), 1u) << "still one process";
  EXPECT_EQ(exits[0]["pid"], pid);
  EXPECT_EQ(exits[0]["start_ns"], by_thread["start_ns"]);
  EXPECT_GT(exits[0]["cpu_ns"].get<double>(), 25 * kMs);
}

TEST(ProcessSemantics, PrivatePidNamespaceReportsBothPids) {
  TT_REQUIRE_BPF();
  if (!have("/usr/bin/unshare"))
    GTEST_SKIP() << "unshare (util-linux) not installed";
  auto r =
      run_treetrace({"--format", "json", "--", "/usr/bin/unshare", "--pid", "--fork", workload_bin(), "burn", "10"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  bool found = false;
  for (const auto &e : r.events("exit")) {
    if (e["comm"] != "tt_workload")
      continue;
    found = true;
    ASSERT_TRUE(e.contains("ns_pid")) << e.dump();
    EXPECT_EQ(e["ns_pid"], 1) << "init of its namespace";
    EXPECT_NE(e["pid"], 1) << "host PID";
  }
  EXPECT_TRUE(found) << r.out;
}

TEST(ProcessSemantics, CgroupMigrationIsReflectedFromThenOn) {
  TT_REQUIRE_BPF();
  const std::string mount = cgroup2_mount();
  if (mount.empty())
    GTEST_SKIP() << "no cgroup2 mount";
  const std::string name = "tt-mig-" + std::to_string(getpid());
  const std::string path = mount + "/" + name;
  ASSERT_EQ(mkdir(path.c_str(), 0755), 0) << strerror(errno);
  auto r = run_treetrace({"--format", "json", "--", "/bin/sh", "-c",
                          "echo $$ > " + path + "/cgroup.procs && exec " + workload_bin() + " burn 10"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto execs = r.events("exec");
  auto exits = r.events("exit");
  ASSERT_GE(execs.size(), 2u);
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(execs[0]["cgroup"], "/") << "started in the root cgroup";
  EXPECT_EQ(execs.back()["cgroup"], "/" + name) << "moved before its exec";
  EXPECT_EQ(exits[0]["cgroup"], "/" + name);
  EXPECT_EQ(rmdir(path.c_str()), 0) << strerror(errno);
}

TEST(Shutdown, SigkillLeavesNothingAttached) {
  TT_REQUIRE_BPF();
  auto before = loaded_bpf_programs();
  BackgroundTracer tracer({"--events", "none"});
  ASSERT_TRUE(tracer.ready());
  const std::set<uint32_t> mine = treetrace_programs_since(before);
  ASSERT_GE(mine.size(), 4u);
  tracer.stop(SIGKILL);
  // Links are held by file descriptors and nothing is pinned: the kernel
  // detaches everything when the process dies.
  const auto left = still_loaded_after(mine, std::chrono::seconds(1));
  EXPECT_TRUE(left.empty()) << left.size() << " programs left 1 s after SIGKILL";
}

TEST(LeastPrivilege, RunsWithOnlyBpfAndPerfmonCapabilities) {
  TT_REQUIRE_BPF();
  if (!have("/usr/bin/setpriv"))
    GTEST_SKIP() << "setpriv (util-linux) not installed";
  // An unprivileged uid holding CAP_BPF and CAP_PERFMON only.
  const std::string cmd = "/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,+bpf,+perfmon "
                          "--ambient-caps=+bpf,+perfmon " +
                          treetrace_bin() + " --format json -- " + workload_bin() + " burn 10";
  const Spawned sh = spawn({"/bin/sh", "-c", cmd}, {}, Capture::stdout_only);
  ASSERT_GT(sh.pid, 0);
  const std::string output = read_all(sh.out_fd);
  const pid_t pid = sh.pid;
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find("\"event\":\"exit\""), std::string::npos) << output;
}

TEST(LeastPrivilege, WithoutCapabilitiesOneLineNamesWhatIsMissing) {
  if (!have("/usr/bin/setpriv"))
    GTEST_SKIP() << "setpriv (util-linux) not installed";
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root to drop to another uid";
  const std::string cmd = "/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all " +
                          treetrace_bin() + " -- /bin/true 2>&1";
  FILE *p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    output.append(buf, n);
  int status = pclose(p);
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
  EXPECT_NE(output.find("CAP_BPF"), std::string::npos) << output;
  EXPECT_NE(output.find("CAP_PERFMON"), std::string::npos) << output;
}

} // namespace
} // namespace tt_test
