// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "core/report_model.h"
#include "output/report_html.h"

using namespace treetrace;

namespace {

constexpr uint64_t kSec = 1000000000ull;
constexpr uint64_t kMiB = 1024ull * 1024;

size_t count(const std::string &hay, const std::string &needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + needle.size()))
    ++n;
  return n;
}

struct Pool {
  size_t workers = 4;
  uint64_t seconds = 120;
  uint64_t interval_s = 1;
  size_t comms = 3;
  size_t short_lived = 10;
  bool memcg_limit = false;
  std::string worker_comm = "worker";
};

// A process pool: `workers` long-lived processes sampled every interval,
// short-lived children, one tick per interval with CPU by command.
ReportModel pool(const Pool &cfg) {
  ReportModel m;
  const uint64_t start = 1000 * kSec, interval = cfg.interval_s * kSec;
  m.meta.hostname = "host";
  m.meta.kernel = "6.1.0";
  m.meta.command = "gunicorn app:app";
  m.meta.group_by = "tree";
  m.meta.start_ns = start;
  m.meta.end_ns = start + cfg.seconds * kSec;
  m.meta.interval_ns = interval;
  m.meta.records = 12345;
  ReportGroup g;
  g.name = "100 gunicorn";
  for (size_t w = 0; w < cfg.workers; ++w) {
    ProcessHistory p;
    p.key = {static_cast<uint32_t>(200 + w), start};
    p.comm = cfg.worker_comm;
    p.group = g.name;
    for (uint64_t t = start + interval; t <= m.meta.end_ns; t += interval) {
      // A slow wave plus sample-to-sample jitter, so the min/max band is
      // drawn too, as it is for real allocators.
      uint64_t jitter = (t / kSec * 2654435761u + w * 40503u) % (3 * kMiB);
      uint64_t b = (100 + w) * kMiB + static_cast<uint64_t>((std::sin(t / 1e11 + w) + 1) * 4 * kMiB) + jitter;
      p.rss.push_back({t, b, b, b});
      p.rss_peak_bytes = std::max(p.rss_peak_bytes, b);
    }
    g.processes.push_back(m.processes.size());
    m.processes.push_back(std::move(p));
  }
  for (size_t i = 0; i < cfg.short_lived; ++i) {
    ProcessHistory p;
    p.key = {static_cast<uint32_t>(10000 + i), start + (i * cfg.seconds * kSec) / std::max<size_t>(cfg.short_lived, 1)};
    p.comm = "sh";
    p.end_ns = p.key.start_ns + kSec / 2 + (i % 7) * kSec / 10;
    p.end = i % 100 == 5 ? ProcessEnd::Signaled : ProcessEnd::Exited;
    p.signal = p.end == ProcessEnd::Signaled ? 9 : 0;
    g.processes.push_back(m.processes.size());
    m.processes.push_back(std::move(p));
  }
  for (uint64_t t = start + interval; t <= m.meta.end_ns; t += interval) {
    GroupTick k;
    k.ts_ns = t;
    k.interval_ns = interval;
    k.rss_bytes = cfg.workers * 100 * kMiB;
    k.pss_bytes = k.rss_bytes / 2;
    if (cfg.memcg_limit) {
      k.memcg_current_bytes = k.rss_bytes * 3 / 4;
      k.memcg_limit_bytes = 2 * k.rss_bytes;
    }
    for (size_t c = 0; c < cfg.comms; ++c)
      k.by_comm.push_back({"comm" + std::to_string(c), interval / (c + 2)});
    g.ticks.push_back(std::move(k));
  }
  g.totals.cpu_ns = cfg.seconds * kSec;
  g.totals.procs_total = m.processes.size();
  g.totals.rss_peak_bytes = cfg.workers * 108 * kMiB;
  g.totals.by_comm.push_back({cfg.worker_comm, cfg.workers, cfg.seconds * kSec, 108 * kMiB});
  if (cfg.memcg_limit)
    g.totals.memcg_limit_bytes = 2 * cfg.workers * 100 * kMiB;
  m.groups.push_back(std::move(g));
  return m;
}

} // namespace

TEST(ReportHtml, HostileCommandNamesAreEscapedEverywhere) {
  const std::string hostile = "<script>alert(1)</script>\"&";
  Pool cfg;
  cfg.worker_comm = hostile;
  ReportModel m = pool(cfg);
  m.groups[0].name = hostile;
  m.meta.command = hostile;
  m.meta.hostname = hostile;
  LeakVerdict v;
  v.key = m.processes[0].key;
  v.comm = hostile;
  v.rate_bytes_per_s = 1e3;
  v.limit_source = hostile;
  v.seconds_to_limit = 100;
  v.limit_bytes = kMiB;
  m.groups[0].leaks.push_back(v);
  LeakJudgement j;
  j.key = m.processes[1].key;
  j.comm = hostile;
  j.judged = true;
  j.reason = hostile;
  m.groups[0].judgements.push_back(j);
  std::string out = render_html_report(m);
  EXPECT_EQ(out.find(hostile), std::string::npos);
  EXPECT_EQ(out.find("<script>alert"), std::string::npos);
  EXPECT_NE(out.find("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;"), std::string::npos);
  // The page's own readout is the only script.
  EXPECT_EQ(count(out, "<script"), 1u);
}

TEST(ReportHtml, NoNetworkReferences) {
  Pool cfg;
  cfg.memcg_limit = true;
  ReportModel m = pool(cfg);
  m.groups[0].advice = Advice{};
  std::string out = render_html_report(m);
  EXPECT_EQ(out.find("http://"), std::string::npos);
  EXPECT_EQ(out.find("https://"), std::string::npos);
  EXPECT_EQ(out.find("src="), std::string::npos);
  EXPECT_EQ(out.find("@import"), std::string::npos);
  EXPECT_EQ(out.find("url("), std::string::npos);
}

TEST(ReportHtml, OneRssSeriesPerLongLivedProcessUpToTwenty) {
  for (size_t workers : {1u, 4u, 19u, 20u, 21u, 50u}) {
    Pool cfg;
    cfg.workers = workers;
    cfg.seconds = 30;
    std::string out = render_html_report(pool(cfg));
    size_t expect = workers <= kMaxRssLines ? workers : kMaxRssLines - 1;
    EXPECT_EQ(count(out, "data-kind=\"process-rss\""), expect) << workers << " workers";
    EXPECT_EQ(count(out, "data-kind=\"process-rss-others\""), workers > kMaxRssLines ? 1u : 0u)
        << workers << " workers";
  }
}

TEST(ReportHtml, ShortLivedProcessesAreNotRssSeries) {
  Pool cfg;
  cfg.workers = 2;
  cfg.short_lived = 50; // each with no RSS sample
  std::string out = render_html_report(pool(cfg));
  EXPECT_EQ(count(out, "data-kind=\"process-rss\""), 2u);
}

TEST(ReportHtml, LeakingProcessIsHighlightedWithItsRate) {
  Pool cfg;
  cfg.workers = 30;
  ReportModel m = pool(cfg);
  // The smallest worker leaks: it must be drawn although 19 peak higher.
  LeakVerdict v;
  v.key = m.processes[0].key;
  v.comm = "worker";
  v.rate_bytes_per_s = 12.0 * kMiB / 3600;
  v.window_s = 100;
  v.r2 = 0.95;
  m.groups[0].leaks.push_back(v);
  std::string out = render_html_report(m);
  EXPECT_NE(out.find("data-pid=\"200\" data-leak=\"1\""), std::string::npos);
  EXPECT_NE(out.find(">+12 MiB/h</tspan>"), std::string::npos);
  EXPECT_NE(out.find("data-kind=\"leak-verdict\""), std::string::npos);
}

TEST(ReportHtml, LimitLineIffTheMemcgLimitIsKnown) {
  Pool cfg;
  std::string without = render_html_report(pool(cfg));
  EXPECT_EQ(without.find("data-kind=\"memcg-limit\""), std::string::npos);
  cfg.memcg_limit = true;
  std::string with = render_html_report(pool(cfg));
  EXPECT_EQ(count(with, "data-kind=\"memcg-limit\""), 1u);
  EXPECT_NE(with.find("data-kind=\"group-memcg\""), std::string::npos);
  EXPECT_NE(with.find("RSS sum counts shared pages once per member; PSS sampled every interval"), std::string::npos);
}

TEST(ReportHtml, CutShortBannerCarriesTheNote) {
  Pool cfg;
  ReportModel m = pool(cfg);
  EXPECT_EQ(render_html_report(m).find("data-kind=\"cut-short\""), std::string::npos);
  m.meta.cut_short = true;
  m.meta.cut_note = "ended after the last flushed frame (killed?)";
  m.meta.records_lost = 17;
  std::string out = render_html_report(m);
  EXPECT_NE(out.find("data-kind=\"cut-short\""), std::string::npos);
  EXPECT_NE(out.find("ended after the last flushed frame (killed?)"), std::string::npos);
  EXPECT_NE(out.find("data-kind=\"records-lost\""), std::string::npos);
}

TEST(ReportHtml, AdviceAsAResourcesBlock) {
  Pool cfg;
  ReportModel m = pool(cfg);
  Advice a;
  a.cpu_request_millicores = 250;
  a.memory_request_bytes = 512 * kMiB;
  a.memory_limit_bytes = 768 * kMiB + 1; // rounded up, never down
  a.low_confidence = true;
  a.confidence_note = "covers 60 s < 24 h";
  a.methods = {{"VPA", 300, {}, 600 * kMiB, {}}, {"KRR", 200, {}, 500 * kMiB, 700 * kMiB}};
  m.groups[0].advice = a;
  std::string out = render_html_report(m);
  EXPECT_NE(out.find("resources:\n  requests:\n    cpu: &quot;250m&quot;\n    memory: &quot;512Mi&quot;\n"
                     "  limits:\n    memory: &quot;769Mi&quot;\n</pre>"),
            std::string::npos);
  EXPECT_NE(out.find("covers 60 s &lt; 24 h"), std::string::npos);
  EXPECT_NE(out.find("<td>VPA</td>"), std::string::npos);
  a.cpu_limit_millicores = 1500;
  m.groups[0].advice = a;
  EXPECT_NE(render_html_report(m).find("memory: &quot;769Mi&quot;\n    cpu: &quot;1500m&quot;\n</pre>"),
            std::string::npos);
}

TEST(ReportHtml, GroupsPastTheBoundAreSummarised) {
  Pool cfg;
  cfg.workers = 1;
  cfg.seconds = 10;
  ReportModel one = pool(cfg), m;
  m.meta = one.meta;
  for (int i = 0; i < 25; ++i) {
    ReportGroup g = one.groups[0];
    g.name = "group " + std::to_string(i);
    g.processes.clear();
    m.groups.push_back(g);
  }
  std::string out = render_html_report(m);
  EXPECT_EQ(count(out, "<section class=\"card group\""), kMaxHtmlGroups);
  EXPECT_NE(out.find("5 more groups"), std::string::npos);
  EXPECT_NE(out.find("<td>group 24</td>"), std::string::npos);
}

TEST(ReportHtml, EmptyModelStillRenders) {
  std::string out = render_html_report(ReportModel{});
  EXPECT_NE(out.find("</html>"), std::string::npos);
  EXPECT_NE(out.find("Nothing was recorded"), std::string::npos);
}

// The bound the report is designed to: an hour of a 50-process pool at 1 s
// samples, 10 commands, 2000 short-lived processes.
TEST(ReportHtml, HourOfAFiftyProcessPoolStaysSmallAndFast) {
  Pool cfg;
  cfg.workers = 50;
  cfg.seconds = 3600;
  cfg.comms = 10;
  cfg.short_lived = 2000;
  cfg.memcg_limit = true;
  ReportModel m = pool(cfg);
  ASSERT_EQ(m.processes.size(), 2050u);
  ASSERT_EQ(m.processes[0].rss.size(), 3600u);
  ASSERT_EQ(m.groups[0].ticks.size(), 3600u);
  auto t0 = std::chrono::steady_clock::now();
  std::string out = render_html_report(m);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ report   ] %zu bytes (%.2f MB) in %.3f s\n", out.size(), out.size() / 1e6, seconds);
  RecordProperty("html_bytes", std::to_string(out.size()));
  RecordProperty("render_ms", std::to_string(static_cast<long>(seconds * 1000)));
  EXPECT_LE(out.size(), 2u * 1000 * 1000);
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ(count(out, "data-kind=\"process-rss\""), 19u);
  // The size bound holds with the min/max bands drawn, the expensive case.
  EXPECT_GE(count(out, "<path class=\"env\""), 19u);
  EXPECT_EQ(count(out, "<rect class=\"bar"), kMaxTimelineRows);
  EXPECT_NE(out.find(std::to_string(2050 - kMaxTimelineRows) + " shorter-lived processes not drawn"),
            std::string::npos);
  // The signal exits are kept when short processes are dropped.
  EXPECT_EQ(count(out, "class=\"mark signal\""), 20u);
}
