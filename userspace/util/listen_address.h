// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Parses --listen's [ADDR:]PORT. ADDR is a numeric IPv4 or IPv6 address
// (IPv6 in brackets); no name lookups, so what is bound is what was typed.
#pragma once

#include "util/result.h"
#include <cstdint>
#include <string>
#include <string_view>

namespace treetrace {

struct ListenAddress {
  std::string host; // numeric, without brackets
  uint16_t port = 0;
  bool ipv6 = false;
  // Anything but 127.0.0.0/8 and ::1 reaches beyond this machine.
  bool loopback() const;
  std::string to_string() const; // host:port, IPv6 in brackets
};

// "10025" -> 127.0.0.1:10025; "0.0.0.0:10025"; "[::1]:10025". Error text otherwise.
Result<ListenAddress> parse_listen_address(std::string_view text);

} // namespace treetrace
