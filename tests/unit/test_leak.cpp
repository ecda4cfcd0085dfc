// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The leak judgement (core/leak) on synthetic RSS series whose answer is
// known: leaks with spikes, warm-up growth, steps, oscillation, noise, a
// slow leak over hours, downsampled points, and the group's verdicts.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "core/leak.h"
#include "core/stats.h"

namespace treetrace {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr uint64_t kStartNs = 5'000'000'000'000ull; // any boot time
constexpr uint64_t kSecond = 1'000'000'000ull;

// A process that lives life_s seconds and is sampled every step_s from
// step_s on, with RSS bytes_at(t) (t in seconds since its start).
struct Series {
  std::vector<RssPoint> rss;
  uint64_t start_ns = kStartNs;
  uint64_t end_ns = kStartNs;
};

Series sampled(double life_s, double step_s, const std::function<double(double)> &bytes_at) {
  Series s;
  s.end_ns = kStartNs + static_cast<uint64_t>(life_s * 1e9);
  for (double t = step_s; t < life_s; t += step_s) {
    const auto bytes = static_cast<uint64_t>(std::max(0.0, bytes_at(t)));
    s.rss.push_back({kStartNs + static_cast<uint64_t>(t * 1e9), bytes, bytes, bytes});
  }
  return s;
}

LeakJudgement judge(const Series &s, const LeakConfig &config = {}) {
  return judge_leak({4242, kStartNs}, "worker", s.rss, s.start_ns, s.end_ns, config);
}

// The integration test's shape: one minute, sampled every second.
constexpr double kLife = 60, kStep = 1;

TEST(LeakJudge, SteadyLeakWithBigSpikesIsFlaggedAtItsBaselineRate) {
  // ~1 MiB/s, plus +100 MiB for 1-2 s every few seconds: the spikes are
  // far above the baseline but never in every sample of a window.
  for (int period : {3, 4, 5}) {
    for (int spike_s : {1, 2}) {
      const Series s = sampled(kLife, kStep, [&](double t) {
        const bool spiking = static_cast<int>(t) % period < spike_s;
        return 50 * kMiB + t * kMiB + (spiking ? 100 * kMiB : 0);
      });
      const LeakJudgement j = judge(s);
      SCOPED_TRACE("spikes of " + std::to_string(spike_s) + " s every " + std::to_string(period) + " s");
      EXPECT_TRUE(j.judged);
      EXPECT_TRUE(j.leaking) << j.reason;
      EXPECT_NEAR(j.rate_bytes_per_s, kMiB, 0.1 * kMiB);
      EXPECT_GT(j.r2, 0.95);
      EXPECT_NEAR(j.window_s, 41, 3); // the 75% after the warm-up
      EXPECT_EQ(j.reason.rfind("growing ", 0), 0u) << j.reason;
      EXPECT_NE(j.reason.find("MiB/h"), std::string::npos) << j.reason;
    }
  }
}

TEST(LeakJudge, ReasonOfAFlaggedLeakSaysRateFitAndSpan) {
  const Series s = sampled(kLife, kStep, [](double t) { return 10 * kMiB + 0.001 * kMiB * t * 1000; });
  const LeakJudgement j = judge(s);
  ASSERT_TRUE(j.leaking) << j.reason;
  EXPECT_EQ(j.reason, "growing 3600 MiB/h, r²=1.00 over 41 s");
  EXPECT_EQ(j.key.pid, 4242u);
  EXPECT_EQ(j.comm, "worker");
}

TEST(LeakJudge, GrowthDuringWarmUpThenFlatIsNotALeak) {
  // +50 MiB within the first 10-20% of its life, then flat.
  const Series s =
      sampled(kLife, kStep, [](double t) { return 100 * kMiB + 50 * kMiB * std::clamp((t - 6) / 6, 0.0, 1.0); });
  const LeakJudgement j = judge(s);
  EXPECT_TRUE(j.judged);
  EXPECT_FALSE(j.leaking) << j.reason;
  EXPECT_EQ(j.reason.rfind("rate below", 0), 0u) << j.reason;
}

TEST(LeakJudge, OneStepAnywhereAfterWarmUpIsNotALeak) {
  // A single +50 MiB step (instant, or spread over up to 15 s) at any
  // point of the fit: a step fits a line with r² = 3p(1-p) <= 0.75, and a
  // spread one that fits better has a flat end or a flat start.
  for (double at : {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}) {
    for (double ramp_s : {0.0, 5.0, 10.0, 15.0}) {
      const double step_s = at * kLife;
      const Series s = sampled(kLife, kStep, [&](double t) {
        const double done = ramp_s == 0 ? (t >= step_s ? 1 : 0) : std::clamp((t - step_s) / ramp_s, 0.0, 1.0);
        return 100 * kMiB + 50 * kMiB * done;
      });
      const LeakJudgement j = judge(s);
      SCOPED_TRACE("step at " + std::to_string(at) + " over " + std::to_string(ramp_s) + " s");
      EXPECT_TRUE(j.judged);
      EXPECT_FALSE(j.leaking) << j.reason;
    }
  }
}

TEST(LeakJudge, StepInTheMiddleIsRejectedForItsFit) {
  const Series s = sampled(kLife, kStep, [](double t) { return 100 * kMiB + (t >= 37 ? 50 * kMiB : 0); });
  const LeakJudgement j = judge(s);
  EXPECT_FALSE(j.leaking);
  EXPECT_LT(j.r2, 0.8);
  EXPECT_EQ(j.reason.rfind("poor fit r²=0.", 0), 0u) << j.reason;
}

TEST(LeakJudge, RiseThatStopsIsNotALeakEvenWhenItFitsALine) {
  // Rises 2 MiB/s from 25 s to 45 s, then flat: r² is high over the fit,
  // but the last third does not grow.
  const Series s =
      sampled(kLife, kStep, [](double t) { return 100 * kMiB + 2 * kMiB * std::clamp(t - 25, 0.0, 20.0); });
  const LeakJudgement j = judge(s);
  EXPECT_TRUE(j.judged);
  EXPECT_FALSE(j.leaking);
  EXPECT_GT(j.r2, 0.8);
  EXPECT_EQ(j.reason, "growth stopped: last third flat");
}

TEST(LeakJudge, OscillatingWorkerIsNotALeak) {
  // Sawtooth and sine between 0 and 80 MiB above its base, period 5-10 s,
  // at every phase.
  for (double period = 5; period <= 10; period += 0.5) {
    for (double phase = 0; phase < 1; phase += 0.125) {
      SCOPED_TRACE("period " + std::to_string(period) + " phase " + std::to_string(phase));
      const Series saw =
          sampled(kLife, kStep, [&](double t) { return 20 * kMiB + 80 * kMiB * std::fmod(t / period + phase, 1.0); });
      EXPECT_FALSE(judge(saw).leaking) << judge(saw).reason;
      const Series sine = sampled(kLife, kStep, [&](double t) {
        return 20 * kMiB + 40 * kMiB * (1 + std::sin(2 * M_PI * (t / period + phase)));
      });
      EXPECT_FALSE(judge(sine).leaking) << judge(sine).reason;
    }
  }
}

TEST(LeakJudge, FlatWithNoiseIsNotALeak) {
  std::mt19937 random(7);
  std::normal_distribution<double> noise(0, 2 * kMiB);
  for (int run = 0; run < 100; ++run) {
    const Series s = sampled(kLife, kStep, [&](double) { return 200 * kMiB + noise(random); });
    const LeakJudgement j = judge(s);
    EXPECT_TRUE(j.judged);
    EXPECT_FALSE(j.leaking) << "run " << run << ": " << j.reason;
  }
}

TEST(LeakJudge, FewPagesOfGrowthAreNotMaterial) {
  // 64 KiB/s is 225 MiB/h and a perfect line, but 2.6 MiB over the fit.
  const Series s = sampled(kLife, kStep, [](double t) { return 100 * kMiB + 64 * 1024 * t; });
  const LeakJudgement j = judge(s);
  EXPECT_TRUE(j.judged);
  EXPECT_FALSE(j.leaking);
  EXPECT_NEAR(j.rate_bytes_per_s, 64 * 1024, 1);
  EXPECT_EQ(j.reason, "growth 2.6 MiB over 41 s below 4 MiB");
}

TEST(LeakJudge, SlowLeakOverHoursIsFlagged) {
  // 20 MiB/h for 6 h, sampled every 30 s with 1 MiB of noise.
  std::mt19937 random(11);
  std::normal_distribution<double> noise(0, kMiB);
  const Series s = sampled(6 * 3600, 30, [&](double t) { return 300 * kMiB + 20 * kMiB * t / 3600 + noise(random); });
  const LeakJudgement j = judge(s);
  EXPECT_TRUE(j.leaking) << j.reason;
  EXPECT_NEAR(j.rate_bytes_per_s * 3600 / kMiB, 20, 1);
  EXPECT_GT(j.r2, 0.97);
  EXPECT_NEAR(j.window_s, 4.5 * 3600, 60);
  EXPECT_EQ(j.reason.rfind("growing 20 MiB/h", 0), 0u) << j.reason;
  EXPECT_NE(j.reason.find("over 4.5 h"), std::string::npos) << j.reason;
}

TEST(LeakJudge, RateBelowOneMebibytePerHourIsNotALeak) {
  // 0.5 MiB/h for 24 h: a line, 9 MiB over the fit, but too slow to matter.
  const Series s = sampled(24 * 3600, 60, [](double t) { return 100 * kMiB + 0.5 * kMiB * t / 3600; });
  const LeakJudgement j = judge(s);
  EXPECT_TRUE(j.judged);
  EXPECT_FALSE(j.leaking);
  EXPECT_EQ(j.reason, "rate below 1 MiB/h: 0.50 MiB/h");
}

TEST(LeakJudge, TooShortALifeIsNotJudged) {
  const Series s = sampled(12, 0.25, [](double t) { return 10 * kMiB + t * kMiB; }); // 47 samples
  const LeakJudgement j = judge(s);
  EXPECT_FALSE(j.judged);
  EXPECT_FALSE(j.leaking);
  EXPECT_EQ(j.reason, "too short: 12 s < 30 s");
}

TEST(LeakJudge, TooFewSamplesAreNotJudged) {
  const Series s = sampled(60, 4, [](double t) { return 10 * kMiB + t * kMiB; }); // 14 samples
  const LeakJudgement j = judge(s);
  EXPECT_FALSE(j.judged);
  EXPECT_EQ(j.reason, "too few samples: 14 < 20");
}

TEST(LeakJudge, LongLifeSeenBrieflyIsNotJudged) {
  // Lived an hour, but tracing saw only its last 20 s.
  Series s = sampled(20.5, 0.5, [](double t) { return 10 * kMiB + t * kMiB; });
  s.start_ns -= 3600 * kSecond;
  const LeakJudgement j = judge(s);
  EXPECT_FALSE(j.judged);
  EXPECT_EQ(j.reason, "observed only 20 s < 30 s");
}

TEST(LeakJudge, FortyFiveSecondsSampledEverySecondIsJudgedByDefault) {
  const Series s = sampled(46, 1, [](double t) { return 10 * kMiB + t * kMiB; });
  ASSERT_GE(s.rss.size(), 30u);
  const LeakJudgement j = judge(s);
  EXPECT_TRUE(j.judged) << j.reason;
  EXPECT_TRUE(j.leaking) << j.reason;
  EXPECT_NEAR(j.rate_bytes_per_s, kMiB, 0.01 * kMiB);
}

TEST(LeakJudge, ThresholdsAreConfigurable) {
  const Series s = sampled(20.5, 0.5, [](double t) { return 10 * kMiB + t * kMiB; });
  LeakConfig config;
  config.min_lifetime_s = 10;
  config.min_window_s = 1;
  const LeakJudgement j = judge(s, config);
  EXPECT_TRUE(j.judged) << j.reason;
  EXPECT_TRUE(j.leaking) << j.reason;
}

TEST(LeakJudge, DownsampledPointsAreJudgedByTheirMinimum) {
  // 2 h of points that each stand for 10 s: the last sample (bytes) and
  // the max are always in a spike that wanders by 240 MiB, far more than
  // the floor (min_bytes) grows at 30 MiB/h; only the floor tells.
  std::vector<RssPoint> rss;
  for (int i = 1; i <= 720; ++i) {
    const double t = i * 10.0;
    const auto floor = static_cast<uint64_t>(100 * kMiB + 30 * kMiB * t / 3600);
    const uint64_t spike = floor + 200 * (1u << 20) + (i % 7) * 40 * (1u << 20);
    rss.push_back({kStartNs + static_cast<uint64_t>(t * 1e9), spike, floor, spike});
  }
  const LeakJudgement j = judge_leak({1, kStartNs}, "dsp", rss, kStartNs, kStartNs + 7201 * kSecond, {});
  EXPECT_TRUE(j.leaking) << j.reason;
  EXPECT_NEAR(j.rate_bytes_per_s * 3600 / kMiB, 30, 0.5);
  EXPECT_GT(j.r2, 0.99);

  // The same points with a flat floor: the spikes' last values wander,
  // the floor does not, so it is not a leak.
  for (RssPoint &p : rss)
    p.min_bytes = 100 * (1u << 20);
  const LeakJudgement flat = judge_leak({1, kStartNs}, "dsp", rss, kStartNs, kStartNs + 7201 * kSecond, {});
  EXPECT_TRUE(flat.judged);
  EXPECT_FALSE(flat.leaking);
  EXPECT_DOUBLE_EQ(flat.rate_bytes_per_s, 0);
}

TEST(LeakJudge, PointsWithoutMeasurementAreSkipped) {
  // An exit sample of 0 (the mm already gone) must not sink the last window.
  Series s = sampled(kLife, kStep, [](double t) { return 10 * kMiB + t * kMiB; });
  s.rss.push_back({s.end_ns, 0, 0, 0});
  const LeakJudgement j = judge(s);
  EXPECT_TRUE(j.leaking) << j.reason;
  EXPECT_NEAR(j.rate_bytes_per_s, kMiB, 0.01 * kMiB);
}

LeakJudgement judged(uint32_t pid, double rate, bool leaking) {
  LeakJudgement j;
  j.key = {pid, kStartNs};
  j.comm = "w" + std::to_string(pid);
  j.judged = true;
  j.leaking = leaking;
  j.rate_bytes_per_s = rate;
  j.r2 = leaking ? 0.99 : 0.1;
  j.window_s = 45;
  return j;
}

TEST(LeakVerdicts, TimeToLimitSharesTheHeadroomAmongAllLeaks) {
  LeakJudgement unjudged;
  unjudged.key = {9, kStartNs};
  unjudged.rate_bytes_per_s = 1e9; // not a rate: never judged
  const std::vector<LeakJudgement> judgements = {judged(1, 2 * kMiB, true), judged(2, 0, false),
                                                 judged(3, 1 * kMiB, true), judged(4, 1024, false), unjudged};
  const uint64_t limit = 1024ull << 20, current = 724ull << 20; // 300 MiB of headroom
  const std::vector<LeakVerdict> v = leak_verdicts(judgements, limit, "memcg", current);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].key.pid, 1u);
  EXPECT_EQ(v[0].comm, "w1");
  EXPECT_DOUBLE_EQ(v[0].rate_bytes_per_s, 2 * kMiB);
  EXPECT_DOUBLE_EQ(v[0].r2, 0.99);
  EXPECT_DOUBLE_EQ(v[0].window_s, 45);
  EXPECT_EQ(v[1].key.pid, 3u);
  for (const LeakVerdict &leak : v) {
    ASSERT_TRUE(leak.seconds_to_limit.has_value());
    EXPECT_DOUBLE_EQ(*leak.seconds_to_limit, 100); // 300 MiB at 3 MiB/s
    EXPECT_EQ(leak.limit_bytes, limit);
    EXPECT_EQ(leak.limit_source, "memcg");
  }
  // Siblings: the other judged processes, the unjudged one left out.
  EXPECT_EQ(v[0].siblings, 3u);
  ASSERT_TRUE(v[0].sibling_median_rate_bytes_per_s.has_value());
  EXPECT_DOUBLE_EQ(*v[0].sibling_median_rate_bytes_per_s, 1024); // median of 0, 1 MiB, 1 KiB
  EXPECT_EQ(v[1].siblings, 3u);
  EXPECT_DOUBLE_EQ(*v[1].sibling_median_rate_bytes_per_s, 1024); // median of 2 MiB, 0, 1 KiB
}

TEST(LeakVerdicts, NoTimeToLimitWithoutALimitOrWhenOverIt) {
  const std::vector<LeakJudgement> judgements = {judged(1, kMiB, true)};
  const std::vector<LeakVerdict> none = leak_verdicts(judgements, std::nullopt, "", 100 << 20);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_FALSE(none[0].seconds_to_limit.has_value());
  EXPECT_FALSE(none[0].limit_bytes.has_value());
  EXPECT_EQ(none[0].limit_source, "");
  // No siblings: nothing to compare with.
  EXPECT_EQ(none[0].siblings, 0u);
  EXPECT_FALSE(none[0].sibling_median_rate_bytes_per_s.has_value());

  const std::vector<LeakVerdict> over = leak_verdicts(judgements, 100ull << 20, "advice", 120ull << 20);
  ASSERT_EQ(over.size(), 1u);
  EXPECT_FALSE(over[0].seconds_to_limit.has_value());
  EXPECT_EQ(over[0].limit_bytes, 100ull << 20);
  EXPECT_EQ(over[0].limit_source, "advice");

  const std::vector<LeakVerdict> advised = leak_verdicts(judgements, 200ull << 20, "advice", 140ull << 20);
  ASSERT_TRUE(advised[0].seconds_to_limit.has_value());
  EXPECT_DOUBLE_EQ(*advised[0].seconds_to_limit, 60);
}

TEST(LeakVerdicts, NothingFlaggedGivesNoVerdicts) {
  EXPECT_TRUE(leak_verdicts({judged(1, 0, false), judged(2, 10, false)}, 1ull << 30, "memcg", 0).empty());
  EXPECT_TRUE(leak_verdicts({}, std::nullopt, "", 0).empty());
}

TEST(Percentile, InterpolatesLinearlyBetweenClosestRanks) {
  const std::vector<double> ten = {10, 1, 9, 2, 8, 3, 7, 4, 6, 5}; // unsorted on purpose
  EXPECT_DOUBLE_EQ(percentile(ten, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(ten, 1), 10);
  EXPECT_DOUBLE_EQ(percentile(ten, 0.5), 5.5);
  EXPECT_DOUBLE_EQ(percentile(ten, 0.9), 9.1);
  EXPECT_DOUBLE_EQ(percentile(ten, 0.95), 9.55);
  EXPECT_DOUBLE_EQ(percentile({4}, 0.9), 4);
  EXPECT_DOUBLE_EQ(percentile({}, 0.9), 0);
  EXPECT_DOUBLE_EQ(percentile({1, 2}, 7), 2); // p is clamped to [0, 1]
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(mean({1, 2, 6}), 3);
}

TEST(Percentile, LineFitRecoversSlopeAndQuality) {
  const LinearFit exact = fit_line({0, 1, 2, 3}, {5, 7, 9, 11});
  EXPECT_DOUBLE_EQ(exact.slope, 2);
  EXPECT_DOUBLE_EQ(exact.intercept, 5);
  EXPECT_DOUBLE_EQ(exact.r2, 1);
  // A step half-way: r² = 3p(1-p) = 0.75 in the limit; 8 points give 64/84.
  const LinearFit step = fit_line({1, 2, 3, 4, 5, 6, 7, 8}, {0, 0, 0, 0, 1, 1, 1, 1});
  EXPECT_NEAR(step.r2, 64.0 / 84.0, 1e-12);
  const LinearFit flat = fit_line({1, 2, 3}, {4, 4, 4});
  EXPECT_DOUBLE_EQ(flat.slope, 0);
  EXPECT_DOUBLE_EQ(flat.r2, 0);
  EXPECT_EQ(approx_duration(45), "45 s");
  EXPECT_EQ(approx_duration(86400), "24 h");
  EXPECT_EQ(approx_duration(4.5 * 3600), "4.5 h");
  EXPECT_EQ(approx_duration(600), "10 min");
}

} // namespace
} // namespace treetrace
