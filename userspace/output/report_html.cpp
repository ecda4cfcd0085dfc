// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "output/svg_chart.h"

namespace treetrace {
namespace {

using svg::escape;
using svg::Unit;

constexpr double kMiB = 1024.0 * 1024.0;
constexpr int kChartWidth = 960;
// Stacked CPU: this many commands by CPU, the rest summed as "other".
constexpr size_t kMaxStackedComms = 8;
constexpr size_t kMaxCommRows = 12;
constexpr size_t kMaxJudgementRows = 200;
// A timeline taller than this scrolls inside its box, so the sections
// after it stay a scroll away rather than four screens away.
constexpr size_t kTimelineScrollRows = 40;

const char *const kLeakColors[] = {"#d62728", "#a11d1d", "#e8590c"};
const char *const kOtherColor = "#9ca3af";

std::string bytes(double v) { return svg::format_value(v, Unit::Bytes); }
std::string duration(double s) { return svg::format_duration(s); }
std::string cpu_time(uint64_t ns) { return duration(ns / 1e9); }

// "+12 MiB/h": the unit people read leaks in; MiB/s makes every rate 0.
std::string rate_per_hour(double bytes_per_s) {
  double v = bytes_per_s * 3600 / kMiB;
  return (v >= 0 ? "+" : "\xe2\x88\x92") + svg::short_number(std::fabs(v)) + " MiB/h";
}

std::string grouped(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string signal_name(int sig) {
  static const char *const names[] = {nullptr,   "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",  "SIGTRAP", "SIGABRT",
                                      "SIGBUS",  "SIGFPE",  "SIGKILL",   "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE",
                                      "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
                                      "SIGTTIN", "SIGTTOU", "SIGURG",    "SIGXCPU", "SIGXFSZ"};
  if (sig > 0 && sig < static_cast<int>(std::size(names)))
    return names[sig];
  return "signal " + std::to_string(sig);
}

// "2024-05-01 12:00:00 UTC": UTC, because the reader may be anywhere.
std::string wall_clock(int64_t realtime_ns) {
  std::time_t t = static_cast<std::time_t>(realtime_ns / 1000000000);
  std::tm tm{};
  if (!gmtime_r(&t, &tm))
    return "";
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string proc_label(uint32_t pid, const std::string &comm) { return std::to_string(pid) + " " + comm; }

// Kubernetes quantities, rounded up: an advice rounded down is below
// what was measured.
std::string millicores(uint32_t m) { return std::to_string(m) + "m"; }
std::string mebibytes(uint64_t b) { return std::to_string((b + (1u << 20) - 1) >> 20) + "Mi"; }

// The block to paste under a container in a pod spec. A CPU limit only
// when one was advised: an unasked-for CPU limit throttles.
std::string resources_yaml(const Advice &a) {
  std::string y = "resources:\n  requests:\n";
  y += "    cpu: \"" + millicores(a.cpu_request_millicores) + "\"\n";
  y += "    memory: \"" + mebibytes(a.memory_request_bytes) + "\"\n";
  y += "  limits:\n";
  y += "    memory: \"" + mebibytes(a.memory_limit_bytes) + "\"\n";
  if (a.cpu_limit_millicores)
    y += "    cpu: \"" + millicores(*a.cpu_limit_millicores) + "\"\n";
  return y;
}

struct Span {
  uint64_t start_ns = 0;
  double t1 = 1; // seconds since start_ns
  double at(uint64_t ts_ns) const { return ts_ns >= start_ns ? (ts_ns - start_ns) / 1e9 : -((start_ns - ts_ns) / 1e9); }
};

// The report's time axis. The meta's span when it is set; otherwise what
// the data covers (a recording cut short may lack its end).
Span report_span(const ReportModel &m) {
  Span s;
  uint64_t lo = m.meta.start_ns, hi = m.meta.end_ns;
  if (!lo) {
    lo = UINT64_MAX;
    for (const ReportGroup &g : m.groups)
      for (const GroupTick &t : g.ticks)
        lo = std::min(lo, t.ts_ns - std::min(t.ts_ns, t.interval_ns));
    for (const ProcessHistory &p : m.processes)
      if (!p.rss.empty())
        lo = std::min(lo, p.rss.front().ts_ns);
    if (lo == UINT64_MAX)
      lo = 0;
  }
  if (hi <= lo) {
    hi = lo;
    for (const ReportGroup &g : m.groups)
      for (const GroupTick &t : g.ticks)
        hi = std::max(hi, t.ts_ns);
    for (const ProcessHistory &p : m.processes) {
      hi = std::max(hi, p.end_ns);
      if (!p.rss.empty())
        hi = std::max(hi, p.rss.back().ts_ns);
    }
  }
  s.start_ns = lo;
  s.t1 = hi > lo ? (hi - lo) / 1e9 : 1;
  return s;
}

svg::ChartFrame frame(const Span &span, std::string id, std::string title, int height) {
  svg::ChartFrame f;
  f.id = std::move(id);
  f.title = std::move(title);
  f.t0 = 0;
  f.t1 = span.t1;
  f.width = kChartWidth;
  f.height = height;
  return f;
}

std::string empty_note(const std::string &text) { return "<p class=\"empty\">" + escape(text) + "</p>"; }

std::string kv_row(const std::string &key, const std::string &value_html) {
  return "<tr><th scope=\"row\">" + escape(key) + "</th><td>" + value_html + "</td></tr>";
}

// ---- header -----------------------------------------------------------

std::string meta_item(const std::string &key, const std::string &value_html) {
  return "<div><dt>" + escape(key) + "</dt><dd>" + value_html + "</dd></div>";
}

std::string render_header(const ReportModel &m, const Span &span) {
  const ReportMeta &meta = m.meta;
  std::string out = "<header class=\"card top\"><h1>treetrace report</h1>";
  if (!meta.command.empty())
    out += "<p class=\"cmd\"><code>" + escape(meta.command) + "</code></p>";
  else
    out += "<p class=\"cmd\">Node trace</p>";
  out += "<dl class=\"meta\">";
  out += meta_item("Host", escape(meta.hostname.empty() ? "unknown" : meta.hostname));
  out += meta_item("Kernel", escape(meta.kernel.empty() ? "unknown" : meta.kernel));
  std::string when = escape(duration(span.t1));
  if (meta.realtime_offset_ns && meta.start_ns) {
    int64_t start = static_cast<int64_t>(span.start_ns) + meta.realtime_offset_ns;
    when += "<br><span class=\"note\">from " + escape(wall_clock(start)) + "</span>";
  }
  out += meta_item("Span", when);
  out += meta_item("Grouped by", escape(meta.group_by.empty() ? "tree" : meta.group_by));
  out += meta_item("Interval", meta.interval_ns ? escape(duration(meta.interval_ns / 1e9)) : "&#8212;");
  std::string recs = escape(grouped(meta.records));
  recs += meta.records_lost ? " <span class=\"bad\">(" + escape(grouped(meta.records_lost)) + " lost)</span>"
                            : std::string(" (none lost)");
  out += meta_item("Records", recs);
  out += meta_item("Groups", escape(std::to_string(m.groups.size())));
  if (!meta.version.empty())
    out += meta_item("Recorded by", "treetrace " + escape(meta.version));
  out += "</dl>";

  if (meta.cut_short)
    out += "<div class=\"banner warn\" data-kind=\"cut-short\" role=\"alert\"><strong>This recording was cut "
           "short:</strong> " +
           escape(meta.cut_note.empty() ? "it ended without its end marker" : meta.cut_note) +
           ". The figures cover what was recorded up to there; processes shown as running may have gone on.</div>";
  if (meta.records_lost)
    out += "<div class=\"banner warn\" data-kind=\"records-lost\"><strong>" + escape(grouped(meta.records_lost)) +
           " of " + escape(grouped(meta.records + meta.records_lost)) +
           " records were lost</strong> (the ring buffer was full). Short-lived processes and some samples may be "
           "missing from the charts.</div>";
  if (meta.processes_not_kept)
    out += "<div class=\"banner info\" data-kind=\"histories-dropped\">" + escape(grouped(meta.processes_not_kept)) +
           " process histories were not kept, to bound memory. They are counted in the totals but missing from the "
           "per-process charts.</div>";
  return out + "</header>";
}

// ---- totals and by-command tables --------------------------------------

std::string render_totals(const ReportGroup &g, const Span &span) {
  const TreeReport &t = g.totals;
  std::string out = "<table class=\"kv\">";
  std::string cpu = escape(cpu_time(t.cpu_ns));
  uint64_t first = std::max(t.first_ts_ns, span.start_ns);
  double life = t.last_ts_ns > first ? (t.last_ts_ns - first) / 1e9 : span.t1;
  if (life > 0)
    cpu += " <span class=\"note\">(" + escape(svg::format_value(t.cpu_ns / 1e9 / life, Unit::Cores)) +
           " on average)</span>";
  out += kv_row("CPU", cpu);
  out += kv_row("Peak RSS (sum)", escape(bytes(t.rss_peak_bytes)));
  out += kv_row("Average RSS (sum)", escape(bytes(t.rss_avg_bytes)));
  out += kv_row("Largest process", escape(bytes(t.proc_rss_peak_bytes)));
  std::optional<uint64_t> pss_peak;
  for (const GroupTick &k : g.ticks)
    if (k.pss_bytes)
      pss_peak = std::max(pss_peak.value_or(0), *k.pss_bytes);
  if (t.pss_bytes || pss_peak) {
    std::string pss = t.pss_bytes ? escape(bytes(*t.pss_bytes)) + " at the end" : std::string("&#8212;");
    if (pss_peak)
      pss += ", peak " + escape(bytes(*pss_peak));
    out += kv_row("PSS", pss);
  } else {
    out += kv_row("PSS", "<span class=\"note\">not measured</span>");
  }
  if (t.memcg_current_bytes || t.memcg_peak_bytes || t.memcg_limit_bytes) {
    std::string cg;
    if (t.memcg_current_bytes)
      cg += escape(bytes(*t.memcg_current_bytes)) + " now";
    if (t.memcg_peak_bytes)
      cg += (cg.empty() ? "" : ", ") + escape(bytes(*t.memcg_peak_bytes)) + " peak";
    cg += (cg.empty() ? "" : ", ") +
          (t.memcg_limit_bytes ? "limit " + escape(bytes(*t.memcg_limit_bytes)) : std::string("no limit"));
    out += kv_row("Memory cgroup", cg);
  }
  out += kv_row("OOM kills",
                t.oom_kills ? "<span class=\"bad\">" + escape(grouped(t.oom_kills)) + "</span>" : std::string("0"));
  out += kv_row("Processes", escape(grouped(t.procs_total)) + " <span class=\"note\">(" +
                                 escape(grouped(t.procs_live)) + " running at the end)</span>");
  out += "</table>";
  if (!g.oom_victims.empty()) {
    out += "<p class=\"note\">OOM-killed: ";
    for (size_t i = 0; i < g.oom_victims.size() && i < 10; ++i) {
      const OomVictim &v = g.oom_victims[i];
      out += (i ? "; " : "") + escape(proc_label(v.key.pid, v.comm)) + " at " + escape(duration(span.at(v.ts_ns)));
      if (v.rss_bytes)
        out += " (" + escape(bytes(*v.rss_bytes)) + ")";
    }
    if (g.oom_victims.size() > 10)
      out += "; " + std::to_string(g.oom_victims.size() - 10) + " more";
    out += "</p>";
  }
  return out;
}

std::string render_by_comm(const ReportGroup &g) {
  const auto &rows = g.totals.by_comm;
  if (rows.empty())
    return empty_note("No command used CPU.");
  uint64_t total = 0;
  for (const CommUsage &c : rows)
    total += c.cpu_ns;
  std::string out = "<table><thead><tr><th>Command</th><th class=\"n\">Procs</th><th class=\"n\">CPU</th>"
                    "<th class=\"n\">Share</th><th class=\"n\">Peak RSS</th></tr></thead><tbody>";
  size_t shown = std::min(rows.size(), kMaxCommRows);
  for (size_t i = 0; i < shown; ++i) {
    const CommUsage &c = rows[i];
    double share = total ? 100.0 * c.cpu_ns / total : 0;
    out += "<tr><td><code>" + escape(c.comm) + "</code></td><td class=\"n\">" + escape(grouped(c.procs)) +
           "</td><td class=\"n\">" + escape(cpu_time(c.cpu_ns)) + "</td><td class=\"n\"><span class=\"share\">" +
           "<span style=\"width:" + fixed(share, 1) + "%\"></span></span>" + fixed(share, 1) +
           "%</td><td class=\"n\">" + escape(bytes(c.rss_peak_bytes)) + "</td></tr>";
  }
  if (rows.size() > shown) {
    uint64_t procs = 0, cpu = 0;
    for (size_t i = shown; i < rows.size(); ++i) {
      procs += rows[i].procs;
      cpu += rows[i].cpu_ns;
    }
    out += "<tr class=\"rest\"><td>" + std::to_string(rows.size() - shown) + " more commands</td><td class=\"n\">" +
           escape(grouped(procs)) + "</td><td class=\"n\">" + escape(cpu_time(cpu)) + "</td><td class=\"n\">" +
           fixed(total ? 100.0 * cpu / total : 0, 1) + "%</td><td></td></tr>";
  }
  return out + "</tbody></table>";
}

// ---- chart 1: RSS per long-lived process -------------------------------

double peak_of(const ProcessHistory &p) {
  double m = static_cast<double>(p.rss_peak_bytes);
  for (const RssPoint &r : p.rss)
    m = std::max(m, static_cast<double>(std::max(r.bytes, r.max_bytes)));
  return m;
}

// A downsampled point stands for a span of samples: its min and max go in
// beside its last value, so the chart's envelope still shows the spike.
std::vector<svg::Point> rss_points(const ProcessHistory &p, const Span &span) {
  std::vector<svg::Point> pts;
  pts.reserve(p.rss.size());
  for (const RssPoint &r : p.rss) {
    double t = span.at(r.ts_ns);
    if (r.max_bytes > r.min_bytes) {
      pts.push_back({t, static_cast<double>(r.min_bytes)});
      pts.push_back({t, static_cast<double>(r.max_bytes)});
    }
    pts.push_back({t, static_cast<double>(r.bytes)});
  }
  return pts;
}

std::string render_process_rss(const ReportModel &m, const ReportGroup &g, size_t gi, const Span &span) {
  std::vector<const ProcessHistory *> procs;
  for (size_t idx : g.processes)
    if (idx < m.processes.size() && m.processes[idx].rss.size() >= 2)
      procs.push_back(&m.processes[idx]);
  if (procs.empty())
    return empty_note("No process in this group lived long enough to be sampled twice.");

  std::unordered_map<ProcKey, const LeakVerdict *, ProcKeyHash> leaks;
  for (const LeakVerdict &v : g.leaks)
    leaks.emplace(v.key, &v);
  std::vector<std::pair<double, const ProcessHistory *>> ranked;
  for (const ProcessHistory *p : procs)
    ranked.push_back({peak_of(*p), p});
  // Leaking processes first: the chart is where a verdict is checked by eye,
  // so a leak with a modest peak must not fall into "others".
  std::stable_sort(ranked.begin(), ranked.end(), [&](const auto &a, const auto &b) {
    bool la = leaks.count(a.second->key), lb = leaks.count(b.second->key);
    if (la != lb)
      return la;
    if (a.first != b.first)
      return a.first > b.first;
    return a.second->key.pid < b.second->key.pid;
  });
  size_t drawn = ranked.size() > kMaxRssLines ? kMaxRssLines - 1 : ranked.size();

  svg::LineChart chart;
  chart.frame = frame(span, "g" + std::to_string(gi) + "-rss", "RSS per process", 320);
  chart.unit = Unit::Bytes;
  size_t color = 0, leak_color = 0;
  for (size_t i = 0; i < drawn; ++i) {
    const ProcessHistory &p = *ranked[i].second;
    svg::Series s;
    s.name = proc_label(p.key.pid, p.comm);
    s.points = rss_points(p, span);
    s.data = {{"kind", "process-rss"}, {"pid", std::to_string(p.key.pid)}};
    auto leak = leaks.find(p.key);
    if (leak != leaks.end()) {
      s.highlight = true;
      s.label = rate_per_hour(leak->second->rate_bytes_per_s);
      s.color = kLeakColors[leak_color++ % std::size(kLeakColors)];
      s.data.push_back({"leak", "1"});
    } else {
      // The palette's red is kept for leaks.
      const auto &pal = svg::palette();
      if (color % pal.size() == 3)
        ++color;
      s.color = pal[color++ % pal.size()];
    }
    chart.series.push_back(std::move(s));
  }
  if (drawn < ranked.size()) {
    // Max of the rest per column: an "others" line that never hides how
    // high one of them went.
    const int buckets = kChartWidth;
    std::vector<double> top(buckets, -1);
    for (size_t i = drawn; i < ranked.size(); ++i)
      for (const RssPoint &r : ranked[i].second->rss) {
        int b = std::clamp(static_cast<int>(span.at(r.ts_ns) / span.t1 * buckets), 0, buckets - 1);
        top[b] = std::max(top[b], static_cast<double>(std::max(r.bytes, r.max_bytes)));
      }
    svg::Series s;
    s.name = std::to_string(ranked.size() - drawn) + " others (max)";
    for (int b = 0; b < buckets; ++b)
      if (top[b] >= 0)
        s.points.push_back({(b + 0.5) * span.t1 / buckets, top[b]});
    s.color = kOtherColor;
    s.dashed = true;
    s.data = {{"kind", "process-rss-others"}, {"count", std::to_string(ranked.size() - drawn)}};
    chart.series.push_back(std::move(s));
  }
  std::string out = svg::render_line_chart(chart);
  if (drawn < ranked.size())
    out += "<p class=\"note\">" + std::to_string(ranked.size()) + " processes were sampled; the " +
           std::to_string(drawn) + " with the highest peaks" + (leaks.empty() ? "" : " (leaks first)") +
           " are drawn, the others as one line: their highest RSS at each moment.</p>";
  return out;
}

// ---- chart 2: the group's memory ----------------------------------------

std::string render_group_memory(const ReportGroup &g, size_t gi, const Span &span) {
  if (g.ticks.empty())
    return empty_note("No interval snapshot of this group was taken.");
  svg::Series rss, pss, memcg;
  rss.name = "RSS sum";
  rss.color = "#1f77b4";
  rss.data = {{"kind", "group-rss"}};
  pss.name = "PSS";
  pss.color = "#2ca02c";
  pss.data = {{"kind", "group-pss"}};
  memcg.name = "memory cgroup charge";
  memcg.color = "#9467bd";
  memcg.data = {{"kind", "group-memcg"}};
  std::optional<uint64_t> limit = g.totals.memcg_limit_bytes;
  for (const GroupTick &k : g.ticks) {
    double t = span.at(k.ts_ns);
    rss.points.push_back({t, static_cast<double>(k.rss_bytes)});
    if (k.pss_bytes)
      pss.points.push_back({t, static_cast<double>(*k.pss_bytes)});
    if (k.memcg_current_bytes)
      memcg.points.push_back({t, static_cast<double>(*k.memcg_current_bytes)});
    if (k.memcg_limit_bytes)
      limit = k.memcg_limit_bytes;
  }
  svg::LineChart chart;
  chart.frame = frame(span, "g" + std::to_string(gi) + "-mem", "Group memory", 300);
  chart.frame.caveat = "RSS sum counts shared pages once per member; PSS sampled every interval";
  chart.unit = Unit::Bytes;
  chart.series.push_back(std::move(rss));
  if (!pss.points.empty())
    chart.series.push_back(std::move(pss));
  if (!memcg.points.empty())
    chart.series.push_back(std::move(memcg));
  if (limit) {
    svg::RefLine r;
    r.value = static_cast<double>(*limit);
    r.label = "limit " + bytes(r.value);
    r.data = {{"kind", "memcg-limit"}};
    chart.refs.push_back(std::move(r));
  }
  if (g.advice && g.advice->memory_limit_bytes) {
    svg::RefLine r;
    r.value = static_cast<double>(g.advice->memory_limit_bytes);
    r.label = "advised " + bytes(r.value);
    r.color = "#4b5563";
    r.dashed = true;
    r.data = {{"kind", "advised-limit"}};
    chart.refs.push_back(std::move(r));
  }
  return svg::render_line_chart(chart);
}

// ---- chart 3: stacked CPU by command ------------------------------------

std::string render_cpu(const ReportGroup &g, size_t gi, const Span &span) {
  std::map<std::string, uint64_t> sums;
  bool any_by_comm = false;
  for (const GroupTick &k : g.ticks)
    for (const CommCpu &c : k.by_comm) {
      sums[c.comm] += c.cpu_ns;
      any_by_comm = true;
    }
  std::vector<std::pair<uint64_t, std::string>> order;
  for (auto &[comm, ns] : sums)
    order.push_back({ns, comm});
  std::sort(order.begin(), order.end(),
            [](const auto &a, const auto &b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  bool other = order.size() > kMaxStackedComms;
  size_t named = other ? kMaxStackedComms : order.size();
  std::unordered_map<std::string, size_t> slot;
  for (size_t i = 0; i < named; ++i)
    slot[order[i].second] = i;

  svg::StackedChart chart;
  chart.frame = frame(span, "g" + std::to_string(gi) + "-cpu", "CPU by command", 280);
  chart.unit = Unit::Cores;
  size_t nseries = any_by_comm ? named + (other ? 1 : 0) : 1;
  chart.series.resize(nseries);
  for (size_t i = 0; i < named && any_by_comm; ++i) {
    chart.series[i].name = order[i].second;
    chart.series[i].data = {{"kind", "cpu-comm"}};
  }
  if (other && any_by_comm) {
    chart.series.back().name = std::to_string(order.size() - named) + " other commands";
    chart.series.back().color = kOtherColor;
    chart.series.back().data = {{"kind", "cpu-other"}};
  }
  if (!any_by_comm) {
    chart.series[0].name = "all commands";
    chart.series[0].data = {{"kind", "cpu-all"}};
  }
  bool any = false;
  std::vector<double> cores(nseries);
  for (const GroupTick &k : g.ticks) {
    if (!k.interval_ns)
      continue;
    std::fill(cores.begin(), cores.end(), 0);
    if (any_by_comm) {
      for (const CommCpu &c : k.by_comm) {
        auto it = slot.find(c.comm);
        cores[it != slot.end() ? it->second : nseries - 1] += static_cast<double>(c.cpu_ns) / k.interval_ns;
      }
    } else {
      cores[0] = static_cast<double>(k.cpu_ns) / k.interval_ns;
    }
    double t = span.at(k.ts_ns);
    for (size_t i = 0; i < nseries; ++i)
      chart.series[i].points.push_back({t, cores[i]});
    any = true;
  }
  if (!any)
    return empty_note("No interval snapshot of this group was taken.");
  return svg::render_stacked_chart(chart);
}

// ---- chart 4: the process timeline --------------------------------------

std::string render_timeline(const ReportModel &m, const ReportGroup &g, size_t gi, const Span &span) {
  struct Row {
    const ProcessHistory *p;
    double start, end;
    bool abnormal;
  };
  std::vector<Row> rows;
  for (size_t idx : g.processes) {
    if (idx >= m.processes.size())
      continue;
    const ProcessHistory &p = m.processes[idx];
    double start = std::max(0.0, span.at(p.key.start_ns));
    bool running = p.end == ProcessEnd::Running || !p.end_ns;
    double end = running ? span.t1 : std::max(start, span.at(p.end_ns));
    bool abnormal = p.end == ProcessEnd::Signaled || p.end == ProcessEnd::OomKilled || p.end == ProcessEnd::Failed;
    rows.push_back({&p, start, end, abnormal});
  }
  if (rows.empty())
    return empty_note("No process history was kept for this group.");
  size_t not_drawn = 0;
  if (rows.size() > kMaxTimelineRows) {
    // Kill and failures are what the timeline is read for; among the rest
    // the long-lived ones carry the run's shape.
    std::stable_sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) {
      if (a.abnormal != b.abnormal)
        return a.abnormal;
      return a.end - a.start > b.end - b.start;
    });
    not_drawn = rows.size() - kMaxTimelineRows;
    rows.resize(kMaxTimelineRows);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) {
    return a.start != b.start ? a.start < b.start : a.p->key.pid < b.p->key.pid;
  });

  svg::Timeline tl;
  tl.frame = frame(span, "g" + std::to_string(gi) + "-timeline", "Process timeline", 0);
  tl.not_drawn = not_drawn;
  for (const Row &r : rows) {
    const ProcessHistory &p = *r.p;
    svg::Bar b;
    b.label = proc_label(p.key.pid, p.comm);
    b.start = r.start;
    b.end = r.end;
    b.still_running = p.end == ProcessEnd::Running || !p.end_ns;
    switch (p.end) {
    case ProcessEnd::Running:
    case ProcessEnd::Exited:
      b.end_kind = svg::Bar::End::Exit;
      b.end_note = b.still_running ? "" : "exit 0";
      break;
    case ProcessEnd::Failed:
      b.end_kind = svg::Bar::End::Failed;
      b.end_note = "exit " + std::to_string(p.exit_code);
      break;
    case ProcessEnd::Signaled:
      b.end_kind = svg::Bar::End::Signal;
      b.end_note = signal_name(p.signal);
      break;
    case ProcessEnd::OomKilled:
      b.end_kind = svg::Bar::End::OomKill;
      b.end_note = "OOM kill";
      break;
    }
    if (p.rss_peak_bytes)
      b.end_note += (b.end_note.empty() ? "" : ", ") + std::string("peak RSS ") + bytes(p.rss_peak_bytes);
    b.data = {{"pid", std::to_string(p.key.pid)}};
    tl.bars.push_back(std::move(b));
  }
  std::string svg = svg::render_timeline(tl);
  // Only the rows scroll: the legend after the <svg> stays in view.
  size_t open = svg.find("<svg"), close = svg.rfind("</svg>");
  if (rows.size() > kTimelineScrollRows && open != std::string::npos && close != std::string::npos) {
    svg.insert(close + 6, "</div>");
    svg.insert(open, "<div class=\"scroll\">");
    if (not_drawn)
      svg += "<p class=\"note\">" + std::to_string(rows.size()) + " of " + std::to_string(rows.size() + not_drawn) +
             " processes drawn: exits by signal, OOM kill or failure first, then the longest-lived.</p>";
  }
  return svg;
}

// ---- leaks --------------------------------------------------------------

std::string render_leaks(const ReportGroup &g) {
  std::string out;
  size_t judged = 0;
  for (const LeakJudgement &j : g.judgements)
    judged += j.judged;
  if (g.leaks.empty()) {
    out += "<p class=\"ok\">No process was flagged as leaking";
    out += judged ? " (" + std::to_string(judged) + " judged)." : std::string(".");
    out += "</p>";
  } else {
    out += "<table class=\"leaks\"><thead><tr><th>Process</th><th class=\"n\">Rate</th><th class=\"n\">Window</th>"
           "<th class=\"n\">r&#178;</th><th class=\"n\">Baseline</th><th>Time to limit</th>"
           "<th>Compared with its siblings</th></tr></thead><tbody>";
    for (const LeakVerdict &v : g.leaks) {
      out += "<tr data-kind=\"leak-verdict\"><td><code>" + escape(proc_label(v.key.pid, v.comm)) +
             "</code></td><td class=\"n leak\">" + escape(rate_per_hour(v.rate_bytes_per_s)) + "</td><td class=\"n\">" +
             escape(duration(v.window_s)) + "</td><td class=\"n\">" + fixed(v.r2, 2) + "</td><td class=\"n\">" +
             escape(bytes(v.baseline_bytes)) + "</td><td>";
      if (v.seconds_to_limit) {
        out += escape(duration(*v.seconds_to_limit));
        if (v.limit_bytes)
          out += " <span class=\"note\">to the " +
                 escape(v.limit_source == "memcg"    ? std::string("cgroup limit")
                        : v.limit_source == "advice" ? std::string("advised limit")
                                                     : v.limit_source + " limit") +
                 " of " + escape(bytes(*v.limit_bytes)) + "</span>";
      } else {
        out += "<span class=\"note\">no limit known</span>";
      }
      out += "</td><td>";
      if (v.sibling_median_rate_bytes_per_s) {
        double med = *v.sibling_median_rate_bytes_per_s;
        out += "median of " + std::to_string(v.siblings) + ": " + escape(rate_per_hour(med));
        if (med > 0 && v.rate_bytes_per_s > med)
          out += " <span class=\"note\">(" + escape(svg::short_number(v.rate_bytes_per_s / med)) + "&#215;)</span>";
      } else {
        out += "<span class=\"note\">" +
               std::string(v.siblings ? std::to_string(v.siblings) + " siblings, no median" : "no sibling judged") +
               "</span>";
      }
      out += "</td></tr>";
    }
    out += "</tbody></table>";
  }
  if (!g.judgements.empty()) {
    out += "<details><summary>" + std::to_string(g.judgements.size()) +
           " processes considered, and why they were not flagged</summary><table><thead><tr><th>Process</th>"
           "<th class=\"n\">Rate</th><th class=\"n\">r&#178;</th><th class=\"n\">Window</th><th>Verdict</th></tr>"
           "</thead><tbody>";
    size_t shown = std::min(g.judgements.size(), kMaxJudgementRows);
    for (size_t i = 0; i < shown; ++i) {
      const LeakJudgement &j = g.judgements[i];
      out += "<tr><td><code>" + escape(proc_label(j.key.pid, j.comm)) + "</code></td>";
      if (j.judged)
        out += "<td class=\"n\">" + escape(rate_per_hour(j.rate_bytes_per_s)) + "</td><td class=\"n\">" +
               fixed(j.r2, 2) + "</td><td class=\"n\">" + escape(duration(j.window_s)) + "</td>";
      else
        out += "<td class=\"n\">&#8212;</td><td class=\"n\">&#8212;</td><td class=\"n\">&#8212;</td>";
      out += "<td>" + (j.leaking ? std::string("<span class=\"leak\">leaking</span>") : std::string()) +
             escape(j.reason.empty() ? (j.leaking ? "" : "not flagged") : (j.leaking ? ", " : "") + j.reason) +
             "</td></tr>";
    }
    out += "</tbody></table>";
    if (g.judgements.size() > shown)
      out += "<p class=\"note\">" + std::to_string(g.judgements.size() - shown) + " more not listed.</p>";
    out += "</details>";
  }
  return out;
}

// ---- advice -------------------------------------------------------------

std::string opt_millicores(const std::optional<uint32_t> &m) {
  return m ? escape(millicores(*m)) : std::string("<span class=\"note\">none</span>");
}

std::string render_advice(const ReportGroup &g) {
  if (!g.advice)
    return empty_note("Too few snapshots of this group to advise requests and limits.");
  const Advice &a = *g.advice;
  std::string out;
  if (a.low_confidence)
    out += "<div class=\"banner info\" data-kind=\"low-confidence\"><strong>Low confidence:</strong> " +
           escape(a.confidence_note.empty() ? "few samples" : a.confidence_note) +
           ". Use these figures as a starting point and record a longer, representative run.</div>";
  out += "<div class=\"cols advice\"><div><table><thead><tr><th>Method</th><th class=\"n\">CPU request</th>"
         "<th class=\"n\">CPU limit</th><th class=\"n\">Memory request</th><th class=\"n\">Memory limit</th>"
         "</tr></thead><tbody>";
  out += "<tr class=\"ours\"><td>treetrace</td><td class=\"n\">" + escape(millicores(a.cpu_request_millicores)) +
         "</td><td class=\"n\">" + opt_millicores(a.cpu_limit_millicores) + "</td><td class=\"n\">" +
         escape(mebibytes(a.memory_request_bytes)) + "</td><td class=\"n\">" + escape(mebibytes(a.memory_limit_bytes)) +
         "</td></tr>";
  for (const Advice::Method &mt : a.methods)
    out += "<tr><td>" + escape(mt.name) + "</td><td class=\"n\">" + escape(millicores(mt.cpu_request_millicores)) +
           "</td><td class=\"n\">" + opt_millicores(mt.cpu_limit_millicores) + "</td><td class=\"n\">" +
           escape(mebibytes(mt.memory_request_bytes)) + "</td><td class=\"n\">" +
           (mt.memory_limit_bytes ? escape(mebibytes(*mt.memory_limit_bytes)) : "<span class=\"note\">none</span>") +
           "</td></tr>";
  out += "</tbody></table><p class=\"note\">Memory rests on " + escape(a.basis.empty() ? "rss" : a.basis) + ", " +
         escape(grouped(a.samples)) + " snapshots over " + escape(duration(a.duration_s)) + "." +
         (a.oom_bumped ? " Raised after an OOM kill in this group." : "") +
         (a.methods.empty() ? "" : " The rows below treetrace are what the named methods would set on the same data.") +
         "</p></div>";
  out += "<div><pre class=\"yaml\" data-kind=\"resources-yaml\">" + escape(resources_yaml(a)) + "</pre></div></div>";
  return out;
}

// ---- groups past kMaxHtmlGroups -----------------------------------------

std::string render_rest(const ReportModel &m) {
  if (m.groups.size() <= kMaxHtmlGroups)
    return "";
  std::string out = "<section class=\"card\" id=\"rest\"><h2>" + std::to_string(m.groups.size() - kMaxHtmlGroups) +
                    " more groups</h2><table><thead><tr><th>Group</th><th class=\"n\">CPU</th>"
                    "<th class=\"n\">Peak RSS</th><th class=\"n\">Processes</th><th class=\"n\">OOM kills</th>"
                    "</tr></thead><tbody>";
  for (size_t i = kMaxHtmlGroups; i < m.groups.size(); ++i) {
    const TreeReport &t = m.groups[i].totals;
    out += "<tr><td>" + escape(m.groups[i].name) + "</td><td class=\"n\">" + escape(cpu_time(t.cpu_ns)) +
           "</td><td class=\"n\">" + escape(bytes(t.rss_peak_bytes)) + "</td><td class=\"n\">" +
           escape(grouped(t.procs_total)) + "</td><td class=\"n\">" + escape(grouped(t.oom_kills)) + "</td></tr>";
  }
  return out + "</tbody></table></section>";
}

const char kPageCss[] = R"css(:root{color-scheme:light}
*{box-sizing:border-box}
[hidden]{display:none!important}
html{background:#f3f4f6}
body{margin:0;background:#f3f4f6;color:#1f2937;
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1060px;margin:0 auto;padding:20px 24px 40px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:18px 22px;margin:0 0 18px;
box-shadow:0 1px 2px rgba(0,0,0,.04)}
h1{font-size:22px;margin:0 0 2px;letter-spacing:-.01em}
h2{font-size:18px;margin:0 0 4px;word-break:break-all}
h3{font-size:12px;margin:26px 0 8px;color:#4b5563;text-transform:uppercase;letter-spacing:.06em;
border-bottom:1px solid #eef0f3;padding-bottom:4px}
p.cmd{margin:0 0 12px;color:#374151;word-break:break-all}
dl.meta{display:grid;grid-template-columns:repeat(4,1fr);gap:10px 24px;margin:0}
dl.meta dt{font-size:11px;color:#6b7280;text-transform:uppercase;letter-spacing:.05em}
dl.meta dd{margin:0;font-weight:500}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid #eef0f3;text-align:left;vertical-align:top}
thead th{font-weight:600;color:#6b7280;font-size:12px;border-bottom:1px solid #d1d5db}
table.kv th{font-weight:500;color:#6b7280;width:38%}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.rest td{color:#6b7280;font-style:italic}
tr.ours td{font-weight:600;background:#f9fafb}
.cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:28px}
.cols.advice{grid-template-columns:minmax(0,3fr) minmax(0,2fr)}
.banner{padding:10px 14px;border-radius:6px;margin:14px 0 0;border:1px solid}
.banner.warn{background:#fff7ed;border-color:#fdba74;color:#7c2d12}
.banner.info{background:#eff6ff;border-color:#bfdbfe;color:#1e3a8a;margin:0 0 12px}
.bad{color:#b91c1c;font-weight:600}
.leak{color:#b91c1c;font-weight:600}
.ok{color:#166534}
.note{color:#6b7280;font-size:12px;font-weight:400}
p.note{margin:6px 0 0}
p.empty{color:#6b7280;font-style:italic;background:#f9fafb;border:1px dashed #d1d5db;border-radius:6px;
padding:14px;margin:0}
.share{display:inline-block;width:48px;height:6px;background:#eef0f3;border-radius:3px;margin-right:6px;
vertical-align:middle;overflow:hidden}
.share span{display:block;height:100%;background:#60a5fa}
pre.yaml{background:#111827;color:#e5e7eb;padding:12px 16px;border-radius:6px;overflow:auto;margin:0;line-height:1.5}
.scroll{max-height:620px;overflow-y:auto;border:1px solid #eef0f3;border-radius:6px;padding-top:4px}
nav.groups ol{margin:8px 0 0;padding-left:20px;columns:2}
nav.groups a{color:#1d4ed8;text-decoration:none}
details summary{cursor:pointer;color:#374151;margin:10px 0 6px}
footer{color:#9ca3af;font-size:12px;text-align:center;margin-top:8px}
#readout{position:fixed;pointer-events:none;background:#111827;color:#f9fafb;padding:3px 8px;
border-radius:4px;font-size:12px;white-space:nowrap;z-index:10}
@media (max-width:800px){.cols,.cols.advice{grid-template-columns:1fr}dl.meta{grid-template-columns:repeat(2,1fr)}}
)css";

// The hover readout: time and value under the pointer, from the data-*
// geometry svg_chart writes on each chart. The <title> of each line names
// it on hover; this says where on the axes the pointer is.
const char kPageJs[] = R"js((function(){
var ro=document.getElementById('readout');
function num(v){return String(+v.toPrecision(3));}
function fmt(v,u){
if(u==='bytes'){var n=['B','KiB','MiB','GiB','TiB'],i=0;while(Math.abs(v)>=1024&&i<4){v/=1024;i++;
}return num(v)+' '+n[i];}
if(u==='cores')return v!==0&&Math.abs(v)<1?num(v*1000)+' m':num(v)+' cores';
return num(v);}
function dur(s){var a=Math.abs(s);return a<60?num(s)+' s':a<3600?num(s/60)+' min':num(s/3600)+' h';}
document.querySelectorAll('svg.chart[data-kind="line"],svg.chart[data-kind="stacked"]').forEach(function(c){
var d=c.dataset,vb=c.viewBox.baseVal;
c.addEventListener('mousemove',function(e){
var r=c.getBoundingClientRect(),x=(e.clientX-r.left)*vb.width/r.width,y=(e.clientY-r.top)*vb.height/r.height;
var px=+d.px,py=+d.py,pw=+d.pw,ph=+d.ph;
if(x<px||x>px+pw||y<py||y>py+ph){ro.hidden=true;return;}
var t=+d.t0+(x-px)/pw*(d.t1-d.t0),v=(py+ph-y)/ph*d.ymax;
ro.textContent=dur(t)+' \u00b7 '+fmt(v,d.unit);
ro.style.left=(e.clientX+14)+'px';ro.style.top=(e.clientY+14)+'px';ro.hidden=false;});
c.addEventListener('mouseleave',function(){ro.hidden=true;});});
})();)js";

} // namespace

std::string render_html_report(const ReportModel &m) {
  Span span = report_span(m);
  std::string title = m.meta.command.empty() ? m.meta.hostname : m.meta.command;
  std::string out;
  out.reserve(256 * 1024);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<meta name=\"generator\" content=\"treetrace\"><title>treetrace report";
  if (!title.empty())
    out += ": " + escape(title.size() > 80 ? title.substr(0, 80) : title);
  out += "</title><style>\n";
  out += kPageCss;
  out += svg::stylesheet();
  out += "\n</style></head><body><main>\n";
  out += render_header(m, span);
  size_t drawn = std::min(m.groups.size(), kMaxHtmlGroups);
  if (drawn > 1) {
    out += "<nav class=\"card groups\"><strong>Groups</strong> <span class=\"note\">by CPU</span><ol>";
    for (size_t i = 0; i < drawn; ++i)
      out += "<li><a href=\"#g" + std::to_string(i) + "\">" + escape(m.groups[i].name) + "</a> <span class=\"note\">" +
             escape(cpu_time(m.groups[i].totals.cpu_ns)) + "</span></li>";
    if (m.groups.size() > drawn)
      out += "<li><a href=\"#rest\">" + std::to_string(m.groups.size() - drawn) + " more</a></li>";
    out += "</ol></nav>";
  }
  if (m.groups.empty())
    out += "<section class=\"card\">" + empty_note("Nothing was recorded: no group had a process.") + "</section>";
  for (size_t i = 0; i < drawn; ++i) {
    const ReportGroup &g = m.groups[i];
    out += "\n<section class=\"card group\" id=\"g" + std::to_string(i) + "\" data-group=\"" + escape(g.name) +
           "\"><h2>" + escape(g.name) + "</h2>";
    out += "<div class=\"cols\"><div><h3>Totals</h3>" + render_totals(g, span) + "</div><div><h3>CPU by command</h3>" +
           render_by_comm(g) + "</div></div>";
    out += "<h3>Memory per process (RSS)</h3>" + render_process_rss(m, g, i, span);
    out += "<h3>Group memory</h3>" + render_group_memory(g, i, span);
    out += "<h3>CPU by command over time</h3>" + render_cpu(g, i, span);
    out += "<h3>Process timeline</h3>" + render_timeline(m, g, i, span);
    out += "<h3>Leaks</h3>" + render_leaks(g);
    out += "<h3>Resource advice</h3>" + render_advice(g);
    out += "</section>";
  }
  out += render_rest(m);
  out += "\n<footer>treetrace";
  if (!m.meta.version.empty())
    out += " " + escape(m.meta.version);
  out += " &#183; times on the charts are since the trace started</footer></main><div id=\"readout\" hidden></div>"
         "<script>\n";
  out += kPageJs;
  out += "\n</script></body></html>\n";
  return out;
}

} // namespace treetrace
