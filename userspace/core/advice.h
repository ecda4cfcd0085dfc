// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Kubernetes requests and limits for a group, from its --interval
// snapshots: the Vertical Pod Autoscaler's recommender, KRR's simple
// strategy and DivBase's average/peak rule as anchors, and one advised
// figure per resource taken from them. docs/report-method.md says which
// part comes from where and why. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/report_model.h"

namespace treetrace {

struct AdviceConfig {
  // Shorter than this, the advice is flagged low_confidence: a day covers
  // a daily cycle, and is the memory aggregation interval VPA's target
  // rests on.
  double min_confident_s = 24 * 3600;
  // Memory is judged by its peak in each window of this length (VPA's
  // per-interval peaks); the request takes p90 of those peaks. A run
  // shorter than one window has a single peak, its maximum.
  double memory_peak_window_s = 3600;
};

// nullopt with fewer than 2 ticks. oom_kills: the group's OOM kills in the
// run; memcg_peak_bytes: the cgroup's memory.peak if read, which catches a
// peak between two ticks.
std::optional<Advice> advise(const std::vector<GroupTick> &ticks, uint64_t oom_kills,
                             std::optional<uint64_t> memcg_peak_bytes, const AdviceConfig &config);

// The `resources:` block of a container spec, every line indented by
// indent spaces and ended by a newline: requests cpu and memory, limits
// memory, and a CPU limit only when one was advised.
std::string advice_yaml(const Advice &advice, int indent);

} // namespace treetrace
