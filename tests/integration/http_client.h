// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// A minimal HTTP/1.1 client for tests on loopback: treetrace's /metrics and
// Prometheus's query API. Test code only; treetrace itself uses a library.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace tt_test {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers; // names lowercased
  std::string body;
  double seconds = 0; // connect to last byte
};

// GET (or another method) http://host:port/target; nullopt on a connection
// or protocol failure, or after timeout_ms.
std::optional<HttpResponse> http_request(const std::string &host, uint16_t port, const std::string &target,
                                         const std::string &method = "GET", int timeout_ms = 5000);

// A port that was free a moment ago (bound to port 0, then closed).
uint16_t free_tcp_port();

// Percent-encodes a query parameter value.
std::string url_encode(const std::string &value);

} // namespace tt_test
