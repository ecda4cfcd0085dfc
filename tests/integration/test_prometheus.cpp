// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// treetrace's /metrics as a real Prometheus stores it, against the
// kernel's own figures: a workload runs in a fresh cgroup v2, Prometheus
// scrapes treetrace every second, and the test reads the group's series
// back through Prometheus's query API and compares them with the cgroup's
// cpu.stat, the workload's wait4() rusage and the memory cgroup's OOM
// counter. Every scrape the test makes itself is checked by promtool.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "cgroup_fixture.h"
#include "harness.h"
#include "http_client.h"
#include "prometheus_fixture.h"

using namespace tt_test;
using namespace std::chrono_literals;

namespace {

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

// Polls until pred() holds or timeout; returns whether it held.
template <class Pred> bool eventually(std::chrono::milliseconds timeout, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(250ms);
  }
  return pred();
}

// promtool's verdict on one exposition: "" when clean.
std::string promtool_check(const std::string &text) {
  char path[] = "/tmp/tt-scrape-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0)
    return "mkstemp failed";
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  FILE *p = popen((std::string("promtool check metrics < ") + path + " 2>&1").c_str(), "r");
  std::string out;
  char buf[512];
  while (p && fgets(buf, sizeof buf, p))
    out += buf;
  const int status = p ? pclose(p) : -1;
  unlink(path);
  if (!written)
    return "could not write the scrape";
  return status == 0 ? "" : "promtool: " + out;
}

// Scrapes treetrace itself and keeps promtool's complaints, if any.
struct ScrapeChecker {
  uint16_t port;
  int scrapes = 0;
  std::vector<std::string> problems;
  void scrape() {
    auto r = http_request("127.0.0.1", port, "/metrics");
    ++scrapes;
    if (!r || r->status != 200) {
      problems.push_back("scrape failed" + (r ? ": HTTP " + std::to_string(r->status) : std::string()));
      return;
    }
    if (r->headers["content-type"] != "text/plain; version=0.0.4; charset=utf-8")
      problems.push_back("Content-Type " + r->headers["content-type"]);
    if (std::string verdict = promtool_check(r->body); !verdict.empty())
      problems.push_back(verdict);
  }
};

std::string selector(const std::string &family, const std::string &group) {
  return family + "{job=\"treetrace\",group=\"" + group + "\"}";
}

void stop(Spawned &p) {
  if (p.pid > 0) {
    kill(p.pid, SIGKILL);
    waitpid(p.pid, nullptr, 0);
    p.pid = -1;
  }
}

} // namespace

TEST(Prometheus, StoredGroupCpuMatchesTheCgroupAndWait4ThenTheSeriesGoesAfterGrace) {
  TT_REQUIRE_BPF();
  ScratchCgroup cg;
  ASSERT_TRUE(cg.ok()) << cg.error();
  const uint16_t port = free_tcp_port();
  constexpr int kGraceS = 5;
  BackgroundTracer tracer({"--listen", "127.0.0.1:" + std::to_string(port), "--events", "none", "--group-by", "cgroup",
                           "--cgroup", cg.rel_path(), "--metrics-grace", std::to_string(kGraceS) + "s"});
  ASSERT_TRUE(tracer.ready());
  PrometheusServer prom(port);
  ASSERT_FALSE(prom.error()) << *prom.error();
  ASSERT_TRUE(prom.wait_target_up(20)) << prom.last_error();

  // A sleeper first, so the group's series exists at ~0 before the work
  // starts and increase() over the run sees all of it.
  Spawned sleeper = spawn(exec_in_cgroup(cg.procs_file(), {workload_bin(), "sleep", "120000"}));
  const std::string cpu = selector("treetrace_group_cpu_seconds_total", cg.rel_path());
  ASSERT_TRUE(eventually(15s, [&] { return prom.value(cpu).has_value(); }))
      << "Prometheus never stored " << cpu << ": " << prom.last_error();

  // The work: a master and two forked workers at 60% duty for 5 s.
  TruthFile truth;
  Spawned work =
      spawn(exec_in_cgroup(cg.procs_file(), {workload_bin(), "wait4", workload_bin(), "pool-burn", "2", "5", "60"}),
            {truth.env()});
  ScrapeChecker checker{port};
  while (waitpid(work.pid, nullptr, WNOHANG) == 0) {
    checker.scrape();
    std::this_thread::sleep_for(1s);
  }
  stop(sleeper);
  const auto kernel_usec = cg.cpu_usage_usec();
  ASSERT_TRUE(kernel_usec) << "cannot read " << cg.abs_path() << "/cpu.stat";
  const double kernel_s = static_cast<double>(*kernel_usec) / 1e6;
  auto wait4 = truth.with("kind", "wait4");
  ASSERT_EQ(wait4.size(), 1u);
  const double wait4_s = wait4[0]["cpu_us"].get<double>() / 1e6;

  // Prometheus has the final figure once a scrape after the last exit is in.
  std::this_thread::sleep_for(2500ms);
  checker.scrape();
  const auto stored = prom.value(cpu);
  ASSERT_TRUE(stored) << prom.last_error();
  const auto last_ts = prom.value("timestamp(" + cpu + ")");
  ASSERT_TRUE(last_ts) << prom.last_error();
  // increase() evaluated at the last sample, over a range that starts
  // before the series did: what a dashboard's "CPU used in this window" is.
  const auto increase = prom.value("increase(" + cpu + "[5m])", *last_ts);
  ASSERT_TRUE(increase) << prom.last_error();
  std::printf("cgroup cpu.stat %.4f s, wait4 %.4f s, stored %.4f s, increase() %.4f s\n", kernel_s, wait4_s, *stored,
              *increase);
  EXPECT_GT(kernel_s, 0.5) << "the pool ran (3 processes at 60% duty for 5 s, less on a loaded machine)";
  EXPECT_TRUE(within(*stored, kernel_s, 0.02, 0)) << "stored " << *stored << " s vs cpu.stat " << kernel_s << " s";
  EXPECT_TRUE(within(*increase, kernel_s, 0.02, 0)) << "increase() " << *increase << " s vs cpu.stat " << kernel_s;
  // The group holds the pool and the test's two helpers (the sleeper and the
  // wait4 wrapper), which used next to nothing.
  EXPECT_GE(*stored + 1e-3, wait4_s);
  EXPECT_TRUE(within(*stored, wait4_s, 0.02, 0)) << "stored " << *stored << " s vs wait4 " << wait4_s << " s";
  const auto started = prom.value(selector("treetrace_group_processes_started_total", cg.rel_path()));
  EXPECT_EQ(started, 5.0)
      << "the sleeper, the wait4 wrapper, the pool master and its two workers (each shell execs its command)";
  EXPECT_EQ(prom.value(selector("treetrace_group_processes", cg.rel_path())), 0.0);

  // Through the grace period the final counter stays; after it, the series goes.
  const double ended = unix_now();
  std::this_thread::sleep_for(std::chrono::seconds(kGraceS - 3));
  EXPECT_EQ(prom.value(cpu), stored) << "still exported, unchanged, inside the grace period";
  const bool gone = eventually(std::chrono::seconds(kGraceS + 8), [&] { return !prom.value(cpu).has_value(); });
  const double gone_after = unix_now() - ended;
  EXPECT_TRUE(gone) << "the series outlived its grace period: " << gone_after << " s";
  EXPECT_GE(gone_after, kGraceS - 3.5) << "dropped before the grace period ended";
  EXPECT_EQ(prom.value("min_over_time(up{job=\"treetrace\"}[2m])"), 1.0) << "every scrape succeeded";
  checker.scrape();
  EXPECT_GE(checker.scrapes, 5);
  EXPECT_TRUE(checker.problems.empty()) << checker.problems.front();
  auto r = tracer.stop();
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(Prometheus, OomKillRaisesTheGroupCounterByOne) {
  TT_REQUIRE_BPF();
  TT_REQUIRE_MEMCG();
  ScratchCgroup cg;
  ASSERT_TRUE(cg.ok()) << cg.error();
  MemoryLimitedCgroup mem(32u << 20);
  ASSERT_TRUE(mem.ok()) << mem.error();
  const auto kills_before = mem.oom_kill_count();
  ASSERT_TRUE(kills_before) << "cannot read the oom_kill counter of " << mem.abs_path();
  const uint16_t port = free_tcp_port();
  BackgroundTracer tracer({"--listen", "127.0.0.1:" + std::to_string(port), "--events", "none", "--group-by", "cgroup",
                           "--cgroup", cg.rel_path()});
  ASSERT_TRUE(tracer.ready());
  PrometheusServer prom(port);
  ASSERT_FALSE(prom.error()) << *prom.error();
  ASSERT_TRUE(prom.wait_target_up(20)) << prom.last_error();

  Spawned sleeper = spawn(exec_in_cgroup(cg.procs_file(), {workload_bin(), "sleep", "120000"}));
  const std::string kills = selector("treetrace_group_oom_kills_total", cg.rel_path());
  ASSERT_TRUE(eventually(15s, [&] { return prom.value(kills) == 0.0; }))
      << "Prometheus never stored " << kills << " at 0: " << prom.last_error();

  // A child of the group allocates past the memory cgroup's 32 MiB limit.
  const int status = run_command(exec_in_cgroup(cg.procs_file(), {workload_bin(), "oom-child", "256"}),
                                 {"TT_CHILD_CGROUP_PROCS=" + mem.procs_file()});
  EXPECT_EQ(status, 0) << "oom-child reports whether its child was killed";
  ASSERT_EQ(mem.oom_kill_count().value_or(0) - *kills_before, 1u) << "the kernel counted one kill";
  EXPECT_TRUE(eventually(10s, [&] { return prom.value(kills) == 1.0; }))
      << "Prometheus holds " << prom.value(kills).value_or(-1) << " for " << kills;
  EXPECT_EQ(prom.value("increase(" + kills + "[1m])") > 0.5, true) << "increase() sees the kill";
  ScrapeChecker checker{port};
  checker.scrape();
  EXPECT_TRUE(checker.problems.empty()) << checker.problems.front();
  stop(sleeper);
  auto r = tracer.stop();
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// --textfile: the same exposition, replaced atomically, promtool-clean;
// a quiet agent's stdout stays empty.
TEST(Prometheus, TextfileIsWrittenWholeAndTheQuietAgentPrintsNothing) {
  TT_REQUIRE_BPF();
  char dir[] = "/tmp/tt-textfile-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string path = std::string(dir) + "/treetrace.prom";
  auto r = run_treetrace({"--textfile", path, "--textfile-interval", "300ms", "--events", "none", "--group-by", "unit",
                          "--duration", "2s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "") << "a node agent with --events none prints nothing on stdout";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path << " was not written";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("# TYPE treetrace_group_cpu_seconds_total counter"), std::string::npos);
  EXPECT_NE(text.find("treetrace_collections_total"), std::string::npos);
  EXPECT_EQ(promtool_check(text), "");
  // Written by rename: no temporary is left behind.
  int entries = 0;
  for (const auto &e : std::filesystem::directory_iterator(dir))
    entries += e.is_regular_file();
  EXPECT_EQ(entries, 1) << "only " << path << " in " << dir;
  std::filesystem::remove_all(dir);
}

TEST(Prometheus, BadListenAndTextfileGetOneLineAndNonZeroExit) {
  TT_REQUIRE_BPF();
  // A port in use: refused before anything is loaded.
  const uint16_t port = free_tcp_port();
  BackgroundTracer first({"--listen", "127.0.0.1:" + std::to_string(port), "--events", "none"});
  ASSERT_TRUE(first.ready());
  auto busy = run_treetrace({"--listen", "127.0.0.1:" + std::to_string(port), "--duration", "1s"});
  EXPECT_EQ(busy.exit_code, 1) << busy.err;
  EXPECT_NE(busy.err.find("Address already in use"), std::string::npos) << busy.err;
  EXPECT_EQ(std::count(busy.err.begin(), busy.err.end(), '\n'), 1) << busy.err;
  first.stop();
  for (const std::vector<std::string> &bad : {std::vector<std::string>{"--listen", "localhost:10025"},
                                              {"--listen", "127.0.0.1:99999"},
                                              {"--listen", "[::1:10025"},
                                              {"--textfile", "/nonexistent-dir/x.prom"},
                                              {"--metrics-processes"},
                                              {"--listen", "10025", "--max-series", "5"}}) {
    auto r = run_treetrace(bad);
    EXPECT_EQ(r.exit_code, 2) << bad[0] << " " << bad[1] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

namespace {

// The sum_exec_runtime of a process's threads, from /proc/PID/task/*/schedstat.
std::optional<uint64_t> schedstat_ns(pid_t pid) {
  std::error_code ec;
  uint64_t sum = 0;
  bool any = false;
  for (const auto &task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "schedstat");
    uint64_t ns = 0;
    if (in >> ns) {
      sum += ns;
      any = true;
    }
  }
  return any ? std::optional<uint64_t>(sum) : std::nullopt;
}

// The value of the sample line that starts with `series` in an exposition.
std::optional<double> sample_value(const std::string &text, const std::string &series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos)
    return std::nullopt;
  return std::stod(text.substr(at + series.size() + 2));
}

} // namespace

// --metrics-processes: each live worker's series is right when it is
// scraped, against /proc/PID/schedstat and VmRSS read around the scrape.
TEST(Prometheus, PerProcessSeriesAreCurrentAtTheScrape) {
  TT_REQUIRE_BPF();
  ScratchCgroup cg;
  ASSERT_TRUE(cg.ok()) << cg.error();
  const uint16_t port = free_tcp_port();
  BackgroundTracer tracer({"--listen", "127.0.0.1:" + std::to_string(port), "--events", "none", "--group-by", "cgroup",
                           "--cgroup", cg.rel_path(), "--metrics-processes"});
  ASSERT_TRUE(tracer.ready());
  Spawned pool = spawn(exec_in_cgroup(cg.procs_file(), {workload_bin(), "pool-burn", "2", "4", "50"}));
  std::this_thread::sleep_for(1500ms);
  const std::vector<pid_t> pids = cgroup_procs(cg.procs_file());
  ASSERT_EQ(pids.size(), 3u) << "the pool's master and two workers";
  std::map<pid_t, uint64_t> cpu_before, cpu_after;
  for (pid_t pid : pids)
    cpu_before[pid] = schedstat_ns(pid).value_or(0);
  auto scrape = http_request("127.0.0.1", port, "/metrics");
  for (pid_t pid : pids)
    cpu_after[pid] = schedstat_ns(pid).value_or(0);
  ASSERT_TRUE(scrape && scrape->status == 200);
  const double tick_s = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  for (pid_t pid : pids) {
    SCOPED_TRACE("pid " + std::to_string(pid));
    const std::string labels =
        "{group=\"" + cg.rel_path() + "\",pid=\"" + std::to_string(pid) + "\",command=\"tt_workload\"}";
    const auto cpu = sample_value(scrape->body, "treetrace_process_cpu_seconds_total" + labels);
    const auto rss = sample_value(scrape->body, "treetrace_process_memory_rss_bytes" + labels);
    ASSERT_TRUE(cpu && rss) << scrape->body.substr(0, 3000);
    // A running thread's figure is current to within one tick (docs/accounting.md).
    EXPECT_GE(*cpu, static_cast<double>(cpu_before[pid]) / 1e9 - tick_s);
    EXPECT_LE(*cpu, static_cast<double>(cpu_after[pid]) / 1e9 + tick_s);
    EXPECT_GT(*cpu, 0.01) << "a worker that burns half the time (less on a loaded machine)";
    const double vm_rss = static_cast<double>(vm_rss_kb(pid)) * 1024.0;
    EXPECT_TRUE(within(*rss, vm_rss, 0, rss_counter_slack_bytes())) << *rss << " vs VmRSS " << vm_rss;
  }
  stop(pool);
  tracer.stop();
}
