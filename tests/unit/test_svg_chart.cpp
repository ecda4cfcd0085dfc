// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "output/svg_chart.h"

using namespace treetrace::svg;

namespace {

size_t count(const std::string &hay, const std::string &needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + needle.size()))
    ++n;
  return n;
}

LineChart two_lines() {
  LineChart c;
  c.frame.id = "c";
  c.frame.title = "test";
  c.frame.t0 = 0;
  c.frame.t1 = 100;
  for (int s = 0; s < 2; ++s) {
    Series series;
    series.name = "line " + std::to_string(s);
    series.data = {{"kind", "test-line"}};
    for (int i = 0; i <= 100; ++i)
      series.points.push_back({double(i), (s + 1) * 1e6 + i * 1e4});
    c.series.push_back(series);
  }
  return c;
}

} // namespace

TEST(SvgChart, EscapesMarkupAndQuotes) {
  EXPECT_EQ(escape("<script>alert(1)</script>\"&'"), "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#39;");
  EXPECT_EQ(escape("python3"), "python3");
}

TEST(SvgChart, EscapeReplacesWhatXmlForbids) {
  // A lone continuation byte, a control character, DEL: each one U+FFFD.
  EXPECT_EQ(escape("a\x80"
                   "b\x01"
                   "c\x7f"),
            "a\xef\xbf\xbd"
            "b\xef\xbf\xbd"
            "c\xef\xbf\xbd");
  EXPECT_EQ(escape("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(escape("\xef\xbf\xbf"), "\xef\xbf\xbd"); // U+FFFF, a noncharacter
}

TEST(SvgChart, HumanUnits) {
  EXPECT_EQ(format_value(1.5 * 1024 * 1024, Unit::Bytes), "1.5 MiB");
  EXPECT_EQ(format_value(512, Unit::Bytes), "512 B");
  EXPECT_EQ(format_value(2.0 * 1024 * 1024 * 1024, Unit::Bytes), "2 GiB");
  EXPECT_EQ(format_value(0.25, Unit::Cores), "250 m");
  EXPECT_EQ(format_value(1, Unit::Cores), "1 core");
  EXPECT_EQ(format_value(2.5, Unit::Cores), "2.5 cores");
  EXPECT_EQ(format_duration(45), "45 s");
  EXPECT_EQ(format_duration(90), "1.5 min");
  EXPECT_EQ(format_duration(5400), "1.5 h");
  EXPECT_EQ(short_number(0.03), "0.03");
  EXPECT_EQ(short_number(250), "250");
  EXPECT_EQ(short_number(12.34), "12.3");
}

TEST(SvgChart, ValueTicksCoverTheMaximumInRoundSteps) {
  auto ticks = value_ticks(700.0 * 1024 * 1024, Unit::Bytes);
  ASSERT_GE(ticks.size(), 3u);
  EXPECT_EQ(ticks.front().label, "0 B");
  EXPECT_GE(ticks.back().value, 700.0 * 1024 * 1024);
  EXPECT_LE(ticks.size(), 9u);
  auto times = time_ticks(0, 3600);
  ASSERT_FALSE(times.empty());
  EXPECT_EQ(times.back().label, "1 h");
}

TEST(SvgChart, EnvelopeKeepsTheSpikeADecimationWouldDrop) {
  std::vector<Point> pts;
  for (int i = 0; i < 10000; ++i)
    pts.push_back({i / 100.0, i == 4321 ? 1000.0 : 1.0});
  auto cols = envelope(pts, 0, 100, 50);
  ASSERT_EQ(cols.size(), 50u);
  double top = 0;
  for (const Column &c : cols)
    top = std::max(top, c.max);
  EXPECT_EQ(top, 1000.0);
  EXPECT_EQ(cols[21].max, 1000.0);
  EXPECT_EQ(cols[21].last, 1.0);
}

TEST(SvgChart, LineChartHasOneElementPerSeriesAndNoUrl) {
  std::string out = render_line_chart(two_lines());
  EXPECT_EQ(count(out, "data-series="), 2u);
  EXPECT_EQ(count(out, "data-kind=\"test-line\""), 2u);
  EXPECT_EQ(out.find("http"), std::string::npos);
  EXPECT_NE(out.find("<ul class=\"legend\">"), std::string::npos);
}

TEST(SvgChart, LineChartSizeDependsOnPixelsNotSamples) {
  LineChart c = two_lines();
  c.series.resize(1);
  c.series[0].points.clear();
  for (int i = 0; i < 200000; ++i)
    c.series[0].points.push_back({i / 2000.0, 1e6 + (i % 97) * 1e4});
  std::string out = render_line_chart(c);
  EXPECT_LT(out.size(), 40000u);
}

TEST(SvgChart, ReferenceLineDrawnOrNamedWhenAboveTheScale) {
  LineChart c = two_lines();
  c.refs.push_back({2.5e6, "limit", "#c0392b", false, {{"kind", "limit"}}});
  std::string near = render_line_chart(c);
  EXPECT_NE(near.find("<path class=\"ref\" data-kind=\"limit\""), std::string::npos);
  c.refs[0].value = 1e9; // far above: would flatten every line
  std::string far = render_line_chart(c);
  EXPECT_NE(far.find("above the scale"), std::string::npos);
  EXPECT_NE(far.find("data-kind=\"limit\""), std::string::npos);
}

TEST(SvgChart, HighlightedLineGetsItsLabel) {
  LineChart c = two_lines();
  c.series[1].highlight = true;
  c.series[1].label = "+12 MiB/h";
  std::string out = render_line_chart(c);
  EXPECT_NE(out.find("class=\"series hl\""), std::string::npos);
  EXPECT_NE(out.find(">+12 MiB/h</tspan>"), std::string::npos);
}

TEST(SvgChart, StackedChartOneAreaPerSeries) {
  StackedChart c;
  c.frame.t1 = 60;
  for (int s = 0; s < 3; ++s) {
    Series series;
    series.name = "comm" + std::to_string(s);
    for (int i = 1; i <= 60; ++i)
      series.points.push_back({double(i), 0.5});
    c.series.push_back(series);
  }
  std::string out = render_stacked_chart(c);
  EXPECT_EQ(count(out, "class=\"area\""), 3u);
  // Three series of half a core stack to 1.5: the scale reaches past it.
  EXPECT_NE(out.find(">1.5 cores<"), std::string::npos);
}

TEST(SvgChart, TimelineMarksEndsAndSaysWhatIsNotDrawn) {
  Timeline tl;
  tl.frame.t1 = 100;
  tl.bars.push_back({"1 init", 0, 100, true, Bar::End::Exit, "", {}});
  tl.bars.push_back({"2 <b>x</b>", 10, 20, false, Bar::End::OomKill, "OOM kill", {}});
  tl.bars.push_back({"3 sh", 10, 30, false, Bar::End::Signal, "SIGKILL", {}});
  tl.not_drawn = 42;
  std::string out = render_timeline(tl);
  EXPECT_EQ(count(out, "<rect class=\"bar"), 3u);
  EXPECT_NE(out.find("class=\"mark oom\""), std::string::npos);
  EXPECT_NE(out.find("class=\"mark signal\""), std::string::npos);
  EXPECT_NE(out.find("42 shorter-lived processes not drawn"), std::string::npos);
  EXPECT_EQ(out.find("<b>"), std::string::npos);
}

TEST(SvgChart, TimelineLabelsAreCutOnCharacterBoundaries) {
  Timeline tl;
  std::string longname;
  for (int i = 0; i < 40; ++i)
    longname += "\xc3\xa9"; // é, two bytes each
  tl.bars.push_back({longname, 0, 1, false, Bar::End::Exit, "", {}});
  std::string out = render_timeline(tl);
  EXPECT_EQ(out.find("\xef\xbf\xbd"), std::string::npos); // nothing split into invalid UTF-8
  EXPECT_NE(out.find("\xe2\x80\xa6"), std::string::npos); // the ellipsis
}
