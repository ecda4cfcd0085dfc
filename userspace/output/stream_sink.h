// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The text and JSON Lines stream on stdout, through a bounded OutputQueue
// so a slow reader never stalls the ring buffer: events are dropped (and
// counted) when the queue is full, reports wait for room. With --interval
// the snapshots and the final report carry leak verdicts as they form
// (core/live_leaks).
#pragma once

#include <memory>

#include "core/event_kind.h"
#include "core/live_leaks.h"
#include "output/output_queue.h"
#include "output/render.h"
#include "output/sink.h"

namespace treetrace {

class StreamSink : public Sink {
public:
  // final_report: print the final report, the summary and `lost` records
  // (a quiet node agent prints nothing at all).
  // leaks: judges the rows' processes (nullptr: rows carry no verdicts).
  StreamSink(int fd, size_t queue_bytes, const RenderContext &render, EventKindSet events, bool final_report = true,
             std::unique_ptr<LiveLeaks> leaks = nullptr);
  ~StreamSink() override;

  // The column header, printed before the startup scan's records.
  void begin();
  void on_event(const Event &event, const Attribution &attribution) override;
  void on_snapshot(const std::vector<TreeReport> &rows, uint64_t now_ns) override;
  void on_loss(const LossReport &loss, uint64_t now_ns) override;
  void on_final(const std::vector<TreeReport> &rows, const RunSummary &summary, uint64_t now_ns) override;
  void end_round() override { queue_.publish(); }
  bool closed() const override { return queue_.fd_closed(); }

  uint64_t dropped_lines() const { return queue_.dropped_lines(); }
  void flush(int timeout_ms) { queue_.flush(timeout_ms); }

private:
  void emit(std::string_view line);
  void emit_report(std::string_view text) { queue_.push_wait(text, 5000); }
  void warn_if_deferred();

  OutputQueue queue_;
  const RenderContext &render_;
  EventRenderer renderer_;
  std::string line_; // reused for every event: its capacity stays
  EventKindSet events_;
  bool final_report_;
  std::unique_ptr<LiveLeaks> leaks_;
  uint64_t deferred_warned_ = 0;
};

} // namespace treetrace
