// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// libFuzzer harness for JsonWriter: arbitrary bytes as keys and string
// values must always give one line of strict JSON in valid UTF-8, and valid
// UTF-8 must come back unchanged.
#include "common/strict_utf8.h"
#include "util/json_writer.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

using namespace treetrace;

namespace {

[[noreturn]] void fail(const char *what, const std::string &out) {
  std::fprintf(stderr, "%s\noutput: %s\n", what, out.c_str());
  std::abort();
}

using tt_check::valid_utf8;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view input(reinterpret_cast<const char *>(data), size);
  // Pieces separated by 0xfe 0xfe, alternately keys and values.
  std::vector<std::string_view> pieces;
  size_t start = 0;
  while (true) {
    size_t sep = input.find("\xfe\xfe", start);
    pieces.push_back(input.substr(start, sep == std::string_view::npos ? sep : sep - start));
    if (sep == std::string_view::npos)
      break;
    start = sep + 2;
  }

  double d = 0;
  if (size >= sizeof(d))
    std::memcpy(&d, data, sizeof(d)); // any bit pattern: NaN, inf, subnormal
  int64_t i64 = 0;
  if (size >= sizeof(i64))
    std::memcpy(&i64, data + size - sizeof(i64), sizeof(i64));

  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.field("d", d);
  w.field("i", i64);
  w.field("u", static_cast<uint64_t>(i64));
  w.begin_object("strings");
  for (size_t k = 0; k + 1 < pieces.size(); k += 2)
    w.field(pieces[k], pieces[k + 1]);
  w.end_object();
  w.begin_array("values");
  for (auto p : pieces)
    w.value(p);
  w.end_array();
  w.end_object();

  if (out.empty() || out.back() != '\n' || out.find('\n') != out.size() - 1)
    fail("not exactly one line", out);
  if (!valid_utf8(out))
    fail("output is not valid UTF-8", out);
  nlohmann::json j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    fail("output is not valid JSON", out);

  const auto &values = j["values"];
  if (!values.is_array() || values.size() != pieces.size())
    fail("wrong number of array values", out);
  for (size_t k = 0; k < pieces.size(); ++k) {
    if (!values[k].is_string())
      fail("array value is not a string", out);
    const auto &back = values[k].get_ref<const std::string &>();
    if (valid_utf8(pieces[k]) && back != pieces[k])
      fail("valid UTF-8 did not round-trip", out);
    if (back.size() > pieces[k].size() * 3)
      fail("replacement grew a string more than 3x", out);
  }
  if (j["i"].get<int64_t>() != i64 || j["u"].get<uint64_t>() != static_cast<uint64_t>(i64))
    fail("integer did not round-trip", out);
  if (std::isfinite(d)) {
    if (!j["d"].is_number() || j["d"].get<double>() != d)
      fail("double did not round-trip", out);
  } else if (!j["d"].is_null()) {
    fail("non-finite double is not null", out);
  }
  return 0;
}
