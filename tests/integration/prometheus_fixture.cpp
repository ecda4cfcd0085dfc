// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "prometheus_fixture.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "http_client.h"

namespace tt_test {

PrometheusServer::PrometheusServer(uint16_t target_port, const std::string &scrape_interval) {
  const char *binary = "/usr/bin/prometheus";
  if (access(binary, X_OK) != 0) {
    error_ = "prometheus is not installed (scripts/setup-deps.sh installs it)";
    return;
  }
  char dir[] = "/tmp/tt-prometheus-XXXXXX";
  if (!mkdtemp(dir)) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = dir;
  std::ofstream(dir_ + "/prometheus.yml") << "global:\n"
                                          << "  scrape_interval: " << scrape_interval << "\n"
                                          << "  scrape_timeout: " << scrape_interval << "\n"
                                          << "scrape_configs:\n"
                                          << "  - job_name: treetrace\n"
                                          << "    static_configs:\n"
                                          << "      - targets: ['127.0.0.1:" << target_port << "']\n";
  port_ = free_tcp_port();
  pid_ = fork();
  if (pid_ == 0) {
    int log = open((dir_ + "/prometheus.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(log, 1);
    dup2(log, 2);
    const std::string config = "--config.file=" + dir_ + "/prometheus.yml";
    const std::string storage = "--storage.tsdb.path=" + dir_ + "/data";
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
    execl(binary, binary, config.c_str(), storage.c_str(), listen.c_str(), "--log.level=warn",
          "--storage.tsdb.retention.time=1h", static_cast<char *>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = http_request("127.0.0.1", port_, "/-/ready", "GET", 1000);
    if (r && r->status == 200)
      return;
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::ifstream log(dir_ + "/prometheus.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  error_ = "prometheus did not become ready: " + text.substr(0, 2000);
}

PrometheusServer::~PrometheusServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && waitpid(pid_, nullptr, WNOHANG) != pid_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::optional<nlohmann::json> PrometheusServer::query(const std::string &promql, std::optional<double> at_unix_s) {
  std::string target = "/api/v1/query?query=" + url_encode(promql);
  if (at_unix_s)
    target += "&time=" + std::to_string(*at_unix_s);
  auto r = http_request("127.0.0.1", port_, target);
  if (!r) {
    last_error_ = "no answer from prometheus";
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || j.is_discarded() || j.value("status", "") != "success") {
    last_error_ = "query " + promql + ": HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 500);
    return std::nullopt;
  }
  return j["data"]["result"];
}

std::optional<double> PrometheusServer::value(const std::string &promql, std::optional<double> at_unix_s) {
  auto result = query(promql, at_unix_s);
  if (!result || !result->is_array() || result->size() != 1)
    return std::nullopt;
  const auto &v = (*result)[0]["value"];
  return std::stod(v[1].get<std::string>());
}

bool PrometheusServer::wait_target_up(int timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (value("up{job=\"treetrace\"}") == 1.0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

} // namespace tt_test
