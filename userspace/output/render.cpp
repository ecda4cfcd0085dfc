// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/render.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <type_traits>

#include "core/event_kind.h"
#include "output/verdict_text.h"
#include "util/duration.h"
#include "util/json_writer.h"

namespace treetrace {
namespace {

// Makes a visitor's missing case a compile error instead of a silent fallthrough.
template <typename> inline constexpr bool kUnhandledEvent = false;

const char *event_name(const Event &e) { return event_kind_name(kind_of(e)); }

const char *to_string(OomConstraint c) {
  switch (c) {
  case OomConstraint::Global:
    return "global";
  case OomConstraint::Cpuset:
    return "cpuset";
  case OomConstraint::MemoryPolicy:
    return "mempolicy";
  case OomConstraint::Memcg:
    return "memcg";
  }
  return "global";
}

std::optional<std::string> memcg_of(const OomKillEvent &ev, const RenderContext &ctx) {
  if (ev.memcg_id == 0 || !ctx.memcg_path)
    return std::nullopt;
  return ctx.memcg_path(ev.memcg_hierarchy_id, ev.memcg_id);
}

const EventHeader &header_of(const Event &e) {
  return std::visit([](const auto &ev) -> const EventHeader & { return ev.hdr; }, e);
}

const char *to_string(ExitMemSource s) {
  switch (s) {
  case ExitMemSource::AtExit:
    return "exit";
  case ExitMemSource::LastSample:
    return "last_sample";
  case ExitMemSource::None:
    break;
  }
  return "none";
}

// Command names may hold any byte; the text output shows control bytes
// escaped so one event stays one line.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

std::string clock_time(uint64_t boottime_ns, const RenderContext &ctx) {
  const int64_t real = static_cast<int64_t>(boottime_ns) + ctx.realtime_offset_ns;
  const time_t secs = static_cast<time_t>(real / 1'000'000'000);
  struct tm tm {};
  localtime_r(&secs, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec, (real % 1'000'000'000) / 1'000'000);
}

std::string cgroup_of(const EventHeader &h, const RenderContext &ctx) {
  if (ctx.cgroup_path)
    if (auto p = ctx.cgroup_path(h.cgroup_id))
      return *p;
  return {};
}

// Container, pod and unit of a cgroup: each field only where its path says
// so. A group row carries only what all its members share: a pod's row
// names no container, a unit's row no pod.
void json_identity(JsonWriter &w, const std::optional<CgroupIdentity> &id, GroupBy scope = GroupBy::Tree) {
  if (!id)
    return;
  auto nonempty = [&](JsonKey name, const std::string &v) {
    if (!v.empty())
      w.field(name, v);
  };
  const bool all = scope == GroupBy::Tree || scope == GroupBy::Cgroup;
  if (all || scope == GroupBy::Container) {
    nonempty("container_id", id->container_id);
    nonempty("container_runtime", id->container_runtime);
  }
  if (all || scope == GroupBy::Container || scope == GroupBy::Pod) {
    nonempty("pod_uid", id->pod_uid);
    nonempty("pod", id->pod_name);
    nonempty("namespace", id->pod_namespace);
    nonempty("qos_class", id->qos_class);
  }
  if (all || scope == GroupBy::Unit)
    nonempty("systemd_unit", id->systemd_unit);
}

std::optional<CgroupIdentity> identity_of(uint64_t cgroup_id, const RenderContext &ctx) {
  return ctx.identity ? ctx.identity(cgroup_id) : std::nullopt;
}

// What a record's header says about its cgroup: path, id and identity.
void json_cgroup_fields(JsonWriter &w, uint64_t cgroup_id, const std::optional<std::string> &path,
                        const std::optional<CgroupIdentity> &identity) {
  w.field("cgroup", path);
  w.field("cgroup_id", cgroup_id);
  json_identity(w, identity);
}

// `cgroup_members`: json_cgroup_fields() already rendered, or null to
// render them here.
void json_header(JsonWriter &w, std::string_view name, const EventHeader &h, const RenderContext &ctx,
                 const std::string *cgroup_members) {
  w.field("event", name);
  w.field("ts_ns", h.ts_ns);
  w.field("pid", h.proc.pid);
  w.field("ppid", h.ppid);
  if (h.ns_pid != h.proc.pid)
    w.field("ns_pid", h.ns_pid);
  w.field("comm", h.comm);
  if (cgroup_members)
    w.members(*cgroup_members);
  else
    json_cgroup_fields(w, h.cgroup_id, ctx.cgroup_path ? ctx.cgroup_path(h.cgroup_id) : std::nullopt,
                       identity_of(h.cgroup_id, ctx));
  w.field("start_ns", h.proc.start_ns);
}

void json_activity(JsonWriter &w, const ProcActivity &a) {
  w.field("minflt", a.minflt);
  w.field("majflt", a.majflt);
  w.field("nvcsw", a.nvcsw);
  w.field("nivcsw", a.nivcsw);
}

void json_counters(JsonWriter &w, const ProcCounters &c) {
  w.field("cpu_ns", c.cpu_ns);
  w.field("rss_bytes", c.rss_bytes);
  w.field("rss_anon_bytes", c.rss_anon_bytes);
  w.field("rss_file_bytes", c.rss_file_bytes);
  w.field("rss_shmem_bytes", c.rss_shmem_bytes);
  w.field("rss_peak_bytes", c.rss_peak_bytes);
}

void json_event(std::string &line, const Event &event, const Attribution &attr, const RenderContext &ctx,
                const std::string *cgroup_members) {
  JsonWriter w(line);
  w.begin_object();
  json_header(w, event_name(event), header_of(event), ctx, cgroup_members);
  std::visit(
      [&](const auto &ev) {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, ForkEvent>) {
          w.field("child_pid", ev.child.pid);
          w.field("child_start_ns", ev.child.start_ns);
          if (ev.child_ns_pid != ev.child.pid)
            w.field("child_ns_pid", ev.child_ns_pid);
        } else if constexpr (std::is_same_v<T, ExecEvent>) {
          w.field("filename", ev.filename);
          if (ev.filename_truncated)
            w.field("filename_truncated", true);
          w.begin_array("argv");
          for (const auto &a : ev.argv)
            w.value(a);
          w.end_array();
          w.field("argv_truncated", ev.argv_truncated);
          w.field("old_comm", ev.old_comm);
          if (ev.exec_tid != ev.hdr.proc.pid)
            w.field("exec_tid", ev.exec_tid);
        } else if constexpr (std::is_same_v<T, ExitEvent>) {
          w.field("exit_code", ev.exit_code);
          w.field("signal", ev.signal);
          if (ev.core_dumped)
            w.field("core_dumped", true);
          json_counters(w, ev.counters);
          w.field("cpu_user_ns", ev.counters.cpu_user_ns);
          w.field("cpu_sys_ns", ev.counters.cpu_sys_ns);
          w.field("rss_avg_bytes", attr.rss_avg_bytes);
          w.field("mem_source", to_string(ev.mem_source));
          json_activity(w, ev.activity);
          w.field("oom_killed", ev.oom_killed);
          w.field("wall_ns", ev.hdr.ts_ns > ev.hdr.proc.start_ns ? ev.hdr.ts_ns - ev.hdr.proc.start_ns : 0);
        } else if constexpr (std::is_same_v<T, SampleEvent>) {
          json_counters(w, ev.counters);
          w.field("rss_peak_sampled_bytes", ev.counters.rss_peak_sampled_bytes);
          json_activity(w, ev.activity);
        } else if constexpr (std::is_same_v<T, ExistingEvent>) {
          w.field("nr_threads", ev.nr_threads);
        } else if constexpr (std::is_same_v<T, OomKillEvent>) {
          w.field("rss_bytes", ev.rss_bytes());
          w.field("rss_anon_bytes", ev.rss_anon_bytes);
          w.field("rss_file_bytes", ev.rss_file_bytes);
          w.field("rss_shmem_bytes", ev.rss_shmem_bytes);
          w.field("rss_peak_bytes", ev.rss_peak_bytes);
          w.field("constraint", ev.context_known ? std::optional<std::string>(to_string(ev.constraint)) : std::nullopt);
          w.field("memcg", memcg_of(ev, ctx));
          w.field("memcg_id", ev.memcg_id);
          w.field("memcg_hierarchy", ev.memcg_id == 0
                                         ? std::optional<std::string>()
                                         : std::optional<std::string>(ev.memcg_hierarchy_id ? "v1" : "v2"));
          w.field("memcg_limit_bytes", ev.memcg_limit_bytes);
          w.field("memcg_usage_bytes", ev.memcg_id ? std::optional<uint64_t>(ev.memcg_usage_bytes) : std::nullopt);
          w.field("trigger_pid", ev.trigger_pid);
          if (ev.victim_pid_only)
            w.field("victim_pid_only", true);
        } else {
          static_assert(kUnhandledEvent<T>);
        }
      },
      event);
  if (attr.tracked) {
    w.field("tree_root_pid", attr.tree_root.pid);
    w.field("tree_root_start_ns", attr.tree_root.start_ns);
  }
  w.end_object();
}

std::string join_argv(const ExecEvent &ev) {
  std::string out;
  for (const auto &a : ev.argv) {
    if (!out.empty())
      out += ' ';
    out += printable(a);
  }
  if (ev.argv_truncated)
    out += " ...";
  return out;
}

// "killed by the OOM killer: memcg /app limit 32.0M (usage 32.0M); rss 31.6M (anon 31.2M, file 412K, shmem 0B)"
std::string text_oom_detail(const OomKillEvent &ev, const RenderContext &ctx) {
  std::string why = "cause unknown";
  if (ev.context_known && ev.constraint == OomConstraint::Memcg) {
    why = fmt::format("memcg {}", memcg_of(ev, ctx).value_or(fmt::format("id {}", ev.memcg_id)));
    if (ev.memcg_limit_bytes)
      why += fmt::format(" limit {}", format_bytes(*ev.memcg_limit_bytes));
    why += fmt::format(" (usage {})", format_bytes(ev.memcg_usage_bytes));
  } else if (ev.context_known) {
    why = ev.constraint == OomConstraint::Global ? "the node is out of memory" : to_string(ev.constraint);
  }
  return fmt::format("killed by the OOM killer: {}; rss {} (anon {}, file {}, shmem {}), triggered by {}", why,
                     format_bytes(ev.rss_bytes()), format_bytes(ev.rss_anon_bytes), format_bytes(ev.rss_file_bytes),
                     format_bytes(ev.rss_shmem_bytes), ev.trigger_pid);
}

constexpr const char *kEventLine = "{:<12} {:<8} {:>7} {:>7} {:<16} {} {}\n";

std::string text_event(const Event &event, const Attribution &attr, const RenderContext &ctx) {
  const EventHeader &h = header_of(event);
  std::string detail = std::visit(
      [&](const auto &ev) -> std::string {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, ForkEvent>) {
          return fmt::format("child={}", ev.child.pid);
        } else if constexpr (std::is_same_v<T, ExecEvent>) {
          return fmt::format("{} [{}] (was {})", printable(ev.filename), join_argv(ev), printable(ev.old_comm));
        } else if constexpr (std::is_same_v<T, ExitEvent>) {
          std::string how = ev.signal ? fmt::format("signal={}{}", ev.signal, ev.core_dumped ? " (core)" : "")
                                      : fmt::format("code={}", ev.exit_code);
          const uint64_t wall = ev.hdr.ts_ns > h.proc.start_ns ? ev.hdr.ts_ns - h.proc.start_ns : 0;
          return fmt::format("{} cpu={} (user {}, sys {}) peak={} avg={} wall={}", how,
                             format_duration_ns(ev.counters.cpu_ns), format_duration_ns(ev.counters.cpu_user_ns),
                             format_duration_ns(ev.counters.cpu_sys_ns), format_bytes(ev.counters.rss_peak_bytes),
                             format_bytes(attr.rss_avg_bytes), format_duration_ns(wall));
        } else if constexpr (std::is_same_v<T, SampleEvent>) {
          return fmt::format("cpu={} rss={} peak={}", format_duration_ns(ev.counters.cpu_ns),
                             format_bytes(ev.counters.rss_bytes), format_bytes(ev.counters.rss_peak_bytes));
        } else if constexpr (std::is_same_v<T, ExistingEvent>) {
          return fmt::format("threads={}", ev.nr_threads);
        } else if constexpr (std::is_same_v<T, OomKillEvent>) {
          return text_oom_detail(ev, ctx);
        } else {
          static_assert(kUnhandledEvent<T>);
        }
      },
      event);
  return fmt::format(kEventLine, clock_time(h.ts_ns, ctx), event_name(event), h.proc.pid, h.ppid, printable(h.comm),
                     detail, cgroup_of(h, ctx));
}

std::string by_comm_text(const std::vector<CommUsage> &by_comm, size_t max_items) {
  std::string out;
  for (size_t i = 0; i < by_comm.size() && i < max_items; i++) {
    const auto &c = by_comm[i];
    if (!out.empty())
      out += ", ";
    out += printable(c.comm);
    if (c.procs > 1)
      out += fmt::format(" x{}", c.procs);
    out += ": " + format_duration_ns(c.cpu_ns);
  }
  if (by_comm.size() > max_items)
    out += fmt::format(", +{} more", by_comm.size() - max_items);
  return out;
}

void json_by_comm(JsonWriter &w, const std::vector<CommUsage> &by_comm) {
  w.begin_array("by_comm");
  for (const auto &c : by_comm) {
    w.begin_object();
    w.field("comm", c.comm);
    w.field("procs", c.procs);
    w.field("cpu_ns", c.cpu_ns);
    w.field("rss_peak_bytes", c.rss_peak_bytes);
    w.end_object();
  }
  w.end_array();
}

void json_process(JsonWriter &w, const ProcessReport &p) {
  w.begin_object();
  w.field("pid", p.key.pid);
  w.field("start_ns", p.key.start_ns);
  w.field("ppid", p.ppid);
  w.field("comm", p.comm);
  w.begin_array("comm_history");
  for (const auto &c : p.comm_history)
    w.value(c);
  w.end_array();
  w.field("learned_via", to_string(p.learned_via));
  w.field("live", p.live);
  w.field("cpu_ns", p.cpu_ns);
  w.field("rss_bytes", p.rss_bytes);
  w.field("rss_growth_bytes", static_cast<int64_t>(p.rss_bytes) - static_cast<int64_t>(p.rss_first_bytes));
  w.field("rss_peak_bytes", p.rss_peak_bytes);
  w.field("rss_avg_bytes", p.rss_avg_bytes);
  w.field("wall_ns", p.wall_ns);
  w.field("exit_code", p.exit_code);
  w.field("signal", p.signal);
  w.field("oom_killed", p.oom_killed);
  json_activity(w, p.activity);
  w.end_object();
}

std::string json_trees(const std::vector<TreeReport> &trees, uint64_t now_ns, bool final_report,
                       const RenderContext &ctx) {
  std::string out;
  const bool groups = ctx.group_by != GroupBy::Tree;
  for (const auto &t : trees) {
    JsonWriter w(out);
    w.begin_object();
    w.field("event", groups ? "group" : "tree");
    w.field("ts_ns", now_ns);
    w.field("final", final_report);
    if (groups) {
      w.field("group_by", to_string(ctx.group_by));
      w.field("group", t.group.empty() ? std::optional<std::string>() : std::optional<std::string>(t.group));
      // "[other]" and the no-group row have no cgroup of their own.
      if (ctx.group_by != GroupBy::Comm && !t.group.empty() && t.cgroup_id != 0)
        json_identity(w, identity_of(t.cgroup_id, ctx), ctx.group_by);
    } else {
      w.field("root_pid", t.root.pid);
      w.field("root_start_ns", t.root.start_ns);
      w.field("root_comm", t.root_comm);
    }
    w.field("procs_total", t.procs_total);
    w.field("procs_live", t.procs_live);
    w.field("cpu_ns", t.cpu_ns);
    w.field("cpu_interval_ns", t.cpu_interval_ns);
    w.field("rss_bytes", t.rss_bytes);
    w.field("pss_bytes", t.pss_bytes);
    w.field("rss_peak_bytes", t.rss_peak_bytes);
    w.field("rss_avg_bytes", t.rss_avg_bytes);
    w.field("proc_rss_peak_bytes", t.proc_rss_peak_bytes);
    // What the group's memory cgroup charges, where the row is one (null
    // for trees, or where the files could not be read).
    w.field("memcg_current_bytes", t.memcg_current_bytes);
    w.field("memcg_peak_bytes", t.memcg_peak_bytes);
    w.field("memcg_limit_bytes", t.memcg_limit_bytes);
    w.field("oom_kills", t.oom_kills);
    w.field("wall_ns", t.last_ts_ns > t.first_ts_ns ? t.last_ts_ns - t.first_ts_ns : 0);
    json_by_comm(w, t.by_comm);
    // Leak verdicts as they form (with --interval; docs/report-method.md).
    w.begin_array("leaks");
    for (const LeakVerdict &v : t.leaks) {
      w.begin_object();
      for_each_field(v, [&](const char *key, const auto &value) { w.field(key, value); });
      w.end_object();
    }
    w.end_array();
    if (!t.processes.empty()) {
      w.begin_array("processes");
      for (const auto &p : t.processes)
        json_process(w, p);
      w.end_array();
    }
    w.end_object();
  }
  return out;
}

std::string text_trees(const std::vector<TreeReport> &trees, uint64_t now_ns, bool final_report,
                       const RenderContext &ctx) {
  const bool groups = ctx.group_by != GroupBy::Tree;
  const std::string rows = groups ? fmt::format("{} groups", to_string(ctx.group_by)) : std::string("trees");
  std::string out = fmt::format("--- {} {} ({} {})\n", final_report ? "final report" : "trees at",
                                clock_time(now_ns, ctx), trees.size(), rows);
  out += fmt::format("{:>8} {:<16} {:>6} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}  {}\n", groups ? "" : "ROOT",
                     groups ? "GROUP" : "COMM", "PROCS", "LIVE", "CPU/INT", "CPU", "RSS", "PSS", "RSS PEAK", "RSS AVG",
                     "BY COMMAND");
  for (const auto &t : trees) {
    // A group's key can be long (a 64-digit container id): shown short
    // here, whole in JSON.
    const std::string name = groups ? printable(group_label(t, ctx.group_by)).substr(0, 16) : printable(t.root_comm);
    out += fmt::format("{:>8} {:<16} {:>6} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}  {}\n",
                       groups ? std::string() : std::to_string(t.root.pid), name, t.procs_total, t.procs_live,
                       format_duration_ns(t.cpu_interval_ns), format_duration_ns(t.cpu_ns), format_bytes(t.rss_bytes),
                       t.pss_bytes ? format_bytes(*t.pss_bytes) : std::string("-"), format_bytes(t.rss_peak_bytes),
                       format_bytes(t.rss_avg_bytes), by_comm_text(t.by_comm, 4));
    if (t.oom_kills)
      out += fmt::format("{:>8} OOM kills: {}\n", "", t.oom_kills);
    for (const LeakVerdict &v : t.leaks) {
      const LeakVerdictText text = leak_verdict_text(v);
      out += fmt::format("{:>8} {}\n{:>8}   {}\n", "", text.what, "", text.consequence);
    }
    for (const auto &p : t.processes)
      out += fmt::format("{:>8}   {:>7} {:<16} {:>5} cpu={} rss={} peak={} avg={} wall={}{}\n", "", p.key.pid,
                         printable(p.comm), p.live ? "live" : "exit", format_duration_ns(p.cpu_ns),
                         format_bytes(p.rss_bytes), format_bytes(p.rss_peak_bytes), format_bytes(p.rss_avg_bytes),
                         format_duration_ns(p.wall_ns),
                         p.signal ? fmt::format(" signal={}", *p.signal)
                                  : (p.exit_code ? fmt::format(" code={}", *p.exit_code) : std::string()));
  }
  return out;
}

} // namespace

std::string group_label(const TreeReport &t, GroupBy by) {
  if (!t.group.empty())
    return t.group;
  switch (by) {
  case GroupBy::Container:
    return "(no container)";
  case GroupBy::Pod:
    return "(no pod)";
  case GroupBy::Unit:
    return "(no unit)";
  case GroupBy::Cgroup:
    return "(unknown cgroup)";
  case GroupBy::Comm:
  case GroupBy::Tree:
    break;
  }
  return "(none)";
}

std::string render_event(const Event &event, const Attribution &attribution, const RenderContext &ctx) {
  if (ctx.format == OutputFormat::Text)
    return text_event(event, attribution, ctx);
  std::string line;
  json_event(line, event, attribution, ctx, nullptr);
  return line;
}

EventRenderer::EventRenderer(const RenderContext &ctx) : ctx_(ctx) {}
EventRenderer::~EventRenderer() = default;

void EventRenderer::append(std::string &out, const Event &event, const Attribution &attribution) {
  if (ctx_.format == OutputFormat::Text) {
    out += text_event(event, attribution, ctx_);
    return;
  }
  json_event(out, event, attribution, ctx_, &cgroup_members(header_of(event).cgroup_id));
}

// A cgroup's path never changes (cgroup v2 refuses renames) and its id is
// never reused, so what the header says about it can be rendered once.
// Not kept while it may still change: an unknown path (the path cache may
// find it at its next rescan), and a pod whose name is not known yet (its
// log directory can appear after its first process).
const std::string &EventRenderer::cgroup_members(uint64_t cgroup_id) {
  if (auto it = cgroup_members_.find(cgroup_id); it != cgroup_members_.end())
    return it->second;
  const std::optional<std::string> path = ctx_.cgroup_path ? ctx_.cgroup_path(cgroup_id) : std::nullopt;
  const std::optional<CgroupIdentity> identity = identity_of(cgroup_id, ctx_);
  scratch_.clear();
  {
    JsonWriter w(scratch_);
    w.begin_object();
    json_cgroup_fields(w, cgroup_id, path, identity);
    w.end_object();
  }
  // The members are what stands between the braces of "{...}\n".
  scratch_.resize(scratch_.size() - 2);
  scratch_.erase(0, 1);
  const bool path_pending = ctx_.cgroup_path && !path;
  const bool pod_pending = identity && !identity->pod_uid.empty() && identity->pod_name.empty();
  if (path_pending || pod_pending)
    return scratch_;
  if (cgroup_members_.size() >= kMaxCgroups) // bounded; the cgroups in use come back
    cgroup_members_.clear();
  return cgroup_members_.emplace(cgroup_id, scratch_).first->second;
}

std::string render_event_columns(const RenderContext &ctx) {
  if (ctx.format == OutputFormat::Json)
    return {};
  return fmt::format(fmt::runtime(kEventLine), "TIME", "EVENT", "PID", "PPID", "COMM", "DETAILS", "CGROUP");
}

std::string render_trees(const std::vector<TreeReport> &trees, uint64_t now_ns, bool final_report,
                         const RenderContext &ctx) {
  return ctx.format == OutputFormat::Json ? json_trees(trees, now_ns, final_report, ctx)
                                          : text_trees(trees, now_ns, final_report, ctx);
}

uint64_t LossReport::lost() const {
  uint64_t n = 0;
  for (const LossCause &cause : kLossCauses)
    n += this->*cause.member;
  return n;
}

namespace {
// The one field list of loss, shared by `lost` and `summary` records.
void json_loss_fields(JsonWriter &w, const LossReport &loss) {
  w.field("lost", loss.lost());
  w.field("attempts", loss.attempts);
  w.field("delivered", loss.delivered);
  for (const LossCause &cause : kLossCauses)
    w.field(cause.json_field, loss.*cause.member);
}
} // namespace

std::string render_lost(const LossReport &loss, uint64_t now_ns, const RenderContext &ctx) {
  if (ctx.format == OutputFormat::Text)
    return fmt::format("{} lost     {} records so far: {} ring buffer full, {} output too slow, {} untracked "
                       "processes (kernel {}, userspace {})\n",
                       clock_time(now_ns, ctx), loss.lost(), loss.dropped_kernel, loss.dropped_output,
                       loss.proc_table_full + loss.procs_untracked, loss.proc_table_full, loss.procs_untracked);
  std::string line;
  JsonWriter w(line);
  w.begin_object();
  w.field("event", "lost");
  w.field("ts_ns", now_ns);
  json_loss_fields(w, loss);
  w.end_object();
  return line;
}

std::string render_summary(const RunSummary &s, uint64_t now_ns, const RenderContext &ctx) {
  if (ctx.format == OutputFormat::Json) {
    std::string line;
    JsonWriter w(line);
    w.begin_object();
    w.field("event", "summary");
    w.field("ts_ns", now_ns);
    if (s.command)
      w.field("command", *s.command);
    w.field("exit_code", s.exit_code);
    w.field("signal", s.signal);
    w.field("procs", s.procs);
    w.field("cpu_ns", s.cpu_ns);
    w.field("rss_peak_bytes", s.rss_peak_bytes);
    w.field("wall_ns", s.wall_ns);
    json_loss_fields(w, s.loss);
    json_by_comm(w, s.by_comm);
    w.field("oom_kills", s.oom_kills);
    w.begin_array("oom_victims");
    for (const auto &v : s.oom_victims) {
      w.begin_object();
      w.field("pid", v.key.pid);
      w.field("start_ns", v.key.start_ns);
      w.field("comm", v.comm);
      w.field("ts_ns", v.ts_ns);
      w.field("rss_bytes", v.rss_bytes);
      w.field("tree_root_pid", v.tree.pid);
      w.end_object();
    }
    w.end_array();
    w.end_object();
    return line;
  }
  std::string status;
  if (s.signal)
    status = fmt::format(" was killed by signal {}", *s.signal);
  else if (s.exit_code)
    status = fmt::format(" exited with code {}", *s.exit_code);
  std::string out = fmt::format("--- summary{}{}\n", s.command ? ": " + printable(*s.command) : std::string(), status);
  out += fmt::format("processes {}, CPU {}, largest peak RSS {}, wall {}, lost {}\n", s.procs,
                     format_duration_ns(s.cpu_ns), format_bytes(s.rss_peak_bytes), format_duration_ns(s.wall_ns),
                     s.loss.lost());
  if (!s.by_comm.empty())
    out += "by command: " + by_comm_text(s.by_comm, 12) + "\n";
  if (s.oom_kills) {
    std::string victims;
    constexpr size_t shown = 8;
    for (size_t i = 0; i < s.oom_victims.size() && i < shown; i++)
      victims += fmt::format("{}{} {} ({})", i ? ", " : "", s.oom_victims[i].key.pid, printable(s.oom_victims[i].comm),
                             s.oom_victims[i].rss_bytes ? format_bytes(*s.oom_victims[i].rss_bytes) + " at the kill"
                                                        : std::string("memory at the kill unknown"));
    if (s.oom_kills > std::min(s.oom_victims.size(), shown))
      victims += fmt::format(", +{} more", s.oom_kills - std::min(s.oom_victims.size(), shown));
    out += fmt::format("OOM kills {}: {}\n", s.oom_kills, victims);
  }
  return out;
}

} // namespace treetrace
