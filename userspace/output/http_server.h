// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The /metrics endpoint, served by libmicrohttpd from one event-driven
// thread (poll), so a slow client costs a connection slot and a bounded
// buffer, never a worker: 100 clients sending a byte a second do not
// delay a scrape. Limits (HttpLimits) bound connections, per-address
// connections, memory per connection and idle time; see docs/operations.md.
//
//   GET|HEAD /metrics  the exposition, Content-Type text/plain; version=0.0.4
//   GET|HEAD /healthz  200 "ok" while the reader loop runs, 503 when stalled
//   GET|HEAD /         a short page naming /metrics
//   other paths 404, other methods 405 (with Allow: GET, HEAD)
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include "util/result.h"

#include "util/listen_address.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace treetrace {

struct HttpLimits {
  unsigned max_connections = 256;
  // Per client address: a Prometheus server keeps one connection (two
  // during a slow scrape), so 16 leave room for federation and curl.
  unsigned per_address_connections = 16;
  unsigned idle_timeout_s = 10;
  // Request line and headers must fit; Prometheus sends ~300 bytes.
  size_t memory_per_connection = 16 * 1024;
};

class HttpServer {
public:
  // Returns the exposition to serve (nullptr: none yet, 503). Called on the
  // server's thread; may wait briefly for a fresh collection.
  using MetricsHandler = std::function<std::shared_ptr<const std::string>()>;
  // Whether the reader loop is alive, for /healthz.
  using HealthHandler = std::function<bool()>;

  static Result<std::unique_ptr<HttpServer>> start(const ListenAddress &address, MetricsHandler metrics,
                                                   HealthHandler health, HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer &) = delete;
  HttpServer &operator=(const HttpServer &) = delete;

  // Responses by status code, for treetrace_http_requests_total.
  std::map<unsigned, uint64_t> responses() const;
  uint16_t port() const { return port_; } // the bound port

private:
  HttpServer(MetricsHandler metrics, HealthHandler health) : metrics_(std::move(metrics)), health_(std::move(health)) {}
  int respond(MHD_Connection *connection, const char *url, const char *method);
  friend struct HttpServerCallbacks;
  int send(MHD_Connection *connection, unsigned status, std::shared_ptr<const std::string> body,
           const char *content_type, bool allow_header = false);

  MetricsHandler metrics_;
  HealthHandler health_;
  MHD_Daemon *daemon_ = nullptr;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::map<unsigned, uint64_t> responses_;
};

} // namespace treetrace
