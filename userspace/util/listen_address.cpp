// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/listen_address.h"

#include <arpa/inet.h>
#include <charconv>
#include <netinet/in.h>

namespace treetrace {
namespace {

Result<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535)
    return Error("'" + std::string(text) + "' is not a port (0-65535; 0 picks a free one)");
  return static_cast<uint16_t>(value);
}

} // namespace

bool ListenAddress::loopback() const {
  if (ipv6) {
    in6_addr a{};
    return inet_pton(AF_INET6, host.c_str(), &a) == 1 && IN6_IS_ADDR_LOOPBACK(&a);
  }
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

std::string ListenAddress::to_string() const { return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port); }

Result<ListenAddress> parse_listen_address(std::string_view text) {
  ListenAddress out;
  std::string_view port_text = text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Error("'" + std::string(text) + "': an IPv6 address is written [ADDR]:PORT");
    out.host = std::string(text.substr(1, close - 1));
    out.ipv6 = true;
    port_text = text.substr(close + 2);
  } else if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (out.host.find(':') != std::string::npos)
      return Error("'" + std::string(text) + "': an IPv6 address is written [ADDR]:PORT");
  } else {
    out.host = "127.0.0.1";
  }
  auto port = parse_port(port_text);
  if (!port)
    return Error(port.error());
  out.port = *port;
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(out.ipv6 ? AF_INET6 : AF_INET, out.host.c_str(), buf) != 1)
    return Error("'" + out.host + "' is not a numeric " + (out.ipv6 ? "IPv6" : "IPv4") + " address");
  return out;
}

} // namespace treetrace
