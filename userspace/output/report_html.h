// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The HTML report: one self-contained file (inline CSS and SVG, a few lines
// of inline JavaScript for the hover readout, no URL of any kind), so it
// can be mailed, attached to a ticket or opened on an air-gapped machine.
//
// Content, in order: the run's header (command, host, span, what was cut
// short or lost); then per group (the first kMaxHtmlGroups, the rest in a
// summary table): totals, CPU by command, RSS per long-lived process with
// leak lines highlighted, group RSS/PSS/memcg against the limit, stacked
// CPU by command, the process timeline, leak verdicts and the resource
// advice with a `resources:` block to paste into a pod spec.
//
// Size is bounded by the charts' pixel columns, not by the run's length:
// an hour of a 50-process pool at 1 s samples stays under 2 MB.
#pragma once

#include <cstddef>
#include <string>

#include "core/report_model.h"

namespace treetrace {

// Groups drawn in full; the rest are one row each in a summary table.
inline constexpr size_t kMaxHtmlGroups = 20;
// Lines in the per-process RSS chart: past this, the top kMaxRssLines - 1 by
// peak (leaking processes first) and one "others" line, the max of the rest.
inline constexpr size_t kMaxRssLines = 20;
// Rows of the process timeline; the shortest-lived are left out first.
inline constexpr size_t kMaxTimelineRows = 300;

std::string render_html_report(const ReportModel &model);

} // namespace treetrace
