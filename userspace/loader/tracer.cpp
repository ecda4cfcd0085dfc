// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "loader/tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <linux/capability.h>
#include <string>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "treetrace.skel.h"
#include "treetrace_v61.skel.h"
#include "util/unique_fd.h"

namespace treetrace {
namespace {

bool has_effective_cap(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0)
    return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

// bpf/treetrace.bpf.c is built twice (TT_RO in bpf/core_fixes.bpf.h): with
// bpf_rdonly_cast() for Linux 6.2 and later, and without it for 6.1. Both
// have the same maps, programs and globals; the loader uses either through
// this view.
using Rodata = treetrace_bpf::treetrace_bpf__rodata;
using Bss = treetrace_bpf::treetrace_bpf__bss;
static_assert(sizeof(Rodata) == sizeof(treetrace_v61_bpf::treetrace_v61_bpf__rodata));
static_assert(sizeof(Bss) == sizeof(treetrace_v61_bpf::treetrace_v61_bpf__bss));

enum class BpfBuild { Current, V61 };

struct Skeleton {
  BpfBuild build = BpfBuild::Current;
  void *skel = nullptr;
  void (*destroy)(void *) = nullptr;
  int (*load)(void *) = nullptr;
  int (*attach)(void *) = nullptr;
  // The skeleton's own pointers: libbpf moves them when it maps the data at load.
  Rodata **rodata = nullptr;
  Bss **bss = nullptr;
  bpf_map *events = nullptr, *procs = nullptr, *pid_filter = nullptr, *counters = nullptr;
  bpf_program *scan_tasks = nullptr, *refresh_tasks = nullptr, *handle_mark_victim = nullptr;

  Skeleton() = default;
  Skeleton(const Skeleton &) = delete;
  Skeleton &operator=(const Skeleton &) = delete;
  ~Skeleton() {
    if (skel)
      destroy(skel);
  }
};

template <typename S, S *(*Open)(const bpf_object_open_opts *), void (*Destroy)(S *), int (*Load)(S *),
          int (*Attach)(S *)>
std::unique_ptr<Skeleton> open_skeleton(BpfBuild build, const bpf_object_open_opts *opts) {
  S *s = Open(opts);
  if (!s)
    return nullptr;
  auto v = std::make_unique<Skeleton>();
  v->build = build;
  v->skel = s;
  v->destroy = [](void *p) { Destroy(static_cast<S *>(p)); };
  v->load = [](void *p) { return Load(static_cast<S *>(p)); };
  v->attach = [](void *p) { return Attach(static_cast<S *>(p)); };
  v->rodata = reinterpret_cast<Rodata **>(&s->rodata);
  v->bss = reinterpret_cast<Bss **>(&s->bss);
  v->events = s->maps.events;
  v->procs = s->maps.procs;
  v->pid_filter = s->maps.pid_filter;
  v->counters = s->maps.counters;
  v->scan_tasks = s->progs.scan_tasks;
  v->refresh_tasks = s->progs.refresh_tasks;
  v->handle_mark_victim = s->progs.handle_mark_victim;
  return v;
}

std::unique_ptr<Skeleton> open_build(BpfBuild build, const bpf_object_open_opts *opts) {
  if (build == BpfBuild::V61)
    return open_skeleton<treetrace_v61_bpf, treetrace_v61_bpf__open_opts, treetrace_v61_bpf__destroy,
                         treetrace_v61_bpf__load, treetrace_v61_bpf__attach>(build, opts);
  return open_skeleton<treetrace_bpf, treetrace_bpf__open_opts, treetrace_bpf__destroy, treetrace_bpf__load,
                       treetrace_bpf__attach>(build, opts);
}

// bpf_rdonly_cast() came with 6.2 (commit a35b9af4ec2c). TREETRACE_BPF_BUILD=v61
// picks the 6.1 build on any kernel, for testing it.
BpfBuild build_for_this_kernel() {
  if (const char *forced = getenv("TREETRACE_BPF_BUILD"))
    return std::string(forced) == "v61" ? BpfBuild::V61 : BpfBuild::Current;
  struct utsname u {};
  int major = 0, minor = 0;
  if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
    return BpfBuild::V61; // unknown: the build that loads everywhere
  return major > 6 || (major == 6 && minor >= 2) ? BpfBuild::Current : BpfBuild::V61;
}

// What a command name must start with for a --comm pattern to have a
// chance (bpf/treetrace.bpf.c, comm_matches()): the literal bytes before the
// first '*' or '?', or for a plain name the name and its NUL.
void comm_prefix(const std::string &pattern, __u64 words[2], __u64 masks[2], bool &exact) {
  unsigned char bytes[TT_COMM_LEN] = {}, mask[TT_COMM_LEN] = {};
  const size_t wild = pattern.find_first_of("*?");
  exact = wild == std::string::npos;
  const size_t prefix = std::min<size_t>(exact ? pattern.size() + 1 : wild, TT_COMM_LEN);
  memcpy(bytes, pattern.data(), std::min<size_t>(pattern.size(), TT_COMM_LEN));
  memset(mask, 0xff, prefix);
  memcpy(words, bytes, sizeof bytes);
  memcpy(masks, mask, sizeof mask);
}
struct RingBufferDeleter {
  void operator()(ring_buffer *rb) const { ring_buffer__free(rb); }
};
struct LinkDeleter {
  void operator()(bpf_link *l) const { bpf_link__destroy(l); }
};

int libbpf_verbosity = 0;

int print_libbpf(enum libbpf_print_level level, const char *format, va_list args) {
  const int needed = level == LIBBPF_WARN ? 1 : 2;
  if (libbpf_verbosity < needed)
    return 0;
  // Verifier logs arrive as one large message: size the buffer to fit.
  va_list copy;
  va_copy(copy, args);
  const int n = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0)
    return 0;
  std::string line(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(line.data(), line.size(), format, args);
  line.resize(static_cast<size_t>(n));
  while (!line.empty() && line.back() == '\n')
    line.pop_back();
  spdlog::debug("libbpf: {}", line);
  return 0;
}

std::string errno_reason(int err) {
  err = err < 0 ? -err : err;
  if (err == EPERM)
    return std::string(strerror(err)) + ": treetrace needs CAP_BPF and CAP_PERFMON (or root) to load BPF programs";
  return strerror(err);
}

} // namespace

uint64_t KernelCounters::total_attempts() const {
  uint64_t n = 0;
  for (uint64_t a : attempts)
    n += a;
  return n;
}

uint64_t KernelCounters::total_dropped() const {
  uint64_t n = 0;
  for (uint64_t d : dropped_ringbuf_full)
    n += d;
  return n;
}

struct Tracer::Impl {
  TracerConfig config;
  RecordHandler on_record;
  std::unique_ptr<Skeleton> skel;
  std::unique_ptr<ring_buffer, RingBufferDeleter> ring;
  std::unique_ptr<bpf_link, LinkDeleter> scan_link;
  std::unique_ptr<bpf_link, LinkDeleter> refresh_link;
  OomSupport oom = OomSupport::Full;
  uint64_t refresh_generation = 0;
  int possible_cpus = 1;

  static int on_ring_record(void *ctx, void *data, size_t size) {
    static_cast<Impl *>(ctx)->on_record(data, size);
    return 0;
  }

  void configure_rodata() {
    Rodata *ro = *skel->rodata;
    ro->filter_active = config.any_filter();
    ro->trace_kernel_threads = config.trace_kernel_threads;
    ro->pid_filter_active = !config.pids.empty();
    ro->comm_pattern_count = static_cast<uint32_t>(config.comm_patterns.size());
    for (size_t i = 0; i < config.comm_patterns.size() && i < TT_MAX_COMM_PATTERNS; i++) {
      strncpy(const_cast<char *>(ro->comm_patterns[i]), config.comm_patterns[i].c_str(), TT_COMM_PATTERN_LEN - 1);
      comm_prefix(config.comm_patterns[i], const_cast<__u64 *>(ro->comm_prefix_words[i]),
                  const_cast<__u64 *>(ro->comm_prefix_masks[i]), const_cast<bool &>(ro->comm_pattern_exact[i]));
    }
    ro->cgroup_filter_count = static_cast<uint32_t>(config.cgroups.size());
    for (size_t i = 0; i < config.cgroups.size() && i < TT_MAX_CGROUP_FILTERS; i++) {
      ro->cgroup_filter_ids[i] = config.cgroups[i].id;
      ro->cgroup_filter_levels[i] = config.cgroups[i].level;
    }
    ro->sample_interval_ns = config.sample_interval_ns;
    // Samples are due only at folds, so folds must come at least as often.
    ro->fold_interval_ns = std::min<uint64_t>(ro->fold_interval_ns, config.sample_interval_ns);
    ro->page_size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    ro->wakeup_min_bytes = config.wakeup_min_bytes;
  }

  // Opens the object and sets it up for this run; `oom` says which of the
  // OOM programs to load.
  Result<void> open_object(BpfBuild build, OomSupport level) {
    // The CO-RE flavors a kernel lacks make libbpf look for them in module
    // BTFs, and listing those needs CAP_SYS_ADMIN (libbpf 1.1, Debian 12's,
    // fails the load without it). Naming the kernel's BTF as the target
    // avoids that, at the price of libbpf parsing it twice (for the target
    // and for the tp_btf attach points), 70-100 ms on a small VM. So it is
    // named only when treetrace runs with CAP_BPF and CAP_PERFMON alone; no
    // program here touches a module type either way.
    LIBBPF_OPTS(bpf_object_open_opts, open_opts);
    if (!has_effective_cap(CAP_SYS_ADMIN))
      open_opts.btf_custom_path = "/sys/kernel/btf/vmlinux";
    skel.reset();
    skel = open_build(build, &open_opts);
    if (!skel)
      return Error("cannot open the BPF object: " + errno_reason(errno));
    configure_rodata();
    if (int err = bpf_map__set_max_entries(skel->events, config.ringbuf_bytes))
      return Error("invalid ring buffer size: " + errno_reason(err));
    if (int err = bpf_map__set_max_entries(skel->procs, config.max_procs))
      return Error("invalid process table size: " + errno_reason(err));
    // The iterators run only when asked to.
    bpf_program__set_autoattach(skel->scan_tasks, false);
    bpf_program__set_autoattach(skel->refresh_tasks, false);
    oom = level;
    bpf_program__set_autoload(skel->handle_mark_victim, level == OomSupport::Full);
    return {};
  }

  // Runs one pass of the startup scan, draining the ring buffer between
  // read() chunks so a node with many processes cannot overflow it.
  Result<void> run_scan_pass(uint32_t pass) {
    (*skel->bss)->scan_pass = pass;
    UniqueFd iter(bpf_iter_create(bpf_link__fd(scan_link.get())));
    if (iter.get() < 0)
      return Error("cannot start the task scan: " + errno_reason(errno));
    char chunk[4096];
    for (;;) {
      ssize_t n = read(iter.get(), chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return Error("task scan failed: " + errno_reason(errno));
      ring_buffer__consume(ring.get());
      if (n == 0)
        return {};
    }
  }
};

Result<std::unique_ptr<Tracer>> Tracer::create(const TracerConfig &config, RecordHandler on_record) {
  libbpf_verbosity = config.libbpf_verbosity;
  libbpf_set_print(print_libbpf);

  std::unique_ptr<Tracer> tracer(new Tracer());
  tracer->features_ = probe_kernel_features();
  if (auto missing = missing_requirement(tracer->features_))
    return Error(*missing);

  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->on_record = std::move(on_record);
  impl->possible_cpus = libbpf_num_possible_cpus();
  if (impl->possible_cpus <= 0)
    return Error("cannot read the number of possible CPUs");

  const auto began = std::chrono::steady_clock::now();
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  BpfBuild build = build_for_this_kernel();
  if (auto opened = impl->open_object(build, OomSupport::Full); !opened)
    return Error(opened.error());
  spdlog::debug("BPF object opened in {:.1f} ms", ms_since(began));
  const auto load_began = std::chrono::steady_clock::now();
  int err = impl->skel->load(impl->skel->skel);
  // A 6.2+ release without bpf_rdonly_cast() would be a kernel patched
  // oddly; the 6.1 build loads wherever treetrace runs at all. A refusal
  // for want of privileges is the same for both.
  if (err && err != -EPERM && build == BpfBuild::Current) {
    spdlog::warn("the BPF programs for Linux 6.2+ did not load ({}); using those for 6.1, which start slower",
                 errno_reason(err));
    build = BpfBuild::V61;
    if (auto opened = impl->open_object(build, OomSupport::Full); !opened)
      return Error(opened.error());
    err = impl->skel->load(impl->skel->skel);
  }
  // OOM kills are worth reporting but not worth refusing to trace for: a
  // kernel without the oom:mark_victim tracepoint (CONFIG_TRACEPOINTS
  // without the oom events) loads the rest. The object is opened again,
  // since libbpf cannot load one twice; only such a kernel pays for it.
  if (err) {
    spdlog::debug("load with the OOM program failed: {}; trying without it", errno_reason(err));
    if (auto opened = impl->open_object(build, OomSupport::None); !opened)
      return Error(opened.error());
    err = impl->skel->load(impl->skel->skel);
    if (!err)
      spdlog::warn("this kernel cannot trace oom:mark_victim: OOM kills will not be reported");
  }
  if (err) {
    const bool rejected = err == -EACCES || err == -EINVAL;
    if (rejected)
      if (auto why = explain_rejection(tracer->features_))
        return Error(*why);
    return Error((rejected ? "the kernel rejected the BPF programs: " : "cannot load the BPF programs: ") +
                 errno_reason(err) + (config.libbpf_verbosity < 2 ? " (run with -vv for the verifier log)" : ""));
  }

  spdlog::debug("BPF programs loaded in {:.1f} ms (kernel BTF, relocations, verifier; {})", ms_since(load_began),
                build == BpfBuild::V61 ? "build for Linux 6.1" : "build for Linux 6.2+");

  for (uint32_t pid : config.pids) {
    uint8_t one = 1;
    if (bpf_map_update_elem(bpf_map__fd(impl->skel->pid_filter), &pid, &one, BPF_ANY))
      return Error("cannot add pid " + std::to_string(pid) + " to the filter: " + errno_reason(errno));
  }

  impl->ring.reset(ring_buffer__new(bpf_map__fd(impl->skel->events), Impl::on_ring_record, impl.get(), nullptr));
  if (!impl->ring)
    return Error("cannot open the ring buffer: " + errno_reason(errno));

  tracer->impl_ = std::move(impl);
  return tracer;
}

Tracer::~Tracer() = default;

Result<void> Tracer::start() {
  Impl &m = *impl_;
  // Forks racing the scan must check ancestry themselves until pass 1 ends.
  (*m.skel->bss)->startup_scan_pending = true;
  if (int err = m.skel->attach(m.skel->skel))
    return Error("cannot attach the tracepoints: " + errno_reason(err));

  m.scan_link.reset(bpf_program__attach_iter(m.skel->scan_tasks, nullptr));
  if (!m.scan_link)
    return Error("cannot create the task scan: " + errno_reason(errno));
  if (auto scanned = m.run_scan_pass(1); !scanned)
    return scanned;
  (*m.skel->bss)->startup_scan_pending = false;
  if (auto scanned = m.run_scan_pass(2); !scanned)
    return scanned;
  m.scan_link.reset();
  m.refresh_link.reset(bpf_program__attach_iter(m.skel->refresh_tasks, nullptr));
  if (!m.refresh_link)
    return Error("cannot create the live-state refresh: " + errno_reason(errno));
  return {};
}

Result<void> Tracer::refresh(const RecordHandler &on_row, RefreshStats *stats) {
  Impl &m = *impl_;
  const auto began = std::chrono::steady_clock::now();
  // Fork and exit records waiting in the ring buffer go first, so rows
  // update processes the aggregator knows, and the rows of processes whose
  // exit records were just read are recognised as stale.
  ring_buffer__consume(m.ring.get());
  const auto drained = std::chrono::steady_clock::now();
  constexpr size_t row_size = sizeof(tt_sample_event);
  // Below the iterator's 8-page buffer: see refresh_tasks.
  alignas(8) char chunk[16384 + row_size];
  size_t rows = 0, carried = 0;
  double apply_us = 0;
  (*m.skel->bss)->refresh_generation = ++m.refresh_generation;
  UniqueFd iter(bpf_iter_create(bpf_link__fd(m.refresh_link.get())));
  if (iter.get() < 0)
    return Error("cannot start a live-state refresh: " + errno_reason(errno));
  // Rows are handed over as they are read, so memory stays at one chunk
  // however many processes there are; a row cut by a read() is completed
  // by the next.
  for (;;) {
    ssize_t n = read(iter.get(), chunk + carried, sizeof chunk - carried);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return Error("live-state refresh failed: " + errno_reason(errno));
    if (n == 0)
      break;
    const size_t have = carried + static_cast<size_t>(n);
    size_t off = 0;
    const auto applying = std::chrono::steady_clock::now();
    for (; off + row_size <= have; off += row_size, rows++)
      on_row(chunk + off, row_size);
    apply_us += std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - applying).count();
    carried = have - off;
    std::memmove(chunk, chunk + off, carried);
  }
  if (carried != 0)
    return Error("live-state refresh ended inside a row");
  if (stats) {
    const auto now = std::chrono::steady_clock::now();
    stats->processes = rows;
    stats->total_us = std::chrono::duration<double, std::micro>(now - began).count();
    stats->iterate_us = std::chrono::duration<double, std::micro>(now - drained).count() - apply_us;
  }
  return {};
}

bool Tracer::reports_oom_kills() const { return impl_->oom != OomSupport::None; }

int Tracer::ring_fd() const { return ring_buffer__epoll_fd(impl_->ring.get()); }

int Tracer::consume() { return ring_buffer__consume(impl_->ring.get()); }

KernelCounters Tracer::counters() const {
  KernelCounters out;
  const int fd = bpf_map__fd(impl_->skel->counters);
  std::vector<uint64_t> per_cpu(static_cast<size_t>(impl_->possible_cpus));
  auto read = [&](uint32_t key) {
    uint64_t sum = 0;
    if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) == 0)
      for (uint64_t v : per_cpu)
        sum += v;
    return sum;
  };
  for (uint32_t kind = 0; kind < TT_EVENT_KIND_MAX; kind++) {
    out.attempts[kind] = read(TT_CNT_ATTEMPT_BASE + kind);
    out.dropped_ringbuf_full[kind] = read(TT_CNT_DROP_RINGBUF_FULL_BASE + kind);
  }
  out.proc_table_full = read(TT_CNT_PROC_TABLE_FULL);
  out.task_storage_fail = read(TT_CNT_TASK_STORAGE_FAIL);
  out.proc_state_missing = read(TT_CNT_PROC_STATE_MISSING);
  out.argv_read_fail = read(TT_CNT_ARGV_READ_FAIL);
  out.credit_contended = read(TT_CNT_CREDIT_CONTENDED);
  out.oom_not_killed = read(TT_CNT_OOM_NOT_KILLED);
  out.oom_untraced = read(TT_CNT_OOM_UNTRACED);
  return out;
}

std::vector<ProcKey> Tracer::traced_processes() const {
  const int fd = bpf_map__fd(impl_->skel->procs);
  struct Key { // struct proc_key in bpf/treetrace.bpf.c
    uint32_t tgid, pad;
    uint64_t start_ns;
  } key{}, next{};
  std::vector<ProcKey> out;
  const void *prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    out.push_back({next.tgid, next.start_ns});
    key = next;
    prev = &key;
  }
  return out;
}

} // namespace treetrace
