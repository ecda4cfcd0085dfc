// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Inline SVG charts for the HTML report: line charts with a min/max
// envelope, stacked areas, process timelines, axes in human units.
// Self-contained text: no scripts, no fonts, no external references (not
// even the SVG namespace URL: inline <svg> in HTML5 needs none), so the
// report opens on an air-gapped machine. Every string that reaches the
// output (command names are chosen by whoever runs the process) goes
// through escape(). Each series is one element carrying data-series (and
// any data-* the caller adds), so tests and readers can count them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace treetrace::svg {

// Text and attribute values for HTML and SVG: & < > " ' escaped, invalid
// UTF-8 and control characters (which XML forbids) replaced by U+FFFD.
std::string escape(std::string_view raw);

enum class Unit { Bytes, Cores, Seconds, Count };

// At most three significant digits, no trailing zeros: "1.5", "250", "0.03".
std::string short_number(double v);
// "512 B", "1.5 KiB", "340 MiB", "2.1 GiB"; "250 m" / "1.5 cores"; "45 s", "12 min", "1.5 h".
std::string format_value(double v, Unit unit);
std::string format_duration(double seconds);

struct Tick {
  double value = 0;
  std::string label;
};
// Round ticks covering [0, max] (values) or [t0, t1] (seconds), about `target` of them.
std::vector<Tick> value_ticks(double max, Unit unit, int target = 5);
std::vector<Tick> time_ticks(double t0, double t1, int target = 8);

struct Point {
  double t = 0; // seconds since the report's start
  double v = 0;
};

// One pixel column of a downsampled series.
struct Column {
  double t = 0; // the column's centre
  double min = 0, max = 0, last = 0;
};
// At most `columns` columns over [t0, t1], one per pixel column: the
// envelope keeps every spike a plain decimation would drop.
std::vector<Column> envelope(const std::vector<Point> &points, double t0, double t1, int columns);

using DataAttrs = std::vector<std::pair<std::string, std::string>>; // name without "data-", value

struct Series {
  std::string name;
  std::vector<Point> points; // sorted by t
  std::string color;         // CSS colour; empty: chosen from the palette
  DataAttrs data;
  bool highlight = false; // drawn thicker, its label at the line's end
  std::string label;      // drawn at the end of a highlighted line (e.g. "+12 MiB/h")
  bool dashed = false;
};

struct RefLine {
  double value = 0;
  std::string label; // "limit 2 GiB"
  std::string color = "#c0392b";
  bool dashed = false;
  DataAttrs data; // on the line, or on the note that replaces it when it is above the scale
};

struct ChartFrame {
  std::string id;        // element id, for links and the hover readout
  std::string title;     // read by screen readers (<title>)
  std::string caveat;    // drawn under the plot, e.g. "PSS sampled every interval"
  double t0 = 0, t1 = 1; // seconds
  int width = 960, height = 300;
};

struct LineChart {
  ChartFrame frame;
  Unit unit = Unit::Bytes;
  std::vector<Series> series;
  std::vector<RefLine> refs;
};
// The SVG element plus an HTML legend after it.
std::string render_line_chart(const LineChart &chart);

// Series whose values stack (CPU in cores by command); each is resampled
// to the same columns, averaged within a column.
struct StackedChart {
  ChartFrame frame;
  Unit unit = Unit::Cores;
  std::vector<Series> series; // bottom first
};
std::string render_stacked_chart(const StackedChart &chart);

struct Bar {
  std::string label;          // left of the row: "1234 python"
  double start = 0, end = 0;  // seconds
  bool still_running = false; // alive at the end: the bar runs off the right edge
  enum class End { Exit, Failed, Signal, OomKill } end_kind = End::Exit;
  std::string end_note; // "SIGKILL", "exit 1", "OOM kill": in the bar's tooltip and marker
  DataAttrs data;
};
struct Timeline {
  ChartFrame frame; // frame.height is ignored: rows decide it
  std::vector<Bar> bars;
  size_t not_drawn = 0; // processes left out to bound the size, said under the chart
  int row_height = 14;
};
std::string render_timeline(const Timeline &timeline);

// The palette series are coloured from, in order; colour-blind-safe first.
const std::vector<std::string> &palette();

// The CSS the classes above need (axes, lines, bands, bars, legends). Kept
// here, beside the markup it styles, for the page to inline once.
const char *stylesheet();

} // namespace treetrace::svg
