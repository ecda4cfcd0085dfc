// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// libFuzzer harness for the exposition writer: arbitrary bytes as a label
// value and as HELP text must give exactly the family's three lines, in
// valid UTF-8, with no raw newline inside a value; and unescaping the
// value must give what JsonWriter's independent UTF-8 repair gives.
#include "common/strict_utf8.h"
#include "output/exposition.h"
#include "util/json_writer.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

using namespace treetrace;

namespace {

[[noreturn]] void fail(const char *what, const std::string &out) {
  std::fprintf(stderr, "%s\noutput: %s\n", what, out.c_str());
  std::abort();
}

// The inverse of the exposition's label escaping.
std::string unescape(std::string_view s, const std::string &out) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      if (s[i] == '"' || s[i] == '\n')
        fail("unescaped quote or newline in a label value", out);
      r.push_back(s[i]);
      continue;
    }
    if (++i == s.size())
      fail("dangling backslash", out);
    if (s[i] == 'n')
      r.push_back('\n');
    else if (s[i] == '\\' || s[i] == '"')
      r.push_back(s[i]);
    else
      fail("unknown escape", out);
  }
  return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view input(reinterpret_cast<const char *>(data), size);
  const size_t sep = input.find("\xfe\xfe");
  const std::string_view value = input.substr(0, sep);
  const std::string_view help = sep == std::string_view::npos ? std::string_view() : input.substr(sep + 2);

  std::string out;
  ExpositionWriter w(out);
  w.family("treetrace_fuzz", MetricType::Gauge, help);
  w.sample("treetrace_fuzz", {{"v", value}}, 1.0);
  if (!tt_check::valid_utf8(out) && tt_check::valid_utf8(std::string(help)))
    fail("not valid UTF-8", out);

  // Exactly three lines: HELP, TYPE, the sample.
  size_t lines = 0;
  for (char c : out)
    lines += c == '\n';
  if (lines != 3 || out.back() != '\n')
    fail("not three lines", out);
  const size_t second = out.find('\n') + 1;
  const size_t third = out.find('\n', second) + 1;
  const std::string sample = out.substr(third, out.size() - third - 1);
  const std::string prefix = "treetrace_fuzz{v=\"";
  const std::string suffix = "\"} 1";
  if (sample.compare(0, prefix.size(), prefix) != 0 || sample.size() < prefix.size() + suffix.size() ||
      sample.compare(sample.size() - suffix.size(), suffix.size(), suffix) != 0)
    fail("malformed sample line", out);
  const std::string escaped = sample.substr(prefix.size(), sample.size() - prefix.size() - suffix.size());

  // The same value through JsonWriter's UTF-8 repair, read back by nlohmann.
  std::string json;
  JsonWriter j(json);
  j.begin_object();
  j.field("v", value);
  j.end_object();
  const std::string repaired = nlohmann::json::parse(json)["v"].get<std::string>();
  if (unescape(escaped, out) != repaired)
    fail("label value does not round-trip", out);
  return 0;
}
