// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/json_writer.h"
#include "util/utf8.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>

namespace treetrace {
namespace {

enum ByteClass : uint8_t { kPlain = 0, kEscape = 1, kMultiByte = 2 };

constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f)
      t[c] = kEscape;
    else if (c >= 0x80)
      t[c] = kMultiByte;
  }
  return t;
}();

constexpr char kHex[] = "0123456789abcdef";

// True when none of the 8 bytes at p needs attention: no control byte, no
// '"', no '\\', no DEL and nothing >= 0x80 (classic SWAR byte tests).
inline bool plain8(const unsigned char *p) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  uint64_t x;
  std::memcpy(&x, p, sizeof(x));
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  uint64_t high = x & kHigh;                          // a byte >= 0x80
  uint64_t control = (x - kOnes * 0x20) & ~x & kHigh; // a byte < 0x20
  uint64_t special = has_zero(x ^ (kOnes * '"')) | has_zero(x ^ (kOnes * '\\')) | has_zero(x ^ (kOnes * 0x7f));
  return (high | control | special) == 0;
}

// A line's first growth makes this much room at once, so the fields after
// it need no further resize.
constexpr size_t kGrowBytes = 1024;

} // namespace

void JsonWriter::grow(size_t n) {
  // Within the capacity the string already has, resizing only fills the
  // new room; past it, libstdc++ doubles the capacity.
  const size_t want = len_ + n;
  out_->resize(std::max(want, std::min(out_->capacity(), len_ + kGrowBytes)));
}

void JsonWriter::put_escape(unsigned char c) {
  char *buf = room(6);
  buf[0] = '\\';
  switch (c) {
  case '"':
    buf[1] = '"';
    break;
  case '\\':
    buf[1] = '\\';
    break;
  case '\b':
    buf[1] = 'b';
    break;
  case '\f':
    buf[1] = 'f';
    break;
  case '\n':
    buf[1] = 'n';
    break;
  case '\r':
    buf[1] = 'r';
    break;
  case '\t':
    buf[1] = 't';
    break;
  default:
    buf[1] = 'u';
    buf[2] = '0';
    buf[3] = '0';
    buf[4] = kHex[c >> 4];
    buf[5] = kHex[c & 0xf];
    len_ += 6;
    return;
  }
  len_ += 2;
}

void JsonWriter::write_string(std::string_view s) {
  put('"');
  const auto *p = reinterpret_cast<const unsigned char *>(s.data());
  const auto *end = p + s.size();
  const auto *run = p; // start of bytes that can be copied verbatim
  for (;;) {
    // Argv and paths are long runs of plain ASCII: skip them eight bytes at
    // a time, then byte by byte up to the next byte that needs attention.
    while (end - p >= 8 && plain8(p))
      p += 8;
    while (p < end && kByteClass[*p] == kPlain)
      ++p;
    if (p == end)
      break;
    if (kByteClass[*p] == kMultiByte) {
      int n = utf8_sequence(p, end);
      if (n > 0) {
        p += n; // well-formed: stays part of the verbatim run
        continue;
      }
      put(reinterpret_cast<const char *>(run), static_cast<size_t>(p - run));
      put(kUtf8Replacement, 3);
      p += -n;
    } else {
      put(reinterpret_cast<const char *>(run), static_cast<size_t>(p - run));
      put_escape(*p);
      ++p;
    }
    run = p;
  }
  put(reinterpret_cast<const char *>(run), static_cast<size_t>(p - run));
  put('"');
}

void JsonWriter::append_escaped(std::string &out, std::string_view s) {
  JsonWriter w(out);
  w.write_string(s);
  out.resize(w.len_);
}

void JsonWriter::begin_object() {
  begin_value();
  open('{', false);
}

void JsonWriter::begin_array() {
  begin_value();
  open('[', true);
}

void JsonWriter::begin_object(JsonKey key) {
  write_key(key);
  open('{', false);
}

void JsonWriter::begin_array(JsonKey key) {
  write_key(key);
  open('[', true);
}

void JsonWriter::end_object() { close('}', false); }

void JsonWriter::end_array() { close(']', true); }

void JsonWriter::write_escaped_key(std::string_view key, bool comma) {
  if (comma)
    put(',');
  write_string(key);
  put(':');
}

void JsonWriter::begin_value() {
  if (depth_ == 0) {
    len_ = out_->size(); // a new line: the caller may have appended since the last
    return;
  }
  assert(((is_array_ >> depth_) & 1) && "value without a key inside an object");
  uint64_t bit = uint64_t{1} << depth_;
  if (has_items_ & bit)
    put(',');
  has_items_ |= bit;
}

void JsonWriter::end_value() {
  if (depth_ == 0) {
    put('\n');
    out_->resize(len_); // the line is complete: no spare room left behind
  }
}

void JsonWriter::open(char bracket, bool is_array) {
  assert(depth_ < kMaxDepth && "JSON nesting too deep");
  ++depth_;
  uint64_t bit = uint64_t{1} << depth_;
  has_items_ &= ~bit;
  if (is_array)
    is_array_ |= bit;
  else
    is_array_ &= ~bit;
  put(bracket);
}

void JsonWriter::close(char bracket, bool is_array) {
  assert(depth_ > 0 && "end without begin");
  assert(static_cast<bool>((is_array_ >> depth_) & 1) == is_array && "mismatched end");
  (void)is_array;
  put(bracket);
  --depth_;
  end_value();
}

void JsonWriter::write_cstr(const char *s) {
  if (s)
    write_string(std::string_view(s, std::strlen(s)));
  else
    write_null();
}

namespace {

// Decimal digits two at a time from a table, the length found from the
// bit length: a record has ~20 integers, and std::to_chars' length loop
// was 5% of the reader's time under a storm.
constexpr char kDigitPairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                               "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                               "8081828384858687888990919293949596979899";
constexpr uint64_t kPow10[] = {1ull,
                               10ull,
                               100ull,
                               1000ull,
                               10000ull,
                               100000ull,
                               1000000ull,
                               10000000ull,
                               100000000ull,
                               1000000000ull,
                               10000000000ull,
                               100000000000ull,
                               1000000000000ull,
                               10000000000000ull,
                               100000000000000ull,
                               1000000000000000ull,
                               10000000000000000ull,
                               100000000000000000ull,
                               1000000000000000000ull,
                               10000000000000000000ull};

inline unsigned decimal_digits(uint64_t v) {
  if (v < 10)
    return 1;
  // floor(log10(2) * bit length) is the digit count or one less.
  const unsigned bits = 64 - static_cast<unsigned>(__builtin_clzll(v));
  const unsigned guess = (bits * 1233) >> 12;
  return guess + (v >= kPow10[guess] ? 1 : 0);
}

// Writes v's digits ending at `end`; returns where they start.
inline char *digits_before(char *end, uint64_t v) {
  while (v >= 100) {
    const size_t pair = static_cast<size_t>(v % 100) * 2;
    v /= 100;
    end -= 2;
    std::memcpy(end, kDigitPairs + pair, 2);
  }
  if (v >= 10) {
    end -= 2;
    std::memcpy(end, kDigitPairs + v * 2, 2);
  } else {
    *--end = static_cast<char>('0' + v);
  }
  return end;
}

} // namespace

void JsonWriter::write_uint64(uint64_t v) {
  const unsigned n = decimal_digits(v);
  char *p = room(20);
  digits_before(p + n, v);
  len_ += n;
}

void JsonWriter::write_int64(int64_t v) {
  if (v >= 0) {
    write_uint64(static_cast<uint64_t>(v));
    return;
  }
  put('-');
  write_uint64(0 - static_cast<uint64_t>(v)); // well defined for INT64_MIN too
}

void JsonWriter::write_double(double v) {
  if (!std::isfinite(v)) {
    write_null(); // JSON has no NaN or Infinity
    return;
  }
  // Shortest form that reads back as the same double; always a JSON number
  // ("1e+100", "-0", "0.1"): to_chars never emits a bare "." or "inf" here.
  // The longest such form is 24 characters.
  char *p = room(32);
  len_ = static_cast<size_t>(std::to_chars(p, p + 32, v).ptr - out_->data());
}

} // namespace treetrace
