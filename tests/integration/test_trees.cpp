// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Per-tree accounting on a real prefork pool (tests/workloads: `pool`):
// a master forks workers, each worker runs tasks that are short
// subprocesses; worker 0 leaks 8 MiB per task, worker 1's first task
// spikes 200 MiB for 15 ms, worker 2's first task double-forks a daemon.
#include <algorithm>
#include <map>

#include "harness.h"

namespace tt_test {
namespace {

constexpr double kMs = 1e6;
constexpr double kMiB = 1024.0 * 1024.0;

class PreforkPool : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (bpf_unavailable_reason())
      return;
    truth_ = new TruthFile();
    result_ = new RunResult(run_treetrace({"--format", "json", "--wait-tree", "--interval", "50ms", "--verbose", "--",
                                           workload_bin(), "wait4", workload_bin(), "pool", "3", "4", "200"},
                                          {truth_->env()}, 120));
  }
  static void TearDownTestSuite() {
    delete result_;
    delete truth_;
    result_ = nullptr;
    truth_ = nullptr;
  }
  void SetUp() override {
    TT_REQUIRE_BPF();
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
  }

  static std::map<int64_t, json> exits_by_pid() {
    std::map<int64_t, json> m;
    for (const auto &e : result_->events("exit"))
      m[e["pid"].get<int64_t>()] = e;
    return m;
  }
  static json final_tree() {
    for (const auto &t : result_->events("tree"))
      if (t["final"] == true)
        return t;
    return json();
  }

  static TruthFile *truth_;
  static RunResult *result_;
};

TruthFile *PreforkPool::truth_ = nullptr;
RunResult *PreforkPool::result_ = nullptr;

TEST_F(PreforkPool, TreeCpuIsEveryMembersRusage) {
  // wait4() of the pool master covers it and every descendant it and its
  // workers reaped; the daemon was reaped by nobody in the tree, so it is
  // added from its own rusage; the wrapper's own CPU comes on top.
  auto master = truth_->with("kind", "wait4");
  ASSERT_EQ(master.size(), 1u);
  auto daemon = truth_->with("role", "daemon");
  ASSERT_EQ(daemon.size(), 1u) << "--wait-tree waited for the daemon";
  auto exits = exits_by_pid();
  const json tree = final_tree();
  ASSERT_FALSE(tree.is_null()) << result_->out;
  const int64_t wrapper = tree["root_pid"];
  ASSERT_TRUE(exits.count(wrapper));
  const double expected = master[0]["cpu_us"].get<double>() * 1000 + daemon[0]["cpu_us"].get<double>() * 1000 +
                          exits[wrapper]["cpu_ns"].get<double>();
  EXPECT_GT(expected, 300 * kMs);
  EXPECT_TRUE(within(tree["cpu_ns"].get<double>(), expected, 0.01, 5 * kMs));
  // 1 wrapper + 1 master + 3 workers + 12 tasks + daemon's intermediate + daemon
  EXPECT_EQ(tree["procs_total"], 19);
  EXPECT_EQ(tree["procs_live"], 0);
  auto s = result_->summary();
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["cpu_ns"], tree["cpu_ns"]);
  EXPECT_EQ((*s)["lost"], 0);
}

TEST_F(PreforkPool, EveryPeakMatchesItsOwnVmHWM) {
  auto exits = exits_by_pid();
  size_t checked = 0;
  for (const auto &self : truth_->with("kind", "self")) {
    const int64_t pid = self["pid"];
    ASSERT_TRUE(exits.count(pid)) << "no exit record for " << self.dump();
    EXPECT_TRUE(within(exits[pid]["rss_peak_bytes"].get<double>(), self["vmhwm_kb"].get<double>() * 1024, 0.01,
                       rss_counter_slack_bytes()))
        << self.dump();
    checked++;
  }
  EXPECT_EQ(checked, 17u) << "master, 3 workers, 12 tasks and the daemon record themselves";
}

TEST_F(PreforkPool, ShortSpikeIsCaughtInItsProcessPeak) {
  auto spike = truth_->with("role", "spike");
  ASSERT_EQ(spike.size(), 1u);
  auto exits = exits_by_pid();
  const json &ex = exits[spike[0]["pid"].get<int64_t>()];
  EXPECT_GT(ex["rss_peak_bytes"].get<double>(), 200 * kMiB);
  EXPECT_LT(ex["rss_bytes"].get<double>(), 50 * kMiB) << "the spike was over before exit";
}

TEST_F(PreforkPool, LeakingWorkerStandsOut) {
  auto leaky = truth_->with("role", "leaky-worker");
  auto workers = truth_->with("role", "worker");
  ASSERT_EQ(leaky.size(), 1u);
  ASSERT_EQ(workers.size(), 2u);
  auto exits = exits_by_pid();
  const json &l = exits[leaky[0]["pid"].get<int64_t>()];
  for (const auto &w : workers) {
    const json &o = exits[w["pid"].get<int64_t>()];
    // 4 tasks x 8 MiB leaked: at least 24 MiB more at exit, and a clearly
    // higher average over the worker's life.
    EXPECT_GT(l["rss_bytes"].get<double>(), o["rss_bytes"].get<double>() + 24 * kMiB);
    EXPECT_GT(l["rss_avg_bytes"].get<double>(), o["rss_avg_bytes"].get<double>() + 8 * kMiB);
  }
}

TEST_F(PreforkPool, DaemonStaysInTheTreeThatStartedIt) {
  auto daemon = truth_->with("role", "daemon");
  ASSERT_EQ(daemon.size(), 1u);
  auto exits = exits_by_pid();
  const json &d = exits[daemon[0]["pid"].get<int64_t>()];
  EXPECT_EQ(d["tree_root_pid"], final_tree()["root_pid"]);
  // Reparented out of the tree (to init or a subreaper), as it saw itself.
  EXPECT_EQ(d["ppid"], daemon[0]["ppid"]);
  for (const auto &[pid, e] : exits)
    EXPECT_NE(d["ppid"], pid) << "the daemon's parent at exit is not a tree member";
  // Its own rusage was read just before exiting: teardown after that
  // (exit_mm, closing files) is on top, hence the tree's 5 ms tolerance.
  EXPECT_TRUE(within(d["cpu_ns"].get<double>(), daemon[0]["cpu_us"].get<double>() * 1000, 0.01, 5 * kMs));
}

TEST_F(PreforkPool, ByCommandBreakdownSeparatesPoolFromTasks) {
  const json tree = final_tree();
  std::map<std::string, json> by;
  for (const auto &c : tree["by_comm"])
    by[c["comm"].get<std::string>()] = c;
  ASSERT_TRUE(by.count("tt_task")) << tree.dump();
  ASSERT_TRUE(by.count("tt_workload")) << tree.dump();
  EXPECT_EQ(by["tt_task"]["procs"].get<int>() + by["tt_workload"]["procs"].get<int>(), 19);
  EXPECT_GE(by["tt_task"]["procs"].get<int>(), 12);
  EXPECT_GT(by["tt_task"]["rss_peak_bytes"].get<double>(), 200 * kMiB) << "the spiking task is a tt_task";
  double sum = 0;
  for (const auto &c : tree["by_comm"])
    sum += c["cpu_ns"].get<double>();
  EXPECT_EQ(sum, tree["cpu_ns"].get<double>()) << "the breakdown adds up to the tree";
}

TEST_F(PreforkPool, IntervalSnapshotsShowTheTreeChanging) {
  std::vector<json> snaps;
  for (const auto &t : result_->events("tree"))
    if (t["final"] == false)
      snaps.push_back(t);
  ASSERT_GE(snaps.size(), 3u) << "the pool runs for well over 3 intervals";
  bool cpu_grew = false, rss_changed = false;
  double last_cpu = 0;
  for (size_t i = 0; i < snaps.size(); i++) {
    const double cpu = snaps[i]["cpu_ns"].get<double>();
    EXPECT_GE(cpu, last_cpu) << "tree CPU never decreases";
    if (i > 0 && cpu > last_cpu)
      cpu_grew = true;
    if (i > 0 && snaps[i]["rss_bytes"] != snaps[i - 1]["rss_bytes"])
      rss_changed = true;
    EXPECT_GT(snaps[i]["procs_live"].get<int>(), 0);
    last_cpu = cpu;
  }
  EXPECT_TRUE(cpu_grew);
  EXPECT_TRUE(rss_changed);
  EXPECT_TRUE(std::any_of(snaps.begin(), snaps.end(), [](const json &s) { return !s["pss_bytes"].is_null(); }))
      << "PSS is measured for live trees";
}

} // namespace
} // namespace tt_test
