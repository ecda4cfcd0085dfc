// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "loader/live_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>

#include "util/proc_parse.h"

namespace treetrace {

LiveState::LiveState(Tracer &tracer, Aggregator &aggregator, Tracer::RecordHandler feed, LiveStateOptions options)
    : tracer_(tracer), aggregator_(aggregator), feed_(std::move(feed)), options_(options) {}

void LiveState::refresh() {
  RefreshStats stats;
  if (auto refreshed = tracer_.refresh(feed_, &stats); !refreshed) {
    // Live figures then lag as they did before refreshes existed; say so once.
    if (!warned_refresh_failed_)
      spdlog::warn("{}: live figures are as of each process's last sample", refreshed.error());
    warned_refresh_failed_ = true;
    return;
  }
  ++refreshes_;
  last_refresh_ = stats;
  spdlog::debug("refresh: {} processes in {:.0f} us (iterator {:.0f} us)", stats.processes, stats.total_us,
                stats.iterate_us);
}

std::vector<TreeReport> LiveState::snapshot(uint64_t now_ns) {
  refresh();
  std::vector<TreeReport> trees = aggregator_.snapshot(now_ns, options_.with_processes);
  measure_pss(trees, now_ns);
  return trees;
}

std::vector<TreeReport> LiveState::final_report(uint64_t now_ns, const std::optional<ProcKey> &tree) {
  refresh();
  std::vector<TreeReport> trees;
  // Groups other than trees are reported whole: a command's groups hold
  // only what the command's tree ran.
  if (tree && aggregator_.group_by() == GroupBy::Tree) {
    if (auto report = aggregator_.tree(*tree, now_ns, options_.with_processes))
      trees.push_back(std::move(*report));
  } else {
    trees = aggregator_.final_report(now_ns, options_.with_processes);
  }
  measure_pss(trees, now_ns);
  return trees;
}

std::vector<TreeReport> LiveState::rows_for_sinks(uint64_t now_ns, bool with_processes) {
  refresh();
  std::vector<TreeReport> rows = aggregator_.final_report(now_ns, with_processes || options_.with_processes);
  if (!pss_read_at_ns_)
    measure_pss(rows, now_ns); // the first one only: later, after each collection
  return rows;
}

void LiveState::refresh_pss_if_older(uint64_t now_ns, uint64_t max_age_ns) {
  if (pss_read_at_ns_ && now_ns - pss_read_at_ns_ < max_age_ns)
    return;
  std::vector<TreeReport> rows = aggregator_.final_report(now_ns, false);
  measure_pss(rows, now_ns);
}

void LiveState::measure_pss(std::vector<TreeReport> &trees, uint64_t now_ns) {
  pss_read_at_ns_ = now_ns;
  // Bounded: at most pss_budget smaps_rollup reads per refresh. A tree that
  // cannot be measured whole (over budget, or a member we may not read)
  // reports no PSS rather than a partial sum.
  uint32_t budget = options_.pss_budget;
  for (auto &tree : trees) {
    if (tree.procs_live == 0)
      continue;
    std::vector<Aggregator::LiveMember> members = aggregator_.live_members_with_rss(tree);
    tree.pss_bytes.reset();
    aggregator_.set_pss(tree, std::nullopt);
    if (members.size() > budget)
      continue;
    uint64_t pss = 0;
    bool complete = true;
    for (const auto &m : members) {
      budget--;
      int error = 0;
      auto text = read_proc_file(static_cast<int>(m.key.pid), "smaps_rollup", 64 * 1024, &error);
      if (!text) {
        if (error == EACCES || error == EPERM) {
          complete = false;
          if (!warned_pss_denied_)
            spdlog::warn("PSS not reported for trees with other users' processes: reading their smaps_rollup "
                         "needs CAP_SYS_PTRACE");
          warned_pss_denied_ = true;
          break;
        }
        continue; // the member exited meanwhile: it holds no memory
      }
      // A process's PSS never exceeds its RSS; the two reads differ only
      // by the per-CPU counter slack and what changed in between, so the
      // share is capped at the RSS the tree's sum uses.
      if (auto rollup = parse_smaps_rollup(*text))
        pss += std::min(rollup->pss_bytes, m.rss_bytes);
    }
    if (!complete)
      continue;
    aggregator_.set_pss(tree, pss);
    tree.pss_bytes = pss;
  }
}

} // namespace treetrace
