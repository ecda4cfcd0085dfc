// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "core/live_leaks.h"

#include <optional>
#include <unordered_map>

#include "core/report_builder.h"

namespace treetrace {

LiveLeaks::LiveLeaks(GroupBy group_by, uint64_t start_ns, LiveLeaksConfig config)
    : group_by_(group_by), config_(config), history_(group_by, start_ns, config.history) {}

void LiveLeaks::on_event(const Event &event, const Attribution &attribution) {
  if (const auto *exit = std::get_if<ExitEvent>(&event)) {
    // The verdict the last snapshot gave it, not a new judgement: the
    // samples taken while a process exits (its heap freed, its memory
    // unmapped) are not its baseline, and would bend a fit made now.
    auto p = history_.processes().find(exit->hdr.proc);
    auto row = p != history_.processes().end() ? last_.find(p->second.group) : last_.end();
    if (row != last_.end()) {
      for (const LeakVerdict &v : row->second) {
        if (v.key != exit->hdr.proc)
          continue;
        if (exited_count_ >= config_.max_exited_verdicts) {
          exited_dropped_++;
          break;
        }
        LeakVerdict kept = v;
        kept.seconds_to_limit.reset(); // it holds nothing now
        kept.exited = true;
        exited_[row->first].push_back(std::move(kept));
        exited_count_++;
        break;
      }
    }
  }
  history_.on_event(event, attribution);
}

void LiveLeaks::judge_final(std::vector<TreeReport> &rows, uint64_t now_ns) {
  judge(rows, now_ns);
  for (TreeReport &row : rows)
    if (auto it = exited_.find(History::row_key(row, group_by_)); it != exited_.end())
      row.leaks.insert(row.leaks.end(), it->second.begin(), it->second.end());
}

void LiveLeaks::on_snapshot(std::vector<TreeReport> &rows, uint64_t now_ns) {
  history_.on_snapshot(rows, now_ns);
  judge(rows, now_ns);
}

void LiveLeaks::judge(std::vector<TreeReport> &rows, uint64_t now_ns) {
  // Only processes with enough samples can be judged; the rest cost nothing.
  std::unordered_map<std::string, std::vector<const ProcessHistory *>> candidates;
  for (const auto &[key, p] : history_.processes())
    if (!p.end_ns && p.rss.size() >= config_.leak.min_samples)
      candidates[p.group].push_back(&p);
  static const std::vector<GroupTick> no_ticks;
  std::unordered_map<std::string, std::vector<LeakVerdict>> verdicts;
  size_t budget = config_.max_judged_per_snapshot;
  const size_t n = rows.size();
  const size_t first = n ? next_row_ % n : 0;
  std::optional<size_t> first_deferred;
  for (size_t step = 0; step < n; ++step) {
    const size_t index = (first + step) % n;
    TreeReport &row = rows[index];
    const std::string key = History::row_key(row, group_by_);
    row.leaks.clear();
    auto it = candidates.find(key);
    if (it == candidates.end())
      continue;
    std::vector<const ProcessHistory *> &members = it->second;
    if (members.size() > budget && step > 0) {
      // Over the budget: this row keeps its previous verdicts, and the
      // next snapshot starts with it, so every row gets its turn.
      deferred_ += members.size();
      if (!first_deferred)
        first_deferred = index;
      if (auto last = last_.find(key); last != last_.end())
        row.leaks = last->second;
      verdicts[key] = row.leaks;
      continue;
    }
    if (members.size() > budget) {
      // One row alone over the whole budget: only part of it is judged.
      deferred_ += members.size() - budget;
      members.resize(budget);
    }
    budget -= members.size();
    auto series = history_.rows().find(key);
    const std::vector<GroupTick> &ticks = series != history_.rows().end() ? series->second.ticks : no_ticks;
    auto advice = [&] { return advise(ticks, row.oom_kills, row.memcg_peak_bytes, config_.advice); };
    row.leaks = judge_group(members, now_ns, ticks, row, advice, config_.leak).leaks;
    verdicts[key] = row.leaks;
  }
  next_row_ = first_deferred.value_or(0);
  last_ = std::move(verdicts);
}

} // namespace treetrace
