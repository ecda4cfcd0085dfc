// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The two ends of a recording as the CLI sees them: `record` makes the
// recorder sink for a live session; `report` replays a file into the same
// aggregator and report sinks (cli/replay.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cli/options.h"
#include "output/recorder_sink.h"
#include "util/result.h"

namespace treetrace {

Result<std::unique_ptr<RecorderSink>> make_recorder(const Options &options,
                                                    std::function<std::optional<std::string>(uint64_t)> cgroup_path,
                                                    uint64_t start_ns, int64_t realtime_offset_ns);

// `treetrace report`: the exit code.
int run_report(const Options &options);

} // namespace treetrace
