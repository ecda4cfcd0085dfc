// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Live leak verdicts (core/live_leaks): verdicts form as the snapshots
// come, only live processes and rows are kept, and the judging per
// snapshot is bounded without starving any row.
#include <gtest/gtest.h>

#include "core/live_leaks.h"
#include "event_builders.h"

namespace treetrace {
namespace {

using test::exit_event;
using test::fork_event;
using test::Proc;
using test::rss;
using test::sample_event;

constexpr uint64_t kSec = 1'000'000'000ull;
constexpr uint64_t kMiB = 1 << 20;

Attribution in_tree(const Proc &root) {
  Attribution a;
  a.tree_root = root.key();
  a.tracked = true;
  return a;
}

TreeReport tree_row(const Proc &root) {
  TreeReport r;
  r.root = root.key();
  r.root_comm = root.comm;
  r.procs_live = 1;
  return r;
}

// A prefork pool: a leaker at 1 MiB/s, a flat worker, and one whose
// 100 MiB spikes come every 10 s.
struct Pool {
  Proc master{100, 1 * kSec, 1, "pool"};
  Proc leaker = master.child(101, 2 * kSec);
  Proc flat = master.child(102, 2 * kSec + 1);
  Proc spiky = master.child(103, 2 * kSec + 2);

  void start(LiveLeaks &live) const {
    for (const Proc &w : {leaker, flat, spiky})
      live.on_event(fork_event(master, w), in_tree(master));
  }
  void second(LiveLeaks &live, uint64_t s) const {
    const uint64_t ts = (3 + s) * kSec;
    live.on_event(sample_event(leaker, ts, rss((50 + s) * kMiB)), in_tree(master));
    live.on_event(sample_event(flat, ts, rss(50 * kMiB)), in_tree(master));
    live.on_event(sample_event(spiky, ts, rss((s % 10 == 0 ? 150 : 50) * kMiB)), in_tree(master));
  }
};

TEST(LiveLeaks, VerdictFormsOnceTheLeakerHasLivedLongEnough) {
  Pool pool;
  LiveLeaks live(GroupBy::Tree, 0);
  pool.start(live);
  std::optional<uint64_t> first_flagged;
  std::vector<TreeReport> rows;
  for (uint64_t s = 0; s < 120; ++s) {
    pool.second(live, s);
    rows = {tree_row(pool.master)};
    live.on_snapshot(rows, (3 + s) * kSec + kSec / 2);
    if (!rows[0].leaks.empty() && !first_flagged)
      first_flagged = s;
  }
  // Not before the minimum lifetime (30 s), and not long after it.
  ASSERT_TRUE(first_flagged);
  EXPECT_GE(*first_flagged, 30u);
  EXPECT_LE(*first_flagged, 60u);
  ASSERT_EQ(rows[0].leaks.size(), 1u);
  const LeakVerdict &v = rows[0].leaks[0];
  EXPECT_EQ(v.key, pool.leaker.key());
  EXPECT_NEAR(v.rate_bytes_per_s / kMiB, 1.0, 0.05);
  EXPECT_EQ(v.siblings, 2u) << "the flat and the spiky worker";
  ASSERT_TRUE(v.sibling_median_rate_bytes_per_s);
  EXPECT_LT(std::abs(*v.sibling_median_rate_bytes_per_s) / kMiB, 0.1);
  // No cgroup limit in these rows: the advised limit bounds it.
  EXPECT_EQ(v.limit_source, "advice");
  EXPECT_TRUE(v.seconds_to_limit);
}

TEST(LiveLeaks, CgroupLimitIsPreferredAndGivesTheTimeLeft) {
  Pool pool;
  LiveLeaks live(GroupBy::Tree, 0);
  pool.start(live);
  std::vector<TreeReport> rows;
  for (uint64_t s = 0; s < 90; ++s) {
    pool.second(live, s);
    rows = {tree_row(pool.master)};
    rows[0].memcg_current_bytes = (300 + s) * kMiB;
    rows[0].memcg_limit_bytes = 1000 * kMiB;
    live.on_snapshot(rows, (3 + s) * kSec + kSec / 2);
  }
  ASSERT_EQ(rows[0].leaks.size(), 1u);
  const LeakVerdict &v = rows[0].leaks[0];
  EXPECT_EQ(v.limit_source, "memcg");
  EXPECT_EQ(v.limit_bytes, 1000 * kMiB);
  // 611 MiB of headroom at about 1 MiB/s.
  ASSERT_TRUE(v.seconds_to_limit);
  EXPECT_NEAR(*v.seconds_to_limit, 611, 611 * 0.05);
}

TEST(LiveLeaks, ExitedProcessesAndGoneRowsAreForgotten) {
  Pool pool;
  LiveLeaks live(GroupBy::Tree, 0);
  pool.start(live);
  std::vector<TreeReport> rows;
  for (uint64_t s = 0; s < 60; ++s) {
    pool.second(live, s);
    rows = {tree_row(pool.master)};
    live.on_snapshot(rows, (3 + s) * kSec + kSec / 2);
  }
  ASSERT_EQ(rows[0].leaks.size(), 1u);
  live.on_event(exit_event(pool.leaker, 64 * kSec), in_tree(pool.master));
  rows = {tree_row(pool.master)};
  live.on_snapshot(rows, 64 * kSec + kSec / 2);
  EXPECT_TRUE(rows[0].leaks.empty()) << "an exited process leaks no more";
  EXPECT_EQ(live.history().processes().count(pool.leaker.key()), 0u);
  EXPECT_EQ(live.history().rows().size(), 1u);

  EXPECT_EQ(live.exited_verdicts_dropped(), 0u);
  // The final report still names it: it leaked until it exited.
  live.judge_final(rows, 64 * kSec + kSec / 2);
  ASSERT_EQ(rows[0].leaks.size(), 1u);
  EXPECT_EQ(rows[0].leaks[0].key, pool.leaker.key());
  EXPECT_FALSE(rows[0].leaks[0].seconds_to_limit) << "it holds nothing now";
  EXPECT_TRUE(rows[0].leaks[0].exited);
  EXPECT_EQ(rows[0].leaks[0].siblings, 2u) << "as the last snapshot compared it";

  rows.clear(); // the tree is gone from the snapshot: its ticks go too
  live.on_snapshot(rows, 65 * kSec);
  EXPECT_TRUE(live.history().rows().empty());
}

TEST(LiveLeaks, BudgetDefersRowsInTurnAndCountsThem) {
  // Two pools, a budget of four judgements per snapshot: each pool has
  // three candidates, so one pool is judged whole and the other in part,
  // and the next snapshot starts where this one stopped.
  Pool a;
  Pool b;
  b.master = {200, 1 * kSec, 1, "other"};
  b.leaker = b.master.child(201, 2 * kSec);
  b.flat = b.master.child(202, 2 * kSec + 1);
  b.spiky = b.master.child(203, 2 * kSec + 2);
  LiveLeaksConfig config;
  config.max_judged_per_snapshot = 4;
  LiveLeaks live(GroupBy::Tree, 0, config);
  a.start(live);
  b.start(live);
  std::vector<TreeReport> rows;
  size_t a_flagged = 0, b_flagged = 0;
  for (uint64_t s = 0; s < 90; ++s) {
    a.second(live, s);
    b.second(live, s);
    rows = {tree_row(a.master), tree_row(b.master)};
    live.on_snapshot(rows, (3 + s) * kSec + kSec / 2);
    a_flagged += !rows[0].leaks.empty();
    b_flagged += !rows[1].leaks.empty();
  }
  EXPECT_GT(live.judgements_deferred(), 0u);
  EXPECT_GT(a_flagged, 10u) << "each pool is judged whole in its turn";
  EXPECT_GT(b_flagged, 10u);
}

} // namespace
} // namespace treetrace
