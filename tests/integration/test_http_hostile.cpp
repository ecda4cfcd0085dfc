// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// treetrace's /metrics endpoint under hostile clients (issue #10), with the
// real BPF programs loaded and a workload traced alongside: malformed
// requests, slow clients from many addresses, the per-address limit,
// methods and paths, and a scrape storm. docs/operations.md states the
// limits these hold. The raw-socket client code here is test code only;
// treetrace itself serves HTTP with libmicrohttpd.
//
// Every test prints what it measured on a "[ measured ]" line, pass or fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "cgroup_fixture.h"
#include "harness.h"
#include "http_client.h"

using namespace tt_test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr char kExpositionType[] = "text/plain; version=0.0.4; charset=utf-8";

void measured(const std::string &what) { std::cout << "[ measured ] " << what << std::endl; }

// treetrace -v --listen 127.0.0.1:0 ARGS: the port is read from the line it
// logs, its stdout lines are timestamped as they arrive (to tell how late a
// record comes), and a thread drains stdout and stderr so it never blocks.
class ListeningTracer {
public:
  struct Line {
    Clock::time_point at;
    std::string text;
  };

  explicit ListeningTracer(const std::vector<std::string> &args) {
    std::vector<std::string> argv{treetrace_bin(), "-v", "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    child_ = spawn(argv, {}, Capture::stdout_and_stderr);
    if (child_.pid < 0)
      return;
    pump_ = std::thread([this] { pump(); });
    std::unique_lock lock(mu_);
    // "tracing:" ends the startup scan: from then on nothing is missed.
    cv_.wait_for(lock, 30s, [&] { return eof_ || err_.find("tracing:") != std::string::npos; });
    static const std::regex kPort("metrics at http://127\\.0\\.0\\.1:([0-9]+)/metrics");
    std::smatch m;
    if (std::regex_search(err_, m, kPort))
      port_ = static_cast<uint16_t>(std::stoi(m[1]));
    ready_ = port_ != 0 && err_.find("tracing:") != std::string::npos;
  }
  ~ListeningTracer() { stop(SIGKILL); }
  ListeningTracer(const ListeningTracer &) = delete;
  ListeningTracer &operator=(const ListeningTracer &) = delete;

  bool ready() const { return ready_; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return child_.pid; }
  std::string err() const {
    std::lock_guard lock(mu_);
    return err_;
  }
  std::vector<Line> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }
  // Whether treetrace is still running: it has neither crashed nor exited.
  bool running() {
    if (exit_code_ || child_.pid < 0)
      return false;
    int status = 0;
    const pid_t r = waitpid(child_.pid, &status, WNOHANG);
    if (r == child_.pid)
      exit_code_ = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    return r == 0;
  }
  // Sends signo (SIGKILL after 20 s) and returns the exit status (128+N for signal N).
  int stop(int signo = SIGINT) {
    if (child_.pid < 0)
      return -1;
    if (!exit_code_ && running()) {
      kill(child_.pid, signo);
      const auto deadline = Clock::now() + 20s;
      while (running() && Clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
      if (running()) {
        ADD_FAILURE() << "treetrace did not stop within 20 s of signal " << signo;
        kill(child_.pid, SIGKILL);
        while (running())
          std::this_thread::sleep_for(20ms);
      }
    }
    if (pump_.joinable())
      pump_.join(); // both pipes reach EOF once treetrace is gone
    close(child_.out_fd);
    close(child_.err_fd);
    child_.pid = -1;
    return exit_code_.value_or(-1);
  }

private:
  void pump() {
    pollfd fds[2] = {{child_.out_fd, POLLIN, 0}, {child_.err_fd, POLLIN, 0}};
    std::string partial;
    char buf[65536];
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
      if (poll(fds, 2, 200) <= 0)
        continue;
      for (int i = 0; i < 2; i++) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
          continue;
        const ssize_t n = read(fds[i].fd, buf, sizeof buf);
        const auto now = Clock::now();
        std::lock_guard lock(mu_);
        if (n <= 0) {
          fds[i].fd = -1;
          continue;
        }
        if (i == 1) {
          if (err_.size() < (8u << 20)) // -v logs a line per refused request; keep the first 8 MiB
            err_.append(buf, static_cast<size_t>(n));
          continue;
        }
        partial.append(buf, static_cast<size_t>(n));
        for (size_t nl; (nl = partial.find('\n')) != std::string::npos; partial.erase(0, nl + 1))
          lines_.push_back({now, partial.substr(0, nl)});
      }
      cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    eof_ = true;
    cv_.notify_all();
  }

  Spawned child_;
  std::thread pump_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string err_;
  std::vector<Line> lines_;
  bool eof_ = false;
  bool ready_ = false;
  uint16_t port_ = 0;
  std::optional<int> exit_code_;
};

// ---- a raw TCP client -------------------------------------------------------

// A connection to 127.0.0.1:port from the loopback address `source` (bound
// first, so the server sees that client address); -1 if it fails.
int connect_from(const std::string &source, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const timeval tv{2, 0}; // bounds connect() and every send
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (bind(fd, reinterpret_cast<sockaddr *>(&src), sizeof src) != 0 ||
      connect(fd, reinterpret_cast<sockaddr *>(&dst), sizeof dst) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

struct Reply {
  std::string bytes;
  bool closed = false; // the server closed (EOF or reset) within the time
};

// What the server sends until it closes the connection or timeout_ms pass.
Reply read_reply(int fd, int timeout_ms) {
  Reply r;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  for (;;) {
    const int left =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) <= 0)
      return r;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      r.closed = true;
      return r;
    }
    if (r.bytes.size() < (1u << 20))
      r.bytes.append(buf, static_cast<size_t>(n));
  }
}

// The status code of an HTTP/1.x response, 0 when `bytes` is none.
int status_of(const std::string &bytes) {
  if (bytes.compare(0, 7, "HTTP/1.") != 0 || bytes.size() < 12)
    return 0;
  return std::atoi(bytes.c_str() + 9);
}

// Whether the server has closed fd (EOF or reset waiting), without blocking.
bool server_closed(int fd) {
  char c;
  const ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// Closes with a reset (SO_LINGER 0) instead of a FIN.
void reset_close(int fd) {
  const linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

// ---- the exposition -----------------------------------------------------------

bool metric_name_ok(std::string_view s) {
  if (s.empty() || !(isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_' || s[0] == ':'))
    return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; });
}

// Why `text` is not a valid text exposition (format 0.0.4), or "" when it
// is: HELP and TYPE lines, each sample after its family's TYPE, label values
// quoted with only \\, \" and \n escapes, a number as the value, no series
// twice. promtool, where installed, checks the rest (UTF-8, its lints).
std::string exposition_problem(const std::string &text) {
  if (text.empty() || text.back() != '\n')
    return "empty, or not ended by a newline";
  static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
  std::set<std::string> typed, series;
  std::istringstream in(text);
  std::string line;
  for (size_t lineno = 1; std::getline(in, line); ++lineno) {
    auto bad = [&](const std::string &why) {
      return "line " + std::to_string(lineno) + ": " + why + ": " + line.substr(0, 200);
    };
    if (line.empty())
      continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream fields(line.substr(7));
      std::string name, type, extra;
      fields >> name >> type >> extra;
      if (!metric_name_ok(name) || !kTypes.count(type) || !extra.empty())
        return bad("bad TYPE line");
      if (!typed.insert(name).second)
        return bad("second TYPE for a family");
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) {
      if (!metric_name_ok(line.substr(7, line.find(' ', 7) - 7)))
        return bad("bad HELP line");
      continue;
    }
    if (line[0] == '#')
      continue;
    const size_t size = line.size();
    size_t i = 0;
    while (i < size && line[i] != '{' && line[i] != ' ')
      ++i;
    const std::string name = line.substr(0, i);
    if (!metric_name_ok(name))
      return bad("bad metric name");
    if (!typed.count(name))
      return bad("sample before its family's TYPE");
    std::string labels;
    if (i < size && line[i] == '{') {
      size_t j = i + 1;
      while (j < size && line[j] != '}') {
        size_t k = j;
        while (k < size && (isalnum(static_cast<unsigned char>(line[k])) || line[k] == '_'))
          ++k;
        if (k == j || isdigit(static_cast<unsigned char>(line[j])))
          return bad("bad label name");
        if (k + 1 >= size || line[k] != '=' || line[k + 1] != '"')
          return bad("label without =\"");
        for (k += 2; k < size && line[k] != '"'; ++k)
          if (line[k] == '\\') {
            if (k + 1 >= size || (line[k + 1] != '\\' && line[k + 1] != '"' && line[k + 1] != 'n'))
              return bad("bad escape in a label value");
            ++k;
          }
        if (k >= size)
          return bad("unterminated label value");
        ++k;
        if (k < size && line[k] == ',')
          ++k;
        else if (k >= size || line[k] != '}')
          return bad("junk after a label value");
        j = k;
      }
      if (j >= size)
        return bad("unterminated label set");
      labels = line.substr(i, j + 1 - i);
      i = j + 1;
    }
    if (i >= size || line[i] != ' ')
      return bad("no space before the value");
    const std::string value = line.substr(i + 1);
    if (value != "+Inf" && value != "-Inf" && value != "NaN") {
      char *end = nullptr;
      strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size())
        return bad("value is not a number");
    }
    if (!series.insert(name + labels).second)
      return bad("series written twice");
  }
  if (!typed.count("treetrace_build_info"))
    return "no treetrace_build_info family";
  return "";
}

// promtool's verdict (Prometheus's own parser and lints): "" when clean or
// when promtool is not installed.
std::string promtool_problem(const std::string &text) {
  if (system("command -v promtool >/dev/null 2>&1") != 0)
    return "";
  char path[] = "/tmp/tt-hostile-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0)
    return "";
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  FILE *p = popen((std::string("promtool check metrics < ") + path + " 2>&1").c_str(), "r");
  std::string out;
  char buf[512];
  while (p && fgets(buf, sizeof buf, p))
    out += buf;
  const int status = p ? pclose(p) : -1;
  unlink(path);
  return !written ? "could not write the scrape" : status == 0 ? "" : "promtool: " + out;
}

// The value of one series, written exactly as `series` (name and labels).
std::optional<double> sample(const std::string &text, const std::string &series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos)
    return std::nullopt;
  return std::stod(text.substr(at + series.size() + 2));
}

// The sum of a family's samples, only those with `label_filter` among
// their labels when it is given (e.g. group="/x").
double family_sum(const std::string &text, const std::string &family, const std::string &label_filter = "") {
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(family, 0) != 0 || line.size() <= family.size() ||
        (line[family.size()] != '{' && line[family.size()] != ' '))
      continue;
    const size_t value = line.rfind(' ');
    const std::string labels = line.substr(family.size(), value - family.size());
    if (!label_filter.empty() && labels.find(label_filter) == std::string::npos)
      continue;
    sum += std::stod(line.substr(value + 1));
  }
  return sum;
}

std::optional<HttpResponse> scrape(uint16_t port, int timeout_ms = 5000) {
  return http_request("127.0.0.1", port, "/metrics", "GET", timeout_ms);
}

// A scrape that must succeed with a valid exposition; "" or what is wrong.
std::string scrape_problem(const std::optional<HttpResponse> &r, bool run_promtool = false) {
  if (!r)
    return "no response";
  if (r->status != 200)
    return "HTTP " + std::to_string(r->status);
  auto type = r->headers.find("content-type");
  if (type == r->headers.end() || type->second != kExpositionType)
    return "Content-Type " + (type == r->headers.end() ? std::string("missing") : type->second);
  if (std::string why = exposition_problem(r->body); !why.empty())
    return why;
  return run_promtool ? promtool_problem(r->body) : "";
}

struct Lost {
  double lost = 0, attempts = 0, delivered = 0, ring_full = 0;
};

Lost lost_of(const std::string &text) {
  return {family_sum(text, "treetrace_records_lost_total"),
          sample(text, "treetrace_records_attempted_total").value_or(-1),
          sample(text, "treetrace_records_total").value_or(-1),
          sample(text, "treetrace_records_lost_total{cause=\"ring_buffer_full\"}").value_or(-1)};
}

// A spawned workload, killed and reaped when the test ends, however it ends.
struct Workload {
  Spawned p;
  ~Workload() { stop(); }
  void stop() {
    if (p.pid > 0) {
      kill(p.pid, SIGKILL);
      waitpid(p.pid, nullptr, 0);
      p.pid = -1;
    }
  }
};

// ---- malformed requests -----------------------------------------------------------

// What the client does once it has sent its bytes.
enum class After {
  read,            // a complete request: wait for the answer or the close
  half_close_read, // shut down its sending side, then read briefly
  close,           // close at once
  reset,           // close with a reset, before the answer
};

struct Malformed {
  const char *kind;
  std::string bytes;
  After after;
};

constexpr int kKinds = 12;

std::string random_bytes(std::mt19937 &rng, size_t n) {
  std::string s(n, '\0');
  for (char &c : s)
    c = static_cast<char>(rng() & 0xff);
  return s;
}

// The i-th malformed request: kind i % kKinds, its details drawn from rng.
Malformed malformed(int i, std::mt19937 &rng) {
  auto pick = [&](std::initializer_list<const char *> options) {
    return std::string(*(options.begin() + rng() % options.size()));
  };
  const std::string get = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  switch (i % kKinds) {
  case 0:
    return {"garbage bytes", random_bytes(rng, 1 + rng() % 4096), After::half_close_read};
  case 1:
    return {"bad request line",
            pick({"GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET /metrics HTTP/9.9\r\n\r\n", "GET /metrics FOO/1.1\r\n\r\n",
                  " / HTTP/1.1\r\n\r\n", "GET /metrics HTTP/1.1 extra\r\nHost: a\r\n\r\n",
                  "GET /metrics HTTP/1.\r\n\r\n", "GET metrics HTTP/1.1\r\nHost: a\r\n\r\n",
                  "GET /metrics HTTP/1.1\r\r\n\r\n", "\r\n\r\nGET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"}),
            After::read};
  case 2: { // over the 16 KiB per connection: one header line, the URL, or many headers
    const size_t n = 16 * 1024 + rng() % (48 * 1024);
    switch (rng() % 3) {
    case 0:
      return {"huge header line", "GET /metrics HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(n, 'a') + "\r\n\r\n",
              After::read};
    case 1:
      return {"huge header line", "GET /" + std::string(n, 'u') + " HTTP/1.1\r\nHost: a\r\n\r\n", After::read};
    default: {
      std::string many = "GET /metrics HTTP/1.1\r\nHost: a\r\n";
      while (many.size() < n)
        many += "X-" + std::to_string(many.size()) + ": v\r\n";
      return {"huge header line", many + "\r\n", After::read};
    }
    }
  }
  case 3:
    return {"invalid method",
            pick({"FOO", "get", "G\x01T", "TRACE", "CONNECT", "PATCH", "PRI", "M-SEARCH", "GETT", "\x7f\x7f"}) +
                (rng() % 4 == 0 ? std::string(1 + rng() % 2000, 'M') : "") + " /metrics HTTP/1.1\r\nHost: a\r\n\r\n",
            After::read};
  case 4: { // a prefix of a valid request, abandoned one way or another
    const std::string cut = get.substr(0, 1 + rng() % (get.size() - 2));
    const After how[] = {After::close, After::reset, After::half_close_read};
    return {"truncated request", cut, how[rng() % 3]};
  }
  case 5: {
    const size_t n = rng() % (64 * 1024);
    const std::string method = pick({"POST", "PUT", "GET", "PATCH"});
    if (rng() % 3 == 0)
      return {"request with a body",
              method + " /metrics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  pick({"5\r\nhello\r\n0\r\n\r\n", "zz\r\nxx\r\n", "ffffffffffffffffffff\r\n"}),
              After::read};
    return {"request with a body",
            method + " /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n" +
                random_bytes(rng, n),
            After::read};
  }
  case 6:
    return {"HTTP/0.9", pick({"GET /metrics\r\n", "GET /\r\n", "GET /metrics\r\n\r\n", "GET /healthz\n"}), After::read};
  case 7: { // NUL bytes in each part of an otherwise complete request
    const std::string nul(1 + rng() % 8, '\0');
    const std::string parts[] = {"GET /met" + nul + "rics HTTP/1.1\r\nHost: a\r\n\r\n",
                                 "G" + nul + "ET /metrics HTTP/1.1\r\nHost: a\r\n\r\n",
                                 "GET /metrics HTTP/1.1" + nul + "\r\nHost: a\r\n\r\n",
                                 "GET /metrics HTTP/1.1\r\nHost: a" + nul + "b\r\n\r\n",
                                 "GET /metrics HTTP/1.1\r\nX-" + nul + ": v\r\n\r\n",
                                 "GET /metrics HTTP/1.1\r\nHost: a\r\n" + nul + "\r\n\r\n"};
    return {"NUL bytes", parts[rng() % std::size(parts)], After::read};
  }
  case 8:
    return {"absurd Content-Length",
            pick({"POST", "GET", "PUT"}) + std::string(" /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: ") +
                pick({"99999999999999999999999999", "-1", "18446744073709551616", "18446744073709551615", "1e9",
                      "12abc", "0x10", "5\r\nContent-Length: 7", "5, 6", "5\r\nTransfer-Encoding: chunked"}) +
                "\r\n\r\n",
            After::read};
  case 9: // a valid request followed by junk on the same connection
    return {"pipelined junk", "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n" + random_bytes(rng, 1 + rng() % 512),
            After::read};
  case 10: // the server writes its answer to a connection already reset
    return {"reset before the answer", get, After::reset};
  default: {
    const std::string odd =
        pick({"X: a\r\n  folded\r\n", "NoColonHere\r\n", "Bad Name: v\r\n", ": empty name\r\n",
              "Host: a\r\nHost: b\r\n", "X: \xff\xfe\r\n", "Connection: upgrade\r\nUpgrade: h2c\r\n"});
    return {"odd headers", "GET /metrics HTTP/1.1\r\nHost: a\r\n" + odd + "\r\n", After::read};
  }
  }
}

struct FloodTally {
  std::mutex mu;
  std::map<std::string, std::map<int, uint64_t>> answers; // kind -> status (0: closed without one) -> count
  std::map<std::string, uint64_t> unanswered;             // kind -> complete requests neither answered nor closed
  uint64_t sent = 0, connect_failed = 0;

  std::string to_string() {
    std::lock_guard lock(mu);
    std::ostringstream s;
    for (const auto &[kind, codes] : answers) {
      s << kind << ":";
      for (const auto &[code, n] : codes)
        s << " " << (code ? std::to_string(code) : std::string("closed")) << "x" << n;
      if (unanswered.count(kind))
        s << " unanswered x" << unanswered[kind];
      s << "; ";
    }
    return s.str();
  }
};

// Sends requests first..first+count of the malformed sequence from
// `threads` clients (each its own loopback address 127.0.2.N, one
// connection at a time), until `deadline`; spread evenly over `spread`
// (zero: as fast as they go).
void flood(uint16_t port, int first, int count, int threads, Clock::time_point deadline, FloodTally &tally,
           std::chrono::milliseconds spread = 0ms) {
  const auto began = Clock::now();
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; t++)
    clients.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(first + t));
      const std::string source = "127.0.2." + std::to_string(t + 1);
      for (int i = first + t; i < first + count && Clock::now() < deadline; i += threads) {
        std::this_thread::sleep_until(began + spread * (i - first) / count);
        const Malformed m = malformed(i, rng);
        const int fd = connect_from(source, port);
        if (fd < 0) {
          std::lock_guard lock(tally.mu);
          tally.connect_failed++;
          continue;
        }
        send_all(fd, m.bytes); // the server may close before all is sent: that is an answer too
        Reply reply;
        switch (m.after) {
        case After::read:
          reply = read_reply(fd, 2000);
          close(fd);
          break;
        case After::half_close_read:
          shutdown(fd, SHUT_WR);
          reply = read_reply(fd, 300);
          reply.closed = true; // not waited for: nothing to count as unanswered
          close(fd);
          break;
        case After::close:
          close(fd);
          reply.closed = true;
          break;
        case After::reset:
          reset_close(fd);
          reply.closed = true;
          break;
        }
        std::lock_guard lock(tally.mu);
        tally.sent++;
        const int code = status_of(reply.bytes);
        if (code || reply.closed)
          tally.answers[m.kind][code]++;
        else
          tally.unanswered[m.kind]++;
      }
    });
  for (auto &c : clients)
    c.join();
}

// Scrapes every `period` from 127.0.0.1 on a thread until stopped; keeps
// the latencies and what went wrong.
class Scraper {
public:
  Scraper(uint16_t port, std::chrono::milliseconds period) : port_(port) {
    thread_ = std::thread([this, period] {
      while (!stop_) {
        const auto next = Clock::now() + period;
        auto r = scrape(port_);
        const std::string why = scrape_problem(r);
        {
          std::lock_guard lock(mu_);
          ++count_;
          if (r)
            max_s_ = std::max(max_s_, r->seconds);
          if (!why.empty())
            problems_.push_back(why);
        }
        while (!stop_ && Clock::now() < next)
          std::this_thread::sleep_for(10ms);
      }
    });
  }
  ~Scraper() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
  }
  int count() const { return count_; }
  double max_seconds() const { return max_s_; }
  const std::vector<std::string> &problems() const { return problems_; }

private:
  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  int count_ = 0;
  double max_s_ = 0;
  std::vector<std::string> problems_;
};

} // namespace

// a. 10 000 malformed requests of twelve kinds from 8 clients over 10 s,
// after an unpaced warm-up of 1 200, while a process workload is traced:
// treetrace keeps running and answering /metrics (scraped every 250 ms)
// with a valid exposition, its VmRSS grows by < 2 MiB from after the
// warm-up to the end, every complete request is answered or closed (none
// left hanging), and no record is lost.
TEST(HttpHostile, MalformedRequestsNeitherCrashNorGrowMemoryNorLoseRecords) {
  TT_REQUIRE_BPF();
  ScratchCgroup cg;
  ASSERT_TRUE(cg.ok()) << cg.error();
  ListeningTracer tt({"--events", "none", "--group-by", "cgroup", "--cgroup", cg.rel_path()});
  ASSERT_TRUE(tt.ready()) << tt.err();
  const uint16_t port = tt.port();
  // 50 spawns a second of /bin/true, traced (the cgroup's), for the whole test.
  Workload work{spawn(exec_in_cgroup(cg.procs_file(), {workload_bin(), "exec-loop", "50", "100"}))};

  // Warm-up: every kind a hundred times and a few scrapes, so that the
  // server's and the allocator's pools have reached their working size.
  FloodTally warm;
  flood(port, 0, 100 * kKinds, 8, Clock::now() + 30s, warm);
  for (int i = 0; i < 10; i++)
    ASSERT_EQ(scrape_problem(scrape(port)), "");
  const uint64_t rss_before_kb = vm_rss_kb(tt.pid());

  constexpr int kRequests = 10000;
  FloodTally tally;
  Scraper scraper(port, 250ms);
  const auto began = Clock::now();
  // Spread over 10 s, so that scrapes and the workload's records interleave
  // with them; unpaced, the 10 000 take about a second here.
  flood(port, 100 * kKinds, kRequests, 8, began + 60s, tally, 10s);
  const double flood_s = seconds_since(began);
  scraper.stop();
  // The workload ends first: attempts = delivered + dropped holds once the
  // records in flight are read. The server finishes its last connections.
  work.stop();
  std::this_thread::sleep_for(500ms);
  const uint64_t rss_after_kb = vm_rss_kb(tt.pid());
  const auto last = scrape(port);

  const long growth_kb = static_cast<long>(rss_after_kb) - static_cast<long>(rss_before_kb);
  measured(std::to_string(tally.sent) + " malformed requests in " + std::to_string(flood_s) + " s; VmRSS " +
           std::to_string(rss_before_kb) + " KiB after warm-up -> " + std::to_string(rss_after_kb) + " KiB (" +
           std::to_string(growth_kb) + " KiB); " + std::to_string(scraper.count()) + " scrapes meanwhile, slowest " +
           std::to_string(scraper.max_seconds() * 1000) + " ms");
  measured("answers by kind: " + tally.to_string());

  EXPECT_TRUE(tt.running()) << "treetrace died under malformed requests; stderr tail: "
                            << tt.err().substr(tt.err().size() > 4000 ? tt.err().size() - 4000 : 0);
  EXPECT_EQ(tally.sent, static_cast<uint64_t>(kRequests)) << "not all requests were sent within 60 s";
  EXPECT_EQ(tally.connect_failed, 0u);
  EXPECT_TRUE(tally.unanswered.empty()) << "complete requests left without an answer or a close for 2 s: "
                                        << tally.to_string();
  EXPECT_TRUE(scraper.problems().empty()) << scraper.problems().size() << " of " << scraper.count()
                                          << " scrapes during the flood failed, first: " << scraper.problems()[0];
  EXPECT_GT(scraper.count(), 0);
  ASSERT_EQ(scrape_problem(last, true), "") << "the scrape after the flood";
  EXPECT_LT(growth_kb, 2048) << "VmRSS grew by " << growth_kb << " KiB over " << tally.sent << " malformed requests";
  const Lost l = lost_of(last->body);
  EXPECT_EQ(l.lost, 0) << "records lost while the workload ran";
  EXPECT_EQ(l.attempts, l.delivered + l.ring_full);
  const double started =
      family_sum(last->body, "treetrace_group_processes_started_total", "group=\"" + cg.rel_path() + "\"");
  EXPECT_GT(started, 100) << "the traced workload's processes, counted at the scrape";
  EXPECT_EQ(tt.stop(), 0) << tt.err().substr(0, 4000);
}

// b. Slowloris: 100 clients from 100 loopback addresses each send a
// never-ending request header one byte a second for 12 s. Meanwhile a
// scrape from 127.0.0.1 every second always succeeds in < 1 s, and the
// ring-buffer reader keeps up: each short-lived traced process's exit
// record is on stdout within 1 s of the test reaping it, and the group's
// processes_started counter counts them all.
TEST(HttpHostile, SlowlorisFromHundredAddressesDelaysNeitherScrapesNorRecords) {
  TT_REQUIRE_BPF();
  ScratchCgroup cg;
  ASSERT_TRUE(cg.ok()) << cg.error();
  ListeningTracer tt({"--format", "json", "--events", "exit", "--group-by", "cgroup", "--cgroup", cg.rel_path()});
  ASSERT_TRUE(tt.ready()) << tt.err();
  const uint16_t port = tt.port();
  constexpr int kClients = 100;
  constexpr auto kAttack = 12s;
  constexpr double kMaxScrapeS = 1.0;
  constexpr double kMaxExitLagS = 1.0;

  std::vector<int> fds;
  for (int i = 1; i <= kClients; i++)
    fds.push_back(connect_from("127.0.1." + std::to_string(i), port));
  const size_t connected = static_cast<size_t>(std::count_if(fds.begin(), fds.end(), [](int fd) { return fd >= 0; }));
  ASSERT_EQ(connected, static_cast<size_t>(kClients)) << "the attack needs every client connected";

  const std::string header = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slowloris: ";
  std::atomic<bool> attacking{true};
  std::atomic<uint64_t> bytes_sent{0}, send_failures{0};
  std::thread attacker([&] {
    for (size_t at = 0; attacking; at++) {
      const char c = at < header.size() ? header[at] : 'a'; // the header never ends
      for (int fd : fds) {
        if (send(fd, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
          bytes_sent++;
        else
          send_failures++;
      }
      for (int i = 0; i < 100 && attacking; i++)
        std::this_thread::sleep_for(10ms);
    }
  });

  // Short-lived processes through the attack, reaped as they exit.
  struct Exited {
    pid_t pid;
    Clock::time_point reaped;
  };
  std::vector<Exited> exited;
  Scraper scraper(port, 1000ms);
  const auto began = Clock::now();
  while (Clock::now() - began < kAttack) {
    Spawned p = spawn(exec_in_cgroup(cg.procs_file(), {workload_bin(), "sleep", "50"}));
    waitpid(p.pid, nullptr, 0);
    exited.push_back({p.pid, Clock::now()});
    std::this_thread::sleep_for(250ms);
  }
  scraper.stop();
  // Still attacking: which of the slow connections does the server still hold?
  const size_t held =
      static_cast<size_t>(std::count_if(fds.begin(), fds.end(), [](int fd) { return !server_closed(fd); }));
  std::this_thread::sleep_for(1000ms); // the last exit records
  const auto after = scrape(port);
  attacking = false;
  attacker.join();
  for (int fd : fds)
    close(fd);

  std::map<pid_t, Clock::time_point> exit_lines;
  for (const auto &line : tt.lines()) {
    const auto j = json::parse(line.text, nullptr, false);
    if (!j.is_discarded() && j.value("event", "") == "exit")
      exit_lines.emplace(j.value("pid", 0), line.at);
  }
  double max_lag = -1e9;
  size_t missing = 0;
  for (const auto &e : exited) {
    auto it = exit_lines.find(e.pid);
    if (it == exit_lines.end())
      missing++;
    else
      max_lag = std::max(max_lag, std::chrono::duration<double>(it->second - e.reaped).count());
  }
  measured(std::to_string(kClients) + " slow clients, " + std::to_string(bytes_sent.load()) + " bytes sent (" +
           std::to_string(send_failures.load()) + " sends failed), " + std::to_string(held) +
           " connections still held by the server after " + std::to_string(seconds_since(began)) + " s; " +
           std::to_string(scraper.count()) + " scrapes, slowest " + std::to_string(scraper.max_seconds() * 1000) +
           " ms; " + std::to_string(exited.size()) + " processes, exit record at most " +
           std::to_string(max_lag * 1000) + " ms after the reap, " + std::to_string(missing) + " missing");

  EXPECT_TRUE(tt.running());
  EXPECT_TRUE(scraper.problems().empty())
      << scraper.problems().size() << " of " << scraper.count() << " scrapes failed, first: " << scraper.problems()[0];
  EXPECT_GE(scraper.count(), 10);
  EXPECT_LT(scraper.max_seconds(), kMaxScrapeS) << "slowest scrape during the attack";
  EXPECT_EQ(held, static_cast<size_t>(kClients))
      << "every slow client should still hold its slot (it is never idle): the attack was real";
  EXPECT_EQ(missing, 0u) << "exit records missing on stdout";
  EXPECT_LT(max_lag, kMaxExitLagS) << "the latest exit record after its process was reaped";
  ASSERT_EQ(scrape_problem(after), "");
  const double started =
      family_sum(after->body, "treetrace_group_processes_started_total", "group=\"" + cg.rel_path() + "\"");
  EXPECT_GE(started, static_cast<double>(exited.size()));
  EXPECT_EQ(lost_of(after->body).lost, 0);
  EXPECT_EQ(tt.stop(), 0);
}

// c. 40 slow connections from one address (127.0.0.2): at most 16 (the
// per-address limit) are served, the others are closed by the server; a
// scrape from 127.0.0.1 meanwhile succeeds; once they close, the address
// is served again.
TEST(HttpHostile, OneAddressGetsAtMostSixteenConnections) {
  TT_REQUIRE_BPF();
  ListeningTracer tt({"--events", "none", "--comm", "tt_no_such_comm"});
  ASSERT_TRUE(tt.ready()) << tt.err();
  const uint16_t port = tt.port();
  constexpr int kConnections = 40;
  constexpr int kPerAddress = 16;                                             // HttpLimits::per_address_connections
  const std::string partial = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"; // its end is sent later
  std::vector<int> fds;
  for (int i = 0; i < kConnections; i++) {
    const int fd = connect_from("127.0.0.2", port);
    ASSERT_GE(fd, 0) << "connection " << i << " (the kernel accepts it; the server decides)";
    send_all(fd, partial);
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(1000ms);
  const int held = static_cast<int>(std::count_if(fds.begin(), fds.end(), [](int fd) { return !server_closed(fd); }));
  const auto r = scrape(port);
  // Finish every request: the held connections are answered.
  int served = 0, refused = 0;
  for (int fd : fds)
    send_all(fd, "\r\n");
  for (int fd : fds) {
    const Reply reply = read_reply(fd, 2000);
    (status_of(reply.bytes) == 200 ? served : refused)++;
    close(fd);
  }
  measured(std::to_string(kConnections) + " connections from 127.0.0.2: " + std::to_string(held) + " held after 1 s, " +
           std::to_string(served) + " served, " + std::to_string(refused) + " refused");
  EXPECT_LE(served, kPerAddress);
  EXPECT_EQ(served, kPerAddress) << "the limit is the configured one, not fewer";
  EXPECT_EQ(held, served);
  EXPECT_EQ(refused, kConnections - served);
  EXPECT_EQ(scrape_problem(r), "") << "a scrape from another address while 127.0.0.2 is at its limit";

  // The slots are freed: 127.0.0.2 is served again.
  std::this_thread::sleep_for(200ms);
  const int fd = connect_from("127.0.0.2", port);
  ASSERT_GE(fd, 0);
  send_all(fd, partial + "Connection: close\r\n\r\n");
  const Reply again = read_reply(fd, 2000);
  close(fd);
  EXPECT_EQ(status_of(again.bytes), 200) << "127.0.0.2 once its connections are closed: " << again.bytes.substr(0, 200);
  EXPECT_TRUE(tt.running());
  EXPECT_EQ(tt.stop(), 0);
}

// c'. A client that sends part of a request and closes (its last bytes and
// its FIN arrive together) frees its slot at once: 40 such requests from
// one address, then that address is served. (libmicrohttpd's epoll loop
// missed those closes and kept each connection until the 10 s idle
// timeout, so 16 abandoned requests locked the address out.)
TEST(HttpHostile, AbandonedRequestsFreeTheirSlotAtOnce) {
  TT_REQUIRE_BPF();
  ListeningTracer tt({"--events", "none", "--comm", "tt_no_such_comm"});
  ASSERT_TRUE(tt.ready()) << tt.err();
  const uint16_t port = tt.port();
  for (int i = 0; i < 40; i++) {
    const int fd = connect_from("127.0.0.4", port);
    ASSERT_GE(fd, 0);
    send_all(fd, "GET /metr");
    close(fd);
  }
  std::this_thread::sleep_for(300ms);
  const int fd = connect_from("127.0.0.4", port);
  ASSERT_GE(fd, 0);
  send_all(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const Reply reply = read_reply(fd, 2000);
  close(fd);
  measured("after 40 abandoned requests from 127.0.0.4: " +
           (reply.bytes.empty() ? std::string("refused") : reply.bytes.substr(0, reply.bytes.find('\r'))));
  EXPECT_EQ(status_of(reply.bytes), 200) << "127.0.0.4 is locked out by connections its client has closed";
  EXPECT_TRUE(tt.running());
  EXPECT_EQ(tt.stop(), 0);
}

// d. Methods and paths: GET and HEAD only, everything else 405 with
// "Allow: GET, HEAD"; HEAD /metrics has GET's status and Content-Type and
// no body; unknown paths 404; / and /healthz answer; /metrics has exactly
// the Content-Type of format 0.0.4.
TEST(HttpHostile, MethodsAndPathsGetTheirStatusAndHeaders) {
  TT_REQUIRE_BPF();
  ListeningTracer tt({"--events", "none", "--comm", "tt_no_such_comm"});
  ASSERT_TRUE(tt.ready()) << tt.err();
  const uint16_t port = tt.port();
  auto req = [&](const std::string &method, const std::string &path) {
    auto r = http_request("127.0.0.1", port, path, method);
    EXPECT_TRUE(r) << method << " " << path << ": no response";
    return r.value_or(HttpResponse{});
  };
  for (const std::string method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
    for (const std::string path : {"/metrics", "/", "/nope"}) {
      const HttpResponse r = req(method, path);
      EXPECT_EQ(r.status, 405) << method << " " << path;
      EXPECT_EQ(r.headers.count("allow") ? r.headers.at("allow") : "(none)", "GET, HEAD") << method << " " << path;
    }
  HttpResponse get = req("GET", "/metrics");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.headers["content-type"], kExpositionType);
  EXPECT_EQ(exposition_problem(get.body), "");
  EXPECT_EQ(promtool_problem(get.body), "");
  HttpResponse head = req("HEAD", "/metrics");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-type"], kExpositionType);
  EXPECT_EQ(head.body, "") << "HEAD has no body";
  for (const std::string method : {"GET", "HEAD"}) {
    EXPECT_EQ(req(method, "/nope").status, 404) << method;
    EXPECT_EQ(req(method, "/metrics/extra").status, 404) << method;
    EXPECT_EQ(req(method, "/").status, 200) << method;
  }
  const HttpResponse health = req("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  const HttpResponse index = req("GET", "/");
  EXPECT_NE(index.body.find("/metrics"), std::string::npos) << "the index names /metrics: " << index.body;
  measured("GET /metrics " + std::to_string(get.body.size()) + " bytes, Content-Type " + get.headers["content-type"] +
           "; HEAD Content-Length " + head.headers["content-length"]);
  EXPECT_TRUE(tt.running());
  EXPECT_EQ(tt.stop(), 0);
}

// e. A scrape storm: 8 clients scraping back to back for 5 s. Every scrape
// is answered 200, collections are shared (a collection less than 100 ms
// old is served again, so at most one per 100 ms: far fewer than the
// scrapes), and no record is lost while a traced workload runs.
TEST(HttpHostile, ScrapeStormSharesCollections) {
  TT_REQUIRE_BPF();
  ScratchCgroup cg;
  ASSERT_TRUE(cg.ok()) << cg.error();
  ListeningTracer tt({"--events", "none", "--group-by", "cgroup", "--cgroup", cg.rel_path()});
  ASSERT_TRUE(tt.ready()) << tt.err();
  const uint16_t port = tt.port();
  Workload work{spawn(exec_in_cgroup(cg.procs_file(), {workload_bin(), "exec-loop", "50", "30"}))};
  std::this_thread::sleep_for(500ms);
  const auto before = scrape(port);
  ASSERT_EQ(scrape_problem(before), "");
  const double collections0 = sample(before->body, "treetrace_collections_total").value_or(-1);
  const double ok0 = sample(before->body, "treetrace_http_requests_total{code=\"200\"}").value_or(0);

  constexpr int kClients = 8;
  constexpr double kStormS = 5.0;
  std::atomic<int> scrapes{0}, failures{0};
  std::mutex mu;
  double slowest = 0;
  std::string first_failure;
  std::vector<std::thread> clients;
  const auto began = Clock::now();
  for (int c = 0; c < kClients; c++)
    clients.emplace_back([&] {
      while (seconds_since(began) < kStormS) {
        auto r = scrape(port);
        scrapes++;
        std::lock_guard lock(mu);
        if (r)
          slowest = std::max(slowest, r->seconds);
        if (!r || r->status != 200 || r->headers["content-type"] != kExpositionType) {
          failures++;
          if (first_failure.empty())
            first_failure = r ? "HTTP " + std::to_string(r->status) : "no response";
        }
      }
    });
  for (auto &c : clients)
    c.join();
  const double storm_s = seconds_since(began);
  // Past the reuse window, so the next scrape makes its own collection, and
  // with the workload ended and its records in flight read (attempts =
  // delivered + dropped holds then).
  work.stop();
  std::this_thread::sleep_for(500ms);
  const auto after = scrape(port);
  ASSERT_EQ(scrape_problem(after, true), "");
  // The last scrape may have made a collection of its own.
  const double collections = sample(after->body, "treetrace_collections_total").value_or(-1) - collections0 - 1;
  const double ok = sample(after->body, "treetrace_http_requests_total{code=\"200\"}").value_or(0) - ok0;
  measured(std::to_string(scrapes.load()) + " scrapes by " + std::to_string(kClients) + " clients in " +
           std::to_string(storm_s) + " s (slowest " + std::to_string(slowest * 1000) + " ms), " +
           std::to_string(collections) + " collections");
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_GT(scrapes.load(), 100);
  EXPECT_LT(collections * 10, scrapes.load()) << "collections are shared, far fewer than scrapes";
  EXPECT_LE(collections, storm_s / 0.1 + 2) << "at most one collection per 100 ms reuse window";
  EXPECT_GE(ok, scrapes.load()) << "treetrace_http_requests_total{code=\"200\"} counts every scrape";
  const Lost l = lost_of(after->body);
  EXPECT_EQ(l.lost, 0);
  EXPECT_EQ(l.attempts, l.delivered + l.ring_full);
  EXPECT_TRUE(tt.running());
  EXPECT_EQ(tt.stop(), 0);
}
