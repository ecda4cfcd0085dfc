// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The Prometheus metrics: one list of families (kMetricFamilies, which
// docs/metrics.md and the dashboard are checked against), and the collector
// that turns live state into an exposition at each collection.
//
// What the collector promises (docs/metrics.md):
//  - Counters never go backwards while their series exists, even as the
//    rows they sum exit, merge or are evicted from the aggregator: a row's
//    last value stays in the series when the row goes.
//  - A group with no live process keeps its final counters for the grace
//    period after its last activity, then its series go for good.
//  - At most max_series group and process series: series already exported
//    keep their place, new ones are admitted by CPU; what is cut is counted.
//
// Pure C++: no I/O, no clocks, no libbpf.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/aggregator.h"
#include "output/exposition.h"
#include "output/render.h"
#include "output/sink.h"
#include "util/cgroup_identity.h"

namespace treetrace {

enum class MetricFamily {
  BuildInfo,
  RecordsAttempted,
  Records,
  RecordsLost,
  TrackedProcesses,
  Collections,
  CollectionDuration,
  HttpRequests,
  SeriesDropped,
  GroupCpu,
  GroupProcesses,
  GroupProcessesStarted,
  GroupRss,
  GroupPss,
  GroupRssPeak,
  GroupOomKills,
  GroupMemcgUsage,
  GroupMemcgPeak,
  GroupMemcgLimit,
  GroupCommandCpu,
  ProcessRss,
  ProcessCpu,
};

struct MetricFamilyInfo {
  MetricFamily id;
  std::string_view name;
  MetricType type;
  std::string_view help;
};

extern const std::array<MetricFamilyInfo, 22> kMetricFamilies;
const MetricFamilyInfo &family_info(MetricFamily id);

struct MetricsConfig {
  GroupBy group_by = GroupBy::Tree;
  uint32_t max_series = 10000;      // group and process series, per collection
  uint32_t commands_per_group = 10; // command series per group beside "other"
  uint64_t grace_ns = 300'000'000'000ull;
  bool processes = false; // per-process series (rows must carry processes)
  std::string version;
};

// treetrace's own figures at the moment of a collection.
struct SelfStats {
  SessionStats session;
  uint64_t collections = 0;
  std::map<unsigned, uint64_t> http_responses; // status code -> count
};

class MetricsCollector {
public:
  using IdentityLookup = std::function<std::optional<CgroupIdentity>(uint64_t cgroup_id)>;

  MetricsCollector(MetricsConfig config, IdentityLookup identity);
  ~MetricsCollector();
  MetricsCollector(const MetricsCollector &) = delete;
  MetricsCollector &operator=(const MetricsCollector &) = delete;

  // `rows`: every tree or group the aggregator holds, live and finished,
  // current at now_ns (LiveState::final_report).
  std::string collect(const std::vector<TreeReport> &rows, const SelfStats &self, uint64_t now_ns);

  uint64_t series_dropped_total() const;
  size_t groups_exported() const; // in the last collection

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace treetrace
