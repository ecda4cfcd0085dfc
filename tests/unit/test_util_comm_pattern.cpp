// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/comm_pattern.h"

#include <gtest/gtest.h>
#include <random>
#include <string>

namespace treetrace {
namespace {

std::string ok(std::string_view pattern) {
  auto r = normalize_comm_pattern(pattern);
  if (!r) {
    ADD_FAILURE() << "'" << pattern << "' rejected: " << r.error();
    return {};
  }
  return *r;
}

std::string error(std::string_view pattern) {
  auto r = normalize_comm_pattern(pattern);
  if (!r)
    return r.error();
  ADD_FAILURE() << "'" << pattern << "' accepted as '" << *r << "'";
  return {};
}

// Obviously-correct exponential reference for the iterative matcher.
bool reference_match(std::string_view p, std::string_view s) {
  if (p.empty())
    return s.empty();
  if (p[0] == '*')
    return reference_match(p.substr(1), s) || (!s.empty() && reference_match(p, s.substr(1)));
  if (s.empty())
    return false;
  return (p[0] == '?' || p[0] == s[0]) && reference_match(p.substr(1), s.substr(1));
}

TEST(UtilCommPattern, ExactNamesPassThrough) {
  EXPECT_EQ(ok("bash"), "bash");
  EXPECT_EQ(ok("kworker/0:1"), "kworker/0:1");
  EXPECT_EQ(ok("exactly15chars_"), "exactly15chars_");
}

TEST(UtilCommPattern, LongExactNamesAreTruncatedLikeTheKernel) {
  EXPECT_EQ(ok("systemd-journald"), "systemd-journal");
  EXPECT_EQ(ok("a-very-long-command-name-indeed"), "a-very-long-com");
  EXPECT_EQ(ok("a-very-long-command-name-indeed-longer-than-31"), "a-very-long-com");
}

TEST(UtilCommPattern, EmptyAndNulAreErrors) {
  EXPECT_EQ(error(""), "empty command-name pattern");
  EXPECT_FALSE(error(std::string_view("ba\0sh", 5)).empty());
  EXPECT_FALSE(error(std::string_view("b*\0", 3)).empty());
}

TEST(UtilCommPattern, GlobsAreKeptAndStarRunsCollapsed) {
  EXPECT_EQ(ok("*"), "*");
  EXPECT_EQ(ok("***"), "*");
  EXPECT_EQ(ok("py*"), "py*");
  EXPECT_EQ(ok("a**b***c"), "a*b*c");
  EXPECT_EQ(ok("?"), "?");
  EXPECT_EQ(ok("kworker/*"), "kworker/*");
}

TEST(UtilCommPattern, GlobThatCannotMatchIsAnError) {
  // 15 literal bytes plus stars still fits.
  EXPECT_EQ(ok("*exactly15chars_*"), "*exactly15chars_*");
  EXPECT_EQ(ok("???????????????"), "???????????????");
  EXPECT_EQ(error("*sixteen-chars-xx"), "pattern can never match a 15-character command name");
  EXPECT_EQ(error("????????????????"), "pattern can never match a 15-character command name");
  EXPECT_EQ(error("a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p"), "pattern can never match a 15-character command name");
}

TEST(UtilCommPattern, GlobsAlwaysFitTheBpfPatternSlot) {
  // After collapsing, at most 15 literals and 16 stars remain: 31 bytes.
  EXPECT_EQ(ok("*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*"), "*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*");
  EXPECT_EQ(ok("**a**b**c**d**e**f**g**h**i**j**k**l**m**n**o**"), "*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*");
  // Long only because of redundant stars: fine once collapsed.
  EXPECT_EQ(ok("a**********************************b"), "a*b");
  // One more literal and it could never match anyway.
  EXPECT_EQ(error("*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*?"), "pattern can never match a 15-character command name");
  for (int literals = 0; literals <= 15; ++literals) {
    std::string p = "*";
    for (int i = 0; i < literals; ++i)
      p += "?**";
    EXPECT_LE(ok(p).size(), kCommPatternMaxLen) << p;
  }
}

TEST(UtilCommPattern, IsGlob) {
  EXPECT_FALSE(is_comm_glob("bash"));
  EXPECT_TRUE(is_comm_glob("ba*"));
  EXPECT_TRUE(is_comm_glob("ba?h"));
}

TEST(UtilCommPattern, MatchBasics) {
  EXPECT_TRUE(comm_glob_match("bash", "bash"));
  EXPECT_FALSE(comm_glob_match("bash", "bas"));
  EXPECT_FALSE(comm_glob_match("bash", "bashx"));
  EXPECT_TRUE(comm_glob_match("*", ""));
  EXPECT_TRUE(comm_glob_match("*", "anything"));
  EXPECT_TRUE(comm_glob_match("", ""));
  EXPECT_FALSE(comm_glob_match("", "a"));
  EXPECT_FALSE(comm_glob_match("?", ""));
  EXPECT_TRUE(comm_glob_match("?", "x"));
  EXPECT_FALSE(comm_glob_match("?", "xy"));
  EXPECT_TRUE(comm_glob_match("py*", "python3"));
  EXPECT_TRUE(comm_glob_match("py*", "py"));
  EXPECT_FALSE(comm_glob_match("py*", "p"));
  EXPECT_TRUE(comm_glob_match("*sh", "bash"));
  EXPECT_TRUE(comm_glob_match("*sh", "sh"));
  EXPECT_FALSE(comm_glob_match("*sh", "shell"));
  EXPECT_TRUE(comm_glob_match("kworker/*:*", "kworker/0:1H"));
  EXPECT_TRUE(comm_glob_match("k?orker*", "kworker/u8:2"));
}

TEST(UtilCommPattern, MatchNeedsBacktracking) {
  EXPECT_TRUE(comm_glob_match("*ab", "aab"));
  EXPECT_TRUE(comm_glob_match("*aab", "aaab"));
  EXPECT_TRUE(comm_glob_match("a*b*c", "abxbxc"));
  EXPECT_FALSE(comm_glob_match("a*b*c", "abxbx"));
  EXPECT_TRUE(comm_glob_match("*a*a*a", "aaa"));
  EXPECT_FALSE(comm_glob_match("*a*a*a", "aa"));
  EXPECT_TRUE(comm_glob_match("*?*?", "ab"));
  EXPECT_FALSE(comm_glob_match("*?*?", "a"));
  EXPECT_TRUE(comm_glob_match("*.*", "a.b.c"));
}

TEST(UtilCommPattern, LiteralWildcardCharactersInCommAreOrdinaryBytes) {
  // No escapes: a '*' or '?' in the comm is matched by wildcards or itself.
  EXPECT_TRUE(comm_glob_match("a*", "a*b"));
  EXPECT_TRUE(comm_glob_match("a?b", "a*b"));
  EXPECT_FALSE(comm_glob_match("a\\*", "a*")); // backslash is a literal byte
  EXPECT_TRUE(comm_glob_match("a\\*", "a\\xyz"));
}

TEST(UtilCommPattern, MatchIsByteWise) {
  EXPECT_TRUE(comm_glob_match("?", "\xff"));
  EXPECT_FALSE(comm_glob_match("?", "\xc3\xa9")); // é is two bytes
  EXPECT_TRUE(comm_glob_match("??", "\xc3\xa9"));
  EXPECT_TRUE(comm_glob_match("caf*", "caf\xc3\xa9"));
  EXPECT_FALSE(comm_glob_match("Bash", "bash"));
}

TEST(UtilCommPattern, AgreesWithRecursiveReference) {
  std::mt19937 rng(12345);
  const char alphabet[] = {'a', 'b', '*', '?'};
  const char text_alphabet[] = {'a', 'b', '*'};
  for (int iter = 0; iter < 200000; ++iter) {
    std::string p, s;
    int plen = static_cast<int>(rng() % 9);
    int slen = static_cast<int>(rng() % 9);
    for (int i = 0; i < plen; ++i)
      p += alphabet[rng() % 4];
    for (int i = 0; i < slen; ++i)
      s += text_alphabet[rng() % 3];
    ASSERT_EQ(comm_glob_match(p, s), reference_match(p, s)) << "pattern '" << p << "' comm '" << s << "'";
  }
}

TEST(UtilCommPattern, NormalizingAGlobDoesNotChangeWhatItMatches) {
  for (const char *p : {"a**b", "***x*", "**", "?**?"}) {
    std::string n = ok(p);
    for (const char *s : {"", "ab", "axb", "x", "xx", "a", "abc"})
      EXPECT_EQ(comm_glob_match(n, s), comm_glob_match(p, s)) << p << " vs " << s;
  }
}

} // namespace
} // namespace treetrace
