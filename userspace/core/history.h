// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// What a report needs beyond the final rows: how things moved. Per
// process, its RSS over time (from the rate-limited samples) and its
// lifetime; per row, each --interval snapshot. Fed like any sink, from
// the live session or from a replayed recording, so both give the same
// history. Bounded: processes, points, ticks and groups have caps, and
// what falls off is counted. Pure C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/aggregator.h"
#include "core/process.h"
#include "core/report_model.h"

namespace treetrace {

struct HistoryConfig {
  // Process histories kept; past this, the oldest short-lived exited
  // process is dropped to make room (counted in processes_dropped()).
  size_t max_processes = 20000;
  // Points per process; past this, neighbours are merged in pairs (each
  // point keeps its span's min and max, so minima and spikes survive).
  size_t max_points = 2048;
  // Ticks per row, merged in pairs past this the same way.
  size_t max_ticks = 8192;
  // Rows with tick series.
  size_t max_rows = 512;
  // Only what happened in [since_ns, until_ns] goes in (report --since/--until).
  uint64_t since_ns = 0;
  uint64_t until_ns = UINT64_MAX;
  // Live snapshots need only what is alive: a process's history goes at
  // its exit, a row's when a snapshot no longer has it, so a node agent
  // that runs for weeks keeps what its live rows hold. A report keeps all.
  bool only_alive = false;
};

class History {
public:
  History(GroupBy group_by, uint64_t start_ns, HistoryConfig config = {});

  void on_event(const Event &event, const Attribution &attribution);
  void on_snapshot(const std::vector<TreeReport> &rows, uint64_t now_ns);

  // The name a report shows for a row, and the key history files it under.
  static std::string row_key(const TreeReport &row, GroupBy group_by);

  struct RowSeries {
    std::vector<GroupTick> ticks;
  };
  const std::unordered_map<std::string, RowSeries> &rows() const { return rows_; }
  // Every kept process, with the key of the row it belongs to.
  const ProcMap<ProcessHistory> &processes() const { return procs_; }
  uint64_t processes_dropped() const { return processes_dropped_; }
  uint64_t rows_dropped() const { return rows_dropped_; }

private:
  ProcessHistory *process(const ProcKey &key, const Attribution &attribution);
  void add_point(ProcessHistory &p, uint64_t ts_ns, uint64_t rss_bytes);
  void make_room();
  void forget_rows_not_in(const std::vector<TreeReport> &rows);

  GroupBy group_by_;
  HistoryConfig config_;
  uint64_t last_snapshot_ns_;
  ProcMap<ProcessHistory> procs_;
  std::deque<ProcKey> exited_; // exit order, for make_room()
  std::unordered_map<std::string, RowSeries> rows_;
  // Per row and command, the cumulative CPU at the previous snapshot.
  std::unordered_map<std::string, std::unordered_map<std::string, uint64_t>> comm_cpu_;
  uint64_t processes_dropped_ = 0;
  uint64_t rows_dropped_ = 0;
};

} // namespace treetrace
