// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/comm_pattern.h"

#include "treetrace/events.h"

namespace treetrace {

static_assert(kCommMaxLen == TT_COMM_LEN - 1);
static_assert(kCommPatternMaxLen == TT_COMM_PATTERN_LEN - 1);

bool is_comm_glob(std::string_view pattern) { return pattern.find_first_of("*?") != std::string_view::npos; }

Result<std::string> normalize_comm_pattern(std::string_view pattern) {
  if (pattern.empty())
    return Error("empty command-name pattern");
  if (pattern.find('\0') != std::string_view::npos)
    return Error("command-name pattern contains a NUL byte");
  if (!is_comm_glob(pattern))
    return std::string(pattern.substr(0, kCommMaxLen));

  std::string out;
  out.reserve(pattern.size());
  size_t min_len = 0;
  for (char c : pattern) {
    if (c == '*') {
      // "a**b" matches exactly what "a*b" does and costs the BPF loop more.
      if (!out.empty() && out.back() == '*')
        continue;
    } else {
      ++min_len;
    }
    out += c;
  }
  if (min_len > kCommMaxLen)
    return Error("pattern can never match a 15-character command name");
  // Implied by the check above (at most 15 literals and 16 single stars),
  // but this is the limit of the BPF pattern slot, so state it.
  if (out.size() > kCommPatternMaxLen)
    return Error("command-name pattern is longer than 31 bytes");
  return out;
}

bool comm_glob_match(std::string_view pattern, std::string_view comm) {
  size_t p = 0;
  size_t c = 0;
  size_t star = std::string_view::npos; // position of the last `*` seen
  size_t star_c = 0;                    // comm position that `*` resumes from
  while (c < comm.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_c = c;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == comm[c])) {
      ++p;
      ++c;
    } else if (star != std::string_view::npos) {
      // Let the last `*` swallow one more byte and retry after it. Earlier
      // stars never need revisiting: the last one can absorb any extra.
      p = star + 1;
      c = ++star_c;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

} // namespace treetrace
