// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Runs a tracing session: node-wide until stopped, or around one command.
// Returns the process exit status treetrace should end with.
#pragma once

#include "cli/options.h"

namespace treetrace {

int run(const Options &options);

} // namespace treetrace
