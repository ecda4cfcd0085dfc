// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Command-line options: parsed and validated up front, so that bad input
// gets one clear line and a non-zero exit before anything is loaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/event_kind.h"
#include "core/groups.h"
#include "output/render.h"
#include "util/cgroup.h"
#include "util/listen_address.h"

namespace treetrace {

enum class Mode { Trace, Record, Report };

// `treetrace report FILE ...`
struct ReportOptions {
  std::string path;
  std::string format = "text"; // text, json, html
  std::string out = "-";
  std::optional<GroupBy> group_by;            // nullopt: as recorded
  std::optional<uint64_t> since_ns, until_ns; // from the recording's start
};

struct Options {
  Mode mode = Mode::Trace;
  std::string record_path; // record -o
  std::optional<uint64_t> max_size_bytes;
  ReportOptions report;
  std::vector<std::string> comm_patterns; // normalized
  std::vector<CgroupTarget> cgroups;      // --cgroup, and what --container and --pod resolved to
  GroupBy group_by = GroupBy::Tree;
  std::string cgroup_mount; // empty when no cgroup2 mount was found
  std::vector<uint32_t> pids;
  OutputFormat format = OutputFormat::Text;
  EventKindSet events;                 // which records to print
  std::optional<uint64_t> interval_ns; // tree snapshots
  std::optional<uint64_t> duration_ns;
  bool wait_tree = false;
  bool kernel_threads = false;
  bool per_process = false; // --verbose: per-process numbers in reports
  int log_verbosity = 0;    // -v: 1 debug, 2 + libbpf debug
  uint32_t ringbuf_bytes = 4u << 20;
  uint32_t max_procs = 1u << 17;
  uint64_t output_queue_bytes = 16u << 20;
  uint32_t pss_budget = 2048;       // smaps_rollup reads per interval
  std::vector<std::string> command; // empty: trace the node

  // The Prometheus exposition (docs/metrics.md).
  std::optional<ListenAddress> listen; // --listen
  std::string textfile;                // --textfile: rewritten atomically every textfile_interval_ns
  uint64_t textfile_interval_ns = 15'000'000'000ull;
  bool metrics_processes = false; // per-process series
  uint32_t max_series = 10000;
  uint32_t metrics_commands = 10; // command series per group, beside "other"
  uint64_t metrics_grace_ns = 300'000'000'000ull;
};

struct OptionsExit {
  int code;            // 0 for --help/--version
  std::string message; // printed as is (help) or as "treetrace: <message>"
};

std::variant<Options, OptionsExit> parse_options(int argc, char **argv);

} // namespace treetrace
