// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Leak verdicts as they form, for live --interval snapshots: the same
// history and the same judgement (core/report_builder judge_group) as the
// report, over what has been seen so far. Keeps only live processes and
// rows (HistoryConfig::only_alive), and bounds the judging per snapshot.
// Pure C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/advice.h"
#include "core/history.h"
#include "core/leak.h"

namespace treetrace {

struct LiveLeaksConfig {
  LeakConfig leak;
  AdviceConfig advice;
  HistoryConfig history = live_history();
  // Processes judged per snapshot: a fit costs a pass over up to
  // HistoryConfig::max_points points, so 4096 of them stay under about
  // 10 ms. Rows past it show their previous verdicts and go first at the
  // next snapshot (counted in judgements_deferred()).
  size_t max_judged_per_snapshot = 4096;
  // Verdicts kept on processes that leaked until they exited, for the
  // final report; past this they are counted, not kept.
  size_t max_exited_verdicts = 1024;

  static HistoryConfig live_history() {
    HistoryConfig h;
    h.only_alive = true;
    return h;
  }
};

class LiveLeaks {
public:
  LiveLeaks(GroupBy group_by, uint64_t start_ns, LiveLeaksConfig config = {});

  // A process that exits is forgotten; the verdict the last snapshot gave
  // it, if any, is kept for the final report.
  void on_event(const Event &event, const Attribution &attribution);
  // Adds the snapshot to the history, then sets each row's leaks: its live
  // processes' verdicts.
  void on_snapshot(std::vector<TreeReport> &rows, uint64_t now_ns);
  // The final report: the live processes' verdicts as the history stands
  // (no tick is added), then those of the row's processes that were
  // leaking at the last snapshot before they exited (without a time to
  // the limit: they hold nothing now).
  void judge_final(std::vector<TreeReport> &rows, uint64_t now_ns);

  // Judgements put off because a snapshot's budget ran out, all told.
  uint64_t judgements_deferred() const { return deferred_; }
  // Verdicts on exited processes not kept (past max_exited_verdicts).
  uint64_t exited_verdicts_dropped() const { return exited_dropped_; }
  const History &history() const { return history_; }

private:
  void judge(std::vector<TreeReport> &rows, uint64_t now_ns);

  GroupBy group_by_;
  LiveLeaksConfig config_;
  History history_;
  uint64_t deferred_ = 0;
  std::unordered_map<std::string, std::vector<LeakVerdict>> exited_; // by row key
  size_t exited_count_ = 0;
  uint64_t exited_dropped_ = 0;
  size_t next_row_ = 0; // where the next snapshot starts judging, so deferral rotates
  // Each row's verdicts at the previous snapshot: a row put off shows them.
  std::unordered_map<std::string, std::vector<LeakVerdict>> last_;
};

} // namespace treetrace
