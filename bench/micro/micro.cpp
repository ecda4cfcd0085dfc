// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Micro-benchmarks of the userspace work done per ring buffer record:
// decode_event(), Aggregator::on_event(), rendering as JSON (render_event(),
// and the stream's EventRenderer into a reused buffer), the JSON writer on
// its own, and the output queue. Each benchmark reports items (records)
// per second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "core/aggregator.h"
#include "core/decode.h"
#include "output/output_queue.h"
#include "output/render.h"
#include "treetrace/events.h"
#include "util/cgroup_identity.h"
#include "util/json_writer.h"

namespace treetrace {
namespace {

template <size_t N> void put(char (&field)[N], std::string_view s) {
  std::memset(field, 0, N);
  std::memcpy(field, s.data(), std::min(s.size(), N - 1));
}

tt_event_header header(uint32_t kind, uint32_t pid, uint64_t start_ns, uint32_t ppid, std::string_view comm) {
  tt_event_header h{};
  h.kind = kind;
  h.pid = pid;
  h.ts_ns = start_ns + 1000;
  h.start_ns = start_ns;
  h.cgroup_id = 1;
  h.ppid = ppid;
  h.ns_pid = pid;
  put(h.comm, comm);
  return h;
}

// A typical exec: a compiler invocation with a dozen arguments.
tt_exec_event raw_exec(uint32_t pid, uint64_t start_ns) {
  tt_exec_event e{};
  e.hdr = header(TT_EVENT_EXEC, pid, start_ns, 100, "cc1plus");
  put(e.old_comm, "g++");
  e.exec_tid = pid;
  put(e.filename, "/usr/lib/gcc/x86_64-linux-gnu/12/cc1plus");
  static const char *argv[] = {"/usr/lib/gcc/x86_64-linux-gnu/12/cc1plus",
                               "-quiet",
                               "-I",
                               "/work/main/userspace",
                               "-D_GNU_SOURCE",
                               "aggregator.cpp",
                               "-quiet",
                               "-dumpdir",
                               "CMakeFiles/x.dir/",
                               "-O2",
                               "-std=gnu++20",
                               "-o",
                               "/tmp/ccZj8la5.s"};
  size_t off = 0;
  for (const char *a : argv) {
    size_t n = std::strlen(a) + 1;
    std::memcpy(e.argv + off, a, n);
    off += n;
  }
  e.argv_len = static_cast<uint32_t>(off);
  return e;
}

tt_exit_event raw_exit(uint32_t pid, uint64_t start_ns) {
  tt_exit_event e{};
  e.hdr = header(TT_EVENT_EXIT, pid, start_ns, 100, "cc1plus");
  e.counters.cpu_ns = 1'036'452'969;
  e.counters.utime_ns = 852'629'234;
  e.counters.stime_ns = 183'823'735;
  e.counters.rss_bytes = 94'117'888;
  e.counters.rss_anon_bytes = 64'786'432;
  e.counters.rss_file_bytes = 29'331'456;
  e.counters.rss_peak_bytes = 94'117'888;
  e.counters.rss_peak_sampled_bytes = 94'117'888;
  e.counters.rss_integral_kib_us = 87'000'000;
  e.counters.rss_integral_span_us = 2'000'000;
  e.minflt = 16550;
  e.nivcsw = 294;
  return e;
}

tt_fork_event raw_fork(uint32_t parent, uint64_t parent_start, uint32_t child, uint64_t child_start) {
  tt_fork_event e{};
  e.hdr = header(TT_EVENT_FORK, parent, parent_start, 1, "make");
  e.child_pid = child;
  e.child_ns_pid = child;
  e.child_start_ns = child_start;
  return e;
}

template <typename Raw> void BM_Decode(benchmark::State &state, Raw raw) {
  for (auto _ : state) {
    DecodeResult r = decode_event(&raw, sizeof raw);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_DecodeExec(benchmark::State &state) { BM_Decode(state, raw_exec(4242, 5'000'000)); }
void BM_DecodeExit(benchmark::State &state) { BM_Decode(state, raw_exit(4242, 5'000'000)); }
void BM_DecodeFork(benchmark::State &state) { BM_Decode(state, raw_fork(100, 1'000, 4242, 5'000'000)); }

// What the runner's caches answer for a service's cgroup: a path and an
// identity, each returned by value.
RenderContext service_ctx() {
  RenderContext ctx;
  ctx.format = OutputFormat::Json;
  ctx.cgroup_path = [](uint64_t) -> std::optional<std::string> { return std::string("/system.slice/build.service"); };
  ctx.identity = [](uint64_t) -> std::optional<CgroupIdentity> {
    return identity_from_cgroup_path("/system.slice/build.service");
  };
  return ctx;
}

// render_event(): a new string per line, the cgroup looked up per line.
template <typename Raw> void BM_RenderJson(benchmark::State &state, Raw raw) {
  Event event = *decode_event(&raw, sizeof raw).event;
  Attribution attr{};
  attr.tree_root = ProcKey{100, 1000};
  attr.tracked = true;
  const RenderContext ctx = service_ctx();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string line = render_event(event, attr, ctx);
    bytes += line.size();
    benchmark::DoNotOptimize(line);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void BM_RenderExecJson(benchmark::State &state) { BM_RenderJson(state, raw_exec(4242, 5'000'000)); }
void BM_RenderExitJson(benchmark::State &state) { BM_RenderJson(state, raw_exit(4242, 5'000'000)); }

// The stream's path: EventRenderer into one reused buffer.
template <typename Raw> void BM_StreamRenderJson(benchmark::State &state, Raw raw) {
  Event event = *decode_event(&raw, sizeof raw).event;
  Attribution attr{};
  attr.tree_root = ProcKey{100, 1000};
  attr.tracked = true;
  const RenderContext ctx = service_ctx();
  EventRenderer renderer(ctx);
  std::string line;
  size_t bytes = 0;
  for (auto _ : state) {
    line.clear();
    renderer.append(line, event, attr);
    bytes += line.size();
    benchmark::DoNotOptimize(line);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void BM_StreamRenderExecJson(benchmark::State &state) { BM_StreamRenderJson(state, raw_exec(4242, 5'000'000)); }
void BM_StreamRenderExitJson(benchmark::State &state) { BM_StreamRenderJson(state, raw_exit(4242, 5'000'000)); }

// OutputQueue: a 335-byte line (the storm's average) pushed, published
// every 200 lines as a reader round would, and written to /dev/null by the
// queue's thread. CPU time is the whole process's, the writer's included.
void BM_OutputQueuePush(benchmark::State &state) {
  const int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  {
    OutputQueue queue(fd, 16 << 20);
    const std::string line(334, 'x');
    const std::string with_newline = line + "\n";
    size_t n = 0;
    for (auto _ : state) {
      benchmark::DoNotOptimize(queue.try_push(with_newline));
      if (++n % 200 == 0)
        queue.publish();
    }
    queue.flush(5000);
  }
  close(fd);
  state.SetItemsProcessed(state.iterations());
}

// Feeds the parent every lifecycle below belongs to, as the startup scan would.
void add_parent(Aggregator &agg) {
  tt_existing_event ex{};
  ex.hdr = header(TT_EVENT_EXISTING, 100, 1000, 1, "make");
  ex.nr_threads = 1;
  agg.on_event(*decode_event(&ex, sizeof ex).event);
  agg.finish_startup_scan();
}

// Raw fork, exec and exit records of one child of that parent; next()
// moves them to a new process (a new pid and start time).
struct Lifecycle {
  tt_fork_event fork = raw_fork(100, 1000, 1000, 2'000'000);
  tt_exec_event exec = raw_exec(1000, 2'000'000);
  tt_exit_event exit = raw_exit(1000, 2'000'000);

  Lifecycle() {
    exec.hdr.ppid = 100;
    exit.hdr.ppid = 100;
  }
  void next() {
    uint32_t pid = fork.child_pid >= 4'000'000 ? 1000 : fork.child_pid + 1;
    uint64_t start = fork.child_start_ns + 1000;
    fork.child_pid = fork.child_ns_pid = pid;
    fork.child_start_ns = start;
    for (tt_event_header *h : {&exec.hdr, &exit.hdr}) {
      h->pid = h->ns_pid = pid;
      h->start_ns = start;
      h->ts_ns = start + 500;
    }
  }
};

// Aggregation update alone: fork, exec, exit of a child of one long-lived
// parent, already decoded. Items are records (3 per iteration); the
// per-iteration re-keying of the three events is included.
void BM_AggregateLifecycle(benchmark::State &state) {
  Aggregator agg;
  add_parent(agg);
  Lifecycle raw;
  Event f = *decode_event(&raw.fork, sizeof raw.fork).event;
  Event x = *decode_event(&raw.exec, sizeof raw.exec).event;
  Event e = *decode_event(&raw.exit, sizeof raw.exit).event;
  uint32_t pid = 1000;
  uint64_t start = 2'000'000;
  for (auto _ : state) {
    pid = pid >= 4'000'000 ? 1000 : pid + 1;
    start += 1000;
    auto &fe = std::get<ForkEvent>(f);
    fe.child = ProcKey{pid, start};
    std::get<ExecEvent>(x).hdr.proc = ProcKey{pid, start};
    std::get<ExitEvent>(e).hdr.proc = ProcKey{pid, start};
    benchmark::DoNotOptimize(agg.on_event(f));
    benchmark::DoNotOptimize(agg.on_event(x));
    benchmark::DoNotOptimize(agg.on_event(e));
  }
  state.SetItemsProcessed(state.iterations() * 3);
}

// The whole userspace path of a process lifecycle as the reader runs it:
// decode, aggregate and render (JSON, the stream's EventRenderer into a
// reused buffer) its fork, exec and exit records. Items are records (3 per
// iteration).
void BM_PipelineLifecycle(benchmark::State &state) {
  Aggregator agg;
  add_parent(agg);
  const RenderContext ctx = service_ctx();
  EventRenderer renderer(ctx);
  std::string line;
  Lifecycle raw;
  size_t bytes = 0;
  auto one = [&](const void *rec, size_t size) {
    DecodeResult r = decode_event(rec, size);
    Attribution a = agg.on_event(*r.event);
    line.clear();
    renderer.append(line, *r.event, a);
    bytes += line.size();
    benchmark::DoNotOptimize(line);
  };
  for (auto _ : state) {
    raw.next();
    one(&raw.fork, sizeof raw.fork);
    one(&raw.exec, sizeof raw.exec);
    one(&raw.exit, sizeof raw.exit);
  }
  state.SetItemsProcessed(state.iterations() * 3);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// The JSON writer alone, on an exit-like record of 25 fields.
void BM_JsonWriterExitLike(benchmark::State &state) {
  std::string line;
  for (auto _ : state) {
    line.clear();
    JsonWriter w(line);
    w.begin_object();
    w.field("event", "exit");
    w.field("ts_ns", uint64_t{1343932405372});
    w.field("pid", 9919);
    w.field("ppid", 9903);
    w.field("comm", std::string_view("cc1plus"));
    w.field("cgroup", std::string_view("/system.slice/build.service"));
    w.field("cgroup_id", uint64_t{1});
    w.field("start_ns", uint64_t{1341784255505});
    w.field("exit_code", 0);
    w.field("signal", 0);
    w.field("cpu_ns", uint64_t{1036452969});
    w.field("rss_bytes", uint64_t{94117888});
    w.field("rss_anon_bytes", uint64_t{64786432});
    w.field("rss_file_bytes", uint64_t{29331456});
    w.field("rss_shmem_bytes", uint64_t{0});
    w.field("rss_peak_bytes", uint64_t{94117888});
    w.field("cpu_user_ns", uint64_t{852629234});
    w.field("cpu_sys_ns", uint64_t{183823735});
    w.field("rss_avg_bytes", uint64_t{89568739});
    w.field("mem_source", "exit");
    w.field("minflt", uint64_t{16550});
    w.field("majflt", uint64_t{0});
    w.field("nvcsw", uint64_t{2});
    w.field("nivcsw", uint64_t{294});
    w.field("wall_ns", uint64_t{2148149867});
    w.end_object();
    benchmark::DoNotOptimize(line);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_DecodeFork);
BENCHMARK(BM_DecodeExec);
BENCHMARK(BM_DecodeExit);
BENCHMARK(BM_AggregateLifecycle);
BENCHMARK(BM_RenderExecJson);
BENCHMARK(BM_RenderExitJson);
BENCHMARK(BM_StreamRenderExecJson);
BENCHMARK(BM_StreamRenderExitJson);
BENCHMARK(BM_OutputQueuePush)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_JsonWriterExitLike);
BENCHMARK(BM_PipelineLifecycle);

} // namespace
} // namespace treetrace

BENCHMARK_MAIN();
