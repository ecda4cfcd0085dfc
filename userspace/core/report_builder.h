// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Builds the ReportModel every report format renders: the final rows, the
// history, and the analyses (core/leak, core/advice) run over them. Pure.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "core/advice.h"
#include "core/aggregator.h"
#include "core/history.h"
#include "core/leak.h"
#include "core/report_model.h"

namespace treetrace {

struct ReportConfig {
  LeakConfig leak;
  AdviceConfig advice;
  size_t max_groups = 100; // rows reported in full; the rest are left out (counted)
  bool verbose = false;    // text: every judged process, not only the flagged ones
};

ReportModel build_report(const History &history, const std::vector<TreeReport> &final_rows,
                         const std::vector<OomVictim> &oom_victims, GroupBy group_by, ReportMeta meta,
                         const ReportConfig &config);

// One group's leaks: every member with a series is judged (judgements:
// the judged ones and those sampled at least twice), and the flagged ones
// become verdicts whose time to the limit uses the cgroup's limit where
// known (from the last tick, or the row), else the advised limit, which
// `advice` computes only when a verdict needs it. end_ns ends the life of
// members still running. Shared by the report and the live snapshots.
struct GroupLeaks {
  std::vector<LeakJudgement> judgements;
  std::vector<LeakVerdict> leaks;
};
GroupLeaks judge_group(const std::vector<const ProcessHistory *> &members, uint64_t end_ns,
                       const std::vector<GroupTick> &ticks, const TreeReport &row,
                       const std::function<std::optional<Advice>()> &advice, const LeakConfig &config);

// The name a report gives a row: "gunicorn (pid 1234)" for a tree, the key for a group.
std::string row_name(const TreeReport &row, GroupBy group_by);

} // namespace treetrace
