// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Per-process and per-tree accounting built from decoded events.
//
// Model (documented for users in docs/accounting.md):
//  - A process is (pid, start_ns); PID reuse never mixes two processes.
//  - A process belongs for life to the tree it was born into, even after it
//    is reparented to init or to a subreaper. Threads fold into their
//    process; exec keeps the process in its tree and records the old comm.
//  - Tree CPU is the sum over every member ever seen, live and exited, and
//    never decreases.
//  - Tree RSS is the sum of live members' RSS: an upper bound, because
//    pages shared between members are counted once per member. PSS, set
//    from /proc by the caller, is the honest share.
//  - State of an exited process is folded into its tree and freed; only a
//    bounded number of per-process reports are kept for --verbose.
//
// Pure C++: no libbpf, no /proc access, no clocks. Time comes from events
// and from the `now_ns` arguments (CLOCK_BOOTTIME).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/account.h"
#include "core/groups.h"
#include "core/leak_verdict.h"
#include "core/model.h"

namespace treetrace {

struct AggregatorConfig {
  // Live processes tracked individually. Past this, new processes are
  // counted in AggregatorStats::procs_untracked and not attributed.
  size_t max_live_procs = 1 << 17;
  // Trees kept (live or finished). When full, the finished tree that ended
  // first is evicted and counted in AggregatorStats::trees_evicted.
  size_t max_trees = 1 << 14;
  // Distinct command names kept per tree; the rest fold into "[other]".
  size_t max_comms_per_tree = 64;
  // Per-process reports of exited processes kept for --verbose, in total.
  size_t max_exited_reports = 4096;
  // Node-wide mode: a child of init (ppid 1, or ppid 0) roots its own tree
  // even though init itself is traced.
  bool init_children_are_roots = false;
  // What one row of snapshot() and final_report() is. Trees are always
  // kept (records are attributed to them); other groups are kept beside
  // them, at most max_trees of them.
  GroupBy group_by = GroupBy::Tree;
  // For container, pod, unit and cgroup: the group key of a cgroup id, ""
  // when it belongs to no such group. Called when a process is admitted
  // and when its cgroup changes; the caller caches.
  std::function<std::string(uint64_t cgroup_id)> cgroup_group_key;
};

// How the aggregator first learned of a process.
enum class LearnedVia : uint8_t {
  Fork,     // its fork was seen
  Existing, // found running at startup
  Inferred, // first seen in an exec/sample/exit record (e.g. after lost events)
};
const char *to_string(LearnedVia v);

struct ProcessReport {
  ProcKey key;
  uint32_t ppid = 0;
  std::string comm;
  std::vector<std::string> comm_history; // earlier comms, oldest first (bounded)
  LearnedVia learned_via = LearnedVia::Fork;
  bool live = true;
  uint64_t cpu_ns = 0;
  uint64_t rss_bytes = 0;       // latest (at exit for exited processes)
  uint64_t rss_first_bytes = 0; // first RSS observed: growth = rss_bytes - this
  uint64_t rss_peak_bytes = 0;
  uint64_t rss_avg_bytes = 0;   // time-weighted over the observed lifetime
  uint64_t wall_ns = 0;         // exit ts (or now) - start_ns
  std::optional<int> exit_code; // set when exited normally
  std::optional<int> signal;    // set when killed
  ProcActivity activity;        // faults and context switches, as of the last record
  bool oom_killed = false;
};

// A process the OOM killer killed, as reports name it.
struct OomVictim {
  ProcKey key;
  ProcKey tree;
  std::string comm;
  uint64_t ts_ns = 0;
  std::optional<uint64_t> rss_bytes; // at the kill; unknown when only the exit record told of it
};

// One row of a snapshot: a tree, or a group (see AggregatorConfig::group_by).
struct TreeReport {
  ProcKey root;           // trees only
  std::string root_comm;  // trees only
  std::string group;      // groups only: the key
  uint64_t cgroup_id = 0; // groups only: a member's cgroup, for identity
  uint64_t procs_total = 0;
  uint64_t procs_live = 0;
  uint64_t cpu_ns = 0;               // all members ever, live and exited; monotonic
  uint64_t cpu_interval_ns = 0;      // since the previous snapshot() of this tree
  uint64_t rss_bytes = 0;            // sum of live members' RSS (upper bound)
  std::optional<uint64_t> pss_bytes; // sum of live members' PSS, when measured
  uint64_t rss_peak_bytes = 0;       // highest value the live RSS sum reached
  uint64_t rss_avg_bytes = 0;        // time-weighted average of the live RSS sum
  uint64_t proc_rss_peak_bytes = 0;  // largest single-process peak RSS
  uint64_t oom_kills = 0;            // members killed by the OOM killer
  // What the memory controller charges the group's cgroup, when the group
  // is one cgroup (container, pod, unit, cgroup) and the files exist:
  // v2 memory.current/memory.peak/memory.max, v1 memory.usage_in_bytes/
  // max_usage_in_bytes/limit_in_bytes. Set by the caller, like pss_bytes.
  std::optional<uint64_t> memcg_current_bytes;
  std::optional<uint64_t> memcg_peak_bytes;
  std::optional<uint64_t> memcg_limit_bytes; // nullopt: no limit (or unknown)
  uint64_t first_ts_ns = 0;                  // root start (or first sight)
  uint64_t last_ts_ns = 0;                   // last event, or the last member's exit
  std::vector<CommUsage> by_comm;            // sorted by cpu_ns descending
  // Members whose RSS baseline grows steadily, judged over what was seen
  // so far (core/live_leaks); set by the caller, empty until a process has
  // lived and been sampled long enough to judge.
  std::vector<LeakVerdict> leaks;
  std::vector<ProcessReport> processes; // filled only when asked for
};

// What an event means in tree terms, returned to the caller for output.
struct Attribution {
  ProcKey tree_root;
  bool tracked = false;       // false when the process could not be tracked
  uint64_t rss_avg_bytes = 0; // for exit events: the process's lifetime average
  std::string group;          // its group's key when rows are groups (not trees)
};

struct AggregatorStats {
  uint64_t events = 0;
  uint64_t procs_seen = 0;
  uint64_t procs_untracked = 0; // live table full
  uint64_t procs_inferred = 0;  // first seen without fork/existing record
  uint64_t trees_evicted = 0;   // finished trees dropped when max_trees was hit
  uint64_t exited_reports_dropped = 0;
  uint64_t stale_events = 0;           // records for a (pid,start) already exited
  uint64_t procs_recovered = 0;        // admitted by reconcile() after lost records
  uint64_t exits_lost = 0;             // live processes whose PID was reused before their exit record came
  uint64_t oom_kills_unattributed = 0; // oom_kill records of processes not tracked here
  uint64_t oom_victims_dropped = 0;    // victims beyond the kept list (still counted in oom_kills)
  uint64_t groups_evicted = 0;         // finished groups dropped when max_trees groups were kept
  uint64_t groups_overflowed = 0;      // processes put in "[other]" because every group was live
};

class Aggregator {
public:
  explicit Aggregator(AggregatorConfig config = {});
  ~Aggregator();
  Aggregator(const Aggregator &) = delete;
  Aggregator &operator=(const Aggregator &) = delete;

  // Feed one event. Events of one process arrive in order; events of
  // different processes may interleave in any order (per-CPU ring buffer
  // submission), e.g. a child's exec before its parent's fork record.
  Attribution on_event(const Event &event);

  // Startup: call after all EXISTING records have been fed, so parents found
  // later in the scan can adopt children found earlier.
  void finish_startup_scan();

  // Snapshot of every tree with at least one live member, sorted by
  // cpu_interval_ns descending; resets the interval baselines.
  std::vector<TreeReport> snapshot(uint64_t now_ns, bool with_processes = false);

  // Every tree ever seen (live and finished), for the final report.
  std::vector<TreeReport> final_report(uint64_t now_ns, bool with_processes = false) const;

  // The tree a live process belongs to, if tracked.
  std::optional<ProcKey> tree_of(const ProcKey &proc) const;
  std::optional<TreeReport> tree(const ProcKey &root, uint64_t now_ns, bool with_processes = false) const;

  // A process the live system says is running, for reconcile().
  struct LiveProcess {
    ProcKey key;
    uint32_t ppid = 0;
    std::string comm;
  };
  // After lost records, makes the live set match the system's: members not
  // in `live` are retired (their exit record was lost; counted in
  // exits_lost), and processes in `live` that are unknown are admitted
  // (counted in procs_recovered). Returns how many changed.
  size_t reconcile(const std::vector<LiveProcess> &live, uint64_t now_ns);

  // Live members of a tree, for the PSS reader.
  std::vector<ProcKey> live_members(const ProcKey &root) const;
  struct LiveMember {
    ProcKey key;
    uint64_t rss_bytes = 0; // as of its last record
  };
  std::vector<LiveMember> live_members_with_rss(const ProcKey &root) const;
  // nullopt: the tree could not be measured whole this time.
  void set_tree_pss(const ProcKey &root, std::optional<uint64_t> pss_bytes);
  // The same for any row of snapshot(), tree or group.
  std::vector<LiveMember> live_members_with_rss(const TreeReport &row) const;
  void set_pss(const TreeReport &row, std::optional<uint64_t> pss_bytes);
  GroupBy group_by() const;

  // The processes the OOM killer killed (the latest ones, bounded), oldest first.
  std::vector<OomVictim> oom_victims() const;

  size_t live_procs() const;
  size_t trees() const;
  const AggregatorStats &stats() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace treetrace
