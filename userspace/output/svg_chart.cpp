// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>

#include "util/utf8.h"

namespace treetrace::svg {

std::string escape(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + 8);
  const auto *p = reinterpret_cast<const unsigned char *>(raw.data());
  const auto *end = p + raw.size();
  while (p < end) {
    unsigned char c = *p;
    if (c >= 0x80) {
      int n = utf8_sequence(p, end);
      // U+FFFE and U+FFFF are noncharacters XML forbids too.
      bool nonchar = n == 3 && p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xbe;
      if (n > 0 && !nonchar)
        out.append(reinterpret_cast<const char *>(p), n);
      else
        out += kUtf8Replacement;
      p += n > 0 ? n : -n;
      continue;
    }
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
        out += kUtf8Replacement;
      else
        out += static_cast<char>(c);
    }
    ++p;
  }
  return out;
}

namespace {

std::string strip_zeros(std::string s) {
  if (s.find('.') == std::string::npos)
    return s;
  while (!s.empty() && s.back() == '0')
    s.pop_back();
  if (!s.empty() && s.back() == '.')
    s.pop_back();
  return s;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = strip_zeros(buf);
  return s == "-0" ? "0" : s;
}

std::string precise(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// Pixel coordinates: one decimal is finer than any screen needs.
void coord(std::string &out, double v) {
  long tenths = std::lround(v * 10);
  if (tenths < 0) {
    out += '-';
    tenths = -tenths;
  }
  out += std::to_string(tenths / 10);
  if (tenths % 10) {
    out += '.';
    out += static_cast<char>('0' + tenths % 10);
  }
}

void point(std::string &out, char cmd, double x, double y) {
  if (cmd)
    out += cmd;
  else
    out += ' ';
  coord(out, x);
  out += ' ';
  coord(out, y);
}

std::string data_attrs(const DataAttrs &data) {
  std::string out;
  for (const auto &[k, v] : data)
    out += " data-" + escape(k) + "=\"" + escape(v) + "\"";
  return out;
}

const char *unit_name(Unit u) {
  switch (u) {
  case Unit::Bytes:
    return "bytes";
  case Unit::Cores:
    return "cores";
  case Unit::Seconds:
    return "seconds";
  case Unit::Count:
    return "count";
  }
  return "count";
}

double nice_step(double raw, const std::vector<double> &mantissas) {
  if (!(raw > 0))
    return 1;
  double mag = std::pow(10, std::floor(std::log10(raw)));
  for (double m : mantissas)
    if (m * mag >= raw * (1 - 1e-9))
      return m * mag;
  return 10 * mag;
}

} // namespace

std::string short_number(double v) {
  if (!std::isfinite(v))
    return "0";
  double a = std::fabs(v);
  if (a >= 100 || a == 0)
    return fixed(v, 0);
  if (a >= 10)
    return fixed(v, 1);
  if (a >= 1)
    return fixed(v, 2);
  int decimals = 2 - static_cast<int>(std::floor(std::log10(a)));
  return fixed(v, std::min(decimals, 9));
}

std::string format_duration(double s) {
  double a = std::fabs(s);
  if (a == 0)
    return "0 s";
  if (a < 1)
    return short_number(s * 1000) + " ms";
  if (a < 60)
    return short_number(s) + " s";
  if (a < 3600)
    return short_number(s / 60) + " min";
  return short_number(s / 3600) + " h";
}

std::string format_value(double v, Unit unit) {
  switch (unit) {
  case Unit::Bytes: {
    static const char *names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    double x = v;
    while (std::fabs(x) >= 1024 && i < 4) {
      x /= 1024;
      ++i;
    }
    return short_number(x) + " " + names[i];
  }
  case Unit::Cores:
    if (v != 0 && std::fabs(v) < 1)
      return short_number(v * 1000) + " m";
    return short_number(v) + (v == 1 ? " core" : " cores");
  case Unit::Seconds:
    return format_duration(v);
  case Unit::Count:
    return short_number(v);
  }
  return short_number(v);
}

std::vector<Tick> value_ticks(double max, Unit unit, int target) {
  if (!(max > 0))
    max = unit == Unit::Bytes ? 1024 * 1024 : 1;
  double base = 1;
  if (unit == Unit::Bytes)
    while (max / base >= 1024 && base < std::pow(1024.0, 4))
      base *= 1024;
  double step = nice_step(max / base / std::max(target, 1), {1, 2, 2.5, 5}) * base;
  if (unit == Unit::Bytes && step < 1)
    step = 1;
  std::vector<Tick> ticks;
  int n = static_cast<int>(std::ceil(max / step - 1e-9));
  for (int i = 0; i <= std::max(n, 1); ++i)
    ticks.push_back({i * step, format_value(i * step, unit)});
  return ticks;
}

std::vector<Tick> time_ticks(double t0, double t1, int target) {
  static const double steps[] = {0.001, 0.002, 0.005, 0.01,  0.02,  0.05,  0.1,   0.2,    0.5,   1,
                                 2,     5,     10,    15,    30,    60,    120,   300,    600,   900,
                                 1800,  3600,  7200,  10800, 21600, 43200, 86400, 172800, 604800};
  double span = std::max(t1 - t0, 1e-3);
  double step = steps[std::size(steps) - 1];
  for (double s : steps)
    if (span / s <= target) {
      step = s;
      break;
    }
  std::vector<Tick> ticks;
  for (double t = std::ceil(t0 / step - 1e-9) * step; t <= t1 + step * 1e-9; t += step)
    ticks.push_back({t, format_duration(t)});
  return ticks;
}

std::vector<Column> envelope(const std::vector<Point> &points, double t0, double t1, int columns) {
  std::vector<Column> out;
  if (points.empty() || columns <= 0)
    return out;
  double span = t1 > t0 ? t1 - t0 : 1;
  long current = -1;
  for (const Point &p : points) {
    long c = std::clamp(static_cast<long>(std::floor((p.t - t0) / span * columns)), 0L, long(columns) - 1);
    // A point out of order (clock noise) joins the current column
    // instead of reopening an earlier one.
    if (c > current) {
      out.push_back({t0 + (c + 0.5) * span / columns, p.v, p.v, p.v});
      current = c;
      continue;
    }
    Column &col = out.back();
    col.min = std::min(col.min, p.v);
    col.max = std::max(col.max, p.v);
    col.last = p.v;
  }
  return out;
}

const std::vector<std::string> &palette() {
  static const std::vector<std::string> colors = {
      "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
      "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5", "#393b79"};
  return colors;
}

namespace {

struct Plot {
  double left = 72, top = 12, right = 120, bottom = 40;
  double w = 0, h = 0;
  double t0 = 0, t1 = 1, ymax = 1;
  double x(double t) const { return left + (t - t0) / (t1 > t0 ? t1 - t0 : 1) * w; }
  double y(double v) const { return top + h - std::clamp(v / ymax, -0.02, 1.02) * h; }
};

Plot make_plot(const ChartFrame &f, double ymax) {
  Plot p;
  if (!f.caveat.empty())
    p.bottom += 16;
  p.w = std::max(f.width - p.left - p.right, 50.0);
  p.h = std::max(f.height - p.top - p.bottom, 40.0);
  p.t0 = f.t0;
  p.t1 = f.t1 > f.t0 ? f.t1 : f.t0 + 1;
  p.ymax = ymax;
  return p;
}

std::string color_of(const Series &s, size_t i) { return s.color.empty() ? palette()[i % palette().size()] : s.color; }

// The <svg> element's opening, with what the hover readout needs to turn a
// mouse position back into a time and a value.
std::string open_svg(const ChartFrame &f, const Plot &p, Unit unit, const char *kind) {
  // No xmlns: the HTML parser puts <svg> in the SVG namespace itself, and
  // the report must not contain a single URL.
  std::string out = "<svg class=\"chart\" role=\"img\"";
  if (!f.id.empty())
    out += " id=\"" + escape(f.id) + "\"";
  out += " data-kind=\"" + std::string(kind) + "\" viewBox=\"0 0 " + std::to_string(f.width) + " " +
         std::to_string(f.height) + "\" width=\"" + std::to_string(f.width) + "\" height=\"" +
         std::to_string(f.height) + "\"";
  // Full precision: the readout turns pixels back into values with these,
  // and a 0.5-core scale rounded to "1" would double every reading.
  out += " data-t0=\"" + precise(p.t0) + "\" data-t1=\"" + precise(p.t1) + "\" data-ymax=\"" + precise(p.ymax) +
         "\" data-unit=\"" + unit_name(unit) + "\"";
  out += " data-px=\"" + fixed(p.left, 1) + "\" data-py=\"" + fixed(p.top, 1) + "\" data-pw=\"" + fixed(p.w, 1) +
         "\" data-ph=\"" + fixed(p.h, 1) + "\">";
  out += "<title>" + escape(f.title) + "</title>";
  return out;
}

void axes(std::string &out, const ChartFrame &f, const Plot &p, const std::vector<Tick> &yticks, bool grid) {
  out += "<g class=\"axis\">";
  for (const Tick &t : yticks) {
    double y = p.y(t.value);
    if (grid) {
      out +=
          "<path class=\"grid\" d=\"M" + fixed(p.left, 1) + " " + fixed(y, 1) + "H" + fixed(p.left + p.w, 1) + "\"/>";
    }
    out += "<text x=\"" + fixed(p.left - 6, 1) + "\" y=\"" + fixed(y + 4, 1) + "\" text-anchor=\"end\">" +
           escape(t.label) + "</text>";
  }
  for (const Tick &t : time_ticks(p.t0, p.t1, std::max(2, static_cast<int>(p.w / 90)))) {
    double x = p.x(t.value);
    out += "<path d=\"M" + fixed(x, 1) + " " + fixed(p.top + p.h, 1) + "v4\"/>";
    out += "<text x=\"" + fixed(x, 1) + "\" y=\"" + fixed(p.top + p.h + 16, 1) + "\" text-anchor=\"middle\">" +
           escape(t.label) + "</text>";
  }
  out += "<path class=\"frame\" d=\"M" + fixed(p.left, 1) + " " + fixed(p.top, 1) + "V" + fixed(p.top + p.h, 1) + "H" +
         fixed(p.left + p.w, 1) + "\"/>";
  if (!f.caveat.empty())
    out += "<text class=\"caveat\" x=\"" + fixed(p.left, 1) + "\" y=\"" + std::to_string(f.height - 6) + "\">" +
           escape(f.caveat) + "</text>";
  out += "</g>";
}

std::string legend(const std::vector<Series> &series) {
  std::string out = "<ul class=\"legend\">";
  for (size_t i = 0; i < series.size(); ++i)
    out += "<li data-legend=\"" + escape(series[i].name) +
           "\"><span class=\"sw\" style=\"background:" + escape(color_of(series[i], i)) + "\"></span>" +
           escape(series[i].name) + "</li>";
  return out + "</ul>";
}

double data_max(const std::vector<Series> &series) {
  double m = 0;
  for (const Series &s : series)
    for (const Point &pt : s.points)
      m = std::max(m, pt.v);
  return m;
}

// Labels at the right edge, pushed apart so none overlaps another.
void end_labels(std::string &out, std::vector<std::pair<double, std::string>> labels, const Plot &p) {
  std::sort(labels.begin(), labels.end());
  double prev = -1e9;
  for (auto &[y, text] : labels) {
    y = std::max(y, prev + 13);
    prev = y;
    out += "<text class=\"endlabel\" x=\"" + fixed(p.left + p.w + 6, 1) + "\" y=\"" + fixed(y + 4, 1) + "\">" + text +
           "</text>";
  }
}

} // namespace

std::string render_line_chart(const LineChart &chart) {
  const ChartFrame &f = chart.frame;
  double dmax = data_max(chart.series);
  // A limit far above the data would flatten every line: it is named
  // instead of drawn when it is more than 4 times the highest value.
  double scale_max = dmax;
  for (const RefLine &r : chart.refs)
    if (r.value <= 4 * std::max(dmax, 1.0))
      scale_max = std::max(scale_max, r.value);
  std::vector<Tick> yticks = value_ticks(scale_max * 1.05, chart.unit);
  Plot p = make_plot(f, yticks.back().value);
  int columns = std::max(1, static_cast<int>(p.w));

  std::string out = "<figure class=\"fig\">" + open_svg(f, p, chart.unit, "line");
  axes(out, f, p, yticks, true);
  std::vector<std::pair<double, std::string>> labels;
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const Series &s = chart.series[i];
    std::vector<Column> cols = envelope(s.points, p.t0, p.t1, columns);
    if (cols.empty())
      continue;
    std::string color = escape(color_of(s, i));
    // The band shows what happened inside a pixel column, drawn only where
    // it is at least a pixel tall.
    bool band = false;
    for (const Column &c : cols)
      band = band || p.y(c.min) - p.y(c.max) >= 1;
    if (band) {
      out += "<path class=\"env\" fill=\"" + color + "\" d=\"";
      for (size_t k = 0; k < cols.size(); ++k)
        point(out, k ? 0 : 'M', p.x(cols[k].t), p.y(cols[k].max));
      for (size_t k = cols.size(); k-- > 0;)
        point(out, 0, p.x(cols[k].t), p.y(cols[k].min));
      out += "Z\"/>";
    }
    double peak = 0;
    for (const Point &pt : s.points)
      peak = std::max(peak, pt.v);
    out += "<path class=\"series" + std::string(s.highlight ? " hl" : "") + (s.dashed ? " dash" : "") + "\" stroke=\"" +
           color + "\" data-series=\"" + escape(s.name) + "\"" + data_attrs(s.data) + " d=\"";
    for (size_t k = 0; k < cols.size(); ++k)
      point(out, k ? 'L' : 'M', p.x(cols[k].t), p.y(cols[k].last));
    if (cols.size() == 1)
      out += "h1";
    out += "\"><title>" + escape(s.name) + ": peak " + escape(format_value(peak, chart.unit)) +
           (s.label.empty() ? "" : ", " + escape(s.label)) + "</title></path>";
    if (s.highlight && !s.label.empty())
      labels.push_back({p.y(cols.back().last), "<tspan fill=\"" + color + "\">" + escape(s.label) + "</tspan>"});
  }
  for (const RefLine &r : chart.refs) {
    std::string color = escape(r.color);
    if (r.value > p.ymax) {
      out += "<text class=\"ref\"" + data_attrs(r.data) + " fill=\"" + color + "\" x=\"" + fixed(p.left + p.w, 1) +
             "\" y=\"" + fixed(p.top + 10, 1) + "\" text-anchor=\"end\">" + escape(r.label) +
             " (above the scale)</text>";
      continue;
    }
    double y = p.y(r.value);
    out += "<path class=\"ref" + std::string(r.dashed ? " dash" : "") + "\"" + data_attrs(r.data) + " stroke=\"" +
           color + "\" d=\"M" + fixed(p.left, 1) + " " + fixed(y, 1) + "H" + fixed(p.left + p.w, 1) + "\"/>";
    labels.push_back({y, "<tspan fill=\"" + color + "\">" + escape(r.label) + "</tspan>"});
  }
  end_labels(out, std::move(labels), p);
  out += "</svg>" + legend(chart.series) + "</figure>";
  return out;
}

std::string render_stacked_chart(const StackedChart &chart) {
  const ChartFrame &f = chart.frame;
  Plot p = make_plot(f, 1);
  // As many columns as the densest series has samples, at most one per
  // two pixels: finer columns would alternate between samples and holes.
  size_t densest = 1;
  for (const Series &s : chart.series)
    densest = std::max(densest, s.points.size());
  int columns = static_cast<int>(std::min<double>(densest, std::max(1.0, p.w / 2)));
  std::vector<std::vector<double>> values(chart.series.size(), std::vector<double>(columns, 0));
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const auto &pts = chart.series[i].points;
    if (pts.empty())
      continue;
    std::vector<double> sum(columns, 0);
    std::vector<int> n(columns, 0);
    double span = p.t1 - p.t0;
    for (const Point &pt : pts) {
      int c = std::clamp(static_cast<int>((pt.t - p.t0) / span * columns), 0, columns - 1);
      sum[c] += pt.v;
      ++n[c];
    }
    int first = std::clamp(static_cast<int>((pts.front().t - p.t0) / span * columns), 0, columns - 1);
    int last = std::clamp(static_cast<int>((pts.back().t - p.t0) / span * columns), 0, columns - 1);
    double held = 0;
    // A rate sample covers the time since the previous one, so a column
    // without a sample inside the series' span holds the next one's rate.
    for (int c = last; c >= first; --c) {
      if (n[c])
        held = sum[c] / n[c];
      values[i][c] = held;
    }
  }
  double top = 0;
  std::vector<double> stack(columns, 0);
  for (const auto &v : values)
    for (int c = 0; c < columns; ++c)
      stack[c] += v[c];
  for (double s : stack)
    top = std::max(top, s);
  std::vector<Tick> yticks = value_ticks(top * 1.05, chart.unit);
  p.ymax = yticks.back().value;

  std::string out = "<figure class=\"fig\">" + open_svg(f, p, chart.unit, "stacked");
  axes(out, f, p, yticks, true);
  std::vector<double> base(columns, 0);
  double cw = p.w / columns;
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const Series &s = chart.series[i];
    out += "<path class=\"area\" fill=\"" + escape(color_of(s, i)) + "\" data-series=\"" + escape(s.name) + "\"" +
           data_attrs(s.data) + " d=\"";
    // Steps, not slopes: each column is one averaged interval.
    for (int c = 0; c < columns; ++c) {
      double y = p.y(base[c] + values[i][c]);
      point(out, c ? 'L' : 'M', p.left + c * cw, y);
      point(out, 0, p.left + (c + 1) * cw, y);
    }
    for (int c = columns; c-- > 0;) {
      double y = p.y(base[c]);
      point(out, 0, p.left + (c + 1) * cw, y);
      point(out, 0, p.left + c * cw, y);
    }
    double total = 0;
    for (int c = 0; c < columns; ++c) {
      total += values[i][c];
      base[c] += values[i][c];
    }
    out += "Z\"><title>" + escape(s.name) + ": on average " + escape(format_value(total / columns, chart.unit)) +
           "</title></path>";
  }
  out += "</svg>" + legend(chart.series) + "</figure>";
  return out;
}

std::string render_timeline(const Timeline &tl) {
  ChartFrame f = tl.frame;
  // A tall timeline scrolls in its box: it gets the time axis at the top
  // too, or its first screen would have no scale at all.
  const bool top_axis = tl.bars.size() > 30;
  const double label_w = 190, right = 24, top = top_axis ? 24 : 8;
  double bottom = 30 + (tl.not_drawn || !f.caveat.empty() ? 16 : 0);
  f.height = static_cast<int>(top + tl.bars.size() * tl.row_height + bottom);
  Plot p;
  p.left = label_w;
  p.top = top;
  p.right = right;
  p.bottom = bottom;
  p.w = std::max(f.width - label_w - right, 50.0);
  p.h = tl.bars.size() * tl.row_height;
  p.t0 = f.t0;
  p.t1 = f.t1 > f.t0 ? f.t1 : f.t0 + 1;
  if (tl.not_drawn)
    f.caveat =
        std::to_string(tl.not_drawn) + " shorter-lived processes not drawn" + (f.caveat.empty() ? "" : "; " + f.caveat);

  std::string out = "<figure class=\"fig\">" + open_svg(f, p, Unit::Count, "timeline");
  axes(out, f, p, {}, false);
  out += "<g class=\"axis\">";
  for (const Tick &t : time_ticks(p.t0, p.t1, std::max(2, static_cast<int>(p.w / 90)))) {
    double x = p.x(t.value);
    out += "<path class=\"grid\" d=\"M" + fixed(x, 1) + " " + fixed(p.top, 1) + "V" + fixed(p.top + p.h, 1) + "\"/>";
    if (top_axis)
      out += "<text x=\"" + fixed(x, 1) + "\" y=\"" + fixed(p.top - 8, 1) + "\" text-anchor=\"middle\">" +
             escape(t.label) + "</text>";
  }
  out += "</g>";
  for (size_t i = 0; i < tl.bars.size(); ++i) {
    const Bar &b = tl.bars[i];
    double y = top + i * tl.row_height;
    double x0 = p.x(std::max(b.start, p.t0));
    double x1 = std::max(p.x(std::min(b.end, p.t1)), x0 + 1.5);
    const char *cls = "exit";
    switch (b.end_kind) {
    case Bar::End::Exit:
      cls = "exit";
      break;
    case Bar::End::Failed:
      cls = "failed";
      break;
    case Bar::End::Signal:
      cls = "signal";
      break;
    case Bar::End::OomKill:
      cls = "oom";
      break;
    }
    // Labels are cut by characters, never inside a UTF-8 sequence.
    std::string label = b.label;
    size_t keep = 0, chars = 0;
    while (keep < label.size() && chars < 28) {
      auto c = static_cast<unsigned char>(label[keep]);
      keep += c < 0x80 ? 1
                       : std::max(1, std::abs(utf8_sequence(
                                         reinterpret_cast<const unsigned char *>(&label[keep]),
                                         reinterpret_cast<const unsigned char *>(label.data() + label.size()))));
      ++chars;
    }
    if (keep < label.size())
      label = label.substr(0, keep) + "\xe2\x80\xa6";
    out += "<text x=\"" + fixed(label_w - 6, 1) + "\" y=\"" + fixed(y + tl.row_height - 3, 1) +
           "\" text-anchor=\"end\">" + escape(label) + "</text>";
    std::string tip = b.label + ": " + format_duration(b.start) + " to " +
                      (b.still_running ? std::string("the end, still running") : format_duration(b.end)) +
                      (b.end_note.empty() ? "" : ", " + b.end_note);
    out += "<rect class=\"bar " + std::string(b.still_running ? "live" : cls) + "\"" + data_attrs(b.data) + " x=\"" +
           fixed(x0, 1) + "\" y=\"" + fixed(y + 2, 1) + "\" width=\"" + fixed(x1 - x0, 1) + "\" height=\"" +
           std::to_string(tl.row_height - 4) + "\"><title>" + escape(tip) + "</title></rect>";
    if (!b.still_running && b.end_kind != Bar::End::Exit) {
      double cy = y + tl.row_height / 2.0;
      out += "<path class=\"mark " + std::string(cls) + "\" d=\"";
      if (b.end_kind == Bar::End::OomKill)
        out += "M" + fixed(x1, 1) + " " + fixed(cy - 5, 1) + "l5 5-5 5-5-5z";
      else if (b.end_kind == Bar::End::Signal)
        out += "M" + fixed(x1 - 4, 1) + " " + fixed(cy - 4, 1) + "l8 8m0-8l-8 8";
      else
        out += "M" + fixed(x1, 1) + " " + fixed(cy - 5, 1) + "v10";
      out += "\"><title>" + escape(b.end_note) + "</title></path>";
    }
  }
  out += "</svg>";
  out += "<ul class=\"legend\"><li><span class=\"sw\" style=\"background:#4a7fb5\"></span>exited (0)</li>"
         "<li><span class=\"sw\" style=\"background:#e6a23c\"></span>exited non-zero</li>"
         "<li><span class=\"sw\" style=\"background:#8e44ad\"></span>killed by a signal (&#215;)</li>"
         "<li><span class=\"sw\" style=\"background:#c0392b\"></span>OOM kill (&#9670;)</li>"
         "<li><span class=\"sw\" style=\"background:#9cc3e6\"></span>still running at the end</li></ul>";
  return out + "</figure>";
}

const char *stylesheet() {
  // Colours of the bars match the timeline's legend, written in
  // render_timeline(); a change here must change it there.
  return R"css(svg.chart{display:block;max-width:100%;height:auto;font-size:11px;overflow:visible}
svg.chart text{fill:#4b5563}
.axis path{stroke:#9ca3af;fill:none}
.axis path.grid{stroke:#eceff3}
.axis path.frame{stroke:#6b7280}
.axis text.caveat{font-style:italic;fill:#6b7280}
path.series{fill:none;stroke-width:1.4;stroke-linejoin:round;stroke-linecap:round}
path.series:hover{stroke-width:3}
path.series.hl{stroke-width:3}
path.series.dash{stroke-dasharray:5 3}
path.env{stroke:none;opacity:.16;pointer-events:none}
path.ref{fill:none;stroke-width:1.5;stroke-dasharray:8 4}
path.ref.dash{stroke-dasharray:2 3}
text.ref,text.endlabel{font-size:11px;font-weight:600}
path.area{stroke:none}
path.area:hover{opacity:.8}
rect.bar{fill:#4a7fb5}
rect.bar.failed{fill:#e6a23c}
rect.bar.signal{fill:#8e44ad}
rect.bar.oom{fill:#c0392b}
rect.bar.live{fill:#9cc3e6}
path.mark{fill:none;stroke-width:2}
path.mark.failed{stroke:#b7791f}
path.mark.signal{stroke:#8e44ad}
path.mark.oom{fill:#c0392b;stroke:#fff;stroke-width:1}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 16px;padding:0;margin:6px 0 0 72px;
font-size:12px;color:#374151}
ul.legend li{display:flex;align-items:center;white-space:nowrap}
ul.legend .sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px}
figure.fig{margin:0})css";
}

} // namespace treetrace::svg
