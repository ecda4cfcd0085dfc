// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Durations and byte counts as users type them and as reports show them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace treetrace {

// Parses a duration such as "30s", "250ms", "2.5s", "1h30m" or ".5m".
// Units: ns, us, ms, s, m, h; components may be chained ("1m30s"). A bare
// number ("5") means seconds. Fractions below 1 ns are truncated.
// Returns nullopt for empty input, a sign, whitespace, an unknown unit, or
// a value that does not fit in uint64_t nanoseconds. Zero is accepted;
// callers decide whether it makes sense.
std::optional<uint64_t> parse_duration_ns(std::string_view text);

// Human-readable duration with at most three significant digits below one
// minute, so columns stay narrow: "850 ns", "1.25 us", "12.3 ms", "51.3 s".
// From one minute on: "2m03s" (rounded to the second), and from one hour
// on: "1h02m" (rounded to the minute).
std::string format_duration_ns(uint64_t ns);

// Binary units with three significant digits (up to four for 1000-1023):
// "512 B", "1.50 KiB", "200 MiB", "1023 MiB", "3.25 GiB".
std::string format_bytes(uint64_t bytes);

} // namespace treetrace
