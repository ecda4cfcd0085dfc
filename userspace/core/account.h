// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// What a tree or a group adds up over its members: the one set of sums
// both are made of, and the rules for changing them. Pure C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/flat_map.h"
#include "core/model.h"

namespace treetrace {

struct CommUsage {
  std::string comm;
  uint64_t procs = 0; // processes that had this comm when they exited or now
  uint64_t cpu_ns = 0;
  uint64_t rss_peak_bytes = 0; // largest per-process peak
};

// Flat: a tree's members are added at every fork and removed at every exit.
using ProcSet = FlatSet<ProcKey, ProcKeyTraits>;
using CommMap = std::unordered_map<std::string, CommUsage>;

struct Account {
  ProcKey root;          // trees: the root process
  std::string group;     // groups: the key (a container id, a pod uid, a unit, a cgroup, a comm)
  std::string root_comm; // trees: the root's current comm
  uint64_t procs_total = 0;
  ProcSet members; // the live ones
  // Only ever grows, by the growth of a member's CPU, which is itself clamped
  // to never shrink: the account's high-water CPU by construction.
  uint64_t cpu_ns = 0;
  // cpu_ns at the previous snapshot, plus the CPU that Existing members had
  // used before they were first observed.
  uint64_t cpu_baseline_ns = 0;
  uint64_t rss_sum_bytes = 0;
  uint64_t rss_peak_bytes = 0;
  uint64_t proc_rss_peak_bytes = 0;
  // Integral of rss_sum_bytes over [first_ts_ns, rss_integrated_to_ns].
  double rss_integral_byte_ns = 0;
  uint64_t rss_integrated_to_ns = 0;
  uint64_t first_ts_ns = 0;
  uint64_t last_ts_ns = 0;
  std::optional<uint64_t> pss_bytes;
  CommMap exited_by_comm;
  uint64_t oom_kills = 0;
  uint64_t cgroup_id = 0; // groups: the cgroup of the member that created it, for identity labels
};

void accumulate(CommUsage &into, const CommUsage &from);
// The slot of `comm`; names past `max_comms` share "[other]" so that an
// account running many differently named commands stays bounded.
CommUsage &comm_slot(CommMap &by_comm, const std::string &comm, size_t max_comms);

// Moves the RSS integral up to ts_ns; a timestamp behind the last one adds nothing.
void integrate_rss(Account &a, uint64_t ts_ns);
// Time-weighted average of the live RSS sum from first_ts_ns to end_ns.
uint64_t rss_average(const Account &a, uint64_t end_ns);

// A member's new counters: its CPU grew by cpu_growth_ns, its RSS went
// from old_rss to c.rss_bytes, and its own peak is now member_peak_bytes.
void apply_observation(Account &a, uint64_t cpu_growth_ns, uint64_t old_rss, const ProcCounters &c,
                       uint64_t member_peak_bytes, uint64_t ts_ns);

// A member joins with its current RSS.
void add_member(Account &a, const ProcKey &member, uint64_t rss_bytes, uint64_t ts_ns);
// A member leaves (it exited, or moved to another group); its CPU stays.
void remove_member(Account &a, const ProcKey &member, uint64_t rss_bytes, const CommUsage &usage, size_t max_comms,
                   uint64_t ts_ns);

} // namespace treetrace
