// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The report as a sink: it keeps the history of the records it is fed
// (core/history) and, at the final report, builds the ReportModel and
// renders it as text, JSON or HTML. The same sink serves a replayed
// recording and could serve a live run: it sees only the Sink calls.
#pragma once

#include <memory>
#include <string>

#include "core/history.h"
#include "core/report_builder.h"
#include "output/sink.h"

namespace treetrace {

enum class ReportFormat { Text, Json, Html };

class ReportSink : public Sink {
public:
  ReportSink(ReportFormat format, GroupBy group_by, ReportMeta meta, HistoryConfig history, ReportConfig config);

  void on_event(const Event &event, const Attribution &attribution) override { history_.on_event(event, attribution); }
  void on_snapshot(const std::vector<TreeReport> &rows, uint64_t now_ns) override {
    history_.on_snapshot(rows, now_ns);
  }
  void on_final(const std::vector<TreeReport> &rows, const RunSummary &summary, uint64_t now_ns) override;

  // What the reader found: the report's header says it.
  void set_recording_outcome(uint64_t records, bool cut_short, std::string cut_note) {
    meta_.records = records;
    meta_.cut_short = cut_short;
    meta_.cut_note = std::move(cut_note);
  }
  // The rendered report, after on_final.
  const std::string &output() const { return output_; }
  const ReportModel &model() const { return model_; }

private:
  ReportFormat format_;
  GroupBy group_by_;
  ReportMeta meta_;
  History history_;
  ReportConfig config_;
  ReportModel model_;
  std::string output_;
};

} // namespace treetrace
