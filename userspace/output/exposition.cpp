// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/exposition.h"

#include <fmt/format.h>

#include <cmath>

#include "util/utf8.h"

namespace treetrace {

const char *to_string(MetricType type) {
  switch (type) {
  case MetricType::Counter:
    return "counter";
  case MetricType::Gauge:
    return "gauge";
  }
  return "untyped";
}

void ExpositionWriter::append_help(std::string &out, std::string_view help) {
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
}

void ExpositionWriter::append_label_value(std::string &out, std::string_view value) {
  // Ill-formed UTF-8 would make Prometheus reject the whole scrape, so each
  // maximal ill-formed subpart becomes U+FFFD, which needs no escaping.
  const auto *p = reinterpret_cast<const unsigned char *>(value.data());
  const auto *end = p + value.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '"')
        out += "\\\"";
      else if (c == '\n')
        out += "\\n";
      else
        out.push_back(static_cast<char>(c));
      ++p;
      continue;
    }
    const int n = utf8_sequence(p, end);
    if (n > 0) {
      out.append(reinterpret_cast<const char *>(p), static_cast<size_t>(n));
      p += n;
    } else {
      out.append(kUtf8Replacement, 3);
      p += -n;
    }
  }
}

void ExpositionWriter::append_value(std::string &out, double value) {
  if (std::isnan(value))
    out += "NaN";
  else if (std::isinf(value))
    out += value > 0 ? "+Inf" : "-Inf";
  else
    fmt::format_to(std::back_inserter(out), "{}", value); // shortest form that reads back exactly
}

void ExpositionWriter::append_seconds(std::string &out, uint64_t ns) {
  fmt::format_to(std::back_inserter(out), "{}", ns / 1'000'000'000ull);
  uint64_t frac = ns % 1'000'000'000ull;
  if (!frac)
    return;
  int digits = 9;
  while (frac % 10 == 0) {
    frac /= 10;
    --digits;
  }
  fmt::format_to(std::back_inserter(out), ".{:0{}}", frac, digits);
}

void ExpositionWriter::family(std::string_view name, MetricType type, std::string_view help) {
  std::string &out = *out_;
  out += "# HELP ";
  out += name;
  out.push_back(' ');
  append_help(out, help);
  out += "\n# TYPE ";
  out += name;
  out.push_back(' ');
  out += to_string(type);
  out.push_back('\n');
}

void ExpositionWriter::begin_sample(std::string_view name, std::span<const Label> labels) {
  std::string &out = *out_;
  out += name;
  if (!labels.empty()) {
    out.push_back('{');
    bool first = true;
    for (const auto &[key, value] : labels) {
      if (!first)
        out.push_back(',');
      first = false;
      out += key;
      out += "=\"";
      append_label_value(out, value);
      out.push_back('"');
    }
    out.push_back('}');
  }
  out.push_back(' ');
}

void ExpositionWriter::sample(std::string_view name, std::span<const Label> labels, double value) {
  begin_sample(name, labels);
  append_value(*out_, value);
  out_->push_back('\n');
}

void ExpositionWriter::sample(std::string_view name, std::span<const Label> labels, uint64_t value) {
  // Counts and bytes are exact integers; a double would round above 2^53.
  begin_sample(name, labels);
  fmt::format_to(std::back_inserter(*out_), "{}", value);
  out_->push_back('\n');
}

} // namespace treetrace

namespace treetrace {

void ExpositionWriter::sample_seconds(std::string_view name, std::span<const Label> labels, uint64_t ns) {
  begin_sample(name, labels);
  append_seconds(*out_, ns);
  out_->push_back('\n');
}

} // namespace treetrace
