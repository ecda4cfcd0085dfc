// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Decoded, libbpf-free view of the records in include/treetrace/events.h.
// Everything downstream of the ring buffer (aggregation, output, tests)
// works on these types, so it can be unit-tested without root.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace treetrace {

// (pid, start_ns) names a process for its whole life; a PID alone does not,
// because PIDs are reused.
struct ProcKey {
  uint32_t pid = 0;
  uint64_t start_ns = 0;
  friend bool operator==(const ProcKey &, const ProcKey &) = default;
};

struct ProcKeyHash {
  size_t operator()(const ProcKey &k) const noexcept {
    return std::hash<uint64_t>{}((k.start_ns * 0x9E3779B97F4A7C15ull) ^ k.pid);
  }
};

struct EventHeader {
  uint64_t ts_ns = 0; // CLOCK_BOOTTIME
  ProcKey proc;
  uint32_t ppid = 0;
  uint32_t ns_pid = 0;
  uint64_t cgroup_id = 0;
  std::string comm; // raw kernel bytes up to the first NUL; may be invalid UTF-8
};

struct ForkEvent {
  EventHeader hdr; // the parent
  ProcKey child;
  uint32_t child_ns_pid = 0;
};

struct ExecEvent {
  EventHeader hdr;
  std::string old_comm;
  uint32_t exec_tid = 0;
  std::string filename;
  bool filename_truncated = false;
  std::vector<std::string> argv;
  bool argv_truncated = false;
};

// Thread-group counters, already converted to bytes and nanoseconds.
struct ProcCounters {
  uint64_t cpu_ns = 0;
  uint64_t cpu_user_ns = 0; // cpu_ns split by the kernel's utime:stime ratio
  uint64_t cpu_sys_ns = 0;
  uint64_t rss_bytes = 0;
  uint64_t rss_anon_bytes = 0;
  uint64_t rss_file_bytes = 0;
  uint64_t rss_shmem_bytes = 0;
  uint64_t rss_peak_bytes = 0;
  uint64_t rss_peak_sampled_bytes = 0;
  // RSS integrated over wall time since the previous record of the process.
  double rss_integral_byte_ns = 0;
  uint64_t rss_integral_span_ns = 0;
};

// Page faults and context switches of every thread, exited or live.
struct ProcActivity {
  uint64_t minflt = 0, majflt = 0, nvcsw = 0, nivcsw = 0;
};

enum class ExitMemSource : uint8_t { AtExit = 0, LastSample = 1, None = 2 };

struct ExitEvent {
  EventHeader hdr;
  ProcCounters counters;
  ProcActivity activity;
  uint32_t wait_status = 0;
  int exit_code = 0; // WEXITSTATUS, 0 when killed
  int signal = 0;    // WTERMSIG, 0 when exited normally
  bool core_dumped = false;
  ExitMemSource mem_source = ExitMemSource::AtExit;
  bool oom_killed = false;
};

enum class SampleOrigin : uint8_t {
  Switch,  // rate-limited, taken at a switch-out of the process
  Refresh, // the refresh pass that runs before live state is shown
};

struct SampleEvent {
  EventHeader hdr;
  ProcCounters counters;
  ProcActivity activity; // exact in refresh rows; as of the last refresh otherwise
  SampleOrigin origin = SampleOrigin::Switch;
};

struct ExistingEvent {
  EventHeader hdr;
  uint32_t nr_threads = 0;
  bool kernel_thread = false;
};

// Why the OOM killer ran (the kernel's enum oom_constraint).
enum class OomConstraint : uint8_t { Global, Cpuset, MemoryPolicy, Memcg };

struct OomKillEvent {
  EventHeader hdr; // the victim; hdr.proc.start_ns == 0 when only its thread id is known
  uint64_t rss_anon_bytes = 0, rss_file_bytes = 0, rss_shmem_bytes = 0, rss_peak_bytes = 0;
  bool context_known = false; // constraint and memcg below come from the kernel
  OomConstraint constraint = OomConstraint::Global;
  uint64_t memcg_id = 0;                     // 0 when no memory cgroup limit was involved
  uint32_t memcg_hierarchy_id = 0;           // 0: cgroup v2; else a v1 hierarchy
  std::optional<uint64_t> memcg_limit_bytes; // nullopt: unlimited
  uint64_t memcg_usage_bytes = 0;
  uint32_t trigger_pid = 0; // whose allocation invoked the killer
  bool victim_pid_only = false;
  uint64_t rss_bytes() const { return rss_anon_bytes + rss_file_bytes + rss_shmem_bytes; }
};

// The alternatives are in EventKind order (core/event_kind.h checks it).
using Event = std::variant<ForkEvent, ExecEvent, ExitEvent, SampleEvent, ExistingEvent, OomKillEvent>;

} // namespace treetrace
