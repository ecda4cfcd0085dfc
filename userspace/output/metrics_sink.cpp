// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/metrics_sink.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace treetrace {
namespace {

uint64_t boottime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

} // namespace

MetricsSink::MetricsSink(MetricsSinkOptions options, MetricsCollector::IdentityLookup identity)
    : options_(std::move(options)), collector_(options_.metrics, std::move(identity)),
      wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Result<std::unique_ptr<MetricsSink>> MetricsSink::create(MetricsSinkOptions options,
                                                         MetricsCollector::IdentityLookup identity) {
  std::unique_ptr<MetricsSink> sink(new MetricsSink(std::move(options), std::move(identity)));
  if (sink->wake_.get() < 0)
    return Error(std::string("cannot create an eventfd: ") + strerror(errno));
  sink->heartbeat_ns_ = boottime_ns();
  if (sink->options_.listen) {
#ifndef TREETRACE_WITH_HTTP
    return Error("--listen: this treetrace was built without its HTTP server (TREETRACE_HTTP=OFF); "
                 "--textfile works");
#else
    MetricsSink *self = sink.get();
    auto started = HttpServer::start(
        *sink->options_.listen, [self] { return self->fresh_exposition(); }, [self] { return self->healthy(); },
        sink->options_.http);
    if (!started)
      return Error(started.error());
    sink->http_ = std::move(*started);
#endif
  }
  return sink;
}

MetricsSink::~MetricsSink() {
  http_.reset(); // joins the HTTP thread before the state it reads goes
}

#ifdef TREETRACE_WITH_HTTP
uint16_t MetricsSink::port() const { return http_ ? http_->port() : 0; }
#else
// Without the server, HttpServer is only declared: nothing here may use it.
uint16_t MetricsSink::port() const { return 0; }
HttpServer::~HttpServer() = default;
std::map<unsigned, uint64_t> HttpServer::responses() const { return {}; }
#endif

std::shared_ptr<const std::string> MetricsSink::fresh_exposition() {
  std::unique_lock lock(mu_);
  const uint64_t now = boottime_ns();
  if (published_ && now - published_at_ns_ < kReuseWindowNs)
    return published_;
  const uint64_t ticket = ++requested_;
  lock.unlock();
  const uint64_t one = 1;
  if (write(wake_.get(), &one, sizeof one) < 0 && errno != EAGAIN)
    spdlog::debug("metrics: cannot wake the session: {}", strerror(errno));
  lock.lock();
  published_cv_.wait_for(lock, std::chrono::milliseconds(kScrapeWaitMs), [&] { return served_ >= ticket; });
  return published_; // after a stall: the last one, or nullptr (503)
}

bool MetricsSink::healthy() const {
  std::lock_guard lock(mu_);
  return boottime_ns() - heartbeat_ns_ < kStallNs;
}

bool MetricsSink::wants_rows(uint64_t now_ns) {
  uint64_t counter = 0;
  (void)!read(wake_.get(), &counter, sizeof counter); // clears the wakeup
  std::lock_guard lock(mu_);
  heartbeat_ns_ = now_ns;
  const bool textfile_due = !options_.textfile.empty() && now_ns >= next_textfile_ns_;
  return requested_ > served_ || textfile_due;
}

void MetricsSink::on_rows(const std::vector<TreeReport> &rows, const SessionStats &stats, uint64_t now_ns) {
  uint64_t answering;
  {
    std::lock_guard lock(mu_);
    answering = requested_; // every scrape that arrived before these rows were built
  }
  SelfStats self;
  self.session = stats;
  self.collections = ++collections_;
  if (http_)
    self.http_responses = http_->responses();
  auto text = std::make_shared<const std::string>(collector_.collect(rows, self, now_ns));
  if (!options_.textfile.empty() && now_ns >= next_textfile_ns_) {
    write_textfile(*text);
    next_textfile_ns_ = now_ns + options_.textfile_interval_ns;
  }
  {
    std::lock_guard lock(mu_);
    published_ = std::move(text);
    published_at_ns_ = boottime_ns();
    served_ = std::max(served_, answering);
  }
  published_cv_.notify_all();
}

void MetricsSink::on_final(const std::vector<TreeReport> &, const RunSummary &, uint64_t) {
  // The textfile's last version holds the final figures: due now, so the
  // session's closing collection writes it.
  next_textfile_ns_ = 0;
}

// node_exporter's textfile collector reads whole files: write a temporary
// beside the target and rename it over, so a reader sees old or new.
void MetricsSink::write_textfile(const std::string &text) {
  const std::string tmp = options_.textfile + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  for (size_t off = 0; ok && off < text.size();) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR)
      continue;
    ok = n > 0;
    off += ok ? static_cast<size_t>(n) : 0;
  }
  const int error = ok ? 0 : errno;
  if (fd >= 0 && close(fd) != 0 && ok)
    ok = false;
  if (ok && rename(tmp.c_str(), options_.textfile.c_str()) != 0)
    ok = false;
  if (!ok) {
    unlink(tmp.c_str());
    if (!textfile_warned_)
      spdlog::warn("--textfile {}: {}; will retry every interval", options_.textfile, strerror(error ? error : errno));
    textfile_warned_ = true;
    return;
  }
  textfile_warned_ = false;
}

} // namespace treetrace
