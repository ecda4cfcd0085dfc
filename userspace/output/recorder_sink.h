// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// `treetrace record`: the sink that writes a recording (core/recording.h).
// Items are buffered and written as one zstd frame per second at most, in
// one write each; a frame that cannot be written whole is cut off again
// (ftruncate), so a full disk never damages what was written before.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "core/recording.h"
#include "output/sink.h"
#include "util/result.h"
#include "util/unique_fd.h"

typedef struct ZSTD_CCtx_s ZSTD_CCtx;

namespace treetrace {

struct RecorderOptions {
  std::string path; // "-": stdout
  std::optional<uint64_t> max_size_bytes;
  RecordingMeta meta;
  // A cgroup id's path below the cgroup2 mount, when known.
  std::function<std::optional<std::string>(uint64_t)> cgroup_path;
  // Frames end at least this often (the most a SIGKILL can lose).
  uint64_t flush_interval_ns = 1'000'000'000ull;
  int zstd_level = 3;
};

class RecorderSink : public Sink {
public:
  // Opens (creates or truncates) the file and writes its header.
  static Result<std::unique_ptr<RecorderSink>> create(RecorderOptions options);
  ~RecorderSink() override;

  void on_input(const Event &event) override;
  void on_startup_scan_done() override;
  void on_reconcile(const std::vector<Aggregator::LiveProcess> &live, uint64_t now_ns) override;
  void on_snapshot(const std::vector<TreeReport> &rows, uint64_t now_ns) override;
  void on_loss(const LossReport &loss, uint64_t now_ns) override;
  void on_final(const std::vector<TreeReport> &rows, const RunSummary &summary, uint64_t now_ns) override;
  void end_round() override;
  bool stop_requested() const override { return failed_ || full_; }

  bool failed() const { return failed_; }
  uint64_t bytes_written() const { return written_; }
  uint64_t events() const { return events_; }

private:
  RecorderSink(RecorderOptions options, UniqueFd fd, bool owns_file);
  void add(const RecordingItem &item);
  RecordedTick tick(const std::vector<TreeReport> &rows, uint64_t now_ns, bool final) const;
  // Compresses what is pending into one frame and writes it; false when
  // the frame was not written (bound reached, or the write failed).
  bool flush_frame();

  RecorderOptions options_;
  UniqueFd fd_;
  bool owns_file_; // a regular file we may ftruncate; not stdout
  ZSTD_CCtx *cctx_ = nullptr;
  RecordingEncoder encoder_;
  std::string pending_;
  std::string frame_;
  std::unordered_set<uint64_t> cgroups_written_;
  uint64_t written_ = 0;
  uint64_t events_ = 0;
  uint64_t items_dropped_ = 0;
  uint64_t pending_events_ = 0; // events in pending_
  uint64_t events_written_ = 0; // events in frames on disk
  uint64_t events_dropped_ = 0; // events in frames the bound or the disk refused
  uint64_t last_flush_ns_ = 0;
  bool failed_ = false;
  bool full_ = false;
  bool finished_ = false;
};

} // namespace treetrace
