// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "loader/live_state.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/proc_parse.h"

namespace treetrace {
namespace {

std::optional<MemcgGroupKind> memcg_kind(GroupBy g) {
  switch (g) {
  case GroupBy::Cgroup:
    return MemcgGroupKind::Cgroup;
  case GroupBy::Container:
    return MemcgGroupKind::Container;
  case GroupBy::Pod:
    return MemcgGroupKind::Pod;
  case GroupBy::Unit:
    return MemcgGroupKind::Unit;
  case GroupBy::Tree:
  case GroupBy::Comm:
    break;
  }
  return std::nullopt;
}

// Members whose /proc/PID/cgroup is asked per row: enough to see members
// that disagree, few enough to keep a refresh cheap at 1000 groups.
constexpr size_t kMemcgMembersAsked = 4;
constexpr size_t kMemcgMembersTried = 8; // members that exited meanwhile are passed over

} // namespace

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
  measure_memcg(trees);
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
  measure_memcg(trees);
  return trees;
}

std::vector<TreeReport> LiveState::rows_for_sinks(uint64_t now_ns, bool with_processes) {
  refresh();
  std::vector<TreeReport> rows = aggregator_.final_report(now_ns, with_processes || options_.with_processes);
  if (!pss_read_at_ns_)
    measure_pss(rows, now_ns); // the first one only: later, after each collection
  // Unlike PSS, a memory cgroup's figures are three small files: read
  // them at every collection, so that a scrape shows them as they are.
  measure_memcg(rows);
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

namespace treetrace {

// The row's memory cgroup, from its key and what a few live members'
// /proc/PID/cgroup say (util/memcg.h group_memcg_path explains the choice).
std::optional<std::string> LiveState::memcg_path_of(const TreeReport &row, MemcgGroupKind kind, bool v1) {
  std::vector<std::string> paths;
  // On cgroup v2 a cgroup row is its memory cgroup: the key says which.
  if (kind != MemcgGroupKind::Cgroup || v1) {
    size_t tried = 0;
    for (const auto &m : aggregator_.live_members_with_rss(row)) {
      if (paths.size() >= kMemcgMembersAsked || tried >= kMemcgMembersTried)
        break;
      ++tried;
      auto text = read_proc_file(static_cast<int>(m.key.pid), "cgroup", 16 * 1024);
      if (!text)
        continue; // exited meanwhile
      auto path = memcg_path_from_proc_cgroup(*text, v1);
      if (!path)
        return std::nullopt; // a member we cannot place: no figure rather than another cgroup's
      paths.push_back(std::move(*path));
    }
    if (paths.empty())
      return std::nullopt;
  }
  return group_memcg_path(kind, row.group, v1, paths);
}

void LiveState::measure_memcg(std::vector<TreeReport> &rows) {
  const std::optional<MemcgGroupKind> kind = memcg_kind(aggregator_.group_by());
  if (!kind)
    return; // trees and commands are no cgroup: their memcg_* stay nullopt
  if (!memcg_located_) {
    memcg_located_ = true;
    const std::string mountinfo = read_text_file("/proc/self/mountinfo").value_or("");
    memcg_hierarchy_ =
        find_memcg_hierarchy(mountinfo, [](const std::string &path) { return read_text_file(path.c_str(), 4096); });
    if (const long page = sysconf(_SC_PAGESIZE); page > 0)
      page_size_ = static_cast<uint64_t>(page);
    if (memcg_hierarchy_)
      spdlog::debug("memory cgroup figures from cgroup {} at {}", memcg_hierarchy_->v1 ? "v1" : "v2",
                    memcg_hierarchy_->mount);
    else
      spdlog::debug("no memory controller in /proc/self/mountinfo: groups carry no memory cgroup figures");
  }
  if (!memcg_hierarchy_)
    return;
  const bool v1 = memcg_hierarchy_->v1;
  uint32_t budget = options_.memcg_row_budget;
  uint64_t skipped = 0, candidates = 0;
  for (auto &row : rows) {
    row.memcg_current_bytes.reset();
    row.memcg_peak_bytes.reset();
    row.memcg_limit_bytes.reset();
    // A group with no live member may have no cgroup left; "" is the row
    // of processes in no group.
    if (row.procs_live == 0 || row.group.empty())
      continue;
    ++candidates;
    if (budget == 0) {
      ++skipped;
      continue;
    }
    --budget;
    const std::optional<std::string> path = memcg_path_of(row, *kind, v1);
    if (!path)
      continue;
    int error = 0;
    const std::optional<MemcgFigures> f = read_memcg_figures(*memcg_hierarchy_, *path, page_size_, &error);
    if (!f) {
      // ENOENT: gone meanwhile, or (v2) the controller is not enabled for
      // this cgroup; anything else is worth a word, once.
      if (error == ENOENT) {
        if (!noted_memcg_absent_)
          spdlog::debug("no memory cgroup figures for {}: {}{} has no usage file", row.group, memcg_hierarchy_->mount,
                        *path);
        noted_memcg_absent_ = true;
      } else {
        if (!warned_memcg_unreadable_)
          spdlog::warn("memory cgroup figures not reported for {}: {}{}: {}", row.group, memcg_hierarchy_->mount, *path,
                       std::strerror(error));
        warned_memcg_unreadable_ = true;
      }
      continue;
    }
    row.memcg_current_bytes = f->current_bytes;
    row.memcg_peak_bytes = f->peak_bytes;
    row.memcg_limit_bytes = f->limit_bytes;
  }
  if (skipped) {
    memcg_rows_skipped_ += skipped;
    if (!warned_memcg_budget_)
      spdlog::warn("memory cgroup figures not read for {} of {} groups: at most {} per refresh", skipped, candidates,
                   options_.memcg_row_budget);
    else
      spdlog::debug("memory cgroup figures skipped for {} groups ({} so far)", skipped, memcg_rows_skipped_);
    warned_memcg_budget_ = true;
  }
}

} // namespace treetrace
