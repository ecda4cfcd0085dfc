// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "common/strict_utf8.h"
#include "util/json_writer.h"

#include <cmath>
#include <cstdint>
#include <gtest/gtest.h>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace treetrace {
namespace {

using nlohmann::json;

using tt_check::valid_utf8;

// Writes {"s": <bytes>} and checks the line is strict JSON and valid UTF-8.
std::string round_trip(std::string_view bytes) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.field("s", bytes);
  w.end_object();
  EXPECT_EQ(out.back(), '\n');
  EXPECT_TRUE(valid_utf8(out)) << out;
  json j = json::parse(out); // throws (failing the test) on invalid JSON
  return j.at("s").get<std::string>();
}

const std::string kFffd = "\xef\xbf\xbd";

TEST(UtilJson, WritesNestedDocument) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.field("pid", 42);
  w.field("comm", std::string_view("bash"));
  w.field("literal", "lit");
  w.field("neg", int64_t{-7});
  w.field("big", std::numeric_limits<uint64_t>::max());
  w.field("small", std::numeric_limits<int64_t>::min());
  w.field("ratio", 0.25);
  w.field("yes", true);
  w.field("no", false);
  w.field("nothing", nullptr);
  w.field("opt_set", std::optional<uint32_t>(5));
  w.field("opt_unset", std::optional<uint32_t>());
  w.begin_array("argv");
  w.value("ls");
  w.value(std::string("-l"));
  w.end_array();
  w.begin_array("empty");
  w.end_array();
  w.begin_object("nested");
  w.begin_array("matrix");
  w.begin_array();
  w.value(1);
  w.value(2u);
  w.end_array();
  w.begin_object();
  w.end_object();
  w.value(nullptr);
  w.value(1.5);
  w.value(false);
  w.end_array();
  w.end_object();
  w.end_object();
  EXPECT_EQ(w.depth(), 0u);

  EXPECT_EQ(out, "{\"pid\":42,\"comm\":\"bash\",\"literal\":\"lit\",\"neg\":-7,"
                 "\"big\":18446744073709551615,\"small\":-9223372036854775808,\"ratio\":0.25,"
                 "\"yes\":true,\"no\":false,\"nothing\":null,\"opt_set\":5,\"opt_unset\":null,"
                 "\"argv\":[\"ls\",\"-l\"],\"empty\":[],"
                 "\"nested\":{\"matrix\":[[1,2],{},null,1.5,false]}}\n");
  json j = json::parse(out);
  EXPECT_EQ(j["big"].get<uint64_t>(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(j["small"].get<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(j["argv"][1], "-l");
}

TEST(UtilJson, ConsecutiveLinesAreJsonLines) {
  std::string out;
  JsonWriter w(out);
  for (int i = 0; i < 3; ++i) {
    w.begin_object();
    w.field("i", i);
    w.end_object();
  }
  w.value("top-level scalar");
  w.begin_array();
  w.value(1);
  w.end_array();
  EXPECT_EQ(out, "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n\"top-level scalar\"\n[1]\n");
}

TEST(UtilJson, AppendsToExistingContent) {
  std::string out = "prefix ";
  JsonWriter w(out);
  w.begin_object();
  w.end_object();
  EXPECT_EQ(out, "prefix {}\n");
}

TEST(UtilJson, NullCStringIsNull) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.field("p", static_cast<const char *>(nullptr));
  w.end_object();
  EXPECT_EQ(out, "{\"p\":null}\n");
}

TEST(UtilJson, EscapesQuotesAndBackslashes) {
  std::string out;
  JsonWriter w(out);
  w.value(R"(say "hi" \ bye)");
  EXPECT_EQ(out, "\"say \\\"hi\\\" \\\\ bye\"\n");
  EXPECT_EQ(round_trip(R"(a"b\c\\"")"), R"(a"b\c\\"")");
}

TEST(UtilJson, EscapesEveryControlCharacterAndDel) {
  std::string all;
  for (int c = 0; c < 0x20; ++c)
    all += static_cast<char>(c);
  all += '\x7f';
  std::string out;
  JsonWriter w(out);
  w.value(all);
  EXPECT_EQ(out, "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
                 "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
                 "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\u007f\"\n");
  for (int c = 0; c < 0x20; ++c) {
    std::string s = "x";
    s += static_cast<char>(c);
    s += "y";
    EXPECT_EQ(round_trip(s), s) << c;
  }
  EXPECT_EQ(round_trip(all), all);
}

TEST(UtilJson, EscapesKeys) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.field("we\"ird\n\xff", 1);
  w.end_object();
  json j = json::parse(out);
  EXPECT_EQ(j.begin().key(), "we\"ird\n" + kFffd);
}

TEST(UtilJson, ValidUtf8IsUnchanged) {
  const std::vector<std::string> samples = {
      "",
      "plain ascii ~",
      "caf\xc3\xa9",                          // U+00E9
      "\xc2\x80",                             // U+0080, smallest 2-byte
      "\xdf\xbf",                             // U+07FF
      "\xe0\xa0\x80",                         // U+0800, smallest 3-byte
      "\xed\x9f\xbf",                         // U+D7FF, just below the surrogates
      "\xee\x80\x80",                         // U+E000, just above
      "\xef\xbf\xbd",                         // U+FFFD itself
      "\xef\xbf\xbf",                         // U+FFFF
      "\xf0\x90\x80\x80",                     // U+10000, smallest 4-byte
      "\xf0\x9f\x98\x80 emoji",               // U+1F600
      "\xf4\x8f\xbf\xbf",                     // U+10FFFF, the last code point
      "\xe2\x80\xa8\xe2\x80\xa9",             // U+2028/2029 are fine in JSON
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", // 日本語
  };
  for (const auto &s : samples) {
    EXPECT_EQ(round_trip(s), s);
    std::string out;
    JsonWriter w(out);
    w.value(s);
    EXPECT_EQ(out, "\"" + s + "\"\n") << "valid UTF-8 must be copied, not escaped";
  }
}

TEST(UtilJson, InvalidUtf8BecomesReplacementCharacters) {
  struct Case {
    std::string in;
    std::string want;
  };
  const std::string R = kFffd;
  const std::vector<Case> cases = {
      {"\x80", R}, // stray continuation
      {"a\xbf"
       "b",
       "a" + R + "b"},
      {"\x80\x80", R + R},                                 // each stray byte separately
      {"\xc0\x80", R + R},                                 // overlong NUL
      {"\xc1\xbf", R + R},                                 // overlong
      {"\xe0\x80\x80", R + R + R},                         // overlong 3-byte
      {"\xe0\x9f\xbf", R + R + R},                         // overlong U+07FF
      {"\xf0\x80\x80\x80", R + R + R + R},                 // overlong 4-byte
      {"\xf0\x8f\xbf\xbf", R + R + R + R},                 // overlong U+FFFF
      {"\xed\xa0\x80", R + R + R},                         // U+D800 surrogate
      {"\xed\xbf\xbf", R + R + R},                         // U+DFFF surrogate
      {"\xed\xa0\xbd\xed\xb8\x80", R + R + R + R + R + R}, // CESU-8 pair
      {"\xf4\x90\x80\x80", R + R + R + R},                 // U+110000
      {"\xf5\x80\x80\x80", R + R + R + R},
      {"\xf8\x88\x80\x80\x80", R + R + R + R + R}, // old 5-byte form
      {"\xfe", R},
      {"\xff", R},
      {"\xc3", R}, // truncated at end
      {"\xc3"
       "a",
       R + "a"},       // truncated before ASCII
      {"\xe6\x97", R}, // truncated 3-byte: one maximal subpart
      {"\xe6\x97"
       "x",
       R + "x"},
      {"\xf0\x9f\x98", R}, // truncated 4-byte
      {"\xf0\x9f\x98"
       "\xf0\x9f\x98\x80",
       R + "\xf0\x9f\x98\x80"},
      {"\xe6\x97\xc3\xa9", R + "\xc3\xa9"}, // truncated then valid
      {"\xc3\xa9\x80", "\xc3\xa9" + R},
      {"a\xe2\x82\"b", "a" + R + "\"b"}, // truncated before a quote
      {"\xe2\x82\n", R + "\n"},
  };
  for (const auto &c : cases)
    EXPECT_EQ(round_trip(c.in), c.want) << testing::PrintToString(c.in);
}

TEST(UtilJson, RandomBytesAlwaysGiveValidJson) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s(rng() % 40, '\0');
    for (auto &ch : s) {
      // Bias towards the interesting high bytes and control characters.
      uint32_t r = rng();
      ch = static_cast<char>(r % 3 == 0 ? 0x80 + (r >> 8) % 0x80 : (r >> 8) % 256);
    }
    std::string back = round_trip(s);
    if (valid_utf8(s)) {
      EXPECT_EQ(back, s);
    }
  }
}

TEST(UtilJson, Doubles) {
  std::string out;
  JsonWriter w(out);
  w.begin_array();
  w.value(0.1);
  w.value(-0.0);
  w.value(1e100);
  w.value(5e-324);
  w.value(std::numeric_limits<double>::max());
  w.value(123456789.0);
  w.value(std::numeric_limits<double>::infinity());
  w.value(-std::numeric_limits<double>::infinity());
  w.value(std::nan(""));
  w.value(2.0f);
  w.end_array();
  EXPECT_EQ(out, "[0.1,-0,1e+100,5e-324,1.7976931348623157e+308,123456789,null,null,null,2]\n");
  json j = json::parse(out);
  EXPECT_EQ(j[0].get<double>(), 0.1); // shortest form still round-trips exactly
  EXPECT_EQ(j[3].get<double>(), 5e-324);
  EXPECT_EQ(j[4].get<double>(), std::numeric_limits<double>::max());
}

TEST(UtilJson, IntegerTypes) {
  std::string out;
  JsonWriter w(out);
  w.begin_array();
  w.value(static_cast<int8_t>(-128));
  w.value(static_cast<uint8_t>(255));
  w.value(static_cast<short>(-1));
  w.value(static_cast<unsigned short>(65535));
  w.value(-2147483647 - 1);
  w.value(4294967295u);
  w.value(-1L);
  w.value(size_t{3});
  w.end_array();
  EXPECT_EQ(out, "[-128,255,-1,65535,-2147483648,4294967295,-1,3]\n");
}

TEST(UtilJson, DeepNestingUpToTheLimit) {
  std::string out;
  JsonWriter w(out);
  for (unsigned i = 0; i < JsonWriter::kMaxDepth; ++i)
    w.begin_array();
  w.value(1);
  w.value(2);
  for (unsigned i = 0; i < JsonWriter::kMaxDepth; ++i)
    w.end_array();
  json j = json::parse(out);
  const json *p = &j;
  for (unsigned i = 1; i < JsonWriter::kMaxDepth; ++i)
    p = &(*p)[0];
  EXPECT_EQ(*p, json::parse("[1,2]"));
}

TEST(UtilJson, ReusesCapacityWithoutReallocating) {
  std::string out;
  out.reserve(4096);
  const char *data = out.data();
  for (int i = 0; i < 100; ++i) {
    out.clear();
    JsonWriter w(out);
    w.begin_object();
    w.field("pid", i);
    w.field("comm", "some \"comm\"\x01\xff");
    w.end_object();
  }
  EXPECT_EQ(out.data(), data);
}

TEST(UtilJson, IntegersAsStdToStringWritesThem) {
  std::vector<uint64_t> u = {0, 1, 9, 10, 99, 100, UINT64_MAX, UINT64_MAX - 1};
  for (uint64_t p = 10; p <= 10000000000000000000ull; p *= 10) {
    u.push_back(p - 1);
    u.push_back(p);
    u.push_back(p + 1);
    if (p > UINT64_MAX / 10)
      break;
  }
  uint64_t x = 88172645463325252ull; // xorshift: values of every length
  for (int i = 0; i < 10000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    u.push_back(x >> (i % 64));
  }
  for (uint64_t v : u) {
    std::string out;
    JsonWriter w(out);
    w.value(v);
    ASSERT_EQ(out, std::to_string(v) + "\n");
    const int64_t s = static_cast<int64_t>(v);
    out.clear();
    JsonWriter ws(out);
    ws.value(s);
    ASSERT_EQ(out, std::to_string(s) + "\n");
  }
  std::string out;
  JsonWriter w(out);
  w.value(INT64_MIN);
  EXPECT_EQ(out, "-9223372036854775808\n");
}

} // namespace
} // namespace treetrace
