// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "cli/options.h"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "core/event_kind.h"
#include "treetrace/events.h"
#include "util/cgroup_identity.h"
#include "util/comm_pattern.h"
#include "util/duration.h"
#include "util/listen_address.h"

namespace treetrace {
namespace {

std::optional<std::string> read_text(const char *path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string known_event_names() {
  std::string names;
  for (EventKind k : kEventKinds)
    names += std::string(event_kind_name(k)) + ", ";
  return names + "all, none";
}

// The names --events was given (checked by CLI11 against the known ones).
EventKindSet select_events(const std::vector<std::string> &names) {
  EventKindSet sel;
  for (const auto &name : names) {
    if (name == "all")
      sel = EventKindSet::all();
    else if (name == "none")
      sel = EventKindSet();
    else if (auto kind = event_kind_from_name(name))
      sel.add(*kind);
  }
  return sel;
}

CLI::Validator duration_validator() {
  return CLI::Validator(
      [](std::string &s) -> std::string {
        auto ns = parse_duration_ns(s);
        if (!ns || *ns == 0)
          return "'" + s + "' is not a positive duration (examples: 500ms, 30s, 5m, 1h)";
        return {};
      },
      "DURATION");
}

CLI::Validator power_of_two_validator() {
  return CLI::Validator(
      [](std::string &s) -> std::string {
        const uint64_t v = std::stoull(s);
        return v && !(v & (v - 1)) ? std::string() : s + " is not a power of two";
      },
      "POWER OF TWO");
}

} // namespace

namespace {

// `treetrace [trace] ...` and `treetrace record ...`: the same filters and
// tracing options; record adds its file and bound and keeps stdout for it.
std::variant<Options, OptionsExit> parse_trace(int argc, char **argv, Mode mode) {
  Options o;
  o.mode = mode;
  const bool recording = mode == Mode::Record;
  CLI::App app{recording ? "treetrace record: record a run to a file, for `treetrace report` to read anywhere"
                         : "treetrace: per-process-tree CPU and memory accounting from the kernel, via eBPF",
               recording ? "treetrace record" : "treetrace"};
  app.set_version_flag("--version", "treetrace " TREETRACE_VERSION);
  std::string max_size;
  if (recording) {
    app.add_option("-o,--output", o.record_path, "Write the recording to FILE ('-': stdout)")
        ->type_name("FILE")
        ->required();
    app.add_option("--max-size", o.max_size_bytes, "Stop cleanly when the recording reaches BYTES (100M, 2G)")
        ->type_name("BYTES")
        ->transform(CLI::AsSizeValue(false))
        ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 50));
  }

  std::vector<std::string> comm_raw, cgroup_raw, container_raw, pod_raw;
  std::string group_by = "tree";
  std::vector<int64_t> pid_raw;
  std::string format = "text", interval, duration;
  std::vector<std::string> events{"exec", "exit", "oom_kill"};
  uint64_t ringbuf_bytes = o.ringbuf_bytes, max_procs = o.max_procs, output_queue = o.output_queue_bytes;
  bool verbose = false;
  std::string listen, textfile_interval, metrics_grace;
  uint64_t max_series = o.max_series, metrics_commands = o.metrics_commands;

  app.add_option("--comm", comm_raw,
                 "Trace processes whose command name matches PATTERN (exact, or a glob with * and ?), and "
                 "everything they start. Repeatable.")
      ->type_name("PATTERN");
  app.add_option("--cgroup", cgroup_raw,
                 "Trace processes in cgroup v2 PATH or below (absolute, or relative to the cgroup2 mount), and "
                 "everything they start. Repeatable.")
      ->type_name("PATH");
  app.add_option("--container", container_raw,
                 "Trace the container whose id starts with ID-PREFIX (docker, containerd, cri-o, podman), found "
                 "by its cgroup. Repeatable.")
      ->type_name("ID-PREFIX");
  app.add_option("--pod", pod_raw, "Trace the Kubernetes pod with this UID, found by its cgroup. Repeatable.")
      ->type_name("UID");
  app.add_option("--group-by", group_by, "What one row of a snapshot is: " + group_by_names() + " (default tree)")
      ->type_name("KEY");
  app.add_option("--pid", pid_raw, "Trace an existing process and everything it starts. Repeatable.")->type_name("PID");
  app.add_option("--format", format, "Output format: text or json (JSON Lines)")
      ->check(CLI::IsMember({"text", "json"}));
  std::vector<std::string> event_names{"all", "none"};
  for (EventKind k : kEventKinds)
    event_names.emplace_back(event_kind_name(k));
  app.add_option("--events", events, "Events to print: " + known_event_names() + " (default: exec,exit,oom_kill)")
      ->type_name("LIST")
      ->delimiter(',')
      ->check(CLI::IsMember(event_names));
  app.add_option("--interval", interval, "Print a snapshot of every live tree every DURATION")
      ->check(duration_validator());
  app.add_option("--duration", duration, "Stop after DURATION (node mode)")->check(duration_validator());
  app.add_flag("--wait-tree", o.wait_tree,
               "With COMMAND: keep tracing until every descendant has exited, daemons included");
  app.add_flag("--kernel-threads", o.kernel_threads, "Also trace kernel threads");
  app.add_flag("--verbose", verbose, "Per-process numbers in tree reports");
  app.add_flag("-v", o.log_verbosity, "Diagnostics on stderr: -v debug, -vv also libbpf's messages");
  app.add_option("--ringbuf-size", ringbuf_bytes, "Kernel ring buffer size in bytes (a power of two; 4M, 64K)")
      ->capture_default_str()
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 30) & power_of_two_validator());
  app.add_option("--max-procs", max_procs, "Processes tracked at once, in the kernel and in userspace")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{16}, uint64_t{1} << 24));
  app.add_option("--output-queue", output_queue,
                 "Bytes of output held for a slow stdout before lines are dropped (and counted)")
      ->capture_default_str()
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 40));
  app.add_option("--pss-budget", o.pss_budget, "At most this many /proc/PID/smaps_rollup reads per --interval")
      ->capture_default_str();
  app.add_option("--listen", listen,
                 "Serve Prometheus metrics at http://[ADDR:]PORT/metrics (ADDR defaults to 127.0.0.1; the "
                 "endpoint has no authentication)")
      ->type_name("[ADDR:]PORT");
  app.add_option("--textfile", o.textfile,
                 "Also write the metrics to PATH every --textfile-interval, atomically, for node_exporter's "
                 "textfile collector")
      ->type_name("PATH");
  app.add_option("--textfile-interval", textfile_interval, "How often --textfile is rewritten (default 15s)")
      ->check(duration_validator());
  app.add_flag("--metrics-processes", o.metrics_processes,
               "Also export per-process memory and CPU series (labelled with pid), within --max-series");
  app.add_option("--max-series", max_series, "At most this many series per scrape; the rest are counted as dropped")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{100}, uint64_t{10'000'000}));
  app.add_option("--metrics-commands", metrics_commands,
                 "Command series per group in treetrace_group_command_cpu_seconds_total; the rest are "
                 "command=\"other\"")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{0}, uint64_t{1000}));
  app.add_option("--metrics-grace", metrics_grace,
                 "Keep exporting a finished group's final counters for DURATION (default 5m)")
      ->check(duration_validator());
  app.add_option("command", o.command, "COMMAND [ARG...] to run and trace (after --)")->type_name("");
  app.positionals_at_end();
  if (recording)
    app.footer("Examples:\n"
               "  treetrace record -o run.ttrec -- celery -A proj worker    record a command's tree\n"
               "  treetrace record -o node.ttrec --duration 1h --group-by container\n"
               "  treetrace report run.ttrec --format html -o run.html     then read it, anywhere\n");
  else
    app.footer("Subcommands:\n"
               "  trace      trace live (the default: `treetrace ...` is `treetrace trace ...`)\n"
               "  record     record a run to a file (treetrace record --help)\n"
               "  report     report on a recording, without root or BPF (treetrace report --help)\n"
               "Examples:\n"
               "  treetrace                                   trace every process on the node\n"
               "  treetrace --comm celery --interval 5s       Celery trees, a snapshot every 5 s\n"
               "  treetrace --format json -- ./pipeline.sh    run a command, report its tree\n"
               "  treetrace --listen 10025 --group-by pod --events none\n"
               "                                              a quiet node agent for Prometheus\n");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &) {
    return OptionsExit{0, app.help()};
  } catch (const CLI::CallForVersion &) {
    return OptionsExit{0, "treetrace " TREETRACE_VERSION "\n"};
  } catch (const CLI::ParseError &e) {
    return OptionsExit{2, e.what()};
  }

  auto fail = [](std::string msg) { return OptionsExit{2, std::move(msg)}; };

  o.format = format == "json" ? OutputFormat::Json : OutputFormat::Text;
  if (auto g = group_by_from_name(group_by))
    o.group_by = *g;
  else
    return fail("--group-by: unknown key '" + group_by + "' (known: " + group_by_names() + ")");
  o.per_process = verbose;
  o.events = select_events(events);
  const bool interval_given = !interval.empty();
  if (interval_given)
    o.interval_ns = parse_duration_ns(interval);
  if (!duration.empty())
    o.duration_ns = parse_duration_ns(duration);
  if (o.wait_tree && o.command.empty())
    return fail("--wait-tree needs a COMMAND to run");
  if (!listen.empty()) {
    auto addr = parse_listen_address(listen);
    if (!addr)
      return fail("--listen: " + addr.error());
    o.listen = *addr;
  }
  if (!textfile_interval.empty())
    o.textfile_interval_ns = *parse_duration_ns(textfile_interval);
  if (!metrics_grace.empty())
    o.metrics_grace_ns = *parse_duration_ns(metrics_grace);
  const bool exporting = o.listen || !o.textfile.empty();
  if (!exporting && (o.metrics_processes || !textfile_interval.empty() || !metrics_grace.empty()))
    return fail("--metrics-processes, --textfile-interval and --metrics-grace need --listen or --textfile");
  o.max_series = static_cast<uint32_t>(max_series);
  o.metrics_commands = static_cast<uint32_t>(metrics_commands);
  if (!o.textfile.empty()) {
    // Checked now, not at the first write 15 s in: the directory must exist.
    const auto slash = o.textfile.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : o.textfile.substr(0, slash);
    if (access(dir.c_str(), W_OK) != 0)
      return fail("--textfile " + o.textfile + ": cannot write to directory " + dir + ": " + strerror(errno));
  }
  if (recording) {
    if (exporting)
      return fail("record: --listen and --textfile are for live tracing; record, then report");
    if (!interval_given)
      o.interval_ns = 1'000'000'000ull; // recordings sample every second unless told
    o.events = EventKindSet();          // record prints nothing but errors and its summary
  }
  o.ringbuf_bytes = static_cast<uint32_t>(ringbuf_bytes);
  o.max_procs = static_cast<uint32_t>(max_procs);
  o.output_queue_bytes = output_queue;

  if (comm_raw.size() > TT_MAX_COMM_PATTERNS)
    return fail("at most " + std::to_string(TT_MAX_COMM_PATTERNS) + " --comm patterns");
  for (const auto &p : comm_raw) {
    auto norm = normalize_comm_pattern(p);
    if (!norm)
      return fail("--comm '" + p + "': " + norm.error());
    o.comm_patterns.push_back(*norm);
  }

  if (auto mountinfo = read_text("/proc/self/mountinfo"))
    o.cgroup_mount = find_cgroup2_mount(*mountinfo).value_or("");
  // --container and --pod are cgroups found by their identity; they follow
  // the rules of --cgroup from there on.
  for (const auto &[flag, values] : {std::pair{"--container", &container_raw}, std::pair{"--pod", &pod_raw}}) {
    for (const auto &value : *values) {
      if (o.cgroup_mount.empty())
        return fail(std::string(flag) + " " + value + ": no cgroup2 filesystem is mounted");
      auto found = std::string_view(flag) == "--pod" ? find_pod_cgroups(o.cgroup_mount, value)
                                                     : find_container_cgroups(o.cgroup_mount, value);
      if (!found)
        return fail(found.error());
      const auto &dirs = *found;
      // As with docker's own prefixes: one that names several containers
      // is refused rather than guessed.
      if (std::string_view(flag) == "--container" && dirs.size() > 1)
        return fail("--container " + value + ": the prefix matches " + std::to_string(dirs.size()) +
                    " containers; give more of the id");
      cgroup_raw.insert(cgroup_raw.end(), dirs.begin(), dirs.end());
    }
  }
  if (cgroup_raw.size() > TT_MAX_CGROUP_FILTERS)
    return fail("at most " + std::to_string(TT_MAX_CGROUP_FILTERS) + " cgroups (from --cgroup, --container and --pod)");
  for (const auto &p : cgroup_raw) {
    if (o.cgroup_mount.empty())
      return fail("--cgroup '" + p + "': no cgroup2 filesystem is mounted");
    auto target = resolve_cgroup(p, o.cgroup_mount);
    if (!target)
      return fail("--cgroup: " + target.error());
    o.cgroups.push_back(*target);
  }

  if (pid_raw.size() > TT_MAX_PID_FILTERS)
    return fail("at most " + std::to_string(TT_MAX_PID_FILTERS) + " --pid values");
  for (int64_t pid : pid_raw) {
    if (pid <= 0 || pid > (1 << 22))
      return fail("--pid " + std::to_string(pid) + ": not a valid process id");
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      return fail("--pid " + std::to_string(pid) + ": no such process");
    o.pids.push_back(static_cast<uint32_t>(pid));
  }
  return o;
}

std::variant<Options, OptionsExit> parse_report(int argc, char **argv) {
  Options o;
  o.mode = Mode::Report;
  ReportOptions &r = o.report;
  CLI::App app{"treetrace report: what a recording says: totals, CPU by command, memory, OOM kills, leak verdicts "
               "and Kubernetes request/limit advice. Needs no root and no BPF.",
               "treetrace report"};
  app.set_version_flag("--version", "treetrace " TREETRACE_VERSION);
  std::string group_by, since, until;
  app.add_option("file", r.path, "The recording ('-': stdin)")->required()->type_name("FILE");
  app.add_option("--format", r.format, "text (100 columns), json (one document) or html (one self-contained file)")
      ->check(CLI::IsMember({"text", "json", "html"}));
  app.add_option("-o,--output", r.out, "Write the report to OUT (default stdout)")->type_name("OUT");
  app.add_option("--group-by", group_by, "Group rows by " + group_by_names() + " (default: as recorded)")
      ->type_name("KEY");
  app.add_option("--since", since, "Charts, fits and advice from DURATION after the recording's start")
      ->check(duration_validator());
  app.add_option("--until", until, "... up to DURATION after the recording's start")->check(duration_validator());
  app.add_flag("--verbose", o.per_process, "Also list every judged process and why it was or was not flagged");
  app.add_flag("-v", o.log_verbosity, "Diagnostics on stderr");
  app.footer("Examples:\n"
             "  treetrace report run.ttrec                         the text report\n"
             "  treetrace report run.ttrec --format html -o r.html one file to open or mail\n");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &) {
    return OptionsExit{0, app.help()};
  } catch (const CLI::CallForVersion &) {
    return OptionsExit{0, "treetrace " TREETRACE_VERSION "\n"};
  } catch (const CLI::ParseError &e) {
    return OptionsExit{2, e.what()};
  }
  if (!group_by.empty()) {
    auto g = group_by_from_name(group_by);
    if (!g)
      return OptionsExit{2, "--group-by: unknown key '" + group_by + "' (known: " + group_by_names() + ")"};
    r.group_by = *g;
  }
  if (!since.empty())
    r.since_ns = parse_duration_ns(since);
  if (!until.empty())
    r.until_ns = parse_duration_ns(until);
  if (r.since_ns && r.until_ns && *r.since_ns >= *r.until_ns)
    return OptionsExit{2, "--since must come before --until"};
  return o;
}

} // namespace

std::variant<Options, OptionsExit> parse_options(int argc, char **argv) {
  // Subcommands: `trace` is the default, so every earlier command line
  // (options first, or `-- COMMAND`) keeps its meaning.
  // -v may come before the subcommand (`treetrace -v record ...`).
  int at = 1;
  while (at < argc && (std::string_view(argv[at]) == "-v" || std::string_view(argv[at]) == "-vv"))
    ++at;
  if (at < argc) {
    const std::string_view first = argv[at];
    if (first == "report" || first == "record" || first == "trace") {
      // The subcommand's own parser sees "treetrace-<sub> [-v...] rest".
      std::vector<char *> rest(argv, argv + argc);
      rest.erase(rest.begin() + at);
      const int n = argc - 1;
      if (first == "report")
        return parse_report(n, rest.data());
      return parse_trace(n, rest.data(), first == "record" ? Mode::Record : Mode::Trace);
    }
  }
  return parse_trace(argc, argv, Mode::Trace);
}

} // namespace treetrace
