// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The aggregator's record of one live process, and of exited ones kept for
// reports. Internal to the core: the aggregator keeps them, the report
// builder reads them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "core/account.h"
#include "core/aggregator.h"

namespace treetrace {

template <typename V> using ProcMap = std::unordered_map<ProcKey, V, ProcKeyHash>;

inline uint64_t saturating_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

inline bool key_less(const ProcKey &a, const ProcKey &b) {
  return std::tie(a.pid, a.start_ns) < std::tie(b.pid, b.start_ns);
}

struct Process {
  ProcKey key;
  ProcKey tree;      // root of the tree it was born into
  uint32_t ppid = 0; // current parent, which changes on reparenting
  LearnedVia learned_via = LearnedVia::Fork;
  std::string comm;
  std::vector<std::string> comm_history;
  bool observed = false; // counters seen at least once
  uint64_t cpu_ns = 0;
  uint64_t cpu_first_ns = 0;
  uint64_t rss_bytes = 0;
  uint64_t rss_first_bytes = 0;
  uint64_t rss_peak_bytes = 0;
  double rss_integral_byte_ns = 0;
  uint64_t rss_integral_span_ns = 0;
  ProcActivity activity;
  bool oom_killed = false;
  uint64_t cgroup_id = 0;      // as of its last record
  std::string group;           // its group under --group-by other than tree
  uint64_t group_cpu_base = 0; // cpu_ns when it joined that group

  // Its share of its group: the CPU used since it joined.
  CommUsage group_usage() const { return {comm, 1, cpu_ns - std::min(cpu_ns, group_cpu_base), rss_peak_bytes}; }

  uint64_t rss_avg_bytes() const {
    if (rss_integral_span_ns == 0)
      return rss_bytes;
    return static_cast<uint64_t>(std::llround(rss_integral_byte_ns / static_cast<double>(rss_integral_span_ns)));
  }

  CommUsage usage() const { return {comm, 1, cpu_ns, rss_peak_bytes}; }
};

// A report kept after its process was freed, labelled with its tree.
struct ExitedReport {
  ProcKey tree;
  std::string group;
  ProcessReport report;
};
using ExitedByTree = ProcMap<std::vector<const ProcessReport *>>;
using ExitedByGroup = std::unordered_map<std::string, std::vector<const ProcessReport *>>;

} // namespace treetrace
