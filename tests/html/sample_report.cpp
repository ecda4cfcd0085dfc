// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Writes the HTML report of a synthetic but realistic run to argv[1] and
// prints how many per-process RSS lines the page must have, for
// check_report.py to compare with what the browser counts.
//
// The run: a variant-calling pipeline in one container (memcg limit
// 3 GiB) for 30 minutes at 5 s intervals. snakemake drives four python3
// workers; one of them leaks about 600 MiB/h. Each worker forks short
// bcftools children; a few fail, one is killed by SIGPIPE, one by the OOM
// killer. The group has advice with its VPA/KRR/DivBase anchors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>

#include "core/report_model.h"
#include "output/report_html.h"

using namespace treetrace;

namespace {

constexpr uint64_t kSec = 1000000000ull;
constexpr uint64_t kMiB = 1024ull * 1024;

// Deterministic noise: the page must look the same on every run.
struct Lcg {
  uint64_t s = 0x2545F4914F6CDD1Dull;
  double next() { // [0, 1)
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(s >> 11) / static_cast<double>(1ull << 53);
  }
};

ReportModel build() {
  ReportModel m;
  const uint64_t start = 5000 * kSec, span = 1800 * kSec, interval = 5 * kSec;
  m.meta.version = "0.1.0";
  m.meta.hostname = "build-07.lab";
  m.meta.kernel = "6.1.0-18-amd64";
  m.meta.command = "snakemake --cores 4 --snakefile call_variants.smk";
  m.meta.group_by = "container";
  m.meta.start_ns = start;
  m.meta.end_ns = start + span;
  m.meta.realtime_offset_ns = 1714557600ll * 1000000000ll - static_cast<int64_t>(start);
  m.meta.interval_ns = interval;
  m.meta.records = 1284331;

  ReportGroup g;
  g.name = "variant-caller";
  Lcg rng;

  auto add = [&](ProcessHistory p) {
    g.processes.push_back(m.processes.size());
    m.processes.push_back(std::move(p));
  };
  // snakemake, then four workers; 4722 leaks.
  struct Long {
    uint32_t pid;
    const char *comm;
    double base_mib, leak_mib_per_h, noise_mib;
  };
  const Long longs[] = {{4711, "snakemake", 180, 0, 4},
                        {4720, "python3", 420, 0, 30},
                        {4721, "python3", 390, 0, 30},
                        {4722, "python3", 410, 600, 25},
                        {4723, "python3", 450, 0, 35}};
  for (const Long &l : longs) {
    ProcessHistory p;
    p.key = {l.pid, start + (l.pid == 4711 ? 0 : 2 * kSec)};
    p.ppid = l.pid == 4711 ? 4700 : 4711;
    p.comm = l.comm;
    p.group = g.name;
    for (uint64_t t = p.key.start_ns + interval; t <= start + span; t += interval) {
      double h = (t - start) / 3600e9, age_s = (t - p.key.start_ns) / 1e9;
      double mib = l.base_mib * (1 - std::exp(-age_s / 60)) + l.leak_mib_per_h * h +
                   l.noise_mib * std::sin(t / 47e9 + l.pid) + l.noise_mib * (rng.next() - 0.5);
      uint64_t b = static_cast<uint64_t>(std::max(mib, 8.0) * kMiB);
      p.rss.push_back({t, b, b, b});
      p.rss_peak_bytes = std::max(p.rss_peak_bytes, b);
    }
    p.cpu_ns = static_cast<uint64_t>((l.pid == 4711 ? 0.02 : 0.8) * span);
    add(std::move(p));
  }

  // Short children: one every 5 s, each for 6-14 s, so two or three overlap.
  uint32_t pid = 5000;
  size_t n = 0;
  for (uint64_t t = start + 10 * kSec; t < start + span - 15 * kSec; t += 5 * kSec) {
    ProcessHistory p;
    p.key = {pid++, t + static_cast<uint64_t>(rng.next() * 2e9)};
    p.ppid = 4720 + n % 4;
    p.comm = n % 3 == 0 ? "bcftools" : n % 3 == 1 ? "bgzip" : "tabix";
    p.group = g.name;
    p.end_ns = p.key.start_ns + static_cast<uint64_t>((6 + rng.next() * 8) * kSec);
    p.end = ProcessEnd::Exited;
    p.rss_peak_bytes = static_cast<uint64_t>((20 + rng.next() * 60) * kMiB);
    p.cpu_ns = (p.end_ns - p.key.start_ns) * 9 / 10;
    if (n % 37 == 20) {
      p.end = ProcessEnd::Failed;
      p.exit_code = 1;
    }
    if (n == 12) {
      p.end = ProcessEnd::Signaled;
      p.signal = 13;
    }
    if (n == 30) {
      p.end = ProcessEnd::OomKilled;
      p.signal = 9;
      p.rss_peak_bytes = 900 * kMiB;
      p.comm = "bcftools";
    }
    add(std::move(p));
    ++n;
  }

  // Interval snapshots from the histories above.
  const auto &procs = m.processes;
  std::map<std::string, uint64_t> cpu_by_comm, procs_by_comm, peak_by_comm;
  for (const ProcessHistory &p : procs) {
    cpu_by_comm[p.comm] += p.cpu_ns;
    procs_by_comm[p.comm] += 1;
    peak_by_comm[p.comm] = std::max(peak_by_comm[p.comm], p.rss_peak_bytes);
  }
  for (uint64_t t = start + interval; t <= start + span; t += interval) {
    GroupTick k;
    k.ts_ns = t;
    k.interval_ns = interval;
    std::map<std::string, uint64_t> cpu;
    for (const ProcessHistory &p : procs) {
      bool live = p.key.start_ns <= t && (p.end_ns == 0 || p.end_ns > t - interval);
      if (!live)
        continue;
      ++k.procs_live;
      if (!p.rss.empty()) {
        uint64_t since = t > p.rss.front().ts_ns ? t - p.rss.front().ts_ns : 0;
        size_t i = std::min<size_t>(since / interval, p.rss.size() - 1);
        k.rss_bytes += p.rss[i].bytes;
      } else {
        k.rss_bytes += p.rss_peak_bytes;
      }
      uint64_t from = std::max(p.key.start_ns, t - interval), to = p.end_ns ? std::min(p.end_ns, t) : t;
      double share = p.end_ns ? 0.9 : (p.comm == std::string("python3") ? 0.85 + 0.1 * rng.next() : 0.02);
      cpu[p.comm] += static_cast<uint64_t>(to > from ? (to - from) * share : 0);
    }
    k.pss_bytes = k.rss_bytes * 78 / 100;
    k.memcg_current_bytes = k.rss_bytes * 82 / 100 + 240 * kMiB;
    k.memcg_limit_bytes = 3072 * kMiB;
    for (auto &[comm, ns] : cpu) {
      k.by_comm.push_back({comm, ns});
      k.cpu_ns += ns;
    }
    std::sort(k.by_comm.begin(), k.by_comm.end(), [](auto &a, auto &b) { return a.cpu_ns > b.cpu_ns; });
    g.totals.rss_peak_bytes = std::max(g.totals.rss_peak_bytes, k.rss_bytes);
    g.totals.rss_avg_bytes += k.rss_bytes / (span / interval);
    g.totals.memcg_peak_bytes = std::max(g.totals.memcg_peak_bytes.value_or(0), *k.memcg_current_bytes);
    g.ticks.push_back(std::move(k));
  }

  TreeReport &t = g.totals;
  t.group = g.name;
  t.procs_total = procs.size();
  t.procs_live = 5;
  for (const ProcessHistory &p : procs) {
    t.cpu_ns += p.cpu_ns;
    t.proc_rss_peak_bytes = std::max(t.proc_rss_peak_bytes, p.rss_peak_bytes);
  }
  t.pss_bytes = g.ticks.back().pss_bytes;
  t.memcg_current_bytes = g.ticks.back().memcg_current_bytes;
  t.memcg_limit_bytes = 3072 * kMiB;
  t.oom_kills = 1;
  t.first_ts_ns = start;
  t.last_ts_ns = start + span;
  for (auto &[comm, ns] : cpu_by_comm)
    t.by_comm.push_back({comm, procs_by_comm[comm], ns, peak_by_comm[comm]});
  std::sort(t.by_comm.begin(), t.by_comm.end(), [](auto &a, auto &b) { return a.cpu_ns > b.cpu_ns; });
  for (const ProcessHistory &p : procs)
    if (p.end == ProcessEnd::OomKilled)
      g.oom_victims.push_back({p.key, {4711, start}, p.comm, p.end_ns, p.rss_peak_bytes});

  LeakVerdict v;
  v.key = {4722, start + 2 * kSec};
  v.comm = "python3";
  v.rate_bytes_per_s = 587.0 * kMiB / 3600;
  v.window_s = 1680;
  v.r2 = 0.93;
  v.baseline_bytes = 705 * kMiB;
  v.limit_bytes = 3072 * kMiB;
  v.limit_source = "memcg";
  v.seconds_to_limit = 3.4 * 3600;
  v.siblings = 3;
  v.sibling_median_rate_bytes_per_s = 4.0 * kMiB / 3600;
  g.leaks.push_back(v);
  for (const Long &l : longs) {
    LeakJudgement j;
    j.key = {l.pid, start + (l.pid == 4711 ? 0 : 2 * kSec)};
    j.comm = l.comm;
    j.judged = true;
    j.window_s = 1680;
    if (l.pid == 4722) {
      j.leaking = true;
      j.rate_bytes_per_s = v.rate_bytes_per_s;
      j.r2 = v.r2;
      j.reason = "steady growth, 147 times its siblings' median";
    } else {
      j.rate_bytes_per_s = (l.pid % 7) * kMiB / 3600.0;
      j.r2 = 0.05 + (l.pid % 5) * 0.04;
      j.reason = "rate below threshold";
    }
    g.judgements.push_back(j);
  }
  LeakJudgement shortj;
  shortj.key = {5003, start + 25 * kSec};
  shortj.comm = "bcftools";
  shortj.reason = "too short (4 s < 30 s)";
  g.judgements.push_back(shortj);

  Advice a;
  a.cpu_request_millicores = 3400;
  a.memory_request_bytes = 2150 * kMiB;
  a.memory_limit_bytes = 2600 * kMiB;
  a.basis = "pss";
  a.samples = g.ticks.size();
  a.duration_s = 1800;
  a.low_confidence = true;
  a.confidence_note = "covers 30 min < 24 h";
  a.methods = {{"VPA", 3500, std::nullopt, 2200 * kMiB, std::nullopt},
               {"KRR", 3300, std::nullopt, 2100 * kMiB, 2100 * kMiB},
               {"DivBase", 3400, 4000, 2150 * kMiB, 2600 * kMiB}};
  g.advice = a;

  m.groups.push_back(std::move(g));
  return m;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.html\n", argv[0]);
    return 2;
  }
  ReportModel m = build();
  std::ofstream out(argv[1], std::ios::binary);
  out << render_html_report(m);
  if (!out.flush()) {
    std::fprintf(stderr, "sample_report: cannot write %s\n", argv[1]);
    return 1;
  }
  // Counted from the model, not from the renderer: processes with two RSS
  // samples or more, past kMaxRssLines the top kMaxRssLines - 1.
  size_t series = 0;
  for (size_t idx : m.groups.front().processes)
    series += m.processes[idx].rss.size() >= 2;
  if (series > kMaxRssLines)
    series = kMaxRssLines - 1;
  std::printf("%zu\n", series);
  return 0;
}
