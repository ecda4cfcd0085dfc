// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/report_text.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <ctime>

#include "core/advice.h"
#include "output/verdict_text.h"
#include "util/utf8.h"

namespace treetrace {
namespace {

using text::bytes;
using text::duration;
using text::name;
using text::rate;

std::string wall_time(uint64_t boot_ns, int64_t offset_ns) {
  const time_t t = static_cast<time_t>((static_cast<int64_t>(boot_ns) + offset_ns) / 1'000'000'000);
  tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return buf;
}

std::string millicores(std::optional<uint32_t> m) { return m ? fmt::format("{}m", *m) : "none"; }
std::string mebibytes(std::optional<uint64_t> b) {
  return b ? fmt::format("{}Mi", (*b + (1u << 20) - 1) >> 20) : "none";
}

void leaks_text(std::string &out, const ReportGroup &g, bool verbose) {
  size_t judged = 0;
  for (const LeakJudgement &j : g.judgements)
    judged += j.judged;
  if (g.leaks.empty()) {
    out += fmt::format("  Leaks: none. {} processes lived long enough to judge; none grew steadily.\n", judged);
  } else {
    out += fmt::format("  Leaks: {} of {} judged processes grow steadily:\n", g.leaks.size(), judged);
    for (const LeakVerdict &v : g.leaks) {
      const LeakVerdictText text = leak_verdict_text(v);
      out += fmt::format("    {}\n         {}\n", text.what, text.consequence);
    }
  }
  if (verbose)
    for (const LeakJudgement &j : g.judgements)
      out += fmt::format("    {:>7} {:<16} {}\n", j.key.pid, name(j.comm, 16), j.reason);
}

void advice_text(std::string &out, const ReportGroup &g) {
  if (!g.advice) {
    out += "  Advice: too few snapshots (record with --interval) to advise requests and limits.\n";
    return;
  }
  const Advice &a = *g.advice;
  out += fmt::format("  Kubernetes advice from {} memory, {} samples over {}{}:\n", a.basis, a.samples,
                     duration(a.duration_s), a.low_confidence ? " (LOW CONFIDENCE: " + a.confidence_note + ")" : "");
  out += fmt::format("    {:<10} {:>12} {:>10} {:>12} {:>10}\n", "method", "cpu request", "cpu limit", "mem request",
                     "mem limit");
  out += fmt::format("    {:<10} {:>12} {:>10} {:>12} {:>10}\n", "advised", millicores(a.cpu_request_millicores),
                     millicores(a.cpu_limit_millicores), mebibytes(a.memory_request_bytes),
                     mebibytes(a.memory_limit_bytes));
  for (const Advice::Method &m : a.methods)
    out += fmt::format("    {:<10} {:>12} {:>10} {:>12} {:>10}\n", m.name, millicores(m.cpu_request_millicores),
                       millicores(m.cpu_limit_millicores), mebibytes(m.memory_request_bytes),
                       mebibytes(m.memory_limit_bytes));
  if (a.oom_bumped)
    out += "    memory raised after the OOM kill: the larger of x1.2 and +100 MiB (VPA)\n";
  out += advice_yaml(a, 4);
  if (!out.empty() && out.back() != '\n')
    out += '\n';
}

} // namespace

std::string render_report_text(const ReportModel &m, bool verbose) {
  const ReportMeta &meta = m.meta;
  std::string out;
  const double span_s = static_cast<double>(meta.end_ns - std::min(meta.end_ns, meta.start_ns)) / 1e9;
  out += fmt::format("treetrace report: {}\n", meta.command.empty() ? "node trace" : name(meta.command, 80));
  out += fmt::format("  recorded by treetrace {} on {} (Linux {})\n", meta.version, name(meta.hostname, 30),
                     name(meta.kernel, 30));
  out += fmt::format("  {} from {}, {} records, rows by {}\n", duration(span_s),
                     wall_time(meta.start_ns, meta.realtime_offset_ns), meta.records, meta.group_by);
  if (meta.cut_short)
    out += "  WARNING: the recording was " + meta.cut_note + "\n";
  if (meta.records_lost)
    out +=
        fmt::format("  WARNING: {} records were lost while recording; figures are lower bounds\n", meta.records_lost);
  if (meta.processes_not_kept)
    out += fmt::format("  note: {} short-lived processes are in the totals but not in the timeline\n",
                       meta.processes_not_kept);
  for (const ReportGroup &g : m.groups) {
    const TreeReport &t = g.totals;
    out += fmt::format("\n== {}\n", name(g.name, 90));
    out +=
        fmt::format("  {} processes ({} live at the end), CPU {:.2f} s, RSS sum peak {} avg {}", t.procs_total,
                    t.procs_live, static_cast<double>(t.cpu_ns) / 1e9, bytes(t.rss_peak_bytes), bytes(t.rss_avg_bytes));
    out += t.pss_bytes ? fmt::format(", PSS {}\n", bytes(*t.pss_bytes)) : "\n";
    out += fmt::format("  largest process peak RSS {}", bytes(t.proc_rss_peak_bytes));
    if (t.memcg_peak_bytes)
      out += fmt::format(", cgroup peak {}", bytes(*t.memcg_peak_bytes));
    if (t.memcg_limit_bytes)
      out += fmt::format(", cgroup limit {}", bytes(*t.memcg_limit_bytes));
    out += "\n";
    if (t.oom_kills) {
      out += fmt::format("  OOM kills: {}\n", t.oom_kills);
      for (const OomVictim &v : g.oom_victims)
        out += fmt::format("    pid {} {} at +{:.1f} s{}\n", v.key.pid, name(v.comm, 16),
                           static_cast<double>(v.ts_ns - std::min(v.ts_ns, meta.start_ns)) / 1e9,
                           v.rss_bytes ? " holding " + bytes(*v.rss_bytes) : "");
    }
    out += fmt::format("  {:<18} {:>7} {:>11} {:>7} {:>12}\n", "CPU by command", "procs", "CPU s", "share", "peak RSS");
    for (size_t i = 0; i < t.by_comm.size() && i < 12; ++i) {
      const CommUsage &c = t.by_comm[i];
      const double share = t.cpu_ns ? 100.0 * static_cast<double>(c.cpu_ns) / static_cast<double>(t.cpu_ns) : 0;
      out += fmt::format("  {:<18} {:>7} {:>11.2f} {:>6.1f}% {:>12}\n", name(c.comm, 18), c.procs,
                         static_cast<double>(c.cpu_ns) / 1e9, share, bytes(c.rss_peak_bytes));
    }
    if (t.by_comm.size() > 12)
      out += fmt::format("  ... and {} more commands\n", t.by_comm.size() - 12);
    leaks_text(out, g, verbose);
    advice_text(out, g);
  }
  if (meta.groups_not_shown)
    out += fmt::format("\n{} smaller rows not shown\n", meta.groups_not_shown);
  return out;
}

namespace {

nlohmann::json leak_json(const LeakVerdict &v) {
  nlohmann::json out = nlohmann::json::object();
  for_each_field(v, [&](const char *key, const auto &value) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, std::string>)
      out[key] = sanitize_utf8(value);
    else if constexpr (requires { value.has_value(); })
      out[key] = value ? nlohmann::json(*value) : nlohmann::json(nullptr);
    else
      out[key] = value;
  });
  return out;
}

} // namespace

std::string render_report_json(const ReportModel &m) {
  using nlohmann::json;
  auto opt = [](const auto &v) { return v ? json(*v) : json(nullptr); };
  auto str = [](const std::string &s) { return sanitize_utf8(s); };
  const ReportMeta &meta = m.meta;
  json doc;
  doc["treetrace_report"] = 1;
  doc["meta"] = {{"version", meta.version},
                 {"hostname", str(meta.hostname)},
                 {"kernel", str(meta.kernel)},
                 {"command", str(meta.command)},
                 {"group_by", meta.group_by},
                 {"start_ns", meta.start_ns},
                 {"end_ns", meta.end_ns},
                 {"realtime_offset_ns", meta.realtime_offset_ns},
                 {"interval_ns", meta.interval_ns},
                 {"cut_short", meta.cut_short},
                 {"cut_note", meta.cut_note},
                 {"records", meta.records},
                 {"records_lost", meta.records_lost},
                 {"processes_not_kept", meta.processes_not_kept},
                 {"groups_not_shown", meta.groups_not_shown}};
  json groups = json::array();
  for (const ReportGroup &g : m.groups) {
    const TreeReport &t = g.totals;
    json by_comm = json::array();
    for (const CommUsage &c : t.by_comm)
      by_comm.push_back(
          {{"comm", str(c.comm)}, {"procs", c.procs}, {"cpu_ns", c.cpu_ns}, {"rss_peak_bytes", c.rss_peak_bytes}});
    json ooms = json::array();
    for (const OomVictim &v : g.oom_victims)
      ooms.push_back({{"pid", v.key.pid},
                      {"start_ns", v.key.start_ns},
                      {"comm", str(v.comm)},
                      {"ts_ns", v.ts_ns},
                      {"rss_bytes", opt(v.rss_bytes)}});
    json leaks = json::array();
    for (const LeakVerdict &v : g.leaks)
      leaks.push_back(leak_json(v));
    json judgements = json::array();
    for (const LeakJudgement &j : g.judgements)
      judgements.push_back({{"pid", j.key.pid},
                            {"start_ns", j.key.start_ns},
                            {"comm", str(j.comm)},
                            {"judged", j.judged},
                            {"leaking", j.leaking},
                            {"rate_bytes_per_s", j.rate_bytes_per_s},
                            {"r2", j.r2},
                            {"window_s", j.window_s},
                            {"reason", j.reason}});
    json advice = nullptr;
    if (g.advice) {
      const Advice &a = *g.advice;
      json methods = json::array();
      for (const Advice::Method &x : a.methods)
        methods.push_back({{"name", x.name},
                           {"cpu_request_millicores", x.cpu_request_millicores},
                           {"cpu_limit_millicores", opt(x.cpu_limit_millicores)},
                           {"memory_request_bytes", x.memory_request_bytes},
                           {"memory_limit_bytes", opt(x.memory_limit_bytes)}});
      advice = {{"cpu_request_millicores", a.cpu_request_millicores},
                {"cpu_limit_millicores", opt(a.cpu_limit_millicores)},
                {"memory_request_bytes", a.memory_request_bytes},
                {"memory_limit_bytes", a.memory_limit_bytes},
                {"basis", a.basis},
                {"samples", a.samples},
                {"duration_s", a.duration_s},
                {"low_confidence", a.low_confidence},
                {"confidence_note", a.confidence_note},
                {"oom_bumped", a.oom_bumped},
                {"methods", methods},
                {"yaml", advice_yaml(a, 0)}};
    }
    groups.push_back({{"name", str(g.name)},
                      {"root_pid", t.root.pid},
                      {"root_start_ns", t.root.start_ns},
                      {"group", str(t.group)},
                      {"procs_total", t.procs_total},
                      {"procs_live", t.procs_live},
                      {"cpu_ns", t.cpu_ns},
                      {"rss_bytes", t.rss_bytes},
                      {"rss_peak_bytes", t.rss_peak_bytes},
                      {"rss_avg_bytes", t.rss_avg_bytes},
                      {"pss_bytes", opt(t.pss_bytes)},
                      {"proc_rss_peak_bytes", t.proc_rss_peak_bytes},
                      {"memcg_peak_bytes", opt(t.memcg_peak_bytes)},
                      {"memcg_limit_bytes", opt(t.memcg_limit_bytes)},
                      {"oom_kills", t.oom_kills},
                      {"oom_victims", ooms},
                      {"by_comm", by_comm},
                      {"ticks", g.ticks.size()},
                      {"processes", g.processes.size()},
                      {"leaks", leaks},
                      {"judgements", judgements},
                      {"advice", advice}});
  }
  doc["groups"] = groups;
  return doc.dump() + "\n"; // one line: also a JSON Lines record
}

} // namespace treetrace
