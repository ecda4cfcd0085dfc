// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Kubernetes advice (core/advice) from synthetic group snapshots with
// known answers: the anchors' percentiles, the memory basis, the OOM
// bump, rounding, confidence, and the YAML block.
#include <gtest/gtest.h>

#include <functional>

#include "core/advice.h"

namespace treetrace {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;
constexpr uint64_t kMi = 1ull << 20;

// n ticks interval_s apart, the first ending interval_s after t=0.
// cores_at(i) and bytes_at(i) give each tick's CPU and memory; memory
// goes into pss_bytes (rss_bytes is twice it, as shared pages count
// once per process there).
std::vector<GroupTick> ticks(size_t n, double interval_s, const std::function<double(size_t)> &cores_at,
                             const std::function<uint64_t(size_t)> &bytes_at) {
  std::vector<GroupTick> out;
  const auto interval_ns = static_cast<uint64_t>(interval_s * 1e9);
  for (size_t i = 0; i < n; ++i) {
    GroupTick t;
    t.ts_ns = 1000 * kSecond + (i + 1) * interval_ns;
    t.interval_ns = interval_ns;
    t.procs_live = 3;
    t.cpu_ns = static_cast<uint64_t>(cores_at(i) * static_cast<double>(interval_ns));
    t.pss_bytes = bytes_at(i);
    t.rss_bytes = 2 * bytes_at(i);
    out.push_back(t);
  }
  return out;
}

const Advice::Method &method(const Advice &a, const std::string &name) {
  for (const Advice::Method &m : a.methods)
    if (m.name == name)
      return m;
  ADD_FAILURE() << "no method " << name;
  return a.methods.front();
}

TEST(Advice, ConstantHalfCoreIsAdvisedFiveHundredMillicores) {
  const auto t = ticks(
      60, 1, [](size_t) { return 0.5; }, [](size_t) { return 300 * kMi; });
  const std::optional<Advice> a = advise(t, 0, std::nullopt, {});
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->cpu_request_millicores, 500u);
  EXPECT_FALSE(a->cpu_limit_millicores.has_value());
  EXPECT_EQ(a->memory_request_bytes, 345 * kMi); // 300 MiB + 15%
  EXPECT_EQ(a->memory_limit_bytes, 345 * kMi);
  EXPECT_EQ(a->basis, "pss");
  EXPECT_EQ(a->samples, 60u);
  EXPECT_DOUBLE_EQ(a->duration_s, 60);
  EXPECT_FALSE(a->oom_bumped);

  ASSERT_EQ(a->methods.size(), 3u);
  EXPECT_EQ(a->methods[0].name, "VPA");
  EXPECT_EQ(a->methods[1].name, "KRR");
  EXPECT_EQ(a->methods[2].name, "DivBase");
  for (const Advice::Method &m : a->methods)
    EXPECT_EQ(m.cpu_request_millicores, 500u) << m.name;
  EXPECT_EQ(method(*a, "DivBase").cpu_limit_millicores, 500u);
  EXPECT_EQ(method(*a, "DivBase").memory_request_bytes, 300 * kMi);
  EXPECT_EQ(method(*a, "DivBase").memory_limit_bytes, 300 * kMi);
}

TEST(Advice, AnchorsTakeTheirPercentiles) {
  // CPU 1..10 cores and memory 100..1000 MiB, one window per tick: p90
  // 9.1 cores / 910 MiB, p95 9.55 cores, mean 5.5 cores / 550 MiB.
  AdviceConfig config;
  config.memory_peak_window_s = 1;
  const auto t = ticks(
      10, 1, [](size_t i) { return static_cast<double>(i + 1); }, [](size_t i) { return (i + 1) * 100 * kMi; });
  const std::optional<Advice> a = advise(t, 0, std::nullopt, config);
  ASSERT_TRUE(a.has_value());

  const Advice::Method &vpa = method(*a, "VPA");
  EXPECT_EQ(vpa.cpu_request_millicores, 9100u);
  EXPECT_FALSE(vpa.cpu_limit_millicores.has_value());
  EXPECT_EQ(vpa.memory_request_bytes, 1047 * kMi); // 910 * 1.15 = 1046.5, rounded up
  EXPECT_FALSE(vpa.memory_limit_bytes.has_value());

  const Advice::Method &krr = method(*a, "KRR");
  EXPECT_EQ(krr.cpu_request_millicores, 9550u);
  EXPECT_FALSE(krr.cpu_limit_millicores.has_value());
  EXPECT_EQ(krr.memory_request_bytes, 1150 * kMi);
  EXPECT_EQ(krr.memory_limit_bytes, 1150 * kMi);

  const Advice::Method &divbase = method(*a, "DivBase");
  EXPECT_EQ(divbase.cpu_request_millicores, 5500u);
  EXPECT_EQ(divbase.cpu_limit_millicores, 10000u);
  EXPECT_EQ(divbase.memory_request_bytes, 550 * kMi);
  EXPECT_EQ(divbase.memory_limit_bytes, 1000 * kMi);

  // The headline: VPA's requests, KRR's memory limit, no CPU limit.
  EXPECT_EQ(a->cpu_request_millicores, 9100u);
  EXPECT_FALSE(a->cpu_limit_millicores.has_value());
  EXPECT_EQ(a->memory_request_bytes, 1047 * kMi);
  EXPECT_EQ(a->memory_limit_bytes, 1150 * kMi);
}

TEST(Advice, MemoryRequestIsP90OfWindowPeaks) {
  // 4 h sampled every minute; the first hour peaks at 400 MiB once, the
  // others stay at 200 MiB. Peaks [400, 200, 200, 200]: p90 = 340 MiB.
  const auto t = ticks(
      240, 60, [](size_t) { return 0.1; }, [](size_t i) { return (i == 10 ? 400 : 200) * kMi; });
  const std::optional<Advice> a = advise(t, 0, std::nullopt, {});
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->memory_request_bytes, 391 * kMi);                    // 340 * 1.15
  EXPECT_EQ(a->memory_limit_bytes, 460 * kMi);                      // 400 * 1.15
  EXPECT_EQ(method(*a, "DivBase").memory_request_bytes, 201 * kMi); // mean 200.83 MiB
  EXPECT_EQ(a->cpu_request_millicores, 100u);

  // One window for the whole run: its only peak is the maximum.
  AdviceConfig one_window;
  one_window.memory_peak_window_s = 24 * 3600;
  EXPECT_EQ(advise(t, 0, std::nullopt, one_window)->memory_request_bytes, 460 * kMi);
}

TEST(Advice, BasisIsTheBestMeasureMostTicksHave) {
  auto base = ticks(
      10, 1, [](size_t) { return 1.0; }, [](size_t) { return 100 * kMi; }); // pss 100, rss 200

  std::optional<Advice> pss = advise(base, 0, std::nullopt, {});
  EXPECT_EQ(pss->basis, "pss");
  EXPECT_EQ(pss->memory_limit_bytes, 115 * kMi);

  auto memcg = base;
  for (GroupTick &t : memcg)
    t.memcg_current_bytes = 400 * kMi;
  std::optional<Advice> by_memcg = advise(memcg, 0, std::nullopt, {});
  EXPECT_EQ(by_memcg->basis, "memcg");
  EXPECT_EQ(by_memcg->memory_limit_bytes, 460 * kMi);

  auto rss = base;
  for (GroupTick &t : rss)
    t.pss_bytes.reset();
  std::optional<Advice> by_rss = advise(rss, 0, std::nullopt, {});
  EXPECT_EQ(by_rss->basis, "rss");
  EXPECT_EQ(by_rss->memory_limit_bytes, 230 * kMi);

  // memcg on 3 ticks of 10: not mixed in; the PSS every tick has wins.
  auto few_memcg = base;
  for (size_t i = 0; i < 3; ++i)
    few_memcg[i].memcg_current_bytes = 4000 * kMi;
  std::optional<Advice> mixed = advise(few_memcg, 0, std::nullopt, {});
  EXPECT_EQ(mixed->basis, "pss");
  EXPECT_EQ(mixed->memory_limit_bytes, 115 * kMi);
}

TEST(Advice, OomBumpOfSmallFiguresAddsOneHundredMebibytes) {
  // 100 MiB: +15% is 115 MiB; x1.2 would give 138, +100 MiB gives 215.
  const auto t = ticks(
      10, 1, [](size_t) { return 0.2; }, [](size_t) { return 100 * kMi; });
  const std::optional<Advice> a = advise(t, 1, std::nullopt, {});
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->oom_bumped);
  EXPECT_EQ(a->memory_request_bytes, 215 * kMi);
  EXPECT_EQ(a->memory_limit_bytes, 215 * kMi);
  EXPECT_EQ(method(*a, "VPA").memory_request_bytes, 215 * kMi);
  EXPECT_EQ(method(*a, "KRR").memory_limit_bytes, 115 * kMi); // KRR has no OOM rule
  EXPECT_EQ(a->cpu_request_millicores, 200u);                 // CPU is untouched
}

TEST(Advice, OomBumpOfLargeFiguresMultipliesByOnePointTwo) {
  // 1000 MiB: +15% is 1150 MiB; x1.2 gives 1380, +100 MiB only 1250.
  const auto t = ticks(
      10, 1, [](size_t) { return 0.2; }, [](size_t) { return 1000 * kMi; });
  const std::optional<Advice> a = advise(t, 3, std::nullopt, {});
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->oom_bumped);
  EXPECT_EQ(a->memory_request_bytes, 1380 * kMi);
  EXPECT_EQ(a->memory_limit_bytes, 1380 * kMi);
}

TEST(Advice, CgroupPeakRaisesTheMemoryLimitOnlyWhenLarger) {
  const auto t = ticks(
      10, 1, [](size_t) { return 1.0; }, [](size_t) { return 100 * kMi; });
  const std::optional<Advice> higher = advise(t, 0, 500 * kMi, {});
  EXPECT_EQ(higher->memory_request_bytes, 115 * kMi);
  EXPECT_EQ(higher->memory_limit_bytes, 575 * kMi);
  const std::optional<Advice> lower = advise(t, 0, 50 * kMi, {});
  EXPECT_EQ(lower->memory_limit_bytes, 115 * kMi);
}

TEST(Advice, RoundsCpuUpToMillicoresAndMemoryUpToMebibytes) {
  // 0.2501 cores is 250.1m: 251m. 100 MiB + 1 byte, +15%: 115.000001 MiB: 116Mi.
  const auto t = ticks(
      10, 1, [](size_t) { return 0.2501; }, [](size_t) { return 100 * kMi + 1; });
  const std::optional<Advice> a = advise(t, 0, std::nullopt, {});
  EXPECT_EQ(a->cpu_request_millicores, 251u);
  EXPECT_EQ(a->memory_request_bytes, 116 * kMi);
  EXPECT_EQ(a->memory_request_bytes % kMi, 0u);
  // An idle group still gets the smallest request, 1m and 1Mi.
  const auto idle = ticks(
      10, 1, [](size_t) { return 0.0; }, [](size_t) { return uint64_t{0}; });
  const std::optional<Advice> b = advise(idle, 0, std::nullopt, {});
  EXPECT_EQ(b->cpu_request_millicores, 1u);
  EXPECT_EQ(b->memory_request_bytes, kMi);
  EXPECT_EQ(b->memory_limit_bytes, kMi);
}

TEST(Advice, FewerThanTwoTicksGiveNoAdvice) {
  EXPECT_FALSE(advise({}, 0, std::nullopt, {}).has_value());
  const auto one = ticks(
      1, 1, [](size_t) { return 1.0; }, [](size_t) { return kMi; });
  EXPECT_FALSE(advise(one, 0, std::nullopt, {}).has_value());
  const auto two = ticks(
      2, 1, [](size_t) { return 1.0; }, [](size_t) { return kMi; });
  EXPECT_TRUE(advise(two, 0, std::nullopt, {}).has_value());
}

TEST(Advice, ConfidenceNeedsADay) {
  const auto minute = ticks(
      60, 1, [](size_t) { return 1.0; }, [](size_t) { return kMi; });
  const std::optional<Advice> short_run = advise(minute, 0, std::nullopt, {});
  EXPECT_TRUE(short_run->low_confidence);
  EXPECT_EQ(short_run->confidence_note, "covers 60 s < 24 h");

  const auto day = ticks(
      25, 3600, [](size_t) { return 1.0; }, [](size_t) { return kMi; });
  const std::optional<Advice> long_run = advise(day, 0, std::nullopt, {});
  EXPECT_DOUBLE_EQ(long_run->duration_s, 25 * 3600);
  EXPECT_FALSE(long_run->low_confidence);
  EXPECT_EQ(long_run->confidence_note, "");
}

TEST(Advice, YamlIsTheResourcesBlock) {
  Advice a;
  a.cpu_request_millicores = 250;
  a.memory_request_bytes = 300 * kMi;
  a.memory_limit_bytes = 400 * kMi;
  EXPECT_EQ(advice_yaml(a, 0), "resources:\n"
                               "  requests:\n"
                               "    cpu: \"250m\"\n"
                               "    memory: \"300Mi\"\n"
                               "  limits:\n"
                               "    memory: \"400Mi\"\n");
  a.cpu_limit_millicores = 1500;
  EXPECT_EQ(advice_yaml(a, 4), "    resources:\n"
                               "      requests:\n"
                               "        cpu: \"250m\"\n"
                               "        memory: \"300Mi\"\n"
                               "      limits:\n"
                               "        memory: \"400Mi\"\n"
                               "        cpu: \"1500m\"\n");
}

} // namespace
} // namespace treetrace
