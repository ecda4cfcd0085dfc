// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Run-a-command mode's process handling: finding COMMAND as a shell does,
// holding it at a pipe until the tracer is attached, and telling whether a
// traced member still runs.
#pragma once

#include <csignal>
#include <string>
#include <variant>
#include <vector>

#include "core/model.h"
#include "util/unique_fd.h"

namespace treetrace {

// The path COMMAND resolves to, or the exit code a shell would give
// (127 not found, 126 not executable).
std::variant<std::string, int> resolve_command(const std::string &name);

// The command is forked first and held at a pipe until the tracer is
// attached, so its very first instruction is already traced.
struct HeldChild {
  pid_t pid = -1;
  UniqueFd release_fd{-1};
};

// Forks the held child; it restores original_mask and execs on release,
// or exits 126 without running COMMAND if release_fd is closed unwritten.
HeldChild fork_held(const std::string &path, const std::vector<std::string> &argv, const sigset_t &original_mask);

// Is this tree member still running? Compares start times, so a PID
// reused by an unrelated process does not count.
bool still_running(const ProcKey &member);

} // namespace treetrace
