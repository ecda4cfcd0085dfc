// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The text report (at most 100 columns) and the JSON report (one
// document, docs/report.md) of a ReportModel.
#pragma once

#include <string>

#include "core/report_model.h"

namespace treetrace {

std::string render_report_text(const ReportModel &model, bool verbose);
std::string render_report_json(const ReportModel &model);

} // namespace treetrace
