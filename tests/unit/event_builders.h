// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Builders of decoded events and finders over reports, shared by the
// aggregator and renderer suites. Header-only; everything is inline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/aggregator.h"
#include "core/model.h"

namespace treetrace::test {

// A process as the builders need it: identity, current parent, comm, cgroup.
struct Proc {
  uint32_t pid = 0;
  uint64_t start_ns = 0;
  uint32_t ppid = 0;
  std::string comm;
  uint64_t cgroup_id = 0;

  ProcKey key() const { return {pid, start_ns}; }
  // A child as fork makes it: same comm and cgroup as its parent.
  Proc child(uint32_t child_pid, uint64_t child_start_ns) const {
    return {child_pid, child_start_ns, pid, comm, cgroup_id};
  }
  Proc in_cgroup(uint64_t id) const { return {pid, start_ns, ppid, comm, id}; }
  Proc named(std::string new_comm) const { return {pid, start_ns, ppid, std::move(new_comm), cgroup_id}; }
};

inline EventHeader header(const Proc &p, uint64_t ts_ns) {
  EventHeader h;
  h.ts_ns = ts_ns;
  h.proc = p.key();
  h.ppid = p.ppid;
  h.ns_pid = p.pid;
  h.cgroup_id = p.cgroup_id;
  h.comm = p.comm;
  return h;
}

inline Event existing_event(const Proc &p, uint64_t ts_ns) {
  ExistingEvent ev;
  ev.hdr = header(p, ts_ns);
  ev.nr_threads = 1;
  return ev;
}

// The fork record is made when the child starts, in the parent's cgroup.
inline Event fork_event(const Proc &parent, const Proc &child) {
  ForkEvent ev;
  ev.hdr = header(parent, child.start_ns);
  ev.child = child.key();
  ev.child_ns_pid = child.pid;
  return ev;
}

inline Event exec_event(const Proc &p, const std::string &new_comm, uint64_t ts_ns) {
  ExecEvent ev;
  ev.hdr = header(p, ts_ns);
  ev.hdr.comm = new_comm;
  ev.old_comm = p.comm;
  ev.exec_tid = p.pid;
  ev.filename = "/usr/bin/" + new_comm;
  ev.argv = {new_comm};
  return ev;
}

inline Event sample_event(const Proc &p, uint64_t ts_ns, const ProcCounters &counters,
                          SampleOrigin origin = SampleOrigin::Switch, const ProcActivity &activity = {}) {
  SampleEvent ev;
  ev.hdr = header(p, ts_ns);
  ev.counters = counters;
  ev.activity = activity;
  ev.origin = origin;
  return ev;
}

// A row of the refresh pass that runs before live state is shown.
inline Event refresh_event(const Proc &p, uint64_t ts_ns, const ProcCounters &counters,
                           const ProcActivity &activity = {}) {
  return sample_event(p, ts_ns, counters, SampleOrigin::Refresh, activity);
}

inline Event exit_event(const Proc &p, uint64_t ts_ns, const ProcCounters &counters = {}, uint32_t wait_status = 0,
                        bool oom_killed = false) {
  ExitEvent ev;
  ev.hdr = header(p, ts_ns);
  ev.counters = counters;
  ev.wait_status = wait_status;
  if ((wait_status & 0x7f) == 0)
    ev.exit_code = static_cast<int>((wait_status >> 8) & 0xff);
  else
    ev.signal = static_cast<int>(wait_status & 0x7f);
  ev.oom_killed = oom_killed;
  return ev;
}

// What the kernel reports for a process the OOM killer chose (SIGKILL).
inline Event oom_exit_event(const Proc &p, uint64_t ts_ns, const ProcCounters &counters = {}) {
  return exit_event(p, ts_ns, counters, 9, true);
}

// An oom_kill record with the full victim identity (new mark_victim prototype).
inline OomKillEvent oom_kill(const Proc &p, uint64_t ts_ns, uint64_t anon = 0, uint64_t file = 0, uint64_t shmem = 0) {
  OomKillEvent ev;
  ev.hdr = header(p, ts_ns);
  ev.rss_anon_bytes = anon;
  ev.rss_file_bytes = file;
  ev.rss_shmem_bytes = shmem;
  ev.rss_peak_bytes = anon + file + shmem;
  ev.trigger_pid = p.pid;
  return ev;
}

// An oom_kill record of the old prototype: only a thread id, start_ns 0.
inline OomKillEvent oom_kill_pid_only(uint32_t pid, uint64_t ts_ns) {
  OomKillEvent ev;
  ev.hdr.ts_ns = ts_ns;
  ev.hdr.proc = {pid, 0};
  ev.victim_pid_only = true;
  ev.trigger_pid = pid;
  return ev;
}

inline ProcCounters cpu(uint64_t cpu_ns) { return {.cpu_ns = cpu_ns}; }
inline ProcCounters rss(uint64_t rss_bytes, uint64_t cpu_ns = 0) { return {.cpu_ns = cpu_ns, .rss_bytes = rss_bytes}; }

inline const TreeReport *find_tree(const std::vector<TreeReport> &rows, const Proc &root) {
  for (const TreeReport &r : rows)
    if (r.root == root.key())
      return &r;
  return nullptr;
}

inline const TreeReport *find_group(const std::vector<TreeReport> &rows, const std::string &key) {
  for (const TreeReport &r : rows)
    if (r.group == key)
      return &r;
  return nullptr;
}

inline const CommUsage *find_comm(const TreeReport &r, const std::string &comm) {
  for (const CommUsage &u : r.by_comm)
    if (u.comm == comm)
      return &u;
  return nullptr;
}

inline const ProcessReport *find_process(const TreeReport &r, const Proc &p) {
  for (const ProcessReport &report : r.processes)
    if (report.key == p.key())
      return &report;
  return nullptr;
}

inline uint64_t by_comm_cpu(const TreeReport &r) {
  uint64_t sum = 0;
  for (const CommUsage &u : r.by_comm)
    sum += u.cpu_ns;
  return sum;
}

} // namespace treetrace::test
