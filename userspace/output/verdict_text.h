// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Leak verdicts in words, and the human units they are written in: the
// same wording in the text report (output/report_text) and in live
// snapshots (output/render). Small on purpose: fmt and util/utf8 only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/leak_verdict.h"

namespace treetrace {

namespace text {
std::string bytes(uint64_t b);                          // "98.0 MiB", "1.25 GiB", "512 KiB"
std::string duration(double seconds);                   // "37.5 s", "3.1 min", "2.0 h", "3.0 d"
std::string rate(double bytes_per_s);                   // "+3567.0 MiB/h"
std::string name(const std::string &raw, size_t width); // printable, cut to width with "~"
} // namespace text

// What grows and how fast ("LEAK pid 42 python3: +3567.0 MiB/h over 37.5 s
// (r2 1.00), baseline now 98.0 MiB"), then what it means for the group
// ("the group reaches the advised limit 368.0 MiB in 3.1 min; 4 siblings,
// median +0.0 MiB/h"). Neither line ends in a newline.
struct LeakVerdictText {
  std::string what;
  std::string consequence;
};
LeakVerdictText leak_verdict_text(const LeakVerdict &verdict);

} // namespace treetrace
