// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/duration.h"

#include <charconv>
#include <limits>

namespace treetrace {
namespace {

// 128-bit intermediates keep scaling exact without floating point.
__extension__ typedef unsigned __int128 u128;

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kNsPerUs = 1000;
constexpr uint64_t kNsPerMs = 1000 * kNsPerUs;
constexpr uint64_t kNsPerSec = 1000 * kNsPerMs;
constexpr uint64_t kNsPerMin = 60 * kNsPerSec;
constexpr uint64_t kNsPerHour = 60 * kNsPerMin;

struct DurationUnit {
  std::string_view name;
  uint64_t ns;
};

constexpr DurationUnit kDurationUnits[] = {
    {"ns", 1},        {"us", kNsPerUs}, {"\xc2\xb5s", kNsPerUs}, // µs
    {"ms", kNsPerMs}, {"s", kNsPerSec}, {"m", kNsPerMin},        {"h", kNsPerHour},
};

// Fraction digits past this are far below a nanosecond even for hours.
constexpr int kMaxFractionDigits = 18;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_uint(std::string &out, u128 v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), static_cast<uint64_t>(v));
  out.append(buf, res.ptr);
}

// Appends value/divisor with three significant digits ("1.23", "12.3",
// "123"); integers are allowed up to int_limit - 1 ("1023" for bytes).
// Returns false when the rounded value reaches int_limit: the caller
// should use the next larger unit.
bool append_three_digits(std::string &out, u128 value, u128 divisor, u128 int_limit) {
  u128 hundredths = (value * 100 + divisor / 2) / divisor;
  if (hundredths < 1000) {
    append_uint(out, hundredths / 100);
    out += '.';
    out += static_cast<char>('0' + static_cast<int>(hundredths / 10 % 10));
    out += static_cast<char>('0' + static_cast<int>(hundredths % 10));
    return true;
  }
  u128 tenths = (value * 10 + divisor / 2) / divisor;
  if (tenths < 1000) {
    append_uint(out, tenths / 10);
    out += '.';
    out += static_cast<char>('0' + static_cast<int>(tenths % 10));
    return true;
  }
  u128 whole = (value + divisor / 2) / divisor;
  if (whole < int_limit) {
    append_uint(out, whole);
    return true;
  }
  return false;
}

void append_two_digits(std::string &out, uint64_t v) {
  out += static_cast<char>('0' + v / 10 % 10);
  out += static_cast<char>('0' + v % 10);
}

} // namespace

std::optional<uint64_t> parse_duration_ns(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  uint64_t total = 0;
  size_t i = 0;
  bool first = true;
  while (i < text.size()) {
    uint64_t whole = 0;
    bool whole_digits = false;
    while (i < text.size() && is_digit(text[i])) {
      uint64_t d = static_cast<uint64_t>(text[i] - '0');
      if (whole > (kMaxU64 - d) / 10)
        return std::nullopt;
      whole = whole * 10 + d;
      whole_digits = true;
      ++i;
    }
    uint64_t frac = 0;
    int frac_len = 0;
    bool frac_digits = false;
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && is_digit(text[i])) {
        if (frac_len < kMaxFractionDigits) {
          frac = frac * 10 + static_cast<uint64_t>(text[i] - '0');
          ++frac_len;
        }
        frac_digits = true;
        ++i;
      }
      if (!frac_digits)
        return std::nullopt; // "5." or "."
    }
    if (!whole_digits && !frac_digits)
      return std::nullopt;

    size_t unit_begin = i;
    while (i < text.size() && !is_digit(text[i]) && text[i] != '.')
      ++i;
    std::string_view unit_name = text.substr(unit_begin, i - unit_begin);
    uint64_t unit_ns = 0;
    if (unit_name.empty()) {
      // A bare number means seconds, but only on its own: "1m30" is a typo.
      if (!first || i != text.size())
        return std::nullopt;
      unit_ns = kNsPerSec;
    } else {
      for (const auto &u : kDurationUnits) {
        if (u.name == unit_name) {
          unit_ns = u.ns;
          break;
        }
      }
      if (unit_ns == 0)
        return std::nullopt;
    }

    u128 ns = static_cast<u128>(whole) * unit_ns;
    if (frac_len > 0) {
      u128 scale = 1;
      for (int k = 0; k < frac_len; ++k)
        scale *= 10;
      ns += static_cast<u128>(frac) * unit_ns / scale;
    }
    ns += total;
    if (ns > kMaxU64)
      return std::nullopt;
    total = static_cast<uint64_t>(ns);
    first = false;
  }
  return total;
}

std::string format_duration_ns(uint64_t ns) {
  std::string out;
  if (ns < kNsPerUs) {
    append_uint(out, ns);
    out += " ns";
    return out;
  }
  if (ns < 1000 * kNsPerUs && append_three_digits(out, ns, kNsPerUs, 1000)) {
    out += " us";
    return out;
  }
  if (ns < 1000 * kNsPerMs && append_three_digits(out, ns, kNsPerMs, 1000)) {
    out += " ms";
    return out;
  }
  // Below a minute once rounded to the displayed 0.1 s.
  if (ns < kNsPerMin && (ns + kNsPerSec / 20) < kNsPerMin) {
    append_three_digits(out, ns, kNsPerSec, 1000);
    out += " s";
    return out;
  }
  uint64_t secs = ns / kNsPerSec + (ns % kNsPerSec >= kNsPerSec / 2 ? 1 : 0);
  if (secs < 3600) {
    append_uint(out, secs / 60);
    out += 'm';
    append_two_digits(out, secs % 60);
    out += 's';
    return out;
  }
  uint64_t mins = ns / kNsPerMin + (ns % kNsPerMin >= kNsPerMin / 2 ? 1 : 0);
  append_uint(out, mins / 60);
  out += 'h';
  append_two_digits(out, mins % 60);
  out += 'm';
  return out;
}

std::string format_bytes(uint64_t bytes) {
  static constexpr const char *kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::string out;
  if (bytes < 1024) {
    append_uint(out, bytes);
    out += " B";
    return out;
  }
  size_t unit = 1;
  while (unit + 1 < std::size(kUnits) && bytes >= (uint64_t{1} << (10 * (unit + 1))))
    ++unit;
  // Rounding may carry into the next unit (1023.7 KiB -> 1.00 MiB).
  for (; unit < std::size(kUnits); ++unit) {
    u128 divisor = static_cast<u128>(1) << (10 * unit);
    if (append_three_digits(out, bytes, divisor, 1024)) {
      out += ' ';
      out += kUnits[unit];
      return out;
    }
  }
  return out; // unreachable: uint64_t max is below 16.0 EiB
}

} // namespace treetrace
