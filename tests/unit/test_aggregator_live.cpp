// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The aggregator's live state: refresh rows (SampleEvent with origin
// Refresh) and OOM kills (OomKillEvent, and exit records with oom_killed).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/aggregator.h"
#include "unit/event_builders.h"

namespace treetrace {
namespace {

using namespace treetrace::test;

// A shell found by the startup scan, whose parent (an sshd) is not traced:
// it roots its own tree.
const Proc shell{100, 1'000, 90, "bash"};

// aggregator.cpp: max_oom_victims_kept.
constexpr size_t kOomVictimsKept = 1024;

class AggregatorLive : public testing::Test {
protected:
  explicit AggregatorLive(AggregatorConfig config = {}) : agg_(std::move(config)) {}

  void start_shell() {
    agg_.on_event(existing_event(shell, 5'000));
    agg_.finish_startup_scan();
  }

  Proc fork_child(const Proc &parent, uint32_t pid, uint64_t start_ns) {
    const Proc c = parent.child(pid, start_ns);
    EXPECT_TRUE(agg_.on_event(fork_event(parent, c)).tracked);
    return c;
  }

  TreeReport tree_report(const Proc &root, uint64_t now_ns = 10'000'000, bool with_processes = false) {
    std::optional<TreeReport> report = agg_.tree(root.key(), now_ns, with_processes);
    if (!report) {
      ADD_FAILURE() << "no tree rooted at pid " << root.pid;
      return {};
    }
    return *report;
  }

  // The snapshot row of the shell's tree.
  TreeReport shell_row(uint64_t now_ns, bool with_processes = false) {
    const std::vector<TreeReport> rows = agg_.snapshot(now_ns, with_processes);
    const TreeReport *row = find_tree(rows, shell);
    if (!row) {
      ADD_FAILURE() << "no snapshot row for the shell's tree";
      return {};
    }
    return *row;
  }

  Aggregator agg_;
};

// ---- refresh rows

TEST_F(AggregatorLive, RefreshRowForUnknownProcessAdmitsNothing) {
  start_shell();
  const AggregatorStats before = agg_.stats();
  const Proc stranger{700, 60'000, 100, "worker"}; // its parent is even known
  const Attribution a = agg_.on_event(refresh_event(stranger, 70'000, rss(4096, 5'000)));
  EXPECT_FALSE(a.tracked);
  EXPECT_EQ(agg_.live_procs(), 1u);
  EXPECT_EQ(agg_.trees(), 1u);
  EXPECT_FALSE(agg_.tree_of(stranger.key()).has_value());
  EXPECT_EQ(agg_.stats().procs_inferred, 0u);
  EXPECT_EQ(agg_.stats().procs_seen, before.procs_seen);
  EXPECT_EQ(agg_.stats().stale_events, 0u); // never seen is not stale
  const TreeReport t = tree_report(shell);
  EXPECT_EQ(t.procs_total, 1u);
  EXPECT_EQ(t.cpu_ns, 0u);
  EXPECT_EQ(t.rss_bytes, 0u);

  // A parentless stranger in an empty aggregator roots no tree either.
  Aggregator empty;
  empty.on_event(refresh_event(Proc{800, 1, 0, "x"}, 2, cpu(10)));
  EXPECT_EQ(empty.live_procs(), 0u);
  EXPECT_EQ(empty.trees(), 0u);
  EXPECT_EQ(empty.stats().procs_inferred, 0u);
  EXPECT_TRUE(empty.final_report(3).empty());
}

TEST_F(AggregatorLive, SwitchSampleForUnknownProcessIsInferredUnlikeRefresh) {
  // The contrast: the same row from the switch path admits the process.
  start_shell();
  const Proc stranger{700, 60'000, 100, "worker"};
  EXPECT_TRUE(agg_.on_event(sample_event(stranger, 70'000, cpu(5'000))).tracked);
  EXPECT_EQ(agg_.live_procs(), 2u);
  EXPECT_EQ(agg_.stats().procs_inferred, 1u);
}

TEST_F(AggregatorLive, RefreshRowForExitedProcessIsStale) {
  start_shell();
  const Proc child = fork_child(shell, 200, 10'000);
  agg_.on_event(exit_event(child, 20'000, rss(8192, 700)));
  ASSERT_EQ(agg_.live_procs(), 1u);
  const uint64_t stale_before = agg_.stats().stale_events;

  EXPECT_FALSE(agg_.on_event(refresh_event(child, 25'000, rss(1 << 20, 900))).tracked);
  EXPECT_EQ(agg_.stats().stale_events, stale_before + 1);
  EXPECT_EQ(agg_.live_procs(), 1u);
  EXPECT_EQ(agg_.stats().procs_inferred, 0u);
  const TreeReport t = tree_report(shell);
  EXPECT_EQ(t.cpu_ns, 700u); // the late row adds nothing
  EXPECT_EQ(t.rss_bytes, 0u);
  EXPECT_EQ(t.procs_total, 2u);

  // A row for a process whose PID is now held by a newer one is stale too.
  const Proc reuser = fork_child(shell, 200, 30'000);
  const Proc ghost{200, 15'000, 100, "ghost"};
  agg_.on_event(refresh_event(ghost, 31'000, cpu(50)));
  EXPECT_EQ(agg_.stats().stale_events, stale_before + 2);
  EXPECT_EQ(agg_.live_procs(), 2u);
  EXPECT_EQ(agg_.tree_of(reuser.key()), shell.key());
}

TEST_F(AggregatorLive, RefreshRowMakesAnIdleProcessCurrent) {
  start_shell();
  const Proc worker = fork_child(shell, 200, 10'000);
  agg_.on_event(sample_event(worker, 11'000, rss(1 << 20, 100)));
  TreeReport row = shell_row(12'000, true);
  EXPECT_EQ(row.cpu_ns, 100u);
  EXPECT_EQ(row.rss_bytes, 1u << 20);

  // It worked and went idle: no switch sample came, the refresh row tells.
  const ProcActivity act{.minflt = 11, .majflt = 2, .nvcsw = 33, .nivcsw = 4};
  EXPECT_TRUE(agg_.on_event(refresh_event(worker, 50'000, rss(3 << 20, 5'000), act)).tracked);
  row = shell_row(51'000, true);
  EXPECT_EQ(row.cpu_ns, 5'000u);
  EXPECT_EQ(row.cpu_interval_ns, 4'900u);
  EXPECT_EQ(row.rss_bytes, 3u << 20);
  EXPECT_GE(row.rss_peak_bytes, 3u << 20);
  const ProcessReport *p = find_process(row, worker);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->cpu_ns, 5'000u);
  EXPECT_EQ(p->rss_bytes, 3u << 20);
  EXPECT_EQ(p->rss_first_bytes, 1u << 20);
  EXPECT_EQ(p->activity.minflt, 11u);
  EXPECT_EQ(p->activity.majflt, 2u);
  EXPECT_EQ(p->activity.nvcsw, 33u);
  EXPECT_EQ(p->activity.nivcsw, 4u);
  EXPECT_EQ(p->learned_via, LearnedVia::Fork);
  EXPECT_EQ(agg_.stats().procs_inferred, 0u);

  // An idle refresh (nothing changed) reports no interval CPU.
  agg_.on_event(refresh_event(worker, 60'000, rss(3 << 20, 5'000), act));
  row = shell_row(61'000);
  EXPECT_EQ(row.cpu_ns, 5'000u);
  EXPECT_EQ(row.cpu_interval_ns, 0u);
  EXPECT_EQ(row.rss_bytes, 3u << 20);
}

TEST_F(AggregatorLive, RefreshRowShrinksRssToo) {
  start_shell();
  const Proc worker = fork_child(shell, 200, 10'000);
  agg_.on_event(sample_event(worker, 11'000, rss(8 << 20, 100)));
  agg_.on_event(refresh_event(worker, 20'000, rss(2 << 20, 100)));
  const TreeReport row = shell_row(21'000);
  EXPECT_EQ(row.rss_bytes, 2u << 20);
  EXPECT_EQ(row.rss_peak_bytes, 8u << 20); // the peak stays
}

TEST_F(AggregatorLive, CpuNeverGoesBackwardsWhenAnOlderRowArrivesLate) {
  start_shell();
  const Proc worker = fork_child(shell, 200, 10'000);
  const ProcActivity newer{.minflt = 50, .majflt = 5, .nvcsw = 500, .nivcsw = 50};
  const ProcActivity older{.minflt = 40, .majflt = 4, .nvcsw = 400, .nivcsw = 40};
  agg_.on_event(sample_event(worker, 20'000, cpu(1'000), SampleOrigin::Switch, newer));
  TreeReport row = shell_row(21'000, true);
  EXPECT_EQ(row.cpu_ns, 1'000u);

  // A refresh row read before that sample, consumed after it.
  agg_.on_event(refresh_event(worker, 19'000, cpu(800), older));
  row = shell_row(22'000, true);
  EXPECT_EQ(row.cpu_ns, 1'000u);
  EXPECT_EQ(row.cpu_interval_ns, 0u);
  const ProcessReport *p = find_process(row, worker);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->cpu_ns, 1'000u);
  EXPECT_EQ(p->activity.minflt, 50u);
  EXPECT_EQ(p->activity.majflt, 5u);
  EXPECT_EQ(p->activity.nvcsw, 500u);
  EXPECT_EQ(p->activity.nivcsw, 50u);

  // Growth after that counts from the high-water value, not the late one.
  agg_.on_event(refresh_event(worker, 30'000, cpu(1'500)));
  row = shell_row(31'000);
  EXPECT_EQ(row.cpu_ns, 1'500u);
  EXPECT_EQ(row.cpu_interval_ns, 500u);

  // And the other way round: a late switch sample behind a refresh row.
  agg_.on_event(sample_event(worker, 29'000, cpu(1'200)));
  row = shell_row(32'000);
  EXPECT_EQ(row.cpu_ns, 1'500u);
  EXPECT_EQ(row.cpu_interval_ns, 0u);
  EXPECT_EQ(tree_report(shell).cpu_ns, 1'500u);
}

TEST_F(AggregatorLive, CpuIntervalsOverSnapshotsSumToCpuGrowth) {
  // The shell ran before tracing: its first CPU is not interval CPU.
  agg_.on_event(existing_event(shell, 5'000));
  agg_.finish_startup_scan();
  constexpr uint64_t kShellCpuBefore = 7'000'000;
  agg_.on_event(sample_event(shell, 6'000, cpu(kShellCpuBefore)));

  const Proc a = fork_child(shell, 200, 10'000);
  const Proc b = fork_child(shell, 201, 11'000);
  const Proc c = fork_child(a, 300, 12'000);
  std::vector<Proc> procs = {shell, a, b, c};
  std::vector<uint64_t> cpu_now = {kShellCpuBefore, 0, 0, 0};

  // A fixed pseudo-random walk: switch samples and refresh rows, some of
  // them older than what came before.
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  uint64_t ts = 20'000;
  uint64_t interval_sum = 0;
  uint64_t last_cpu = kShellCpuBefore; // what the first interval counts from
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 6; ++i) {
      const size_t who = next() % procs.size();
      const uint64_t r = next();
      uint64_t value;
      if (r % 5 == 0 && cpu_now[who] > 0) {
        value = cpu_now[who] - (r % (cpu_now[who] + 1)); // a late, older row
      } else {
        cpu_now[who] += r % 100'000;
        value = cpu_now[who];
      }
      ts += 100;
      const bool refresh = (r >> 8) % 2 == 0;
      agg_.on_event(refresh ? refresh_event(procs[who], ts, cpu(value)) : sample_event(procs[who], ts, cpu(value)));
    }
    ts += 100;
    const TreeReport row = shell_row(ts);
    SCOPED_TRACE(testing::Message() << "round " << round);
    EXPECT_EQ(row.cpu_interval_ns, row.cpu_ns - last_cpu);
    interval_sum += row.cpu_interval_ns;
    last_cpu = row.cpu_ns;
  }
  uint64_t expected_cpu = 0;
  for (uint64_t v : cpu_now)
    expected_cpu += v;
  const TreeReport row = shell_row(ts + 1);
  EXPECT_EQ(row.cpu_interval_ns, 0u);
  EXPECT_EQ(row.cpu_ns, expected_cpu);
  EXPECT_EQ(interval_sum, expected_cpu - kShellCpuBefore);
}

TEST_F(AggregatorLive, TreeRssIsTheSumOfMembersLatestRss) {
  start_shell();
  const Proc a = fork_child(shell, 200, 10'000);
  const Proc b = fork_child(shell, 201, 11'000);
  const Proc c = fork_child(b, 300, 12'000);
  const std::vector<Proc> procs = {shell, a, b, c};
  std::vector<uint64_t> latest(procs.size(), 0);

  auto check = [&](const char *when) {
    SCOPED_TRACE(when);
    uint64_t expected = 0;
    for (uint64_t v : latest)
      expected += v;
    const TreeReport t = tree_report(shell);
    EXPECT_EQ(t.rss_bytes, expected);
    uint64_t members_sum = 0;
    for (const Aggregator::LiveMember &m : agg_.live_members_with_rss(shell.key()))
      members_sum += m.rss_bytes;
    EXPECT_EQ(members_sum, expected);
    EXPECT_GE(t.rss_peak_bytes, expected);
  };

  struct Step {
    size_t who;
    uint64_t rss;
    bool refresh;
  };
  const Step steps[] = {
      {1, 4 << 20, false}, {2, 1 << 20, true},  {0, 2 << 20, true}, {3, 16 << 20, false},
      {1, 3 << 20, true},  {3, 12 << 20, true}, {2, 0, true},       {0, 5 << 20, false},
  };
  uint64_t ts = 20'000;
  for (const Step &s : steps) {
    ts += 1'000;
    agg_.on_event(s.refresh ? refresh_event(procs[s.who], ts, rss(s.rss)) : sample_event(procs[s.who], ts, rss(s.rss)));
    latest[s.who] = s.rss;
    check(s.refresh ? "after a refresh row" : "after a switch sample");
  }
  EXPECT_EQ(tree_report(shell).rss_bytes, (5u << 20) + (3u << 20) + (12u << 20));
  EXPECT_EQ(tree_report(shell).rss_peak_bytes, (2u << 20) + (4u << 20) + (1u << 20) + (16u << 20));

  // An exited member's RSS leaves the sum, whatever its exit record says.
  agg_.on_event(exit_event(c, ts + 1'000, rss(12 << 20)));
  latest[3] = 0;
  check("after an exit");
  // And a refresh row for it now changes nothing.
  agg_.on_event(refresh_event(c, ts + 2'000, rss(99 << 20)));
  check("after a stale refresh row");
}

// ---- OOM kills

TEST_F(AggregatorLive, OomKillCountedOnceDespiteDuplicateAndExitFlag) {
  start_shell();
  const Proc hog = fork_child(shell, 200, 10'000);
  const Proc sibling = fork_child(shell, 201, 11'000);
  agg_.on_event(sample_event(hog, 12'000, rss(30 << 20, 400)));

  const Attribution a = agg_.on_event(oom_kill(hog, 20'000, 31 << 20, 1 << 20, 4096));
  EXPECT_TRUE(a.tracked);
  EXPECT_EQ(a.tree_root, shell.key());
  EXPECT_EQ(tree_report(shell).oom_kills, 1u);
  // The duplicate (e.g. both prototypes attached) counts nothing more.
  agg_.on_event(oom_kill(hog, 20'001, 31 << 20, 1 << 20, 4096));
  EXPECT_EQ(tree_report(shell).oom_kills, 1u);
  // Nor does the exit record that says oom_killed.
  agg_.on_event(oom_exit_event(hog, 20'500, rss(0, 450)));
  EXPECT_EQ(tree_report(shell).oom_kills, 1u);

  const std::vector<OomVictim> victims = agg_.oom_victims();
  ASSERT_EQ(victims.size(), 1u);
  EXPECT_EQ(victims[0].key, hog.key());
  EXPECT_EQ(victims[0].tree, shell.key());
  EXPECT_EQ(victims[0].comm, "bash");
  EXPECT_EQ(victims[0].ts_ns, 20'000u);
  EXPECT_EQ(victims[0].rss_bytes, (31u << 20) + (1u << 20) + 4096u);
  EXPECT_EQ(agg_.stats().oom_kills_unattributed, 0u);
  EXPECT_EQ(agg_.stats().oom_victims_dropped, 0u);

  const TreeReport t = tree_report(shell, 30'000, true);
  EXPECT_EQ(t.oom_kills, 1u);
  const ProcessReport *hog_report = find_process(t, hog);
  ASSERT_NE(hog_report, nullptr);
  EXPECT_FALSE(hog_report->live);
  EXPECT_TRUE(hog_report->oom_killed);
  EXPECT_EQ(hog_report->signal, 9);
  const ProcessReport *sibling_report = find_process(t, sibling);
  ASSERT_NE(sibling_report, nullptr);
  EXPECT_FALSE(sibling_report->oom_killed);
  // The final report keeps the count after the victim is gone.
  const std::vector<TreeReport> final_rows = agg_.final_report(40'000);
  ASSERT_EQ(final_rows.size(), 1u);
  EXPECT_EQ(final_rows[0].oom_kills, 1u);
}

TEST_F(AggregatorLive, LiveVictimShowsOomKilledInProcessReport) {
  start_shell();
  const Proc hog = fork_child(shell, 200, 10'000);
  const Proc sibling = fork_child(shell, 201, 11'000);
  agg_.on_event(oom_kill(hog, 20'000, 1 << 20));
  const TreeReport row = shell_row(21'000, true);
  EXPECT_EQ(row.oom_kills, 1u);
  const ProcessReport *hog_report = find_process(row, hog);
  ASSERT_NE(hog_report, nullptr);
  EXPECT_TRUE(hog_report->live); // killed, but its exit record has not come yet
  EXPECT_TRUE(hog_report->oom_killed);
  const ProcessReport *sibling_report = find_process(row, sibling);
  ASSERT_NE(sibling_report, nullptr);
  EXPECT_FALSE(sibling_report->oom_killed);
  const ProcessReport *shell_report = find_process(row, shell);
  ASSERT_NE(shell_report, nullptr);
  EXPECT_FALSE(shell_report->oom_killed);
}

TEST_F(AggregatorLive, PidOnlyRecordMatchesTheLiveProcessHoldingThePid) {
  start_shell();
  const Proc hog = fork_child(shell, 200, 10'000);
  const Attribution a = agg_.on_event(oom_kill_pid_only(hog.pid, 20'000));
  EXPECT_TRUE(a.tracked);
  EXPECT_EQ(a.tree_root, shell.key());
  EXPECT_EQ(tree_report(shell).oom_kills, 1u);
  const std::vector<OomVictim> victims = agg_.oom_victims();
  ASSERT_EQ(victims.size(), 1u);
  EXPECT_EQ(victims[0].key, hog.key()); // the full identity, start_ns included
  EXPECT_EQ(victims[0].tree, shell.key());
  EXPECT_EQ(victims[0].ts_ns, 20'000u);
  EXPECT_EQ(agg_.stats().oom_kills_unattributed, 0u);
  EXPECT_EQ(agg_.live_procs(), 2u); // nothing admitted under (pid, 0)

  // Its exit record then counts nothing more.
  agg_.on_event(oom_exit_event(hog, 21'000));
  EXPECT_EQ(tree_report(shell).oom_kills, 1u);
  EXPECT_EQ(agg_.oom_victims().size(), 1u);
}

TEST_F(AggregatorLive, PidOnlyRecordOfANonHolderIsUnattributed) {
  start_shell();
  const Proc gone = fork_child(shell, 200, 10'000);
  agg_.on_event(exit_event(gone, 15'000));

  agg_.on_event(oom_kill_pid_only(999, 20'000));      // never seen
  agg_.on_event(oom_kill_pid_only(gone.pid, 20'001)); // exited: the PID is free
  EXPECT_EQ(agg_.stats().oom_kills_unattributed, 2u);
  EXPECT_TRUE(agg_.oom_victims().empty());
  EXPECT_EQ(tree_report(shell).oom_kills, 0u);
  EXPECT_EQ(agg_.live_procs(), 1u);
  EXPECT_EQ(agg_.trees(), 1u);
}

TEST_F(AggregatorLive, ExitWithOomKilledWhoseRecordWasLostCountsOnce) {
  start_shell();
  const Proc hog = fork_child(shell, 200, 10'000);
  agg_.on_event(oom_exit_event(hog, 20'000, rss(0, 300)));
  const TreeReport t = tree_report(shell, 30'000, true);
  EXPECT_EQ(t.oom_kills, 1u);
  const std::vector<OomVictim> victims = agg_.oom_victims();
  ASSERT_EQ(victims.size(), 1u);
  EXPECT_EQ(victims[0].key, hog.key());
  EXPECT_EQ(victims[0].tree, shell.key());
  EXPECT_EQ(victims[0].ts_ns, 20'000u);
  const ProcessReport *p = find_process(t, hog);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->oom_killed);
  EXPECT_EQ(agg_.stats().oom_kills_unattributed, 0u);
  // A late duplicate oom_kill record (stale by now) does not count again.
  agg_.on_event(oom_kill(hog, 20'100, 1 << 20));
  EXPECT_EQ(tree_report(shell).oom_kills, 1u);
  EXPECT_EQ(agg_.oom_victims().size(), 1u);
}

TEST_F(AggregatorLive, ExitWithoutOomFlagCountsNoKill) {
  start_shell();
  const Proc killed = fork_child(shell, 200, 10'000);
  agg_.on_event(exit_event(killed, 20'000, {}, 9)); // SIGKILL, but not from the OOM killer
  EXPECT_EQ(tree_report(shell).oom_kills, 0u);
  EXPECT_TRUE(agg_.oom_victims().empty());
}

TEST_F(AggregatorLive, OomKillOfAnExitedProcessIsStaleAndUnattributed) {
  start_shell();
  const Proc gone = fork_child(shell, 200, 10'000);
  agg_.on_event(exit_event(gone, 15'000));
  const uint64_t stale_before = agg_.stats().stale_events;
  EXPECT_FALSE(agg_.on_event(oom_kill(gone, 20'000, 1 << 20)).tracked);
  EXPECT_EQ(agg_.stats().oom_kills_unattributed, 1u);
  EXPECT_EQ(agg_.stats().stale_events, stale_before + 1);
  EXPECT_EQ(tree_report(shell).oom_kills, 0u);
  EXPECT_TRUE(agg_.oom_victims().empty());
}

TEST(AggregatorLiveBounds, OomKillOfAnUntrackedProcessIsUnattributed) {
  AggregatorConfig config;
  config.max_live_procs = 1;
  Aggregator agg(config);
  agg.on_event(existing_event(shell, 5'000));
  agg.finish_startup_scan();
  const Proc refused = shell.child(200, 10'000);
  EXPECT_FALSE(agg.on_event(fork_event(shell, refused)).tracked);
  ASSERT_EQ(agg.stats().procs_untracked, 1u);

  EXPECT_FALSE(agg.on_event(oom_kill(refused, 20'000, 1 << 20)).tracked);
  EXPECT_FALSE(agg.on_event(oom_kill_pid_only(refused.pid, 20'001)).tracked);
  EXPECT_EQ(agg.stats().oom_kills_unattributed, 2u);
  EXPECT_EQ(agg.stats().procs_untracked, 1u); // still counted once
  EXPECT_TRUE(agg.oom_victims().empty());
  EXPECT_EQ(agg.tree(shell.key(), 30'000)->oom_kills, 0u);
}

TEST_F(AggregatorLive, OomKillOfAProcessWhoseForkWasLostJoinsItsParentsTree) {
  // A full identity is enough to admit the victim, as any other record
  // would: it is attributed to its parent's tree, not left unattributed.
  start_shell();
  const Proc hog = shell.child(200, 10'000); // no fork record
  const Attribution a = agg_.on_event(oom_kill(hog, 20'000, 1 << 20));
  EXPECT_TRUE(a.tracked);
  EXPECT_EQ(a.tree_root, shell.key());
  EXPECT_EQ(agg_.stats().procs_inferred, 1u);
  EXPECT_EQ(agg_.stats().oom_kills_unattributed, 0u);
  EXPECT_EQ(tree_report(shell).oom_kills, 1u);
  ASSERT_EQ(agg_.oom_victims().size(), 1u);
  EXPECT_EQ(agg_.oom_victims()[0].tree, shell.key());
}

TEST_F(AggregatorLive, OomKillFollowsAMergedTree) {
  // The victim rooted its own tree because its fork record came late; the
  // fork record moves it, with its kill, into the parent's tree.
  start_shell();
  const Proc orphan{200, 10'000, 150, "hog"}; // parent 150 unknown yet
  agg_.on_event(sample_event(orphan, 11'000, cpu(100)));
  ASSERT_EQ(agg_.tree_of(orphan.key()), orphan.key());
  agg_.on_event(oom_kill(orphan, 12'000, 1 << 20));
  ASSERT_EQ(agg_.tree(orphan.key(), 13'000)->oom_kills, 1u);

  const Proc parent = fork_child(shell, 150, 9'000);
  agg_.on_event(fork_event(parent, orphan));
  EXPECT_EQ(agg_.tree_of(orphan.key()), shell.key());
  EXPECT_EQ(tree_report(shell).oom_kills, 1u);
  ASSERT_EQ(agg_.oom_victims().size(), 1u);
  EXPECT_EQ(agg_.oom_victims()[0].tree, shell.key());
  EXPECT_FALSE(agg_.tree(orphan.key(), 14'000).has_value());
}

TEST_F(AggregatorLive, VictimListIsBoundedAndDropsTheOldest) {
  start_shell();
  constexpr size_t kKills = kOomVictimsKept + 6;
  std::vector<Proc> victims;
  for (size_t i = 0; i < kKills; ++i) {
    const Proc v = fork_child(shell, static_cast<uint32_t>(1'000 + i), 10'000 + i);
    agg_.on_event(oom_kill(v, 100'000 + i, 4096 * (i + 1)));
    agg_.on_event(oom_exit_event(v, 100'000 + i));
    victims.push_back(v);
  }
  const std::vector<OomVictim> kept = agg_.oom_victims();
  ASSERT_EQ(kept.size(), kOomVictimsKept);
  EXPECT_EQ(agg_.stats().oom_victims_dropped, kKills - kOomVictimsKept);
  // Oldest first, the six oldest gone.
  EXPECT_EQ(kept.front().key, victims[kKills - kOomVictimsKept].key());
  EXPECT_EQ(kept.front().rss_bytes, 4096u * (kKills - kOomVictimsKept + 1));
  EXPECT_EQ(kept.back().key, victims.back().key());
  for (size_t i = 1; i < kept.size(); ++i)
    ASSERT_LT(kept[i - 1].ts_ns, kept[i].ts_ns) << i;
  // Every kill is still counted.
  EXPECT_EQ(tree_report(shell).oom_kills, kKills);
  EXPECT_EQ(agg_.stats().oom_kills_unattributed, 0u);
}

TEST(AggregatorLiveGroups, OomKillCountsOnTheVictimsGroup) {
  AggregatorConfig config;
  config.group_by = GroupBy::Container;
  config.cgroup_group_key = [](uint64_t id) { return id == 11 ? std::string("web") : std::string(); };
  Aggregator agg(config);
  const Proc host_shell = shell.in_cgroup(1);
  agg.on_event(existing_event(host_shell, 5'000));
  agg.finish_startup_scan();
  const Proc web = host_shell.child(200, 10'000).in_cgroup(11);
  agg.on_event(fork_event(host_shell, web));        // born in the shell's cgroup
  agg.on_event(sample_event(web, 11'000, cpu(10))); // then moved into the container
  const Proc other = host_shell.child(201, 12'000);
  agg.on_event(fork_event(host_shell, other));

  agg.on_event(oom_kill(web, 20'000, 1 << 20));
  agg.on_event(oom_exit_event(other, 21'000)); // its oom_kill record was lost
  const std::vector<TreeReport> rows = agg.final_report(30'000);
  const TreeReport *web_row = find_group(rows, "web");
  const TreeReport *none_row = find_group(rows, "");
  ASSERT_NE(web_row, nullptr);
  ASSERT_NE(none_row, nullptr);
  EXPECT_EQ(web_row->oom_kills, 1u);
  EXPECT_EQ(none_row->oom_kills, 1u);
  EXPECT_EQ(agg.tree(host_shell.key(), 30'000)->oom_kills, 2u);
  EXPECT_EQ(agg.oom_victims().size(), 2u);
}

} // namespace
} // namespace treetrace
