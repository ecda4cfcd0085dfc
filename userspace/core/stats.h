// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Small statistics the report's analyses share (core/leak, core/advice):
// percentiles, a least-squares line, and the wording of durations and
// rates in their human-readable reasons. Header-only and pure.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace treetrace {

inline constexpr double kMiB = 1024.0 * 1024.0;

// The p-quantile (p in [0, 1], clamped) by linear interpolation between
// the closest ranks: rank p * (n - 1) over the sorted values, numpy's
// default ("type 7"). Interpolating rather than taking the nearest rank
// keeps p90 of a short series from jumping to the maximum. Empty: 0.
// Takes the values by copy because it sorts them.
inline double percentile(std::vector<double> values, double p) {
  if (values.empty())
    return 0;
  p = std::clamp(p, 0.0, 1.0);
  std::sort(values.begin(), values.end());
  const double rank = p * static_cast<double>(values.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(rank));
  const size_t above = std::min(below + 1, values.size() - 1);
  const double fraction = rank - static_cast<double>(below);
  return values[below] + (values[above] - values[below]) * fraction;
}

inline double median(std::vector<double> values) { return percentile(std::move(values), 0.5); }

// Empty: 0.
inline double mean(const std::vector<double> &values) {
  if (values.empty())
    return 0;
  double sum = 0;
  for (double v : values)
    sum += v;
  return sum / static_cast<double>(values.size());
}

// y = intercept + slope * x by ordinary least squares.
struct LinearFit {
  double slope = 0;
  double intercept = 0;
  // Coefficient of determination, 0..1. 0 when y does not vary at all:
  // a flat series has nothing a line explains.
  double r2 = 0;
  double at(double x) const { return intercept + slope * x; }
};

// Fewer than 2 points, or all at one x: a flat line through their mean.
inline LinearFit fit_line(const std::vector<double> &xs, const std::vector<double> &ys) {
  LinearFit fit;
  const size_t n = std::min(xs.size(), ys.size());
  if (n == 0)
    return fit;
  double mean_x = 0, mean_y = 0;
  for (size_t i = 0; i < n; ++i) {
    mean_x += xs[i];
    mean_y += ys[i];
  }
  mean_x /= static_cast<double>(n);
  mean_y /= static_cast<double>(n);
  // Centred sums: byte counts near 2^40 squared would lose the slope in
  // the raw sums' rounding.
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    const double dx = xs[i] - mean_x, dy = ys[i] - mean_y;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  fit.intercept = mean_y;
  if (sxx <= 0)
    return fit;
  fit.slope = sxy / sxx;
  fit.intercept = mean_y - fit.slope * mean_x;
  if (syy > 0)
    fit.r2 = std::clamp(sxy * sxy / (sxx * syy), 0.0, 1.0);
  return fit;
}

// "45 s", "12 min", "3.5 h", "24 h", "2.5 d": the unit a reader thinks in,
// without a ".0" that suggests a precision nobody asked for.
inline std::string approx_duration(double seconds) {
  auto in_unit = [](double value, const char *unit) {
    char text[48];
    if (value >= 10 || std::fabs(value - std::round(value)) < 0.05)
      std::snprintf(text, sizeof text, "%.0f %s", value, unit);
    else
      std::snprintf(text, sizeof text, "%.1f %s", value, unit);
    return std::string(text);
  };
  if (seconds < 120)
    return in_unit(std::round(seconds), "s");
  if (seconds < 2 * 3600)
    return in_unit(std::round(seconds / 60), "min");
  if (seconds < 2 * 86400)
    return in_unit(seconds / 3600, "h");
  return in_unit(seconds / 86400, "d");
}

// A memory growth rate in MiB/h, the unit leaks are read in (MiB/s makes
// every slow leak 0.00). Two significant figures are all a fit supports.
inline std::string mib_per_hour(double bytes_per_s) {
  double rate = bytes_per_s * 3600 / kMiB;
  if (std::fabs(rate) < 0.005)
    rate = 0; // not "-0 MiB/h"
  char text[48];
  if (std::fabs(rate) >= 10 || std::fabs(rate - std::round(rate)) < 0.005)
    std::snprintf(text, sizeof text, "%.0f MiB/h", rate);
  else if (std::fabs(rate) < 1)
    std::snprintf(text, sizeof text, "%.2f MiB/h", rate);
  else
    std::snprintf(text, sizeof text, "%.1f MiB/h", rate);
  return text;
}

} // namespace treetrace
