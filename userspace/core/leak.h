// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Which processes leak memory: a steady rise of the RSS baseline (the
// floor under allocation spikes), told apart from warm-up growth, one-off
// steps and oscillation. docs/report-method.md explains the method and
// its thresholds. Pure: judges a series the history kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/report_model.h"

namespace treetrace {

struct LeakConfig {
  // Not judged at all below these: a process must have lived, and been
  // observed, this long. Real leaks need minutes to show; 30 s still lets
  // a one-minute process sampled every second be judged.
  double min_lifetime_s = 30;
  // Points in the series (a downsampled point counts once).
  size_t min_samples = 20;

  // The observed span is cut into at most max_windows equal windows, each
  // at least min_window_s and min_window_samples sampling steps long, so
  // every window holds a few samples and its minimum steps over a 1-2 s
  // spike. Short runs get fewer windows; long runs get max_windows.
  size_t max_windows = 20;
  double min_window_s = 4;
  double min_window_samples = 3;
  // The leading share of the observed span left out of the fit: caches,
  // heaps and JITs fill there, and that growth stops.
  double warmup_fraction = 0.25;
  // Windows the fit needs after the warm-up (fewer only with gaps).
  size_t min_fit_windows = 5;

  // Flagged only when all hold:
  double min_rate_bytes_per_s = 1024.0 * 1024.0 / 3600.0; // 1 MiB/h
  double min_r2 = 0.8;                 // above a step's best 0.75 (r² = 3p(1-p) for a step at fraction p)
  uint64_t min_growth_bytes = 4 << 20; // over the fit: less is allocator and page-cache noise
  // The fit's last third (at least 4 windows) and its first half must each
  // grow at this share of the whole fit's rate: growth that stopped, or
  // came in one late burst, is not steady.
  double min_part_rate_fraction = 0.3;
};

// Judges one process's RSS series. start_ns and end_ns bound its life
// (end_ns: its exit, or the report's end while it runs); rss is sorted by
// ts_ns and read through min_bytes, the floor of each (downsampled) point.
// judged is false when the process lived or was observed too briefly, or
// had too few samples; reason says which, or why it was (not) flagged.
LeakJudgement judge_leak(const ProcKey &key, const std::string &comm, const std::vector<RssPoint> &rss,
                         uint64_t start_ns, uint64_t end_ns, const LeakConfig &config);

// The verdicts for one group's flagged judgements (leaking == true), in
// their order. group_limit_bytes is the limit the group's memory is held
// to (limit_source names it: "memcg" or "advice"; nullopt: none known),
// group_current_bytes the group's memory now. seconds_to_limit is the
// headroom over the summed rates of all the group's leaks, nullopt without
// a limit or when the group is already at or over it. siblings and
// sibling_median_rate_bytes_per_s compare each leak with the group's other
// judged processes.
std::vector<LeakVerdict> leak_verdicts(const std::vector<LeakJudgement> &judgements,
                                       std::optional<uint64_t> group_limit_bytes, std::string limit_source,
                                       uint64_t group_current_bytes);

} // namespace treetrace
