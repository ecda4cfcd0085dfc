// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// A leak verdict: a process whose RSS baseline grows steadily (core/leak
// judges it). Its own header because live rows (TreeReport) and reports
// (ReportModel) both carry verdicts; for_each_field is the one field list
// every format writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/model.h"

namespace treetrace {

struct LeakVerdict {
  ProcKey key;
  std::string comm;
  double rate_bytes_per_s = 0; // slope of the RSS baseline
  double window_s = 0;         // how long the fit covers
  double r2 = 0;               // the fit's quality, 0..1
  uint64_t baseline_bytes = 0; // the fitted baseline at the end of the window
  // Time until the process's group reaches limit_bytes at this rate.
  std::optional<double> seconds_to_limit;
  std::optional<uint64_t> limit_bytes;
  std::string limit_source; // "memcg" (the cgroup's limit) or "advice" (the advised limit)
  // The group's other judged processes: their median rate, for comparison.
  size_t siblings = 0;
  std::optional<double> sibling_median_rate_bytes_per_s;
  // It exited while leaking (a live run's final report): the verdict is the
  // last one it had, and it has no time to a limit since it holds nothing.
  bool exited = false;
};

// Calls f(name, value) for each field, in the order formats write them:
// the JSON stream's and report's `leaks: [...]` entries.
template <class F> void for_each_field(const LeakVerdict &v, F &&f) {
  f("pid", v.key.pid);
  f("start_ns", v.key.start_ns);
  f("comm", v.comm);
  f("rate_bytes_per_s", v.rate_bytes_per_s);
  f("window_s", v.window_s);
  f("r2", v.r2);
  f("baseline_bytes", v.baseline_bytes);
  f("seconds_to_limit", v.seconds_to_limit);
  f("limit_bytes", v.limit_bytes);
  f("limit_source", v.limit_source);
  f("siblings", v.siblings);
  f("sibling_median_rate_bytes_per_s", v.sibling_median_rate_bytes_per_s);
  f("exited", v.exited);
}

} // namespace treetrace
