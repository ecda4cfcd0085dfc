// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The one convention for recoverable errors: a function that can fail for
// a reason the user should read returns Result<T>, a value or one line
// saying why (no trailing newline, no "treetrace:" prefix; the caller adds
// context where it has some). Programming errors are assert()s; a missing
// optional thing (no such file, no entry) is std::optional.
//
//   Result<Port> parse_port(std::string_view text) {
//     if (bad) return Error("'" + std::string(text) + "' is not a port");
//     return Port{...};
//   }
//   auto port = parse_port(s);
//   if (!port) return Error("--listen: " + port.error());
//   use(*port);
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace treetrace {

struct Error {
  explicit Error(std::string message) : message(std::move(message)) {}
  std::string message;
};

template <class T> class [[nodiscard]] Result {
public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T &operator*() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T &operator*() const & {
    assert(ok());
    return std::get<0>(v_);
  }
  T &&operator*() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T *operator->() { return &**this; }
  const T *operator->() const { return &**this; }

  const std::string &error() const {
    assert(!ok());
    return std::get<1>(v_).message;
  }

private:
  std::variant<T, Error> v_;
};

// For operations that return nothing but can fail.
template <> class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Error error) : error_(std::move(error.message)), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string &error() const {
    assert(failed_);
    return error_;
  }

private:
  std::string error_;
  bool failed_ = false;
};

} // namespace treetrace
