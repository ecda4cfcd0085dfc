// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// A real Prometheus server for tests: started on loopback with a temporary
// storage directory and a scrape config for one target, stopped and
// removed again whatever the test's outcome (RAII).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>

namespace tt_test {

class PrometheusServer {
public:
  // Scrapes http://127.0.0.1:target_port/metrics every scrape_interval.
  PrometheusServer(uint16_t target_port, const std::string &scrape_interval = "1s");
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer &) = delete;
  PrometheusServer &operator=(const PrometheusServer &) = delete;

  // Why there is no server (not installed, failed to start), or nullopt.
  const std::optional<std::string> &error() const { return error_; }
  uint16_t port() const { return port_; }

  // An instant query through /api/v1/query: data.result, or nullopt (and
  // the reason in last_error()) on any failure.
  std::optional<nlohmann::json> query(const std::string &promql, std::optional<double> at_unix_s = std::nullopt);
  // The value of the query's only sample; nullopt if there is none or several.
  std::optional<double> value(const std::string &promql, std::optional<double> at_unix_s = std::nullopt);
  const std::string &last_error() const { return last_error_; }

  // Waits until the target has been scraped and is up.
  bool wait_target_up(int timeout_s);

private:
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::optional<std::string> error_;
  std::string last_error_;
};

} // namespace tt_test
