// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/duration.h"

#include <cstdint>
#include <gtest/gtest.h>
#include <limits>

namespace treetrace {
namespace {

constexpr uint64_t kUs = 1000;
constexpr uint64_t kMs = 1000 * kUs;
constexpr uint64_t kSec = 1000 * kMs;
constexpr uint64_t kMin = 60 * kSec;
constexpr uint64_t kHour = 60 * kMin;

TEST(UtilDuration, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration_ns("10ns"), 10u);
  EXPECT_EQ(parse_duration_ns("100us"), 100 * kUs);
  EXPECT_EQ(parse_duration_ns("100\xc2\xb5s"), 100 * kUs);
  EXPECT_EQ(parse_duration_ns("250ms"), 250 * kMs);
  EXPECT_EQ(parse_duration_ns("30s"), 30 * kSec);
  EXPECT_EQ(parse_duration_ns("5m"), 5 * kMin);
  EXPECT_EQ(parse_duration_ns("1h"), kHour);
}

TEST(UtilDuration, BareNumberIsSeconds) {
  EXPECT_EQ(parse_duration_ns("5"), 5 * kSec);
  EXPECT_EQ(parse_duration_ns("0.5"), 500 * kMs);
  EXPECT_EQ(parse_duration_ns("0"), 0u);
}

TEST(UtilDuration, FractionsAreExact) {
  EXPECT_EQ(parse_duration_ns("2.5s"), 2500 * kMs);
  EXPECT_EQ(parse_duration_ns(".5m"), 30 * kSec);
  EXPECT_EQ(parse_duration_ns("0.1s"), 100 * kMs); // no binary-float error
  EXPECT_EQ(parse_duration_ns("1.000000001s"), kSec + 1);
  EXPECT_EQ(parse_duration_ns("1.0000000019s"), kSec + 1); // below 1 ns truncates
  EXPECT_EQ(parse_duration_ns("0.001h"), 3600 * kMs);
  EXPECT_EQ(parse_duration_ns("1.5ns"), 1u);
  // More fraction digits than are tracked still parse.
  EXPECT_EQ(parse_duration_ns("1.25000000000000000000000000s"), 1250 * kMs);
}

TEST(UtilDuration, ChainedComponents) {
  EXPECT_EQ(parse_duration_ns("1m30s"), 90 * kSec);
  EXPECT_EQ(parse_duration_ns("1h2m3s"), kHour + 2 * kMin + 3 * kSec);
  EXPECT_EQ(parse_duration_ns("2m03s"), 123 * kSec); // what format_duration_ns prints
  EXPECT_EQ(parse_duration_ns("1s500ms"), 1500 * kMs);
}

TEST(UtilDuration, ZeroIsAllowed) {
  EXPECT_EQ(parse_duration_ns("0s"), 0u);
  EXPECT_EQ(parse_duration_ns("0ms"), 0u);
}

TEST(UtilDuration, RejectsBadInput) {
  for (const char *bad :
       {"",     "-1s", "+1s",  "s",    "ms",  ".",     "5.",     "5.s", " 5s",   "5s ",  "5 s", "5x",
        "5sec", "5S",  "5mss", "1m30", "5s-", "1..5s", "1.2.3s", "abc", "0x10s", "1e3s", "inf", "nan"}) {
    EXPECT_FALSE(parse_duration_ns(bad).has_value()) << "'" << bad << "'";
  }
  EXPECT_FALSE(parse_duration_ns(std::string_view("5\0s", 3)).has_value());
}

TEST(UtilDuration, RejectsOverflow) {
  // uint64_t max ns is about 584.5 years, 5124095 hours.
  EXPECT_EQ(parse_duration_ns("18446744073709551615ns"), std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(parse_duration_ns("18446744073709551616ns").has_value());
  EXPECT_FALSE(parse_duration_ns("99999999999999999999999s").has_value());
  EXPECT_FALSE(parse_duration_ns("18446744074s").has_value());
  EXPECT_TRUE(parse_duration_ns("18446744073s").has_value());
  EXPECT_FALSE(parse_duration_ns("5124096h").has_value());
  EXPECT_FALSE(parse_duration_ns("5124095h1h").has_value()); // overflow across components
  EXPECT_FALSE(parse_duration_ns("18446744073.8s").has_value());
}

TEST(UtilDuration, FormatsSmallValuesWithThreeDigits) {
  EXPECT_EQ(format_duration_ns(0), "0 ns");
  EXPECT_EQ(format_duration_ns(850), "850 ns");
  EXPECT_EQ(format_duration_ns(999), "999 ns");
  EXPECT_EQ(format_duration_ns(1000), "1.00 us");
  EXPECT_EQ(format_duration_ns(1234), "1.23 us");
  EXPECT_EQ(format_duration_ns(850 * kUs), "850 us");
  EXPECT_EQ(format_duration_ns(12345678), "12.3 ms");
  EXPECT_EQ(format_duration_ns(123456789), "123 ms");
  EXPECT_EQ(format_duration_ns(51300 * kMs), "51.3 s");
  EXPECT_EQ(format_duration_ns(5 * kSec), "5.00 s");
}

TEST(UtilDuration, FormatRoundingCarriesIntoNextUnit) {
  EXPECT_EQ(format_duration_ns(9996), "10.0 us");
  EXPECT_EQ(format_duration_ns(99960), "100 us");
  EXPECT_EQ(format_duration_ns(999499), "999 us");
  EXPECT_EQ(format_duration_ns(999500), "1.00 ms");
  EXPECT_EQ(format_duration_ns(999500 * kUs), "1.00 s");
  EXPECT_EQ(format_duration_ns(59949 * kMs), "59.9 s");
  EXPECT_EQ(format_duration_ns(59950 * kMs), "1m00s");
}

TEST(UtilDuration, FormatsMinutesAndHours) {
  EXPECT_EQ(format_duration_ns(kMin), "1m00s");
  EXPECT_EQ(format_duration_ns(123 * kSec), "2m03s");
  EXPECT_EQ(format_duration_ns(123 * kSec + 499 * kMs), "2m03s");
  EXPECT_EQ(format_duration_ns(123 * kSec + 500 * kMs), "2m04s");
  EXPECT_EQ(format_duration_ns(59 * kMin + 59 * kSec), "59m59s");
  EXPECT_EQ(format_duration_ns(59 * kMin + 59 * kSec + 600 * kMs), "1h00m");
  EXPECT_EQ(format_duration_ns(kHour + 2 * kMin), "1h02m");
  EXPECT_EQ(format_duration_ns(kHour + 2 * kMin + 30 * kSec), "1h03m");
  EXPECT_EQ(format_duration_ns(100 * kHour), "100h00m");
  EXPECT_EQ(format_duration_ns(std::numeric_limits<uint64_t>::max()), "5124095h35m");
}

TEST(UtilDuration, FormatOutputParsesBackClose) {
  for (uint64_t ns : {uint64_t{1}, 999u * kUs, 12 * kMs, 61 * kSec, 3 * kHour + 7 * kMin}) {
    std::string s = format_duration_ns(ns);
    std::string compact;
    for (char c : s)
      if (c != ' ')
        compact += c;
    auto back = parse_duration_ns(compact);
    ASSERT_TRUE(back.has_value()) << s;
    EXPECT_NEAR(static_cast<double>(*back), static_cast<double>(ns), static_cast<double>(ns) * 0.01) << s;
  }
}

TEST(UtilBytes, Formats) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.00 KiB");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(200ull << 20), "200 MiB");
  EXPECT_EQ(format_bytes(1000ull << 20), "1000 MiB");
  EXPECT_EQ(format_bytes((3ull << 30) + (1ull << 28)), "3.25 GiB");
  EXPECT_EQ(format_bytes(15ull << 40), "15.0 TiB");
  EXPECT_EQ(format_bytes(std::numeric_limits<uint64_t>::max()), "16.0 EiB");
}

TEST(UtilBytes, RoundingCarries) {
  EXPECT_EQ(format_bytes(10235), "10.0 KiB");   // 9.995 KiB
  EXPECT_EQ(format_bytes(1048063), "1023 KiB"); // 1023.49 KiB
  EXPECT_EQ(format_bytes(1048064), "1.00 MiB"); // 1023.5 KiB
  EXPECT_EQ(format_bytes((1ull << 20) - 1), "1.00 MiB");
}

} // namespace
} // namespace treetrace
