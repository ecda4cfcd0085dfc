// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The output seam. Everything that consumes what treetrace sees is a Sink:
// the text and JSON Lines stream, the Prometheus exposition (HTTP and
// textfile), and the recorder and HTML report to come. The session feeds
// every sink from one source, the same way:
//  - on_event: each record as it is aggregated, with its attribution;
//  - on_snapshot: the live rows at each --interval, current at that moment;
//  - on_rows: every row, live and finished, when the sink asked for them
//    (wants_rows); pulled sinks such as /metrics build their state here;
//  - on_loss: loss counters when they grew;
//  - on_final: the final report and the summary;
//  - end_round: once per event-loop round, so sinks can batch their writes.
// A sink that keeps what the aggregator was fed (the recorder) also gets
// on_input for every record, refresh rows included, and the two calls that
// change the aggregator without a record: the end of the startup scan and
// reconcile().
// Push sinks implement the first ones; pulled sinks the middle ones.
#pragma once

#include <cstdint>
#include <vector>

#include "core/aggregator.h"
#include "core/model.h"
#include "output/render.h"

namespace treetrace {

// treetrace's own figures, for sinks that publish them.
struct SessionStats {
  LossReport loss;
  uint64_t tracked_processes = 0;
  double last_rows_seconds = 0; // how long building the previous rows took, refresh included
};

class Sink {
public:
  virtual ~Sink() = default;

  virtual void on_event(const Event &, const Attribution &) {}
  virtual void on_input(const Event &) {}
  virtual void on_startup_scan_done() {}
  virtual void on_reconcile(const std::vector<Aggregator::LiveProcess> &, uint64_t /*now_ns*/) {}
  virtual void on_snapshot(const std::vector<TreeReport> &, uint64_t /*now_ns*/) {}
  virtual void on_loss(const LossReport &, uint64_t /*now_ns*/) {}
  virtual void on_final(const std::vector<TreeReport> &, const RunSummary &, uint64_t /*now_ns*/) {}
  virtual void end_round() {}

  // Pulled sinks: asked every round whether they need every row now.
  virtual bool wants_rows(uint64_t /*now_ns*/) { return false; }
  virtual void on_rows(const std::vector<TreeReport> &, const SessionStats &, uint64_t /*now_ns*/) {}
  // A file descriptor that becomes readable when wants_rows() may have
  // turned true (a scrape arrived); -1 for none.
  virtual int wake_fd() const { return -1; }
  // The reader gave up on its output (stdout closed): stop quietly.
  virtual bool closed() const { return false; }
  // The sink asks the session to end now, cleanly (a recording reached
  // --max-size, or its disk failed): the final report is still made.
  virtual bool stop_requested() const { return false; }
};

} // namespace treetrace
