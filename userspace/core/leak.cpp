// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "core/leak.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/stats.h"

namespace treetrace {
namespace {

double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

std::string printed(const char *format, double a, double b = 0, double c = 0) {
  char text[128];
  std::snprintf(text, sizeof text, format, a, b, c);
  return text;
}

// The floor a point stands for. A raw point has min_bytes == bytes; one
// built without min_bytes falls back to bytes. 0 is no measurement (a
// kernel thread, or a process whose mm is already gone at exit), not a
// process that freed everything, and would pin its window's minimum.
uint64_t floor_bytes(const RssPoint &p) { return p.min_bytes ? p.min_bytes : p.bytes; }

// The typical step between samples: the median, so a pause in sampling
// or a few downsampled points do not set it.
double sampling_step_s(const std::vector<RssPoint> &rss) {
  std::vector<double> steps;
  steps.reserve(rss.size());
  for (size_t i = 1; i < rss.size(); ++i)
    if (rss[i].ts_ns > rss[i - 1].ts_ns)
      steps.push_back(seconds(rss[i].ts_ns - rss[i - 1].ts_ns));
  return median(std::move(steps));
}

// One window's minimum, placed at the time of the point that holds it:
// samples do not line up with window boundaries, and a fixed place (the
// window's middle) would bend a rising floor's slope by that jitter.
struct WindowFloor {
  double at_s = 0; // since the first sample
  double bytes = 0;
};

} // namespace

LeakJudgement judge_leak(const ProcKey &key, const std::string &comm, const std::vector<RssPoint> &rss,
                         uint64_t start_ns, uint64_t end_ns, const LeakConfig &config) {
  LeakJudgement j;
  j.key = key;
  j.comm = comm;

  const double lifetime_s = end_ns > start_ns ? seconds(end_ns - start_ns) : 0;
  if (lifetime_s < config.min_lifetime_s) {
    j.reason = "too short: " + approx_duration(lifetime_s) + " < " + approx_duration(config.min_lifetime_s);
    return j;
  }
  if (rss.size() < config.min_samples) {
    j.reason = "too few samples: " + std::to_string(rss.size()) + " < " + std::to_string(config.min_samples);
    return j;
  }
  // A long life seen for a moment (tracing began late) is judged on what
  // was seen, so that must be long enough too.
  const uint64_t first_ns = rss.front().ts_ns, last_ns = rss.back().ts_ns;
  const double observed_s = last_ns > first_ns ? seconds(last_ns - first_ns) : 0;
  if (observed_s < config.min_lifetime_s) {
    j.reason = "observed only " + approx_duration(observed_s) + " < " + approx_duration(config.min_lifetime_s);
    return j;
  }

  // Equal windows over the observed span; the last sample belongs to the
  // last window.
  const double shortest_window_s = std::max(config.min_window_s, config.min_window_samples * sampling_step_s(rss));
  const size_t by_length = static_cast<size_t>(observed_s / std::max(shortest_window_s, 1e-9));
  const size_t window_count = std::clamp<size_t>(by_length, 1, std::max<size_t>(config.max_windows, 1));
  const double window_s = observed_s / static_cast<double>(window_count);
  std::vector<WindowFloor> floors(window_count, {0, std::numeric_limits<double>::infinity()});
  for (const RssPoint &p : rss) {
    const uint64_t bytes = floor_bytes(p);
    if (bytes == 0 || p.ts_ns < first_ns)
      continue;
    const size_t index = std::min(static_cast<size_t>(seconds(p.ts_ns - first_ns) / window_s), window_count - 1);
    if (static_cast<double>(bytes) < floors[index].bytes)
      floors[index] = {seconds(p.ts_ns - first_ns), static_cast<double>(bytes)};
  }

  // The windows after the warm-up that hold a measurement.
  const double warmup_end_s = config.warmup_fraction * observed_s;
  std::vector<WindowFloor> fitted;
  double fit_start_s = 0;
  for (size_t i = 0; i < window_count; ++i) {
    const double window_start_s = static_cast<double>(i) * window_s;
    if (window_start_s + 1e-9 < warmup_end_s || !std::isfinite(floors[i].bytes))
      continue;
    if (fitted.empty())
      fit_start_s = window_start_s;
    fitted.push_back(floors[i]);
  }
  if (fitted.size() < config.min_fit_windows) {
    j.reason = "too few windows after warm-up: " + std::to_string(fitted.size()) + " < " +
               std::to_string(config.min_fit_windows);
    return j;
  }

  j.judged = true;
  auto fit_of = [](std::vector<WindowFloor>::const_iterator begin, std::vector<WindowFloor>::const_iterator end) {
    std::vector<double> xs, ys;
    for (auto it = begin; it != end; ++it) {
      xs.push_back(it->at_s);
      ys.push_back(it->bytes);
    }
    return fit_line(xs, ys);
  };
  const LinearFit fit = fit_of(fitted.begin(), fitted.end());
  j.rate_bytes_per_s = fit.slope;
  j.r2 = fit.r2;
  j.window_s = observed_s - fit_start_s;
  j.baseline_bytes = static_cast<uint64_t>(std::max(0.0, std::round(fit.at(observed_s))));

  const double growth_bytes = fit.slope * j.window_s;
  const std::string rate = mib_per_hour(fit.slope);
  if (fit.slope < config.min_rate_bytes_per_s) {
    j.reason = "rate below " + mib_per_hour(config.min_rate_bytes_per_s) + ": " + rate;
    return j;
  }
  if (growth_bytes < static_cast<double>(config.min_growth_bytes)) {
    j.reason = printed("growth %.1f MiB over ", growth_bytes / kMiB) + approx_duration(j.window_s) +
               printed(" below %.0f MiB", static_cast<double>(config.min_growth_bytes) / kMiB);
    return j;
  }
  if (fit.r2 < config.min_r2) {
    j.reason = printed("poor fit r²=%.2f", fit.r2);
    return j;
  }
  // A step, or warm-up growth that outlasted the warm-up, still fits a
  // line fairly well over a short fit, most of all when its rise sits in
  // the fit's middle. A leak keeps its pace to the end: growth that
  // stopped has a flat last third. And a leak has grown by the fit's
  // middle: a rise that came only late is a step, or too new to call.
  // The last third spans at least 4 windows so that a leak in stairs
  // (one allocation every few windows) still rises within it.
  const double needed = config.min_part_rate_fraction * fit.slope;
  const size_t last_third = std::min(fitted.size(), std::max<size_t>(4, fitted.size() / 3));
  if (fit_of(fitted.end() - last_third, fitted.end()).slope < needed) {
    j.reason = "growth stopped: last third flat";
    return j;
  }
  const size_t first_half = std::max<size_t>(2, fitted.size() / 2);
  if (fit_of(fitted.begin(), fitted.begin() + first_half).slope < needed) {
    j.reason = "growth not steady: first half flat";
    return j;
  }
  j.leaking = true;
  j.reason = "growing " + rate + printed(", r²=%.2f over ", fit.r2) + approx_duration(j.window_s);
  return j;
}

std::vector<LeakVerdict> leak_verdicts(const std::vector<LeakJudgement> &judgements,
                                       std::optional<uint64_t> group_limit_bytes, std::string limit_source,
                                       uint64_t group_current_bytes) {
  // All the group's leaks fill the same limit together.
  double total_leak_rate = 0;
  for (const LeakJudgement &j : judgements)
    if (j.leaking)
      total_leak_rate += j.rate_bytes_per_s;
  std::optional<double> seconds_to_limit;
  if (group_limit_bytes && *group_limit_bytes > group_current_bytes && total_leak_rate > 0)
    seconds_to_limit = static_cast<double>(*group_limit_bytes - group_current_bytes) / total_leak_rate;

  std::vector<LeakVerdict> verdicts;
  for (size_t i = 0; i < judgements.size(); ++i) {
    const LeakJudgement &j = judgements[i];
    if (!j.leaking)
      continue;
    LeakVerdict v;
    v.key = j.key;
    v.comm = j.comm;
    v.rate_bytes_per_s = j.rate_bytes_per_s;
    v.window_s = j.window_s;
    v.r2 = j.r2;
    v.baseline_bytes = j.baseline_bytes;
    v.seconds_to_limit = seconds_to_limit;
    v.limit_bytes = group_limit_bytes;
    if (group_limit_bytes)
      v.limit_source = limit_source;
    // Siblings: the other processes that were judged, leaking or not; an
    // unjudged one has no rate to compare.
    std::vector<double> sibling_rates;
    for (size_t k = 0; k < judgements.size(); ++k)
      if (k != i && judgements[k].judged)
        sibling_rates.push_back(judgements[k].rate_bytes_per_s);
    v.siblings = sibling_rates.size();
    if (!sibling_rates.empty())
      v.sibling_median_rate_bytes_per_s = median(std::move(sibling_rates));
    verdicts.push_back(std::move(v));
  }
  return verdicts;
}

} // namespace treetrace
