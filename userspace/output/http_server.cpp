// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/http_server.h"

#include <microhttpd.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "output/exposition.h"

namespace treetrace {
namespace {

// libmicrohttpd's errors go to our log, as one line each.
void log_mhd(void *, const char *format, va_list args) {
  char line[512];
  vsnprintf(line, sizeof line, format, args);
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  spdlog::debug("http: {}", line);
}

// Keeps the exposition alive until libmicrohttpd has sent it.
void release_body(void *body) { delete static_cast<std::shared_ptr<const std::string> *>(body); }

const auto kIndexPage = std::make_shared<const std::string>(
    "<html><head><title>treetrace</title></head><body><h1>treetrace</h1>"
    "<p><a href=\"/metrics\">/metrics</a>: per-group CPU and memory from the kernel.</p></body></html>\n");
const auto kOk = std::make_shared<const std::string>("ok\n");
const auto kStalled = std::make_shared<const std::string>("the reader loop has stalled\n");
const auto kNotYet = std::make_shared<const std::string>("no collection yet, try again\n");
const auto kNotFound = std::make_shared<const std::string>("not found: try /metrics\n");
const auto kNotAllowed = std::make_shared<const std::string>("method not allowed: GET or HEAD\n");

} // namespace

struct HttpServerCallbacks {
  static MHD_Result on_request(void *self, MHD_Connection *connection, const char *url, const char *method,
                               const char *, const char *, size_t *, void **) {
    // Answered at the first call, before any body is read: no path takes a
    // body, and a client sending one gets its answer and a closed connection.
    return static_cast<MHD_Result>(static_cast<HttpServer *>(self)->respond(connection, url, method));
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::start(const ListenAddress &address, MetricsHandler metrics,
                                                      HealthHandler health, HttpLimits limits) {
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(metrics), std::move(health)));
  sockaddr_storage storage{};
  // poll(2), not epoll: libmicrohttpd 0.9.75's edge-triggered epoll loop
  // misses a close that arrives with the client's last bytes (a partial
  // request, then FIN), so the dead connection holds its slot, and one of
  // its address's 16, until the idle timeout. poll is level-triggered and
  // sees it at once; 256 connections are cheap to poll.
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
  if (address.ipv6) {
    auto *sa = reinterpret_cast<sockaddr_in6 *>(&storage);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(address.port);
    inet_pton(AF_INET6, address.host.c_str(), &sa->sin6_addr);
    flags |= MHD_USE_IPv6;
  } else {
    auto *sa = reinterpret_cast<sockaddr_in *>(&storage);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(address.port);
    inet_pton(AF_INET, address.host.c_str(), &sa->sin_addr);
  }
  // libmicrohttpd reports a failed bind only through its log and a NULL
  // daemon; bind a probe socket first so the user gets the real reason.
  {
    int probe = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const socklen_t len = address.ipv6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    const bool bound = probe >= 0 && bind(probe, reinterpret_cast<sockaddr *>(&storage), len) == 0;
    const int error = errno;
    if (probe >= 0)
      close(probe);
    if (!bound)
      return Error("--listen " + address.to_string() + ": " + strerror(error));
  }
  server->daemon_ =
      MHD_start_daemon(flags, address.port, nullptr, nullptr, &HttpServerCallbacks::on_request, server.get(),
                       // First, or libmicrohttpd prints what the options before it cause itself.
                       MHD_OPTION_EXTERNAL_LOGGER, &log_mhd, nullptr, MHD_OPTION_SOCK_ADDR, &storage,
                       MHD_OPTION_CONNECTION_LIMIT, limits.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                       limits.per_address_connections, MHD_OPTION_CONNECTION_TIMEOUT, limits.idle_timeout_s,
                       MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits.memory_per_connection, MHD_OPTION_END);
  if (!server->daemon_)
    return Error("--listen " + address.to_string() + ": cannot start the HTTP server");
  if (const MHD_DaemonInfo *info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT))
    server->port_ = info->port;
  return server;
}

HttpServer::~HttpServer() {
  if (daemon_)
    MHD_stop_daemon(daemon_);
}

std::map<unsigned, uint64_t> HttpServer::responses() const {
  std::lock_guard lock(mu_);
  return responses_;
}

int HttpServer::send(MHD_Connection *connection, unsigned status, std::shared_ptr<const std::string> body,
                     const char *content_type, bool allow_header) {
  auto *keep = new std::shared_ptr<const std::string>(std::move(body));
  MHD_Response *response = MHD_create_response_from_buffer_with_free_callback_cls(
      (*keep)->size(), const_cast<char *>((*keep)->data()), &release_body, keep);
  if (!response) {
    delete keep;
    return MHD_NO;
  }
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (allow_header)
    MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  const MHD_Result queued = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  {
    std::lock_guard lock(mu_);
    responses_[status]++;
  }
  return queued;
}

int HttpServer::respond(MHD_Connection *connection, const char *url, const char *method) {
  constexpr const char *kText = "text/plain; charset=utf-8";
  if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
    return send(connection, MHD_HTTP_METHOD_NOT_ALLOWED, kNotAllowed, kText, true);
  const std::string_view path(url);
  if (path == "/metrics") {
    std::shared_ptr<const std::string> body = metrics_();
    if (!body)
      return send(connection, MHD_HTTP_SERVICE_UNAVAILABLE, kNotYet, kText);
    return send(connection, MHD_HTTP_OK, std::move(body), kExpositionContentType);
  }
  if (path == "/healthz")
    return health_() ? send(connection, MHD_HTTP_OK, kOk, kText)
                     : send(connection, MHD_HTTP_SERVICE_UNAVAILABLE, kStalled, kText);
  if (path == "/")
    return send(connection, MHD_HTTP_OK, kIndexPage, "text/html; charset=utf-8");
  return send(connection, MHD_HTTP_NOT_FOUND, kNotFound, kText);
}

} // namespace treetrace
