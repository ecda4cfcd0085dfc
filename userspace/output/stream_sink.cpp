// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/stream_sink.h"

#include <spdlog/spdlog.h>

namespace treetrace {

StreamSink::StreamSink(int fd, size_t queue_bytes, const RenderContext &render, EventKindSet events, bool final_report,
                       std::unique_ptr<LiveLeaks> leaks)
    : queue_(fd, queue_bytes), render_(render), renderer_(render), events_(events), final_report_(final_report),
      leaks_(std::move(leaks)) {}

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
  if (leaks_)
    leaks_->on_event(event, attribution);
  if (!events_.contains(kind_of(event)))
    return;
  line_.clear();
  renderer_.append(line_, event, attribution);
  emit(line_);
}

void StreamSink::on_snapshot(const std::vector<TreeReport> &rows, uint64_t now_ns) {
  if (!leaks_) {
    if (!rows.empty())
      emit(render_trees(rows, now_ns, false, render_));
    return;
  }
  std::vector<TreeReport> judged = rows;
  leaks_->on_snapshot(judged, now_ns);
  warn_if_deferred();
  if (!judged.empty())
    emit(render_trees(judged, now_ns, false, render_));
}

void StreamSink::warn_if_deferred() {
  // Once, then again only when it has grown tenfold: a node with more
  // long-lived processes than the budget defers at every snapshot.
  const uint64_t deferred = leaks_->judgements_deferred();
  if (deferred > 0 && deferred >= deferred_warned_ * 10) {
    spdlog::warn("leak verdicts: {} judgements put off to later snapshots so far (at most {} per snapshot)", deferred,
                 LiveLeaksConfig{}.max_judged_per_snapshot);
    deferred_warned_ = deferred;
  }
}

void StreamSink::on_loss(const LossReport &loss, uint64_t now_ns) {
  // A quiet agent's losses are on stderr and in treetrace_records_lost_total.
  if (final_report_)
    emit(render_lost(loss, now_ns, render_));
}

void StreamSink::on_final(const std::vector<TreeReport> &rows, const RunSummary &summary, uint64_t now_ns) {
  if (!final_report_)
    return;
  if (!rows.empty() && leaks_) {
    std::vector<TreeReport> judged = rows;
    leaks_->judge_final(judged, now_ns);
    if (uint64_t dropped = leaks_->exited_verdicts_dropped())
      spdlog::warn("leak verdicts: {} on exited processes not shown (at most {} are kept)", dropped,
                   LiveLeaksConfig{}.max_exited_verdicts);
    emit_report(render_trees(judged, now_ns, true, render_));
  } else if (!rows.empty()) {
    emit_report(render_trees(rows, now_ns, true, render_));
  }
  emit_report(render_summary(summary, now_ns, render_));
}

} // namespace treetrace
