// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Command-name patterns for --comm.
//
// The kernel keeps at most 15 bytes of a command name (TASK_COMM_LEN 16
// with the NUL). Patterns are exact names or globs with `*` (any run,
// possibly empty) and `?` (exactly one byte); there are no escapes and no
// character classes, and matching is byte-wise. comm_glob_match() is the
// reference semantics: the BPF matcher must behave identically.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "util/result.h"

namespace treetrace {

// Longest command name the kernel stores.
inline constexpr size_t kCommMaxLen = 15;
// Longest pattern the BPF side accepts (TT_COMM_PATTERN_LEN minus the NUL).
inline constexpr size_t kCommPatternMaxLen = 31;

// True when the pattern contains `*` or `?`.
bool is_comm_glob(std::string_view pattern);

// Validates a pattern and returns the form the matcher should use:
//  - exact names longer than 15 bytes are cut to their first 15 bytes,
//    because that is what the kernel stores (callers may warn when the
//    result is shorter than the input);
//  - globs have runs of `*` collapsed to one, must be at most 31 bytes
//    after that, and must not need more than 15 bytes to match.
// Empty patterns and patterns containing a NUL byte are errors.
Result<std::string> normalize_comm_pattern(std::string_view pattern);

// Whole-string glob match of `comm` (without its NUL) against `pattern`.
// Iterative, backtracking only to the most recent `*`, so that it can be
// mirrored in BPF with bounded loops: O(len(pattern) * len(comm)) steps.
bool comm_glob_match(std::string_view pattern, std::string_view comm);

} // namespace treetrace
