// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/verdict_text.h"

#include <fmt/format.h>

#include "util/utf8.h"

namespace treetrace {
namespace text {

static constexpr double kMiB = 1024.0 * 1024.0;

std::string bytes(uint64_t b) {
  if (b >= (uint64_t{1} << 30))
    return fmt::format("{:.2f} GiB", static_cast<double>(b) / (kMiB * 1024));
  if (b >= (uint64_t{1} << 20))
    return fmt::format("{:.1f} MiB", static_cast<double>(b) / kMiB);
  return fmt::format("{:.0f} KiB", static_cast<double>(b) / 1024);
}

std::string duration(double s) {
  if (s < 120)
    return fmt::format("{:.1f} s", s);
  if (s < 7200)
    return fmt::format("{:.1f} min", s / 60);
  if (s < 2 * 86400)
    return fmt::format("{:.1f} h", s / 3600);
  return fmt::format("{:.1f} d", s / 86400);
}

std::string rate(double bytes_per_s) { return fmt::format("{:+.1f} MiB/h", bytes_per_s * 3600 / kMiB); }

// Command names are whatever the process chose: shown printable, cut to fit.
std::string name(const std::string &raw, size_t width) {
  std::string s = sanitize_utf8(raw);
  for (char &c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      c = '?';
  if (s.size() > width)
    s = s.substr(0, width - 1) + "~";
  return s;
}

} // namespace text

using text::bytes;
using text::duration;
using text::name;
using text::rate;

LeakVerdictText leak_verdict_text(const LeakVerdict &v) {
  LeakVerdictText text;
  text.what = fmt::format("LEAK pid {} {}: {} over {} (r2 {:.2f}), baseline now {}", v.key.pid, name(v.comm, 16),
                          rate(v.rate_bytes_per_s), duration(v.window_s), v.r2, bytes(v.baseline_bytes));
  const char *whose = v.limit_source == "memcg" ? "cgroup's" : "advised";
  std::string when = "has no known limit";
  if (v.limit_bytes && v.seconds_to_limit)
    when = fmt::format("reaches the {} limit {} in {}", whose, bytes(*v.limit_bytes), duration(*v.seconds_to_limit));
  else if (v.limit_bytes)
    when = fmt::format("is already at the {} limit {}", whose, bytes(*v.limit_bytes));
  std::string siblings = v.siblings ? fmt::format("; {} siblings, median {}", v.siblings,
                                                  rate(v.sibling_median_rate_bytes_per_s.value_or(0)))
                                    : "; no siblings to compare";
  text.consequence = v.exited ? "it exited while leaking" + siblings : "the group " + when + siblings;
  return text;
}

} // namespace treetrace
