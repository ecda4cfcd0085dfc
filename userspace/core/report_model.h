// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// What a report says, in one structure that every report format renders:
// the text and JSON reports (output/report_text) and the HTML report
// (output/report_html). Built by core/report_builder from the aggregator's
// final rows and the history the run kept (core/history), the same way
// for a live run and for a replayed recording. Pure data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/aggregator.h"
#include "core/leak_verdict.h"
#include "core/model.h"

namespace treetrace {

// One point of a memory series. After downsampling a point stands for a
// span of samples: min and max bound them, bytes is the last.
struct RssPoint {
  uint64_t ts_ns = 0;
  uint64_t bytes = 0;
  uint64_t min_bytes = 0;
  uint64_t max_bytes = 0;
};

// How a process ended, for the timeline.
enum class ProcessEnd : uint8_t { Running, Exited, Failed, Signaled, OomKilled };

struct ProcessHistory {
  ProcKey key;
  uint32_t ppid = 0;
  std::string comm;
  std::string group;   // the row (TreeReport) it belongs to: ReportGroup::name
  uint64_t end_ns = 0; // exit; 0 while running at the report's end
  ProcessEnd end = ProcessEnd::Running;
  int exit_code = 0;
  int signal = 0;
  uint64_t cpu_ns = 0;
  uint64_t rss_peak_bytes = 0;
  std::vector<RssPoint> rss; // sorted by ts_ns; empty for processes too short to sample
};

struct CommCpu {
  std::string comm;
  uint64_t cpu_ns = 0; // in this tick's interval
};

// One --interval snapshot of a group.
struct GroupTick {
  uint64_t ts_ns = 0;
  uint64_t interval_ns = 0; // since the previous tick of this group
  uint64_t procs_live = 0;
  uint64_t rss_bytes = 0;                      // sum of live members' RSS: counts shared pages once per member
  std::optional<uint64_t> pss_bytes;           // sum of live members' PSS
  std::optional<uint64_t> memcg_current_bytes; // what the memory cgroup charges
  std::optional<uint64_t> memcg_limit_bytes;   // nullopt: none or unknown
  uint64_t cpu_ns = 0;                         // used in the interval, all members
  std::vector<CommCpu> by_comm;                // the interval's CPU by command, descending
};

// A process that was judged and not flagged, with why (shown in the JSON
// and in --verbose text).
struct LeakJudgement {
  ProcKey key;
  std::string comm;
  bool judged = false; // lived long enough and had enough samples
  bool leaking = false;
  double rate_bytes_per_s = 0;
  double r2 = 0;
  double window_s = 0;
  uint64_t baseline_bytes = 0; // the fitted baseline at the end of the window
  std::string reason;          // "rate below threshold", "poor fit", "too short (12 s < 30 s)"...
};

struct Advice {
  uint32_t cpu_request_millicores = 0;
  std::optional<uint32_t> cpu_limit_millicores; // nullopt: no limit advised
  uint64_t memory_request_bytes = 0;            // rounded up to Mi
  uint64_t memory_limit_bytes = 0;              // rounded up to Mi
  std::string basis;                            // "pss", "memcg", or "rss" (when nothing better was measured)
  size_t samples = 0;                           // ticks the advice rests on
  double duration_s = 0;                        // time the samples span
  bool low_confidence = false;
  std::string confidence_note; // why low, e.g. "covers 60 s < 24 h"
  bool oom_bumped = false;     // the memory figures were raised after an OOM kill
  // The anchors' figures, for the table: VPA, KRR and DivBase.
  struct Method {
    std::string name;
    uint32_t cpu_request_millicores = 0;
    std::optional<uint32_t> cpu_limit_millicores;
    uint64_t memory_request_bytes = 0;
    std::optional<uint64_t> memory_limit_bytes;
  };
  std::vector<Method> methods;
};

struct ReportGroup {
  std::string name;  // tree "1234 gunicorn", or the group key
  TreeReport totals; // the final row: CPU, peaks, by-command, OOMs
  std::vector<GroupTick> ticks;
  std::vector<size_t> processes; // indexes into ReportModel::processes
  std::vector<LeakVerdict> leaks;
  std::vector<LeakJudgement> judgements;
  std::optional<Advice> advice; // nullopt: too few ticks to say anything
  std::vector<OomVictim> oom_victims;
};

struct ReportMeta {
  std::string version; // treetrace that recorded
  std::string hostname;
  std::string kernel;    // uname release
  std::string command;   // run-a-command mode; empty for a node trace
  std::string group_by;  // "tree", "container", ...
  uint64_t start_ns = 0; // CLOCK_BOOTTIME
  uint64_t end_ns = 0;
  int64_t realtime_offset_ns = 0; // add to CLOCK_BOOTTIME for wall-clock time
  uint64_t interval_ns = 0;
  bool cut_short = false; // the recording ended without its end marker
  std::string cut_note;   // what happened: "ended after the last flushed frame (killed?)"
  uint64_t records = 0;
  uint64_t records_lost = 0;
  uint64_t processes_not_kept = 0; // histories dropped to bound memory (still in the totals)
  uint64_t groups_not_shown = 0;   // rows past ReportConfig::max_groups
};

struct ReportModel {
  ReportMeta meta;
  std::vector<ReportGroup> groups; // by CPU, descending
  std::vector<ProcessHistory> processes;
};

} // namespace treetrace
