// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/report_sink.h"

#include "output/report_html.h"
#include "output/report_text.h"

namespace treetrace {

ReportSink::ReportSink(ReportFormat format, GroupBy group_by, ReportMeta meta, HistoryConfig history,
                       ReportConfig config)
    : format_(format), group_by_(group_by), meta_(std::move(meta)), history_(group_by, meta_.start_ns, history),
      config_(config) {}

void ReportSink::on_final(const std::vector<TreeReport> &rows, const RunSummary &summary, uint64_t now_ns) {
  ReportMeta meta = meta_;
  meta.end_ns = now_ns;
  meta.records_lost = summary.loss.lost();
  model_ = build_report(history_, rows, summary.oom_victims, group_by_, std::move(meta), config_);
  switch (format_) {
  case ReportFormat::Text:
    output_ = render_report_text(model_, config_.verbose);
    break;
  case ReportFormat::Json:
    output_ = render_report_json(model_);
    break;
  case ReportFormat::Html:
    output_ = render_html_report(model_);
    break;
  }
}

} // namespace treetrace
