// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The Prometheus exposition as a sink: it asks the session for every row
// when a scrape arrives or the textfile is due, builds the exposition on
// the session's thread, and publishes it. The HTTP thread only ever reads
// the published text: a scrape never holds the reader's state.
//
// Freshness: a scrape is answered from a collection made after it arrived,
// or less than kReuseWindow before; concurrent scrapes share a collection.
// If the session cannot collect within kScrapeWait (a stall), the last
// published exposition is served.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "output/http_server.h"
#include "output/metrics.h"
#include "output/sink.h"
#include "util/unique_fd.h"

namespace treetrace {

struct MetricsSinkOptions {
  MetricsConfig metrics;
  std::optional<ListenAddress> listen;
  std::string textfile; // empty: none
  uint64_t textfile_interval_ns = 15'000'000'000ull;
  HttpLimits http;
};

class MetricsSink : public Sink {
public:
  static constexpr uint64_t kReuseWindowNs = 100'000'000;
  static constexpr int kScrapeWaitMs = 2000;
  // /healthz fails when the session has not asked for rows in this long.
  static constexpr uint64_t kStallNs = 10'000'000'000ull;

  // Binds the listen address (if any) now, so a busy port fails at startup.
  static Result<std::unique_ptr<MetricsSink>> create(MetricsSinkOptions options,
                                                     MetricsCollector::IdentityLookup identity);
  ~MetricsSink() override;

  bool wants_rows(uint64_t now_ns) override;
  void on_rows(const std::vector<TreeReport> &rows, const SessionStats &stats, uint64_t now_ns) override;
  void on_final(const std::vector<TreeReport> &, const RunSummary &, uint64_t now_ns) override;
  int wake_fd() const override { return wake_.get(); }

  uint16_t port() const;

private:
  explicit MetricsSink(MetricsSinkOptions options, MetricsCollector::IdentityLookup identity);
  // Called on the HTTP thread.
  std::shared_ptr<const std::string> fresh_exposition();
  bool healthy() const;
  void write_textfile(const std::string &text);

  MetricsSinkOptions options_;
  MetricsCollector collector_;
  std::unique_ptr<HttpServer> http_;
  UniqueFd wake_;
  uint64_t next_textfile_ns_ = 0;
  uint64_t collections_ = 0;
  bool textfile_warned_ = false;

  mutable std::mutex mu_;
  std::condition_variable published_cv_;
  std::shared_ptr<const std::string> published_;
  uint64_t published_at_ns_ = 0; // CLOCK_BOOTTIME
  uint64_t requested_ = 0;       // scrapes waiting, by sequence
  uint64_t served_ = 0;          // the sequence the last collection answered
  uint64_t heartbeat_ns_ = 0;    // last wants_rows() call
};

} // namespace treetrace
