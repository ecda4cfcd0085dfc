// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// UTF-8 validation shared by every output that must be valid UTF-8 (JSON,
// the Prometheus exposition): comm names and cgroup paths are raw bytes.
#pragma once

#include <string>
#include <string_view>

namespace treetrace {

inline constexpr char kUtf8Replacement[] = "\xef\xbf\xbd"; // U+FFFD

// Length of the well-formed UTF-8 sequence at p (Unicode table 3-7), or
// minus the length of its maximal ill-formed subpart, which becomes one
// U+FFFD. p < end; *p >= 0x80.
int utf8_sequence(const unsigned char *p, const unsigned char *end);

// `raw` with every invalid sequence replaced by U+FFFD (ASCII as is).
std::string sanitize_utf8(std::string_view raw);

} // namespace treetrace
