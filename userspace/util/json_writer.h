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
// Misuse (a key inside an array, unbalanced ends, nesting deeper than
// kMaxDepth) is a programming error caught by assert() in debug builds.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace treetrace {

class JsonWriter {
public:
  static constexpr unsigned kMaxDepth = 63;

  explicit JsonWriter(std::string &out) : out_(&out) {}

  // Containers at the top level or as array elements.
  void begin_object();
  void begin_array();
  // Containers as object members.
  void begin_object(std::string_view key);
  void begin_array(std::string_view key);
  void end_object();
  void end_array();

  // Object members.
  void field(std::string_view key, std::string_view v) { write_key(key); write_string(v); }
  // Keeps string literals from converting to bool; a null pointer is null.
  void field(std::string_view key, const char *v) { write_key(key); write_cstr(v); }
  template <class T>
    requires std::integral<T> && (!std::same_as<T, bool>) && (!std::same_as<T, char>)
  void field(std::string_view key, T v) {
    write_key(key);
    write_integer(v);
  }
  void field(std::string_view key, double v) { write_key(key); write_double(v); }
  void field(std::string_view key, bool v) { write_key(key); write_bool(v); }
  void field(std::string_view key, std::nullptr_t) { write_key(key); write_null(); }
  template <class T> void field(std::string_view key, const std::optional<T> &v) {
    if (v)
      field(key, *v);
    else
      field(key, nullptr);
  }

  // Array elements, or a lone top-level value (which ends the line).
  void value(std::string_view v) { begin_value(); write_string(v); end_value(); }
  void value(const char *v) { begin_value(); write_cstr(v); end_value(); }
  template <class T>
    requires std::integral<T> && (!std::same_as<T, bool>) && (!std::same_as<T, char>)
  void value(T v) {
    begin_value();
    write_integer(v);
    end_value();
  }
  void value(double v) { begin_value(); write_double(v); end_value(); }
  void value(bool v) { begin_value(); write_bool(v); end_value(); }
  void value(std::nullptr_t) { begin_value(); write_null(); end_value(); }
  template <class T> void value(const std::optional<T> &v) {
    if (v)
      value(*v);
    else
      value(nullptr);
  }

  // Nesting depth of open containers; 0 between lines.
  unsigned depth() const { return depth_; }

  // Appends `s` as a quoted, escaped JSON string (no separators).
  static void append_escaped(std::string &out, std::string_view s);

private:
  void write_key(std::string_view key);
  void begin_value();
  void end_value();
  void open(char bracket, bool is_array);
  void close(char bracket, bool is_array);
  void write_string(std::string_view s) { append_escaped(*out_, s); }
  void write_cstr(const char *s);
  void write_integer(std::signed_integral auto v) { write_int64(static_cast<int64_t>(v)); }
  void write_integer(std::unsigned_integral auto v) { write_uint64(static_cast<uint64_t>(v)); }
  void write_int64(int64_t v);
  void write_uint64(uint64_t v);
  void write_double(double v);
  void write_bool(bool v) { out_->append(v ? "true" : "false"); }
  void write_null() { out_->append("null"); }

  std::string *out_;
  unsigned depth_ = 0;
  uint64_t has_items_ = 0; // bit d: the container at depth d has an element
  uint64_t is_array_ = 0;  // bit d: the container at depth d is an array
};

} // namespace treetrace
