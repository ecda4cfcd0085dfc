// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The kernel side as one object: opens, configures, loads and attaches the
// BPF skeleton, runs the startup scan, and hands ring buffer records to a
// callback. Owns every kernel resource it creates; destruction detaches
// everything (nothing is pinned).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/model.h"
#include "loader/kernel_features.h"
#include "treetrace/events.h"
#include "util/result.h"

namespace treetrace {

struct TracerConfig {
  bool trace_kernel_threads = false;
  std::vector<std::string> comm_patterns; // already normalized
  struct CgroupFilter {
    uint64_t id;
    uint32_t level;
  };
  std::vector<CgroupFilter> cgroups;
  std::vector<uint32_t> pids;
  uint64_t sample_interval_ns = 1'000'000'000;
  uint32_t ringbuf_bytes = 4u << 20; // power of two, >= page size
  uint32_t max_procs = 1u << 17;
  uint64_t wakeup_min_bytes = 0; // 0: wake the reader as the kernel sees fit
  int libbpf_verbosity = 0;      // 0: errors only, 1: + warnings, 2: + debug

  bool any_filter() const { return !comm_patterns.empty() || !cgroups.empty() || !pids.empty(); }
};

struct KernelCounters {
  uint64_t attempts[TT_EVENT_KIND_MAX] = {};
  uint64_t dropped_ringbuf_full[TT_EVENT_KIND_MAX] = {};
  uint64_t proc_table_full = 0;
  uint64_t task_storage_fail = 0;
  uint64_t proc_state_missing = 0;
  uint64_t argv_read_fail = 0;
  uint64_t credit_contended = 0; // thread counters not credited after 4 racing attempts
  uint64_t oom_not_killed = 0;   // OOM victims found already exiting: no kill
  uint64_t oom_untraced = 0;     // OOM kills of processes outside the filters

  uint64_t total_attempts() const;
  uint64_t total_dropped() const;
};

// Which OOM programs this kernel could load.
enum class OomSupport {
  Full, // oom:mark_victim is traced
  None, // the kernel lacks it: no OOM records
};

struct RefreshStats {
  size_t processes = 0;  // rows: one per traced process with a memory image, more for busy threads
  double iterate_us = 0; // the iterator alone
  double total_us = 0;   // the whole refresh: the ring drained first, and the rows handed over
};

class Tracer {
public:
  using RecordHandler = std::function<void(const void *data, size_t size)>;

  // Opens and loads; on failure, a one-line reason.
  static Result<std::unique_ptr<Tracer>> create(const TracerConfig &config, RecordHandler on_record);
  ~Tracer();
  Tracer(const Tracer &) = delete;
  Tracer &operator=(const Tracer &) = delete;

  // Attaches the tracepoints, then scans the tasks already running, so that
  // every process is seen either by the scan or by a tracepoint.
  Result<void> start();

  // An fd that becomes readable when records are waiting.
  int ring_fd() const;
  // Hands every waiting record to the callback; returns how many.
  int consume();

  // Makes live state current: credits every traced thread's CPU, faults and
  // context switches to its process, then reads every traced process's
  // counters and memory, synchronously, and hands each row (a
  // tt_sample_event of origin TT_SAMPLE_REFRESH) to `on_row`; waiting ring
  // buffer records go to the record callback first. Only after start().
  Result<void> refresh(const RecordHandler &on_row, RefreshStats *stats = nullptr);
  bool reports_oom_kills() const;

  KernelCounters counters() const;
  const KernelFeatures &features() const { return features_; }
  // The processes the kernel is tracing now: its per-process table.
  std::vector<ProcKey> traced_processes() const;

private:
  Tracer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  KernelFeatures features_;
};

} // namespace treetrace
