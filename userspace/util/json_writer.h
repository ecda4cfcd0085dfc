// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Streaming JSON Lines writer for the event hot path.
//
//   std::string line;
//   JsonWriter w(line);
//   w.begin_object();
//   w.field("pid", 42);
//   w.field("comm", comm);
//   w.begin_array("argv");
//   for (auto &a : argv) w.value(a);
//   w.end_array();
//   w.end_object();          // appends '\n': the line is complete
//
// Output is always valid JSON and valid UTF-8: strings are escaped and any
// ill-formed UTF-8 (overlongs, surrogates, > U+10FFFF, truncated sequences,
// stray continuation bytes) becomes U+FFFD, one per maximal ill-formed
// subpart as Unicode recommends. Non-finite doubles are written as null.
// The writer appends to a caller-owned string and allocates nothing else.
// While a line is open the string holds spare room past the line; it is
// exact again when the line ends (or the writer is destroyed), so read it
// between lines only. Reusing one string for every line keeps its capacity
// and makes the hot path allocation-free.
// Misuse (a key inside an array, unbalanced ends, nesting deeper than
// kMaxDepth) is a programming error caught by assert() in debug builds.
#pragma once

#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace treetrace {

// An object key. A string literal is classified when it is compiled, so
// the usual plain key is written with no check at all; any other string is
// checked as it is written, and escaped like a value when it needs it.
class JsonKey {
public:
  template <size_t N> consteval JsonKey(const char (&literal)[N]) : text_(literal, N - 1), plain_(plain(text_)) {}
  template <class K>
  requires std::convertible_to<K, std::string_view> &&
      (!std::is_array_v<std::remove_reference_t<K>>)constexpr JsonKey(K &&key)
      : text_(std::forward<K>(key)) {}

  std::string_view text() const { return text_; }
  // True when the key is known to need no escaping.
  bool known_plain() const { return plain_; }

  static constexpr bool plain(std::string_view s) {
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
        return false;
    }
    return true;
  }

private:
  std::string_view text_;
  bool plain_ = false;
};

class JsonWriter {
public:
  static constexpr unsigned kMaxDepth = 63;

  explicit JsonWriter(std::string &out) : out_(&out), len_(out.size()) {}
  ~JsonWriter() {
    if (depth_ != 0) // an unfinished line: drop the spare room at least
      out_->resize(len_);
  }
  JsonWriter(const JsonWriter &) = delete;
  JsonWriter &operator=(const JsonWriter &) = delete;

  // Containers at the top level or as array elements.
  void begin_object();
  void begin_array();
  // Containers as object members.
  void begin_object(JsonKey key);
  void begin_array(JsonKey key);
  void end_object();
  void end_array();

  // Object members.
  void field(JsonKey key, std::string_view v) {
    write_key(key);
    write_string(v);
  }
  // Keeps string literals from converting to bool; a null pointer is null.
  void field(JsonKey key, const char *v) {
    write_key(key);
    write_cstr(v);
  }
  template <class T>
  requires std::integral<T> &&(!std::same_as<T, bool>)&&(!std::same_as<T, char>)void field(JsonKey key, T v) {
    write_key(key);
    write_integer(v);
  }
  void field(JsonKey key, double v) {
    write_key(key);
    write_double(v);
  }
  void field(JsonKey key, bool v) {
    write_key(key);
    write_bool(v);
  }
  void field(JsonKey key, std::nullptr_t) {
    write_key(key);
    write_null();
  }
  template <class T> void field(JsonKey key, const std::optional<T> &v) {
    if (v)
      field(key, *v);
    else
      field(key, nullptr);
  }

  // Array elements, or a lone top-level value (which ends the line).
  void value(std::string_view v) {
    begin_value();
    write_string(v);
    end_value();
  }
  void value(const char *v) {
    begin_value();
    write_cstr(v);
    end_value();
  }
  template <class T>
  requires std::integral<T> &&(!std::same_as<T, bool>)&&(!std::same_as<T, char>)void value(T v) {
    begin_value();
    write_integer(v);
    end_value();
  }
  void value(double v) {
    begin_value();
    write_double(v);
    end_value();
  }
  void value(bool v) {
    begin_value();
    write_bool(v);
    end_value();
  }
  void value(std::nullptr_t) {
    begin_value();
    write_null();
    end_value();
  }
  template <class T> void value(const std::optional<T> &v) {
    if (v)
      value(*v);
    else
      value(nullptr);
  }

  // Members another JsonWriter rendered, as they stood between its braces
  // (`"a":1,"b":"x"`), added to the open object: for parts of a line that
  // are the same in many lines. Empty adds nothing.
  void members(std::string_view rendered) {
    if (rendered.empty())
      return;
    if (next_member())
      put(',');
    put(rendered.data(), rendered.size());
  }

  // Nesting depth of open containers; 0 between lines.
  unsigned depth() const { return depth_; }

  // Appends `s` as a quoted, escaped JSON string (no separators).
  static void append_escaped(std::string &out, std::string_view s);

private:
  // Marks an element of the open object; true when a comma must precede it.
  bool next_member() {
    assert(depth_ > 0 && !((is_array_ >> depth_) & 1) && "key outside an object");
    const uint64_t bit = uint64_t{1} << depth_;
    const bool comma = (has_items_ & bit) != 0;
    has_items_ |= bit;
    return comma;
  }
  void write_key(JsonKey k) {
    const bool comma = next_member();
    const std::string_view key = k.text();
    if (k.known_plain() || (key.size() <= 64 && JsonKey::plain(key))) [[likely]] {
      char *p = room(key.size() + 4);
      size_t i = 0;
      if (comma)
        p[i++] = ',';
      p[i++] = '"';
      std::memcpy(p + i, key.data(), key.size());
      i += key.size();
      p[i++] = '"';
      p[i++] = ':';
      len_ += i;
      return;
    }
    write_escaped_key(key, comma);
  }
  void write_escaped_key(std::string_view key, bool comma);
  void begin_value();
  void end_value();
  void open(char bracket, bool is_array);
  void close(char bracket, bool is_array);
  void write_string(std::string_view s);
  void write_cstr(const char *s);
  void write_integer(std::signed_integral auto v) { write_int64(static_cast<int64_t>(v)); }
  void write_integer(std::unsigned_integral auto v) { write_uint64(static_cast<uint64_t>(v)); }
  void write_int64(int64_t v);
  void write_uint64(uint64_t v);
  void write_double(double v);
  void write_bool(bool v) { v ? put("true", 4) : put("false", 5); }
  void write_null() { put("null", 4); }

  // The bytes go straight into the string's buffer: std::string's append
  // is an out-of-line call per piece, which made a 25-field line cost ~1 us.
  // `room(n)` makes n bytes writable at len_ (the string's size runs ahead
  // of len_ while a line is open); a line's end cuts it back to len_.
  char *room(size_t n) {
    if (out_->size() - len_ < n) [[unlikely]]
      grow(n);
    return out_->data() + len_;
  }
  void grow(size_t n);
  void put(char c) {
    *room(1) = c;
    ++len_;
  }
  void put(const char *s, size_t n) {
    std::memcpy(room(n), s, n);
    len_ += n;
  }
  void put_escape(unsigned char c);

  std::string *out_;
  size_t len_; // bytes of out_ written; out_->size() may be larger while a line is open
  unsigned depth_ = 0;
  uint64_t has_items_ = 0; // bit d: the container at depth d has an element
  uint64_t is_array_ = 0;  // bit d: the container at depth d is an array
};

} // namespace treetrace
