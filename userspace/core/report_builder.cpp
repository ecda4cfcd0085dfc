// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "core/report_builder.h"

#include <algorithm>

namespace treetrace {
namespace {

// What the group's memory is, by the best measure the tick has.
uint64_t tick_memory(const GroupTick &t) {
  if (t.memcg_current_bytes)
    return *t.memcg_current_bytes;
  if (t.pss_bytes)
    return *t.pss_bytes;
  return t.rss_bytes;
}

} // namespace

GroupLeaks judge_group(const std::vector<const ProcessHistory *> &members, uint64_t end_ns,
                       const std::vector<GroupTick> &ticks, const TreeReport &row,
                       const std::function<std::optional<Advice>()> &advice, const LeakConfig &config) {
  GroupLeaks out;
  bool any_leak = false;
  for (const ProcessHistory *p : members) {
    const uint64_t end = p->end_ns ? p->end_ns : end_ns;
    LeakJudgement j = judge_leak(p->key, p->comm, p->rss, p->key.start_ns, end, config);
    any_leak |= j.leaking;
    if (j.judged || p->rss.size() >= 2)
      out.judgements.push_back(std::move(j));
  }
  if (!any_leak)
    return out;
  // Time to the limit: the cgroup's where one is known, else the advised one.
  std::optional<uint64_t> limit;
  std::string limit_source;
  uint64_t current = 0;
  if (!ticks.empty()) {
    current = tick_memory(ticks.back());
    limit = ticks.back().memcg_limit_bytes;
  }
  if (!limit && row.memcg_limit_bytes)
    limit = row.memcg_limit_bytes;
  if (limit) {
    limit_source = "memcg";
  } else if (std::optional<Advice> a = advice()) {
    limit = a->memory_limit_bytes;
    limit_source = "advice";
  }
  out.leaks = leak_verdicts(out.judgements, limit, limit_source, current);
  return out;
}

std::string row_name(const TreeReport &row, GroupBy group_by) {
  if (group_by != GroupBy::Tree)
    return row.group.empty() ? std::string("(none)") : row.group;
  return row.root_comm + " (pid " + std::to_string(row.root.pid) + ")";
}

ReportModel build_report(const History &history, const std::vector<TreeReport> &final_rows,
                         const std::vector<OomVictim> &oom_victims, GroupBy group_by, ReportMeta meta,
                         const ReportConfig &config) {
  ReportModel model;
  model.meta = std::move(meta);
  model.meta.processes_not_kept = history.processes_dropped();

  std::vector<const TreeReport *> rows;
  for (const TreeReport &r : final_rows)
    rows.push_back(&r);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const TreeReport *a, const TreeReport *b) { return a->cpu_ns > b->cpu_ns; });
  if (rows.size() > config.max_groups) {
    model.meta.groups_not_shown = rows.size() - config.max_groups;
    rows.resize(config.max_groups);
  }

  // Processes by row key, oldest first.
  std::unordered_map<std::string, std::vector<const ProcessHistory *>> by_row;
  for (const auto &[key, p] : history.processes())
    by_row[p.group].push_back(&p);

  for (const TreeReport *row : rows) {
    ReportGroup g;
    const std::string key = History::row_key(*row, group_by);
    g.name = row_name(*row, group_by);
    g.totals = *row;
    g.totals.processes.clear();
    if (auto it = history.rows().find(key); it != history.rows().end())
      g.ticks = it->second.ticks;
    auto members = by_row[key];
    std::sort(members.begin(), members.end(), [](const ProcessHistory *a, const ProcessHistory *b) {
      return a->key.start_ns != b->key.start_ns ? a->key.start_ns < b->key.start_ns : a->key.pid < b->key.pid;
    });
    for (const ProcessHistory *p : members) {
      g.processes.push_back(model.processes.size());
      ProcessHistory copy = *p;
      copy.group = g.name;
      model.processes.push_back(std::move(copy));
    }
    for (const OomVictim &v : oom_victims) {
      bool ours = v.tree == row->root;
      if (group_by != GroupBy::Tree) {
        auto it = history.processes().find(v.key);
        ours = it != history.processes().end() && it->second.group == key;
      }
      if (ours)
        g.oom_victims.push_back(v);
    }

    std::optional<uint64_t> memcg_peak = row->memcg_peak_bytes;
    g.advice = advise(g.ticks, row->oom_kills, memcg_peak, config.advice);

    std::vector<const ProcessHistory *> judged;
    for (size_t idx : g.processes)
      judged.push_back(&model.processes[idx]);
    GroupLeaks leaks = judge_group(
        judged, model.meta.end_ns, g.ticks, *row, [&] { return g.advice; }, config.leak);
    g.judgements = std::move(leaks.judgements);
    g.leaks = std::move(leaks.leaks);
    model.groups.push_back(std::move(g));
  }
  return model;
}

} // namespace treetrace
