// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/stream_sink.h"

namespace treetrace {

StreamSink::StreamSink(int fd, size_t queue_bytes, const RenderContext &render, EventKindSet events,
                       bool final_report)
    : queue_(fd, queue_bytes), render_(render), renderer_(render), events_(events), final_report_(final_report) {}

StreamSink::~StreamSink() = default;

void StreamSink::emit(std::string_view line) {
  // Counted by the queue and reported as `dropped_output`; no log line per
  // drop, which would cost the most when the output is already behind.
  queue_.try_push(line);
}

void StreamSink::begin() {
  if (!events_.empty())
    if (std::string columns = render_event_columns(render_); !columns.empty())
      emit(columns);
}

void StreamSink::on_event(const Event &event, const Attribution &attribution) {
  if (!events_.contains(kind_of(event)))
    return;
  line_.clear();
  renderer_.append(line_, event, attribution);
  emit(line_);
}

void StreamSink::on_snapshot(const std::vector<TreeReport> &rows, uint64_t now_ns) {
  if (!rows.empty())
    emit(render_trees(rows, now_ns, false, render_));
}

void StreamSink::on_loss(const LossReport &loss, uint64_t now_ns) {
  // A quiet agent's losses are on stderr and in treetrace_records_lost_total.
  if (final_report_)
    emit(render_lost(loss, now_ns, render_));
}

void StreamSink::on_final(const std::vector<TreeReport> &rows, const RunSummary &summary, uint64_t now_ns) {
  if (!final_report_)
    return;
  if (!rows.empty())
    emit_report(render_trees(rows, now_ns, true, render_));
  emit_report(render_summary(summary, now_ns, render_));
}

} // namespace treetrace
