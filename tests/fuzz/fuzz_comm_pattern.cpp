// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// libFuzzer harness for --comm patterns: normalization and matching must
// not crash, and the iterative matcher must agree with a dynamic-programming
// reference (the BPF matcher mirrors the iterative one).
#include "util/comm_pattern.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace treetrace;

namespace {

void check(bool ok, const char *what, std::string_view p, std::string_view c) {
  if (!ok) {
    std::fprintf(stderr, "%s: pattern '%.*s' comm '%.*s'\n", what, static_cast<int>(p.size()), p.data(),
                 static_cast<int>(c.size()), c.data());
    std::abort();
  }
}

bool dp_match(std::string_view p, std::string_view s) {
  // m[j] == pattern prefix p[0..i) matches s[0..j).
  std::vector<char> m(s.size() + 1, 0), next(s.size() + 1, 0);
  m[0] = 1;
  for (size_t i = 0; i < p.size(); ++i) {
    next.assign(s.size() + 1, 0);
    if (p[i] == '*') {
      next[0] = m[0];
      for (size_t j = 1; j <= s.size(); ++j)
        next[j] = m[j] || next[j - 1];
    } else {
      for (size_t j = 1; j <= s.size(); ++j)
        next[j] = m[j - 1] && (p[i] == '?' || p[i] == s[j - 1]);
    }
    m.swap(next);
  }
  return m[s.size()];
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view rest(reinterpret_cast<const char *>(data + 1), size - 1);
  size_t split = std::min<size_t>(data[0], rest.size());
  std::string_view pattern = rest.substr(0, split);
  std::string_view comm = rest.substr(split);

  bool matched = comm_glob_match(pattern, comm);
  check(matched == dp_match(pattern, comm), "matcher disagrees with reference", pattern, comm);
  if (!is_comm_glob(pattern))
    check(matched == (pattern == comm), "exact pattern is not equality", pattern, comm);

  auto normalized = normalize_comm_pattern(pattern);
  if (normalized) {
    const std::string *n = &*normalized;
    check(!n->empty() && n->size() <= kCommPatternMaxLen, "normalized size", pattern, comm);
    if (is_comm_glob(pattern)) {
      check(comm_glob_match(*n, comm) == matched, "normalizing changed the match", pattern, comm);
    } else {
      check(*n == pattern.substr(0, kCommMaxLen), "exact name not truncated to 15", pattern, comm);
      // What the kernel would store for a command named `pattern`.
      check(comm_glob_match(*n, pattern.substr(0, kCommMaxLen)), "truncated name does not match", pattern, comm);
    }
  } else {
    check(!normalized.error().empty(), "empty error message", pattern, comm);
  }
  return 0;
}
