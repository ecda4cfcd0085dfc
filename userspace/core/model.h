// Decoded, libbpf-free view of the records in include/treetrace/events.h.
// Everything downstream of the ring buffer (aggregation, output, tests)
// works on these types, so it can be unit-tested without root.
#pragma once

#include <cstdint>
#include <functional>
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

enum class ExitMemSource : uint8_t { AtExit = 0, LastSample = 1, None = 2 };

struct ExitEvent {
  EventHeader hdr;
  ProcCounters counters;
  uint64_t minflt = 0, majflt = 0, nvcsw = 0, nivcsw = 0;
  uint32_t wait_status = 0;
  int exit_code = 0;   // WEXITSTATUS, 0 when killed
  int signal = 0;      // WTERMSIG, 0 when exited normally
  bool core_dumped = false;
  ExitMemSource mem_source = ExitMemSource::AtExit;
};

struct SampleEvent {
  EventHeader hdr;
  ProcCounters counters;
};

struct ExistingEvent {
  EventHeader hdr;
  uint32_t nr_threads = 0;
  bool kernel_thread = false;
};

using Event = std::variant<ForkEvent, ExecEvent, ExitEvent, SampleEvent, ExistingEvent>;

} // namespace treetrace
