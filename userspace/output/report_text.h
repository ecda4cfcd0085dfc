// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The text report (at most 100 columns) and the JSON report (one
// document, docs/report.md) of a ReportModel.
#pragma once

#include <string>

#include "core/report_model.h"

namespace treetrace {

std::string render_report_text(const ReportModel &model, bool verbose);
std::string render_report_json(const ReportModel &model);

// A verdict in words, the same in the report and in live snapshots: what
// grows and how fast ("LEAK pid 42 python3: +3567.0 MiB/h over 37.5 s (r2
// 1.00), baseline now 98.0 MiB"), then what it means for the group ("the
// group reaches the advised limit 368.0 MiB in 3.1 min; 4 siblings, median
// +0.0 MiB/h"). Neither line ends in a newline.
struct LeakVerdictText {
  std::string what;
  std::string consequence;
};
LeakVerdictText leak_verdict_text(const LeakVerdict &verdict);

} // namespace treetrace
