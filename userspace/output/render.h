// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Renders events, tree reports and summaries as aligned text or JSON Lines.
// Every function returns complete lines ending in '\n'. No libbpf, no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/aggregator.h"
#include "core/model.h"
#include "util/cgroup_identity.h"

namespace treetrace {

enum class OutputFormat { Text, Json };

struct RenderContext {
  OutputFormat format = OutputFormat::Text;
  // cgroup id -> v2 path ("/system.slice/x.service"); nullopt if unknown.
  std::function<std::optional<std::string>(uint64_t)> cgroup_path;
  // (hierarchy id, cgroup id) of a memory cgroup -> its path; hierarchy 0 is cgroup v2.
  std::function<std::optional<std::string>(uint32_t, uint64_t)> memcg_path;
  // cgroup id -> container, pod and unit; nullopt if unknown.
  std::function<std::optional<CgroupIdentity>(uint64_t)> identity;
  // What the rows of render_trees() are.
  GroupBy group_by = GroupBy::Tree;
  // CLOCK_REALTIME - CLOCK_BOOTTIME, for wall-clock times in text output.
  int64_t realtime_offset_ns = 0;
};

std::string render_event(const Event &event, const Attribution &attribution, const RenderContext &ctx);

// render_event() for the stream's hot path: appends to a buffer the caller
// reuses, and renders what a header says about its cgroup (path and
// identity, JSON only) once per cgroup instead of once per record.
class EventRenderer {
public:
  explicit EventRenderer(const RenderContext &ctx);
  ~EventRenderer();
  EventRenderer(const EventRenderer &) = delete;
  EventRenderer &operator=(const EventRenderer &) = delete;

  void append(std::string &out, const Event &event, const Attribution &attribution);

private:
  static constexpr size_t kMaxCgroups = 4096;
  const std::string &cgroup_members(uint64_t cgroup_id);

  const RenderContext &ctx_;
  std::unordered_map<uint64_t, std::string> cgroup_members_;
  std::string scratch_;
};
// The column header of the text event stream; empty for JSON.
std::string render_event_columns(const RenderContext &ctx);

// A group row's name: its key, or a word for the processes in no such
// group ("(no pod)"). Text, JSON and the metrics' group label all use it.
std::string group_label(const TreeReport &row, GroupBy by);

// One `tree` record per tree (JSON), or one aligned table (text).
std::string render_trees(const std::vector<TreeReport> &trees, uint64_t now_ns, bool final_report,
                         const RenderContext &ctx);

struct LossReport {
  uint64_t attempts = 0;        // records the kernel tried to emit
  uint64_t delivered = 0;       // records userspace received
  uint64_t dropped_kernel = 0;  // ring buffer full
  uint64_t dropped_output = 0;  // lines dropped because stdout was too slow
  uint64_t proc_table_full = 0; // processes the kernel could not track
  uint64_t procs_untracked = 0; // processes userspace could not track
  uint64_t lost() const;        // the sum over kLossCauses
};

// Every cause of loss, in one list for JSON, text and the metrics.
struct LossCause {
  const char *json_field;   // in `lost` and `summary` records
  const char *metric_cause; // treetrace_records_lost_total{cause=...}
  uint64_t LossReport::*member;
};
inline constexpr LossCause kLossCauses[] = {
    {"dropped_kernel", "ring_buffer_full", &LossReport::dropped_kernel},
    {"dropped_output", "output_too_slow", &LossReport::dropped_output},
    {"proc_table_full", "proc_table_full", &LossReport::proc_table_full},
    {"procs_untracked", "procs_untracked", &LossReport::procs_untracked},
};

std::string render_lost(const LossReport &loss, uint64_t now_ns, const RenderContext &ctx);

struct RunSummary {
  std::optional<std::string> command;  // run-a-command mode
  std::optional<int> exit_code;        // of the command
  std::optional<int> signal;           // that killed the command
  std::optional<ProcKey> command_tree; // the command's tree, when the report is of it alone
  std::string stop_reason;             // why the run ended early ("max-size"); empty otherwise
  uint64_t procs = 0;
  uint64_t cpu_ns = 0;
  uint64_t rss_peak_bytes = 0; // largest per-process peak
  uint64_t wall_ns = 0;
  LossReport loss;
  std::vector<CommUsage> by_comm;
  uint64_t oom_kills = 0;
  std::vector<OomVictim> oom_victims; // the latest ones, bounded
};

std::string render_summary(const RunSummary &summary, uint64_t now_ns, const RenderContext &ctx);

} // namespace treetrace
