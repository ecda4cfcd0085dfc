// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "core/reports.h"

#include <algorithm>

namespace treetrace {

ProcessReport ReportBuilder::process(const Process &p, uint64_t now_ns) const {
  ProcessReport r;
  process_into(r, p, now_ns);
  return r;
}

void ReportBuilder::process_into(ProcessReport &r, const Process &p, uint64_t now_ns) const {
  // Start from a fresh report, so that no field of the previous one can
  // survive, but keep the buffers of its strings.
  std::string comm = std::move(r.comm);
  std::vector<std::string> comm_history = std::move(r.comm_history);
  r = ProcessReport{};
  comm.assign(p.comm);
  r.comm = std::move(comm);
  comm_history.assign(p.comm_history.begin(), p.comm_history.end());
  r.comm_history = std::move(comm_history);
  r.key = p.key;
  r.ppid = p.ppid;
  r.learned_via = p.learned_via;
  r.cpu_ns = p.cpu_ns;
  r.rss_bytes = p.rss_bytes;
  r.rss_first_bytes = p.rss_first_bytes;
  r.rss_peak_bytes = p.rss_peak_bytes;
  r.rss_avg_bytes = p.rss_avg_bytes();
  r.wall_ns = saturating_sub(now_ns, p.key.start_ns);
  r.activity = p.activity;
  r.oom_killed = p.oom_killed;
}

std::optional<ExitedByTree> ReportBuilder::exited_by_tree(bool with_processes) const {
  if (!with_processes)
    return std::nullopt;
  ExitedByTree index;
  for (const ExitedReport &kept : exited_)
    index[kept.tree].push_back(&kept.report);
  return index;
}

std::optional<ExitedByGroup> ReportBuilder::exited_by_group(bool with_processes) const {
  if (!with_processes)
    return std::nullopt;
  ExitedByGroup index;
  for (const ExitedReport &kept : exited_)
    index[kept.group].push_back(&kept.report);
  return index;
}

TreeReport ReportBuilder::account(const Account &t, uint64_t now_ns, const std::optional<ExitedByTree> &exited,
                                  const std::optional<ExitedByGroup> &exited_groups, bool is_group) const {
  const bool live = !t.members.empty();
  TreeReport r;
  r.root = t.root;
  r.root_comm = t.root_comm;
  r.group = t.group;
  r.cgroup_id = t.cgroup_id;
  r.procs_total = t.procs_total;
  r.procs_live = t.members.size();
  r.cpu_ns = t.cpu_ns;
  r.cpu_interval_ns = saturating_sub(t.cpu_ns, t.cpu_baseline_ns);
  r.rss_bytes = t.rss_sum_bytes;
  if (live)
    r.pss_bytes = t.pss_bytes;
  r.rss_peak_bytes = t.rss_peak_bytes;
  r.rss_avg_bytes = rss_average(t, live ? std::max(now_ns, t.rss_integrated_to_ns) : t.last_ts_ns);
  r.proc_rss_peak_bytes = t.proc_rss_peak_bytes;
  r.oom_kills = t.oom_kills;
  r.first_ts_ns = t.first_ts_ns;
  r.last_ts_ns = t.last_ts_ns;
  r.by_comm = by_comm(t, is_group);
  if (is_group && exited_groups) {
    auto it = exited_groups->find(t.group);
    r.processes = processes(t, now_ns, it == exited_groups->end() ? nullptr : &it->second);
  } else if (!is_group && exited) {
    auto it = exited->find(t.root);
    r.processes = processes(t, now_ns, it == exited->end() ? nullptr : &it->second);
  }
  return r;
}

std::vector<CommUsage> ReportBuilder::by_comm(const Account &t, bool is_group) const {
  CommMap merged = t.exited_by_comm;
  for (const ProcKey &member : t.members) {
    const Process &p = live_.at(member);
    accumulate(comm_slot(merged, p.comm, max_comms_), is_group ? p.group_usage() : p.usage());
  }
  std::vector<CommUsage> out;
  out.reserve(merged.size());
  for (auto &[comm, usage] : merged)
    out.push_back(std::move(usage));
  std::sort(out.begin(), out.end(), [](const CommUsage &a, const CommUsage &b) {
    return a.cpu_ns != b.cpu_ns ? a.cpu_ns > b.cpu_ns : a.comm < b.comm;
  });
  return out;
}

std::vector<ProcessReport> ReportBuilder::processes(const Account &t, uint64_t now_ns,
                                                    const std::vector<const ProcessReport *> *exited) const {
  std::vector<ProcessReport> out;
  for (const ProcKey &member : t.members)
    out.push_back(process(live_.at(member), now_ns));
  std::sort(out.begin(), out.end(), [](const ProcessReport &a, const ProcessReport &b) {
    return a.cpu_ns != b.cpu_ns ? a.cpu_ns > b.cpu_ns : key_less(a.key, b.key);
  });
  if (exited)
    for (const ProcessReport *report : *exited)
      out.push_back(*report);
  return out;
}

} // namespace treetrace
