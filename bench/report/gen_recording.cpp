// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// A synthetic but realistic recording for the `report` benchmark phase
// (bench/run --phases report): what `treetrace record -o FILE` writes on a
// node running a prefork pool, made without BPF or root, deterministically.
//
// It drives the recorder exactly as a live session does (cli/runner.cpp,
// loader/live_state.cpp): the items go through RecorderSink, hence through
// RecordingEncoder and the same zstd framing, and the rows of each tick
// come from a real Aggregator fed the same records. In order:
//   - the description (RecorderSink::create), then the startup scan: an
//     `existing` record for init, the pool's master and its workers, each
//     cgroup's path before the first record that names it, startup-done;
//   - every second: one rate-limited switch sample per worker (RSS flat,
//     one leaker, a few spiky ones), the churn (the master forks a child
//     that execs bcftools, is sampled while it runs and exits), then the
//     refresh rows of every live process, the tick with each row's PSS,
//     and the end of the round (one frame per second);
//   - at the end: the final refresh, loss counters, the final tick, the end.
//
//   gen_recording -o FILE [--workers 50] [--duration 3600] [--churn-every 5] [--seed 1]
//
// Prints one JSON line: records (what `treetrace report` counts as
// records: every event item), items, bytes, seconds.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "core/aggregator.h"
#include "output/recorder_sink.h"

using namespace treetrace;

namespace {

constexpr uint64_t kSec = 1'000'000'000ull;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kPage = 4096;
constexpr uint64_t kBoot = 86'400 * kSec; // the node has been up a day
constexpr uint64_t kPoolCgroup = 4242, kInitCgroup = 1, kJobCgroup = 4243;

enum class Pattern { Flat, Leak, Spike, Master, Init, Child };

struct Proc {
  ProcKey key;
  uint32_t ppid = 0;
  uint64_t cgroup = 0;
  std::string comm;
  Pattern pattern = Pattern::Flat;
  uint64_t base_rss = 0;
  uint64_t cpu_ns = 0, minflt = 0, majflt = 0, nvcsw = 0, nivcsw = 0;
  uint64_t rss = 0, peak = 0, peak_sampled = 0;
  uint64_t last_record_ns = 0;
  uint64_t phase_ns = 0; // where in each second its switch sample falls
  double busy = 0.1;     // share of a CPU
  uint64_t exit_at = 0;  // children only
  bool live = true;
};

struct Gen {
  int workers = 50;
  uint64_t duration_s = 3600;
  uint64_t churn_every_s = 5;
  uint64_t seed = 1;
  std::string path;

  std::mt19937_64 rng;
  std::vector<Proc> procs; // index 0 init, 1 master, 2.. workers, then children
  std::unique_ptr<RecorderSink> sink;
  std::unique_ptr<Aggregator> agg;
  uint32_t next_pid = 20000;
  uint64_t child_serial = 0;

  uint64_t uniform(uint64_t lo, uint64_t hi) { return std::uniform_int_distribution<uint64_t>(lo, hi)(rng); }
  double real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }

  EventHeader header(const Proc &p, uint64_t ts) const {
    EventHeader h;
    h.ts_ns = ts;
    h.proc = p.key;
    h.ppid = p.ppid;
    h.ns_pid = p.key.pid;
    h.cgroup_id = p.cgroup;
    h.comm = p.comm;
    return h;
  }

  void feed(const Event &e) {
    sink->on_input(e);
    agg->on_event(e);
  }

  // The RSS a process has at `ts`, by its pattern.
  uint64_t rss_at(const Proc &p, uint64_t ts) {
    const uint64_t t = ts - kBoot;
    uint64_t rss = p.base_rss;
    switch (p.pattern) {
    case Pattern::Leak:
      rss += (t / kSec) * 96 * 1024; // ~96 KiB a second: ~340 MiB an hour
      break;
    case Pattern::Spike: {
      // Every 5 minutes, 400 MiB for 10 s.
      const uint64_t in_cycle = (t / kSec + p.key.pid * 37) % 300;
      if (in_cycle < 10)
        rss += 400 * kMiB;
      break;
    }
    default:
      break;
    }
    // A little allocator noise, a few pages.
    rss += uniform(0, 16) * kPage;
    return rss / kPage * kPage;
  }

  // Advances the counters of p to ts and fills what a record carries.
  void advance(Proc &p, uint64_t ts, ProcCounters &c, ProcActivity &a) {
    const uint64_t span = ts > p.last_record_ns ? ts - p.last_record_ns : 0;
    const double jitter = real(0.5, 1.5);
    p.cpu_ns += static_cast<uint64_t>(static_cast<double>(span) * p.busy * jitter);
    p.minflt += uniform(0, 40);
    if (uniform(0, 500) == 0)
      p.majflt++;
    p.nvcsw += uniform(5, 200);
    p.nivcsw += uniform(0, 20);
    const uint64_t prev_rss = p.rss;
    p.rss = rss_at(p, ts);
    p.peak = std::max(p.peak, p.rss + uniform(0, 64) * kPage);
    p.peak_sampled = std::max(p.peak_sampled, p.rss);
    c.cpu_ns = p.cpu_ns;
    c.cpu_user_ns = p.cpu_ns / 100 * 85;
    c.cpu_sys_ns = c.cpu_ns - c.cpu_user_ns;
    c.rss_bytes = p.rss;
    c.rss_file_bytes = std::min<uint64_t>(p.rss, 12 * kMiB);
    c.rss_shmem_bytes = std::min<uint64_t>(p.rss - c.rss_file_bytes, kMiB);
    c.rss_anon_bytes = p.rss - c.rss_file_bytes - c.rss_shmem_bytes;
    c.rss_peak_bytes = p.peak;
    c.rss_peak_sampled_bytes = p.peak_sampled;
    // As the kernel keeps it: KiB times microseconds of the previous RSS.
    const uint64_t span_us = span / 1000;
    c.rss_integral_span_ns = span_us * 1000;
    c.rss_integral_byte_ns = static_cast<double>(prev_rss / 1024) * static_cast<double>(span_us) * 1024.0 * 1000.0;
    a = {p.minflt, p.majflt, p.nvcsw, p.nivcsw};
    p.last_record_ns = ts;
  }

  void sample(Proc &p, uint64_t ts, SampleOrigin origin) {
    SampleEvent s;
    s.hdr = header(p, ts);
    advance(p, ts, s.counters, s.activity);
    s.origin = origin;
    feed(s);
  }

  Proc &add_proc(uint32_t pid, uint32_t ppid, uint64_t start_ns, uint64_t cgroup, std::string comm, Pattern pat,
                 uint64_t base_rss, double busy) {
    Proc p;
    p.key = {pid, start_ns};
    p.ppid = ppid;
    p.cgroup = cgroup;
    p.comm = std::move(comm);
    p.pattern = pat;
    p.base_rss = base_rss / kPage * kPage;
    p.busy = busy;
    // What it ran before the recording started, at half its pace.
    p.cpu_ns = static_cast<uint64_t>(static_cast<double>(kBoot - std::min(kBoot, start_ns)) * busy * 0.5);
    p.rss = p.base_rss;
    p.peak = p.peak_sampled = p.base_rss;
    p.last_record_ns = kBoot;
    p.phase_ns = uniform(20'000'000, 990'000'000); // after the refresh rows, before the tick
    procs.push_back(std::move(p));
    return procs.back();
  }

  void startup() {
    add_proc(1, 0, 1 * kSec, kInitCgroup, "systemd", Pattern::Init, 12 * kMiB, 0.001);
    // The pool started ten minutes before the recording.
    add_proc(900, 1, kBoot - 600 * kSec, kPoolCgroup, "gunicorn", Pattern::Master, 40 * kMiB, 0.002);
    for (int i = 0; i < workers; ++i) {
      // Worker 0 leaks; every tenth from 5 on spikes; the rest are flat.
      const Pattern pat = i == 0 ? Pattern::Leak : i % 10 == 5 ? Pattern::Spike : Pattern::Flat;
      add_proc(1000 + static_cast<uint32_t>(i), 900, kBoot - 599 * kSec + static_cast<uint64_t>(i) * 1'000'000,
               kPoolCgroup, "gunicorn", pat, uniform(60, 90) * kMiB, real(0.01, 0.12));
    }
    uint64_t ts = kBoot + 1'000'000;
    for (Proc &p : procs) {
      ExistingEvent e;
      e.hdr = header(p, ts);
      e.nr_threads = p.pattern == Pattern::Init ? 1 : 2;
      feed(e);
      ts += 20'000;
    }
    agg->finish_startup_scan();
    sink->on_startup_scan_done();
    sink->end_round();
  }

  struct Pending {
    uint64_t ts;
    size_t proc; // index into procs
    int what;    // 0 switch sample, 1 fork+exec, 2 child exit
  };

  void spawn_child(uint64_t ts) {
    const Proc &master = procs[1];
    const uint32_t pid = next_pid++;
    if (next_pid > 4'000'000)
      next_pid = 20000;
    ForkEvent f;
    f.hdr = header(master, ts);
    f.child = {pid, ts + 30'000};
    f.child_ns_pid = pid;
    feed(f);
    const uint64_t lifetime = uniform(300, 4000) * 1'000'000ull; // 0.3 to 4 s
    Proc &c = add_proc(pid, master.key.pid, ts + 30'000, kJobCgroup, "gunicorn", Pattern::Child, uniform(8, 200) * kMiB,
                       real(0.5, 1.0));
    c.cpu_ns = 0;
    c.last_record_ns = ts + 30'000;
    c.exit_at = ts + lifetime;
    const uint64_t n = ++child_serial;
    ExecEvent x;
    x.hdr = header(c, ts + 250'000);
    x.hdr.comm = "bcftools";
    x.old_comm = "gunicorn";
    x.exec_tid = pid;
    x.filename = "/usr/bin/bcftools";
    x.argv = {"bcftools",
              "view",
              "-Oz",
              "-o",
              "/srv/jobs/out-" + std::to_string(n) + ".vcf.gz",
              "/srv/data/batch-" + std::to_string(n % 97) + ".vcf.gz"};
    procs.back().comm = "bcftools";
    feed(x);
  }

  void exit_child(Proc &p, uint64_t ts) {
    ExitEvent e;
    e.hdr = header(p, ts);
    advance(p, ts, e.counters, e.activity);
    const bool failed = uniform(0, 49) == 0;
    e.exit_code = failed ? 1 : 0;
    e.wait_status = static_cast<uint32_t>(e.exit_code) << 8;
    e.mem_source = ExitMemSource::AtExit;
    feed(e);
    p.live = false;
  }

  void refresh_and_tick(uint64_t now, bool final) {
    // The refresh before each snapshot: a row for every live process.
    uint64_t ts = now + 100'000;
    for (Proc &p : procs)
      if (p.live) {
        sample(p, ts, SampleOrigin::Refresh);
        ts += 1'000;
      }
    if (final)
      return;
    std::vector<TreeReport> rows = agg->snapshot(now, false);
    measure_pss(rows);
    sink->on_snapshot(rows, now);
  }

  // As LiveState::measure_pss: the members' PSS, here about 70% of RSS.
  void measure_pss(std::vector<TreeReport> &rows) {
    for (TreeReport &row : rows) {
      if (row.procs_live == 0)
        continue;
      uint64_t pss = 0;
      for (const auto &m : agg->live_members_with_rss(row))
        pss += m.rss_bytes / 10 * 7 / kPage * kPage;
      agg->set_pss(row, pss);
      row.pss_bytes = pss;
    }
  }

  int run() {
    rng.seed(seed);
    RecorderOptions o;
    o.path = path;
    o.flush_interval_ns = 0; // a frame at each end of round: one a second, as live
    RecordingMeta &m = o.meta;
    m.treetrace_version = "bench-gen";
    m.hostname = "bench-node";
    m.kernel = "6.1.0-bench";
    m.group_by = "tree";
    m.start_ns = kBoot;
    m.realtime_offset_ns = 1'700'000'000ll * 1'000'000'000ll - static_cast<int64_t>(kBoot);
    m.interval_ns = kSec;
    m.max_live_procs = 1 << 17;
    m.init_children_are_roots = true;
    o.cgroup_path = [](uint64_t id) -> std::optional<std::string> {
      switch (id) {
      case kInitCgroup:
        return "/init.scope";
      case kPoolCgroup:
        return "/system.slice/pool.service";
      case kJobCgroup:
        return "/system.slice/pool.service/jobs";
      default:
        return std::nullopt;
      }
    };
    auto created = RecorderSink::create(std::move(o));
    if (!created) {
      fprintf(stderr, "gen_recording: %s\n", created.error().c_str());
      return 1;
    }
    sink = std::move(*created);
    AggregatorConfig ac;
    ac.init_children_are_roots = true;
    agg = std::make_unique<Aggregator>(ac);
    const auto t0 = std::chrono::steady_clock::now();

    startup();
    uint64_t next_churn = kBoot + uniform(1, churn_every_s) * kSec;
    for (uint64_t s = 0; s < duration_s; ++s) {
      const uint64_t sec0 = kBoot + s * kSec;
      std::vector<Pending> todo;
      for (size_t i = 1; i < procs.size(); ++i) {
        const Proc &p = procs[i];
        if (!p.live)
          continue;
        if (p.pattern != Pattern::Master || s % 10 == 0) // the master is mostly idle
          todo.push_back({sec0 + p.phase_ns, i, 0});
        if (p.pattern == Pattern::Child && p.exit_at < sec0 + kSec)
          todo.push_back({std::max(p.exit_at, sec0 + 1), i, 2});
      }
      while (churn_every_s && next_churn < sec0 + kSec) {
        if (next_churn >= sec0)
          todo.push_back({next_churn, 1, 1});
        next_churn += churn_every_s * kSec + uniform(0, kSec / 2) - kSec / 4;
      }
      std::stable_sort(todo.begin(), todo.end(), [](const Pending &a, const Pending &b) { return a.ts < b.ts; });
      bool exited = false;
      for (const Pending &t : todo) {
        Proc &p = procs[t.proc];
        if (!p.live)
          continue;
        if (t.what == 1) {
          spawn_child(t.ts);
        } else if (t.what == 2) {
          exit_child(p, t.ts);
          exited = true;
        } else if (p.pattern != Pattern::Child || t.ts < p.exit_at) {
          sample(p, t.ts, SampleOrigin::Switch);
        }
      }
      if (exited) // finished children leave the table
        procs.erase(std::remove_if(procs.begin() + 2, procs.end(), [](const Proc &p) { return !p.live; }), procs.end());
      refresh_and_tick(sec0 + kSec, false);
      sink->end_round();
    }

    const uint64_t end = kBoot + duration_s * kSec + 200'000'000;
    refresh_and_tick(end, true);
    std::vector<TreeReport> rows = agg->final_report(end, false);
    measure_pss(rows);
    RunSummary summary;
    const uint64_t records = sink->events();
    summary.loss.attempts = records;
    summary.loss.delivered = records;
    summary.wall_ns = end - kBoot;
    sink->on_final(rows, summary, end);
    if (sink->failed()) {
      fprintf(stderr, "gen_recording: writing %s failed\n", path.c_str());
      return 1;
    }
    const uint64_t bytes = sink->bytes_written();
    sink.reset();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("{\"records\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"workers\": %d, \"duration_s\": %" PRIu64
           ", \"generate_s\": %.3f}\n",
           records, bytes, workers, duration_s, secs);
    return 0;
  }
};

[[noreturn]] void usage() {
  fprintf(stderr, "usage: gen_recording -o FILE [--workers N] [--duration SECONDS] [--churn-every SECONDS] "
                  "[--seed N]\n");
  exit(2);
}

} // namespace

int main(int argc, char **argv) {
  Gen g;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage();
      return argv[++i];
    };
    if (a == "-o")
      g.path = value();
    else if (a == "--workers")
      g.workers = std::atoi(value().c_str());
    else if (a == "--duration")
      g.duration_s = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--churn-every")
      g.churn_every_s = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--seed")
      g.seed = std::strtoull(value().c_str(), nullptr, 10);
    else
      usage();
  }
  if (g.path.empty() || g.workers < 1 || g.workers > 10000 || g.duration_s < 1)
    usage();
  return g.run();
}
