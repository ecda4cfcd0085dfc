// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Writes the Prometheus text exposition format, version 0.0.4: HELP and
// TYPE lines, then samples. Label values are escaped (\\, \", \n) and made
// valid UTF-8, HELP text is escaped (\\, \n), and NaN and the infinities
// are spelled as Prometheus parses them. No timestamps: a scrape is now.
//
//   std::string text;
//   ExpositionWriter w(text);
//   w.family("treetrace_x_total", MetricType::Counter, "What x counts.");
//   w.sample("treetrace_x_total", {{"group", "a"}}, 3);
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace treetrace {

enum class MetricType { Counter, Gauge };
const char *to_string(MetricType type);

using Label = std::pair<std::string_view, std::string_view>;

class ExpositionWriter {
public:
  explicit ExpositionWriter(std::string &out) : out_(&out) {}

  // Starts a family. Names and label names are ours, constant and valid.
  void family(std::string_view name, MetricType type, std::string_view help);
  void sample(std::string_view name, std::span<const Label> labels, double value);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value) {
    sample(name, std::span<const Label>(labels.begin(), labels.size()), value);
  }
  void sample(std::string_view name, std::span<const Label> labels, uint64_t value);
  // Nanoseconds written as exact decimal seconds ("1.5", "0.000000001"):
  // a double would show 5.623862615999999 for 5623862616 ns.
  void sample_seconds(std::string_view name, std::span<const Label> labels, uint64_t ns);

  static void append_label_value(std::string &out, std::string_view value);
  static void append_help(std::string &out, std::string_view help);
  static void append_value(std::string &out, double value);
  static void append_seconds(std::string &out, uint64_t ns);

private:
  void begin_sample(std::string_view name, std::span<const Label> labels);
  std::string *out_;
};

// The Content-Type of this format, which Prometheus 3 insists on.
inline constexpr char kExpositionContentType[] = "text/plain; version=0.0.4; charset=utf-8";

} // namespace treetrace
