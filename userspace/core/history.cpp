// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "core/history.h"

#include <algorithm>
#include <sys/wait.h>
#include <unordered_set>

namespace treetrace {
namespace {

std::string tree_key(const ProcKey &root) { return std::to_string(root.pid) + ":" + std::to_string(root.start_ns); }

// Halves a series: each pair becomes one point holding both spans.
void merge_points(std::vector<RssPoint> &points) {
  size_t out = 0;
  for (size_t i = 0; i + 1 < points.size(); i += 2) {
    const RssPoint &a = points[i], &b = points[i + 1];
    points[out++] = {b.ts_ns, b.bytes, std::min(a.min_bytes, b.min_bytes), std::max(a.max_bytes, b.max_bytes)};
  }
  if (points.size() % 2)
    points[out++] = points.back();
  points.resize(out);
}

template <class T> std::optional<T> max_opt(const std::optional<T> &a, const std::optional<T> &b) {
  if (a && b)
    return std::max(*a, *b);
  return a ? a : b;
}

void merge_ticks(std::vector<GroupTick> &ticks) {
  size_t out = 0;
  for (size_t i = 0; i + 1 < ticks.size(); i += 2) {
    GroupTick a = std::move(ticks[i]);
    const GroupTick &b = ticks[i + 1];
    a.ts_ns = b.ts_ns;
    a.interval_ns += b.interval_ns;
    a.procs_live = std::max(a.procs_live, b.procs_live);
    a.rss_bytes = std::max(a.rss_bytes, b.rss_bytes);
    a.pss_bytes = max_opt(a.pss_bytes, b.pss_bytes);
    a.memcg_current_bytes = max_opt(a.memcg_current_bytes, b.memcg_current_bytes);
    a.memcg_limit_bytes = b.memcg_limit_bytes;
    a.cpu_ns += b.cpu_ns;
    for (const CommCpu &c : b.by_comm) {
      auto it = std::find_if(a.by_comm.begin(), a.by_comm.end(), [&](const CommCpu &x) { return x.comm == c.comm; });
      if (it == a.by_comm.end())
        a.by_comm.push_back(c);
      else
        it->cpu_ns += c.cpu_ns;
    }
    ticks[out++] = std::move(a);
  }
  if (ticks.size() % 2)
    ticks[out++] = std::move(ticks.back());
  ticks.resize(out);
}

} // namespace

History::History(GroupBy group_by, uint64_t start_ns, HistoryConfig config)
    : group_by_(group_by), config_(config), last_snapshot_ns_(start_ns) {}

std::string History::row_key(const TreeReport &row, GroupBy group_by) {
  return group_by == GroupBy::Tree ? tree_key(row.root) : row.group;
}

void History::make_room() {
  while (procs_.size() >= config_.max_processes && !exited_.empty()) {
    const ProcKey victim = exited_.front();
    exited_.pop_front();
    auto it = procs_.find(victim);
    if (it != procs_.end() && it->second.rss.size() < 2) { // short-lived: a bar, not a line
      procs_.erase(it);
      processes_dropped_++;
    }
  }
}

ProcessHistory *History::process(const ProcKey &key, const Attribution &attribution) {
  auto it = procs_.find(key);
  if (it != procs_.end())
    return &it->second;
  if (!attribution.tracked)
    return nullptr;
  make_room();
  if (procs_.size() >= config_.max_processes) {
    processes_dropped_++;
    return nullptr;
  }
  ProcessHistory &p = procs_[key];
  p.key = key;
  p.group = group_by_ == GroupBy::Tree ? tree_key(attribution.tree_root) : attribution.group;
  return &p;
}

void History::add_point(ProcessHistory &p, uint64_t ts_ns, uint64_t rss_bytes) {
  if (ts_ns < config_.since_ns || ts_ns > config_.until_ns)
    return;
  if (!p.rss.empty() && ts_ns < p.rss.back().ts_ns)
    return; // a refresh row older than the last sample adds nothing
  p.rss.push_back({ts_ns, rss_bytes, rss_bytes, rss_bytes});
  if (p.rss.size() > config_.max_points)
    merge_points(p.rss);
}

void History::on_event(const Event &event, const Attribution &attribution) {
  if (const auto *fork = std::get_if<ForkEvent>(&event)) {
    if (ProcessHistory *child = process(fork->child, attribution)) {
      child->ppid = fork->hdr.proc.pid;
      if (child->comm.empty())
        child->comm = fork->hdr.comm;
    }
    return;
  }
  const EventHeader &h = std::visit([](const auto &e) -> const EventHeader & { return e.hdr; }, event);
  if (std::holds_alternative<OomKillEvent>(event))
    return; // the exit record that follows says how it ended
  ProcessHistory *p = process(h.proc, attribution);
  if (!p)
    return;
  p->ppid = h.ppid;
  p->comm = h.comm;
  if (!attribution.group.empty())
    p->group = attribution.group;
  if (const auto *s = std::get_if<SampleEvent>(&event)) {
    p->cpu_ns = s->counters.cpu_ns;
    p->rss_peak_bytes = std::max(p->rss_peak_bytes, s->counters.rss_peak_bytes);
    add_point(*p, h.ts_ns, s->counters.rss_bytes);
  } else if (const auto *x = std::get_if<ExitEvent>(&event)) {
    p->cpu_ns = x->counters.cpu_ns;
    p->rss_peak_bytes = std::max(p->rss_peak_bytes, x->counters.rss_peak_bytes);
    p->end_ns = h.ts_ns;
    p->exit_code = x->exit_code;
    p->signal = x->signal;
    p->end = x->oom_killed  ? ProcessEnd::OomKilled
             : x->signal    ? ProcessEnd::Signaled
             : x->exit_code ? ProcessEnd::Failed
                            : ProcessEnd::Exited;
    if (config_.only_alive)
      procs_.erase(p->key);
    else
      exited_.push_back(p->key);
  }
}

void History::on_snapshot(const std::vector<TreeReport> &rows, uint64_t now_ns) {
  const uint64_t interval = now_ns > last_snapshot_ns_ ? now_ns - last_snapshot_ns_ : 0;
  last_snapshot_ns_ = now_ns;
  const bool in_window = now_ns >= config_.since_ns && now_ns <= config_.until_ns;
  for (const TreeReport &row : rows) {
    const std::string key = row_key(row, group_by_);
    auto &comm_cpu = comm_cpu_[key];
    GroupTick t;
    t.ts_ns = now_ns;
    t.interval_ns = interval;
    t.procs_live = row.procs_live;
    t.rss_bytes = row.rss_bytes;
    t.pss_bytes = row.pss_bytes;
    t.memcg_current_bytes = row.memcg_current_bytes;
    t.memcg_limit_bytes = row.memcg_limit_bytes;
    t.cpu_ns = row.cpu_interval_ns;
    for (const CommUsage &c : row.by_comm) {
      uint64_t &before = comm_cpu[c.comm];
      if (c.cpu_ns > before)
        t.by_comm.push_back({c.comm, c.cpu_ns - before});
      before = c.cpu_ns;
    }
    std::sort(t.by_comm.begin(), t.by_comm.end(),
              [](const CommCpu &a, const CommCpu &b) { return a.cpu_ns > b.cpu_ns; });
    if (!in_window)
      continue;
    auto it = rows_.find(key);
    if (it == rows_.end()) {
      if (rows_.size() >= config_.max_rows) {
        rows_dropped_++;
        continue;
      }
      it = rows_.emplace(key, RowSeries{}).first;
    }
    it->second.ticks.push_back(std::move(t));
    if (it->second.ticks.size() > config_.max_ticks)
      merge_ticks(it->second.ticks);
  }
  if (config_.only_alive)
    forget_rows_not_in(rows);
}

void History::forget_rows_not_in(const std::vector<TreeReport> &rows) {
  std::unordered_set<std::string> present;
  for (const TreeReport &row : rows)
    present.insert(row_key(row, group_by_));
  std::erase_if(rows_, [&](const auto &entry) { return !present.count(entry.first); });
  std::erase_if(comm_cpu_, [&](const auto &entry) { return !present.count(entry.first); });
}

} // namespace treetrace
