// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "cli/recording_setup.h"

#include <sys/utsname.h>
#include <unistd.h>

namespace treetrace {

Result<std::unique_ptr<RecorderSink>> make_recorder(const Options &options,
                                                    std::function<std::optional<std::string>(uint64_t)> cgroup_path,
                                                    uint64_t start_ns, int64_t realtime_offset_ns) {
  RecorderOptions r;
  r.path = options.record_path;
  r.max_size_bytes = options.max_size_bytes;
  r.cgroup_path = std::move(cgroup_path);
  RecordingMeta &m = r.meta;
  m.treetrace_version = TREETRACE_VERSION;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0)
    m.hostname = host;
  utsname u{};
  if (uname(&u) == 0)
    m.kernel = u.release;
  for (const auto &a : options.command)
    m.command += (m.command.empty() ? "" : " ") + a;
  m.group_by = to_string(options.group_by);
  m.start_ns = start_ns;
  m.realtime_offset_ns = realtime_offset_ns;
  m.interval_ns = options.interval_ns.value_or(0);
  m.max_live_procs = options.max_procs;
  // As Session::aggregator_config() decides it.
  m.init_children_are_roots =
      options.command.empty() && options.pids.empty() && options.comm_patterns.empty() && options.cgroups.empty();
  m.per_process = options.per_process;
  return RecorderSink::create(std::move(r));
}

} // namespace treetrace
