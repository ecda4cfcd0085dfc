// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "core/account.h"

#include <algorithm>
#include <cmath>

namespace treetrace {
namespace {

constexpr const char *other_comm = "[other]";

uint64_t saturating_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

} // namespace

void accumulate(CommUsage &into, const CommUsage &from) {
  into.procs += from.procs;
  into.cpu_ns += from.cpu_ns;
  into.rss_peak_bytes = std::max(into.rss_peak_bytes, from.rss_peak_bytes);
}

CommUsage &comm_slot(CommMap &by_comm, const std::string &comm, size_t max_comms) {
  if (auto it = by_comm.find(comm); it != by_comm.end())
    return it->second;
  const std::string other(other_comm);
  const size_t named = by_comm.size() - by_comm.count(other);
  const std::string &name = named < max_comms ? comm : other;
  CommUsage &slot = by_comm[name];
  slot.comm = name;
  return slot;
}

void integrate_rss(Account &a, uint64_t ts_ns) {
  // Records of different processes interleave: a timestamp behind the last
  // one adds nothing rather than subtracting area.
  if (ts_ns <= a.rss_integrated_to_ns)
    return;
  a.rss_integral_byte_ns += static_cast<double>(a.rss_sum_bytes) * static_cast<double>(ts_ns - a.rss_integrated_to_ns);
  a.rss_integrated_to_ns = ts_ns;
}

uint64_t rss_average(const Account &a, uint64_t end_ns) {
  const uint64_t span = saturating_sub(end_ns, a.first_ts_ns);
  if (span == 0)
    return a.rss_sum_bytes;
  const double tail =
      static_cast<double>(a.rss_sum_bytes) * static_cast<double>(saturating_sub(end_ns, a.rss_integrated_to_ns));
  return static_cast<uint64_t>(std::llround((a.rss_integral_byte_ns + tail) / static_cast<double>(span)));
}

void apply_observation(Account &a, uint64_t cpu_growth_ns, uint64_t old_rss, const ProcCounters &c,
                       uint64_t member_peak_bytes, uint64_t ts_ns) {
  a.cpu_ns += cpu_growth_ns;
  integrate_rss(a, ts_ns);
  const uint64_t others = a.rss_sum_bytes - old_rss;
  a.rss_sum_bytes = others + c.rss_bytes;
  // The sampled peak is this member's high point since its previous
  // record; it may have coincided with the rest of the account as it is now.
  a.rss_peak_bytes = std::max({a.rss_peak_bytes, a.rss_sum_bytes, others + c.rss_peak_sampled_bytes});
  a.proc_rss_peak_bytes = std::max(a.proc_rss_peak_bytes, member_peak_bytes);
  a.last_ts_ns = std::max(a.last_ts_ns, ts_ns);
}

void add_member(Account &a, const ProcKey &member, uint64_t rss_bytes, uint64_t ts_ns) {
  integrate_rss(a, ts_ns);
  if (!a.members.insert(member).second)
    return;
  ++a.procs_total;
  a.rss_sum_bytes += rss_bytes;
  a.rss_peak_bytes = std::max(a.rss_peak_bytes, a.rss_sum_bytes);
  a.last_ts_ns = std::max(a.last_ts_ns, ts_ns);
}

void remove_member(Account &a, const ProcKey &member, uint64_t rss_bytes, const CommUsage &usage, size_t max_comms,
                   uint64_t ts_ns) {
  integrate_rss(a, ts_ns);
  if (a.members.erase(member) == 0)
    return;
  a.rss_sum_bytes -= std::min(a.rss_sum_bytes, rss_bytes);
  accumulate(comm_slot(a.exited_by_comm, usage.comm, max_comms), usage);
  a.last_ts_ns = std::max(a.last_ts_ns, ts_ns);
}

} // namespace treetrace
