// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "core/decode.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "core/event_kind.h"
#include "treetrace/events.h"

namespace treetrace {
namespace {

using uint128 = unsigned __int128;

// Kernel strings fill their field without a NUL when they are exactly that long.
std::string fixed_string(const char *field, size_t field_len) { return std::string(field, strnlen(field, field_len)); }

EventHeader convert(const tt_event_header &raw) {
  EventHeader hdr;
  hdr.ts_ns = raw.ts_ns;
  hdr.proc = {raw.pid, raw.start_ns};
  hdr.ppid = raw.ppid;
  hdr.ns_pid = raw.ns_pid;
  hdr.cgroup_id = raw.cgroup_id;
  hdr.comm = fixed_string(raw.comm, sizeof raw.comm);
  return hdr;
}

// utime/stime are tick-sampled and only give the ratio; cpu_ns is exact, so
// the two parts must add up to it. 128-bit products: cpu_ns * utime_ns
// overflows 64 bits after ~4 s of CPU each.
void split_cpu(uint64_t cpu_ns, uint64_t utime_ns, uint64_t stime_ns, ProcCounters &out) {
  const uint128 ticks = uint128{utime_ns} + stime_ns;
  // No tick landed yet: nothing says it was system time, so call it user time.
  out.cpu_user_ns = ticks == 0 ? cpu_ns : static_cast<uint64_t>(uint128{cpu_ns} * utime_ns / ticks);
  out.cpu_sys_ns = cpu_ns - out.cpu_user_ns;
}

ProcCounters convert(const tt_proc_counters &raw) {
  ProcCounters c;
  c.cpu_ns = raw.cpu_ns;
  split_cpu(raw.cpu_ns, raw.utime_ns, raw.stime_ns, c);
  c.rss_bytes = raw.rss_bytes;
  c.rss_anon_bytes = raw.rss_anon_bytes;
  c.rss_file_bytes = raw.rss_file_bytes;
  c.rss_shmem_bytes = raw.rss_shmem_bytes;
  c.rss_peak_bytes = raw.rss_peak_bytes;
  c.rss_peak_sampled_bytes = raw.rss_peak_sampled_bytes;
  // Double: the byte*ns integral of a large process over minutes passes 2^64.
  c.rss_integral_byte_ns = static_cast<double>(raw.rss_integral_kib_us) * 1024.0 * 1000.0;
  c.rss_integral_span_ns = raw.rss_integral_span_us * 1000;
  return c;
}

// Each argument is NUL-terminated, so a final NUL ends the last argument
// rather than starting an empty one; empty arguments in between are real.
std::vector<std::string> split_argv(const char *argv, uint32_t argv_len) {
  const size_t len = std::min<size_t>(argv_len, TT_ARGV_LEN);
  std::vector<std::string> args;
  // One allocation for the vector: count the arguments first.
  size_t count = 0;
  for (const char *p = argv, *end = argv + len; p < end; ++count) {
    const void *nul = std::memchr(p, '\0', static_cast<size_t>(end - p));
    p = nul ? static_cast<const char *>(nul) + 1 : end;
  }
  args.reserve(count);
  size_t start = 0;
  while (start < len) {
    const void *nul = std::memchr(argv + start, '\0', len - start);
    const size_t end = nul ? static_cast<size_t>(static_cast<const char *>(nul) - argv) : len;
    args.emplace_back(argv + start, end - start);
    start = end + 1;
  }
  return args;
}

ExitMemSource convert_mem_source(uint32_t raw) {
  switch (raw) {
  case TT_EXIT_MEM_AT_EXIT:
    return ExitMemSource::AtExit;
  case TT_EXIT_MEM_LAST_SAMPLE:
    return ExitMemSource::LastSample;
  default:
    // An unknown source gives no reason to trust the memory numbers.
    return ExitMemSource::None;
  }
}

Event convert(const tt_fork_event &raw) {
  ForkEvent ev;
  ev.hdr = convert(raw.hdr);
  ev.child = {raw.child_pid, raw.child_start_ns};
  ev.child_ns_pid = raw.child_ns_pid;
  return ev;
}

// An exec record is 1.4 KiB, nearly all of it the filename and argv
// fields, of which a command uses a few bytes: those are read in place,
// bounded by their fields, instead of copying the whole record first.
constexpr size_t kExecFixedPart = offsetof(tt_exec_event, filename);
static_assert(offsetof(tt_exec_event, argv) == kExecFixedPart + TT_FILENAME_LEN &&
              sizeof(tt_exec_event) == offsetof(tt_exec_event, argv) + TT_ARGV_LEN);

DecodeResult decode_exec(const void *data, size_t size) {
  if (size != sizeof(tt_exec_event))
    return {std::nullopt, DecodeError::SizeMismatch};
  const char *bytes = static_cast<const char *>(data);
  tt_exec_event raw; // only the part before filename is filled
  std::memcpy(&raw, data, kExecFixedPart);
  ExecEvent ev;
  ev.hdr = convert(raw.hdr);
  ev.old_comm = fixed_string(raw.old_comm, sizeof raw.old_comm);
  ev.exec_tid = raw.exec_tid;
  ev.filename = fixed_string(bytes + offsetof(tt_exec_event, filename), TT_FILENAME_LEN);
  ev.filename_truncated = raw.filename_truncated != 0;
  ev.argv = split_argv(bytes + offsetof(tt_exec_event, argv), raw.argv_len);
  ev.argv_truncated = raw.argv_truncated != 0;
  return {Event(std::move(ev)), {}};
}

Event convert(const tt_exit_event &raw) {
  ExitEvent ev;
  ev.hdr = convert(raw.hdr);
  ev.counters = convert(raw.counters);
  ev.activity = {raw.minflt, raw.majflt, raw.nvcsw, raw.nivcsw};
  ev.wait_status = raw.wait_status;
  // The <sys/wait.h> encoding, spelled out so it does not depend on libc macros.
  const uint32_t term_signal = raw.wait_status & 0x7f;
  if (term_signal == 0) {
    ev.exit_code = static_cast<int>((raw.wait_status >> 8) & 0xff);
  } else {
    ev.signal = static_cast<int>(term_signal);
    ev.core_dumped = (raw.wait_status & 0x80) != 0;
  }
  ev.mem_source = convert_mem_source(raw.mem_source);
  ev.oom_killed = (raw.flags & TT_EXIT_OOM_KILLED) != 0;
  return ev;
}

Event convert(const tt_sample_event &raw) {
  SampleEvent ev;
  ev.hdr = convert(raw.hdr);
  ev.counters = convert(raw.counters);
  ev.activity = {raw.minflt, raw.majflt, raw.nvcsw, raw.nivcsw};
  ev.origin = raw.origin == TT_SAMPLE_REFRESH ? SampleOrigin::Refresh : SampleOrigin::Switch;
  return ev;
}

OomConstraint convert_constraint(uint32_t raw) {
  switch (raw) {
  case TT_OOM_CONSTRAINT_CPUSET:
    return OomConstraint::Cpuset;
  case TT_OOM_CONSTRAINT_MEMORY_POLICY:
    return OomConstraint::MemoryPolicy;
  case TT_OOM_CONSTRAINT_MEMCG:
    return OomConstraint::Memcg;
  default:
    return OomConstraint::Global;
  }
}

// page_counter's "no limit" is PAGE_COUNTER_MAX pages, near 2^63 bytes.
constexpr uint64_t kUnlimitedBytes = 1ull << 60;

Event convert(const tt_oom_kill_event &raw) {
  OomKillEvent ev;
  ev.hdr = convert(raw.hdr);
  ev.rss_anon_bytes = raw.rss_anon_bytes;
  ev.rss_file_bytes = raw.rss_file_bytes;
  ev.rss_shmem_bytes = raw.rss_shmem_bytes;
  ev.rss_peak_bytes = raw.rss_peak_bytes;
  ev.context_known = (raw.flags & TT_OOM_CONTEXT_KNOWN) != 0;
  ev.victim_pid_only = (raw.flags & TT_OOM_VICTIM_PID_ONLY) != 0;
  ev.constraint = convert_constraint(raw.constraint);
  ev.memcg_id = raw.memcg_id;
  ev.memcg_hierarchy_id = raw.memcg_hierarchy_id;
  if (raw.memcg_id != 0 && raw.memcg_limit_bytes < kUnlimitedBytes)
    ev.memcg_limit_bytes = raw.memcg_limit_bytes;
  ev.memcg_usage_bytes = raw.memcg_usage_bytes;
  ev.trigger_pid = raw.trigger_pid;
  return ev;
}

Event convert(const tt_existing_event &raw) {
  ExistingEvent ev;
  ev.hdr = convert(raw.hdr);
  ev.nr_threads = raw.nr_threads;
  ev.kernel_thread = raw.is_kernel_thread != 0;
  return ev;
}

// Ring buffer records are only 8-byte aligned and may come from a fuzzer,
// so copy instead of casting.
template <typename Raw> DecodeResult decode_as(const void *data, size_t size) {
  if (size != sizeof(Raw))
    return {std::nullopt, DecodeError::SizeMismatch};
  Raw raw;
  std::memcpy(&raw, data, sizeof raw);
  return {convert(raw), {}};
}

} // namespace

DecodeResult decode_event(const void *data, size_t size) {
  if (size < sizeof(tt_event_header))
    return {std::nullopt, DecodeError::TooShort};
  uint32_t kind;
  std::memcpy(&kind, data, sizeof kind); // the kind is the first field of every record
  for (EventKind k : kEventKinds) {
    if (wire_kind(k) != kind)
      continue;
    switch (k) {
    case EventKind::Fork:
      return decode_as<tt_fork_event>(data, size);
    case EventKind::Exec:
      return decode_exec(data, size);
    case EventKind::Exit:
      return decode_as<tt_exit_event>(data, size);
    case EventKind::Sample:
      return decode_as<tt_sample_event>(data, size);
    case EventKind::Existing:
      return decode_as<tt_existing_event>(data, size);
    case EventKind::OomKill:
      return decode_as<tt_oom_kill_event>(data, size);
    }
  }
  return {std::nullopt, DecodeError::UnknownKind};
}

const char *to_string(DecodeError e) {
  switch (e) {
  case DecodeError::TooShort:
    return "record shorter than the event header";
  case DecodeError::UnknownKind:
    return "unknown record kind";
  case DecodeError::SizeMismatch:
    return "record size does not match its kind";
  }
  return "unknown decode error";
}

} // namespace treetrace
