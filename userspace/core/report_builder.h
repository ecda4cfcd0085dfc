// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Builds the ReportModel every report format renders: the final rows, the
// history, and the analyses (core/leak, core/advice) run over them. Pure.
#pragma once

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

// The name a report gives a row: "gunicorn (pid 1234)" for a tree, the key for a group.
std::string row_name(const TreeReport &row, GroupBy group_by);

} // namespace treetrace
