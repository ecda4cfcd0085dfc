// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// OOM kills of traced processes, made for real: a child moves itself into
// a memory-limited cgroup (cgroup v2, or the v1 memory hierarchy on hybrid
// nodes) and allocates past the limit with swap off, so the kernel's OOM
// killer ends it. What treetrace reports is checked against the cgroup's
// own oom_kill counter and against how the parent's wait() saw the child
// end (the workload records both pid and status).
#include <algorithm>
#include <set>

#include "cgroup_fixture.h"
#include "harness.h"

namespace tt_test {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr uint64_t kLimit = 32u << 20;

std::optional<json> exit_of(const RunResult &r, int64_t pid) {
  for (const auto &e : r.events("exit"))
    if (e["pid"] == pid)
      return e;
  return std::nullopt;
}

// A field, or null when absent, without adding it to `j` (so the object
// printed in a failure message is the one treetrace wrote).
json field(const json &j, const char *key) { return j.contains(key) ? j[key] : json(); }

std::optional<json> final_tree(const RunResult &r, int64_t root) {
  for (const auto &t : r.events("tree"))
    if (t["final"] == true && t["root_pid"] == root)
      return t;
  return std::nullopt;
}

TEST(OomKill, TracedWorkerKilledByItsMemcgLimit) {
  TT_REQUIRE_BPF();
  TT_REQUIRE_MEMCG();
  MemoryLimitedCgroup mem(kLimit);
  ASSERT_TRUE(mem.ok()) << mem.error();
  const auto kills_before = mem.oom_kill_count();
  ASSERT_TRUE(kills_before) << "cannot read the oom_kill counter of " << mem.abs_path();
  TruthFile truth;
  // `all`: exit records, and the oom_kill records whatever --events calls them.
  auto r = run_treetrace({"--format", "json", "--events", "all", "--", workload_bin(), "oom-child", "256"},
                         {truth.env(), "TT_CHILD_CGROUP_PROCS=" + mem.procs_file()});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // What the kernel did: one kill in the cgroup, of the child, by SIGKILL.
  auto child = truth.with("kind", "oom-child");
  ASSERT_EQ(child.size(), 1u) << "the workload records how its child ended";
  ASSERT_EQ(child[0]["signal"], 9) << "the child was not OOM-killed (" << mem.swap_note() << "): " << child[0].dump();
  ASSERT_EQ(mem.oom_kill_count().value_or(0) - *kills_before, 1u) << mem.abs_path() << " counted one OOM kill";
  const int64_t victim = child[0]["pid"];

  auto ex = exit_of(r, victim);
  ASSERT_TRUE(ex) << r.out;
  const int64_t root = (*ex)["tree_root_pid"];
  EXPECT_EQ((*ex)["ppid"], root) << "the worker (tree root) forked the victim";
  EXPECT_EQ((*ex)["signal"], 9);
  EXPECT_EQ(field(*ex, "oom_killed"), true) << "the victim's exit record says why it died: " << ex->dump();

  auto tree = final_tree(r, root);
  ASSERT_TRUE(tree) << r.out;
  EXPECT_EQ(field(*tree, "oom_kills"), 1) << tree->dump();

  auto s = r.summary();
  ASSERT_TRUE(s);
  EXPECT_EQ(field(*s, "oom_kills"), 1) << s->dump();
  const json victims = field(*s, "oom_victims");
  if (victims.is_array() && victims.size() == 1) {
    EXPECT_EQ(field(victims[0], "pid"), victim);
    EXPECT_EQ(field(victims[0], "comm"), (*ex)["comm"]);
  } else {
    ADD_FAILURE() << "the summary lists the one victim as oom_victims [{pid, comm}]: " << s->dump();
  }

  auto kills = r.events("oom_kill");
  ASSERT_EQ(kills.size(), 1u) << "one oom_kill record for the one kill: " << r.out;
  const json &k = kills[0];
  EXPECT_EQ(field(k, "pid"), victim);
  EXPECT_EQ(field(k, "start_ns"), (*ex)["start_ns"]) << "the same process as the exit record";
  EXPECT_EQ(field(k, "comm"), (*ex)["comm"]);
  EXPECT_EQ(field(k, "ppid"), root);
  EXPECT_EQ(field(k, "tree_root_pid"), root);
  EXPECT_EQ(field(k, "constraint"), "memcg");
  EXPECT_EQ(field(k, "memcg"), mem.rel_path()) << (mem.is_v1() ? "cgroup v1 memory hierarchy" : "cgroup v2");
  EXPECT_EQ(field(k, "memcg_limit_bytes"), mem.limit_bytes());
  const double anon = k.value("rss_anon_bytes", 0.0);
  EXPECT_EQ(k.value("rss_bytes", 0.0), anon + k.value("rss_file_bytes", 0.0) + k.value("rss_shmem_bytes", 0.0))
      << k.dump();
  // The victim's anonymous pages at the kill: what the cgroup charged it
  // (at most the limit) plus the parent's pages it started with, charged
  // to the parent's cgroup; read as the kernel's global per-CPU counter
  // value, which may sit off the exact count by the counter slack.
  const double inherited = child[0]["parent_rss_anon_kb"].get<double>() * 1024;
  EXPECT_LE(anon, static_cast<double>(mem.limit_bytes()) + inherited + rss_counter_slack_bytes())
      << "anon " << anon / kMiB << " MiB against a " << mem.limit_bytes() / kMiB << " MiB limit";
  EXPECT_GE(anon, static_cast<double>(mem.limit_bytes()) / 2)
      << "it was killed when it reached the limit, anon " << anon / kMiB << " MiB";
}

// A burst of kills: 20 children, one after another, each killed by the
// cgroup's limit, all within 5 s. Each kill is one record, none lost.
TEST(OomKill, TwentyKillsInFiveSecondsAreEachRecorded) {
  TT_REQUIRE_BPF();
  TT_REQUIRE_MEMCG();
  constexpr size_t kChildren = 20;
  MemoryLimitedCgroup mem(kLimit);
  ASSERT_TRUE(mem.ok()) << mem.error();
  const auto kills_before = mem.oom_kill_count();
  ASSERT_TRUE(kills_before) << "cannot read the oom_kill counter of " << mem.abs_path();
  TruthFile truth;
  auto r = run_treetrace(
      {"--format", "json", "--events", "all", "--", workload_bin(), "oom-children", std::to_string(kChildren), "64"},
      {truth.env(), "TT_CHILD_CGROUP_PROCS=" + mem.procs_file()});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto children = truth.with("kind", "oom-child");
  ASSERT_EQ(children.size(), kChildren);
  std::set<int64_t> victims;
  for (const auto &c : children) {
    EXPECT_EQ(c["signal"], 9) << c.dump();
    victims.insert(c["pid"].get<int64_t>());
  }
  auto storm = truth.with("kind", "oom-children");
  ASSERT_EQ(storm.size(), 1u);
  ASSERT_LE(storm[0]["wall_ns"].get<double>(), 5e9) << "the 20 kills did not fit in 5 s on this machine";
  const uint64_t kernel_kills = mem.oom_kill_count().value_or(0) - *kills_before;
  ASSERT_EQ(kernel_kills, kChildren) << mem.abs_path() << "'s oom_kill counter";

  auto s = r.summary();
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["lost"], 0) << "nothing dropped, so every kill must be there";
  EXPECT_EQ(field(*s, "oom_kills"), kernel_kills) << s->dump();
  size_t marked = 0;
  for (int64_t pid : victims) {
    auto ex = exit_of(r, pid);
    ASSERT_TRUE(ex) << "exit of " << pid;
    marked += field(*ex, "oom_killed") == true;
  }
  EXPECT_EQ(marked, victims.size()) << "exit records of OOM victims with \"oom_killed\":true";

  auto kills = r.events("oom_kill");
  std::set<int64_t> recorded;
  for (const json &k : kills) {
    recorded.insert(field(k, "pid").is_number() ? field(k, "pid").get<int64_t>() : -1);
    EXPECT_EQ(field(k, "constraint"), "memcg") << k.dump();
    EXPECT_EQ(field(k, "memcg"), mem.rel_path()) << k.dump();
  }
  EXPECT_EQ(kills.size(), kernel_kills) << "one oom_kill record per kill the cgroup counted";
  EXPECT_EQ(recorded.size(), kills.size()) << "all distinct pids";
  EXPECT_EQ(recorded, victims) << "the recorded victims are the children the kernel killed";
}

} // namespace
} // namespace tt_test
