// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The one entry point to live state. Whatever shows live figures (the
// interval snapshot, the final report, an exporter) asks here, and gets
// figures that are current at that moment: the kernel side is refreshed
// first (Tracer::refresh), then PSS is read, then the reports are built.
// Group rows that are cgroups also get their memory cgroup's figures
// (measure_memcg, util/memcg.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/aggregator.h"
#include "loader/tracer.h"
#include "util/memcg.h"

namespace treetrace {

struct LiveStateOptions {
  uint32_t pss_budget = 2048;  // smaps_rollup reads per refresh
  bool with_processes = false; // per-process reports inside each tree
  // Group rows whose memory cgroup is read per refresh (a /proc/PID/cgroup
  // read of a few members and three cgroup files each); the rest report
  // none that time.
  uint32_t memcg_row_budget = 1024;
};

class LiveState {
public:
  // `feed` gets each refresh row, as the ring buffer's records do: it
  // decodes them and hands them to `aggregator`.
  LiveState(Tracer &tracer, Aggregator &aggregator, Tracer::RecordHandler feed, LiveStateOptions options);

  // Every live tree, current now; starts a new interval (see Aggregator::snapshot).
  std::vector<TreeReport> snapshot(uint64_t now_ns);
  // Every tree ever seen, live ones current now; or only `tree` when given.
  std::vector<TreeReport> final_report(uint64_t now_ns, const std::optional<ProcKey> &tree);

  // Every row, as final_report, for pulled sinks (metrics). Rows carry the
  // PSS of the last reading: reading every smaps_rollup costs more than the
  // rest of a collection (70 ms at 1000 groups), so it is done after the
  // collection is published (refresh_pss_if_older), not while a scrape
  // waits. Memory cgroup figures likewise: those of the last reading.
  // Rows carry their processes when asked.
  std::vector<TreeReport> rows_for_sinks(uint64_t now_ns, bool with_processes);
  // Reads PSS (and memory cgroup figures) again unless the last reading is
  // younger than max_age_ns.
  void refresh_pss_if_older(uint64_t now_ns, uint64_t max_age_ns);

  // Scrapes come as often as every second: PSS is read at most every 5 s.
  static constexpr uint64_t kPssMaxAgeForMetricsNs = 5'000'000'000ull;

  const RefreshStats &last_refresh() const { return last_refresh_; }
  uint64_t refreshes() const { return refreshes_; }

private:
  void refresh();
  void measure_pss(std::vector<TreeReport> &trees, uint64_t now_ns);
  // Fills memcg_* of rows that are cgroups (--group-by cgroup, container,
  // pod, unit) and have live members; others keep nullopt.
  void measure_memcg(std::vector<TreeReport> &rows);
  std::optional<std::string> memcg_path_of(const TreeReport &row, MemcgGroupKind kind, bool v1);

  Tracer &tracer_;
  Aggregator &aggregator_;
  Tracer::RecordHandler feed_;
  LiveStateOptions options_;
  RefreshStats last_refresh_;
  uint64_t refreshes_ = 0;
  bool warned_pss_denied_ = false;
  bool warned_refresh_failed_ = false;
  uint64_t pss_read_at_ns_ = 0; // 0: never
  bool memcg_located_ = false;
  std::optional<MemcgHierarchy> memcg_hierarchy_; // nullopt: no memory controller
  uint64_t page_size_ = 4096;
  uint64_t memcg_rows_skipped_ = 0; // over memcg_row_budget, ever
  bool warned_memcg_budget_ = false;
  bool warned_memcg_unreadable_ = false;
  bool noted_memcg_absent_ = false;
};

} // namespace treetrace
