// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "core/advice.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/stats.h"

namespace treetrace {
namespace {

// VPA's recommender: the margin it adds to memory, and its bump after an
// OOM kill (the larger of the two).
constexpr double kSafetyMargin = 1.15;
constexpr double kOomBumpRatio = 1.2;
constexpr double kOomBumpMinBytes = 100 * kMiB;

// Rounding up, with a hair of tolerance: 0.5 core computed as
// 0.50000000001 must stay 500m, and 100 MiB * 1.15 must stay 115Mi, not
// become one more because of binary fractions.
constexpr double kRoundingSlack = 1e-6;

uint32_t millicores_up(double cores) {
  const double millicores = std::ceil(cores * 1000 - kRoundingSlack);
  // 1m at least: 0 would read as "no request", and Kubernetes then
  // defaults it to the limit or the namespace's default.
  return static_cast<uint32_t>(std::clamp(millicores, 1.0, double(std::numeric_limits<uint32_t>::max())));
}

uint64_t mebibytes_up(double bytes) {
  const double mebibytes = std::max(1.0, std::ceil(bytes / kMiB - kRoundingSlack));
  return static_cast<uint64_t>(mebibytes) << 20;
}

double oom_bumped(double bytes) { return std::max(bytes * kOomBumpRatio, bytes + kOomBumpMinBytes); }

double max_of(const std::vector<double> &values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

// The memory measure the advice rests on: the best one at least half the
// ticks have, used for every tick that has it. One measure throughout,
// because they differ in kind (memcg counts page cache, RSS counts shared
// pages once per process): mixing them would make a step out of a switch.
enum class Basis { Memcg, Pss, Rss };

Basis choose_basis(const std::vector<GroupTick> &ticks) {
  size_t with_memcg = 0, with_pss = 0;
  for (const GroupTick &t : ticks) {
    with_memcg += t.memcg_current_bytes.has_value();
    with_pss += t.pss_bytes.has_value();
  }
  if (with_memcg * 2 >= ticks.size())
    return Basis::Memcg;
  if (with_pss * 2 >= ticks.size())
    return Basis::Pss;
  return Basis::Rss;
}

const char *basis_name(Basis basis) {
  switch (basis) {
  case Basis::Memcg:
    return "memcg";
  case Basis::Pss:
    return "pss";
  case Basis::Rss:
    break;
  }
  return "rss";
}

std::optional<uint64_t> memory_of(const GroupTick &t, Basis basis) {
  switch (basis) {
  case Basis::Memcg:
    return t.memcg_current_bytes;
  case Basis::Pss:
    return t.pss_bytes;
  case Basis::Rss:
    break;
  }
  return t.rss_bytes;
}

} // namespace

std::optional<Advice> advise(const std::vector<GroupTick> &ticks, uint64_t oom_kills,
                             std::optional<uint64_t> memcg_peak_bytes, const AdviceConfig &config) {
  if (ticks.size() < 2)
    return std::nullopt;

  // A tick stands for the interval that ends at its ts_ns.
  const GroupTick &first = ticks.front();
  const uint64_t begin_ns = first.ts_ns - std::min(first.interval_ns, first.ts_ns);
  const uint64_t end_ns = std::max(ticks.back().ts_ns, begin_ns);

  std::vector<double> cores;
  for (const GroupTick &t : ticks)
    if (t.interval_ns > 0)
      cores.push_back(static_cast<double>(t.cpu_ns) / static_cast<double>(t.interval_ns));

  const Basis basis = choose_basis(ticks);
  const auto window_ns = static_cast<uint64_t>(std::max(config.memory_peak_window_s, 1e-3) * 1e9);
  std::vector<double> memory;
  std::vector<double> window_peaks;
  size_t current_window = std::numeric_limits<size_t>::max();
  for (const GroupTick &t : ticks) {
    const std::optional<uint64_t> bytes = memory_of(t, basis);
    if (!bytes)
      continue;
    memory.push_back(static_cast<double>(*bytes));
    // By the tick's last instant: a tick ending on a window's boundary
    // measured the window before it.
    const uint64_t since_begin_ns = t.ts_ns - std::min(t.ts_ns, begin_ns);
    const auto window = static_cast<size_t>(since_begin_ns ? (since_begin_ns - 1) / window_ns : 0);
    if (window != current_window) {
      window_peaks.push_back(0);
      current_window = window;
    }
    window_peaks.back() = std::max(window_peaks.back(), static_cast<double>(*bytes));
  }

  const bool oom = oom_kills > 0;
  auto after_oom = [&](double bytes) { return oom ? oom_bumped(bytes) : bytes; };
  const double memory_peak = max_of(memory);

  Advice::Method vpa;
  vpa.name = "VPA";
  vpa.cpu_request_millicores = millicores_up(percentile(cores, 0.90));
  vpa.memory_request_bytes = mebibytes_up(after_oom(percentile(window_peaks, 0.90) * kSafetyMargin));

  Advice::Method krr;
  krr.name = "KRR";
  krr.cpu_request_millicores = millicores_up(percentile(cores, 0.95));
  krr.memory_request_bytes = mebibytes_up(memory_peak * kSafetyMargin);
  krr.memory_limit_bytes = krr.memory_request_bytes;

  Advice::Method divbase;
  divbase.name = "DivBase";
  divbase.cpu_request_millicores = millicores_up(mean(cores));
  divbase.cpu_limit_millicores = millicores_up(max_of(cores));
  divbase.memory_request_bytes = mebibytes_up(mean(memory));
  divbase.memory_limit_bytes = mebibytes_up(memory_peak);

  Advice a;
  a.basis = basis_name(basis);
  a.samples = ticks.size();
  a.duration_s = static_cast<double>(end_ns - begin_ns) / 1e9;
  // CPU: VPA's request, and no limit (KRR's rule): a CPU limit throttles
  // a process that would only have borrowed idle cycles.
  a.cpu_request_millicores = vpa.cpu_request_millicores;
  // Memory: VPA's request, KRR's limit. The cgroup's own peak counter
  // sees a peak between two ticks, so it raises the limit when larger.
  const double limit_peak = std::max(memory_peak, static_cast<double>(memcg_peak_bytes.value_or(0)));
  a.memory_request_bytes = vpa.memory_request_bytes;
  a.memory_limit_bytes = std::max(mebibytes_up(after_oom(limit_peak * kSafetyMargin)), a.memory_request_bytes);
  a.oom_bumped = oom;
  if (a.duration_s < config.min_confident_s) {
    a.low_confidence = true;
    a.confidence_note = "covers " + approx_duration(a.duration_s) + " < " + approx_duration(config.min_confident_s);
  }
  a.methods = {std::move(vpa), std::move(krr), std::move(divbase)};
  return a;
}

std::string advice_yaml(const Advice &advice, int indent) {
  const std::string margin(static_cast<size_t>(std::max(indent, 0)), ' ');
  auto cpu = [](uint32_t millicores) { return "\"" + std::to_string(millicores) + "m\""; };
  auto memory = [](uint64_t bytes) { return "\"" + std::to_string((bytes + (1u << 20) - 1) >> 20) + "Mi\""; };
  std::string yaml;
  yaml += margin + "resources:\n";
  yaml += margin + "  requests:\n";
  yaml += margin + "    cpu: " + cpu(advice.cpu_request_millicores) + "\n";
  yaml += margin + "    memory: " + memory(advice.memory_request_bytes) + "\n";
  yaml += margin + "  limits:\n";
  yaml += margin + "    memory: " + memory(advice.memory_limit_bytes) + "\n";
  if (advice.cpu_limit_millicores)
    yaml += margin + "    cpu: " + cpu(*advice.cpu_limit_millicores) + "\n";
  return yaml;
}

} // namespace treetrace
