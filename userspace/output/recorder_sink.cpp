// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/recorder_sink.h"

#include <spdlog/spdlog.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace treetrace {
namespace {

// Past this much pending, a frame ends early: bounded memory in a storm.
constexpr size_t kMaxPendingBytes = 1u << 20;

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Writes all of `data`, or fails with errno set.
bool write_all(int fd, const char *data, size_t size) {
  while (size) {
    const ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = ENOSPC;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

} // namespace

Result<std::unique_ptr<RecorderSink>> RecorderSink::create(RecorderOptions options) {
  UniqueFd fd;
  bool owns = false;
  if (options.path == "-") {
    fd = UniqueFd(dup(STDOUT_FILENO));
  } else {
    fd = UniqueFd(open(options.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    struct stat st {};
    owns = fd.get() >= 0 && fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode);
  }
  if (fd.get() < 0)
    return Error("-o " + options.path + ": " + strerror(errno));
  const std::string header = RecordingEncoder::header();
  if (options.max_size_bytes && *options.max_size_bytes < 4096)
    return Error("--max-size " + std::to_string(*options.max_size_bytes) + ": at least 4K");
  if (!write_all(fd.get(), header.data(), header.size()))
    return Error("-o " + options.path + ": " + strerror(errno));
  std::unique_ptr<RecorderSink> sink(new RecorderSink(std::move(options), std::move(fd), owns));
  sink->written_ = header.size();
  if (!sink->cctx_)
    return Error("cannot set up zstd compression");
  // The description is a frame of its own, so a file always says what it
  // is, even when the next frame is the one a disk or --max-size refused.
  sink->add(sink->options_.meta);
  if (!sink->flush_frame())
    return Error("-o " + sink->options_.path + ": cannot write the recording's first frame");
  return sink;
}

RecorderSink::RecorderSink(RecorderOptions options, UniqueFd fd, bool owns_file)
    : options_(std::move(options)), fd_(std::move(fd)), owns_file_(owns_file), cctx_(ZSTD_createCCtx()) {
  if (cctx_) {
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, options_.zstd_level);
    // A damaged frame is then found, not replayed as wrong numbers.
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
  }
  last_flush_ns_ = monotonic_ns();
}

RecorderSink::~RecorderSink() {
  if (!finished_ && !failed_)
    flush_frame(); // the session ended without a final report: keep what came
  ZSTD_freeCCtx(cctx_);
}

void RecorderSink::add(const RecordingItem &item) {
  if (failed_ || full_) {
    items_dropped_++;
    return;
  }
  encoder_.encode(item, pending_);
}

void RecorderSink::on_input(const Event &event) {
  const uint64_t cgroup = std::visit([](const auto &e) { return e.hdr.cgroup_id; }, event);
  if (cgroup && options_.cgroup_path && !cgroups_written_.count(cgroup)) {
    // Bounded: past 64k distinct cgroups, paths are written again.
    if (cgroups_written_.size() >= (1u << 16))
      cgroups_written_.clear();
    cgroups_written_.insert(cgroup);
    if (auto path = options_.cgroup_path(cgroup))
      add(RecordedCgroup{cgroup, *path});
  }
  events_++;
  pending_events_++;
  add(event);
}

void RecorderSink::on_startup_scan_done() {
  add(RecordedStartupDone{});
  flush_frame(); // the scan of a busy node is a frame of its own
}

void RecorderSink::on_reconcile(const std::vector<Aggregator::LiveProcess> &live, uint64_t now_ns) {
  add(RecordedReconcile{now_ns, live});
}

RecordedTick RecorderSink::tick(const std::vector<TreeReport> &rows, uint64_t now_ns, bool final) const {
  RecordedTick t;
  t.now_ns = now_ns;
  t.final = final;
  t.rows.reserve(rows.size());
  for (const TreeReport &r : rows)
    t.rows.push_back({r.root, r.group, r.pss_bytes, r.memcg_current_bytes, r.memcg_peak_bytes, r.memcg_limit_bytes});
  return t;
}

void RecorderSink::on_snapshot(const std::vector<TreeReport> &rows, uint64_t now_ns) { add(tick(rows, now_ns, false)); }

void RecorderSink::on_loss(const LossReport &l, uint64_t now_ns) {
  add(RecordedLoss{now_ns, l.attempts, l.delivered, l.dropped_kernel, l.dropped_output, l.proc_table_full,
                   l.procs_untracked});
}

void RecorderSink::on_final(const std::vector<TreeReport> &rows, const RunSummary &summary, uint64_t now_ns) {
  on_loss(summary.loss, now_ns);
  RecordedTick t = tick(rows, now_ns, true);
  t.only_tree = summary.command_tree;
  const bool was_full = full_;
  full_ = false; // the end goes in if it fits (flush_frame checks the bound)
  add(t);
  add(RecordedEnd{now_ns, summary.wall_ns, summary.exit_code, summary.signal,
                  was_full ? "max-size: " + std::to_string(events_dropped_ + pending_events_) +
                                 " records after the bound were not written"
                           : summary.stop_reason});
  full_ = was_full;
  finished_ = true;
  if (failed_)
    return;
  const bool written = flush_frame();
  const double per_record = events_written_ ? static_cast<double>(written_) / static_cast<double>(events_written_) : 0;
  if (was_full || !written)
    spdlog::warn("recording stopped at --max-size {} bytes: {} records after it were not written",
                 options_.max_size_bytes.value_or(0), events_dropped_);
  spdlog::info("recorded {} records in {} bytes ({:.1f} bytes per record) to {}", events_written_, written_, per_record,
               options_.path == "-" ? "stdout" : options_.path);
}

void RecorderSink::end_round() {
  if (failed_ || pending_.empty())
    return;
  const uint64_t now = monotonic_ns();
  if (pending_.size() >= kMaxPendingBytes || now - last_flush_ns_ >= options_.flush_interval_ns)
    flush_frame();
}

bool RecorderSink::flush_frame() {
  last_flush_ns_ = monotonic_ns();
  if (pending_.empty() || failed_)
    return !failed_;
  frame_.resize(ZSTD_compressBound(pending_.size()));
  const size_t n = ZSTD_compress2(cctx_, frame_.data(), frame_.size(), pending_.data(), pending_.size());
  pending_.clear();
  const uint64_t frame_events = std::exchange(pending_events_, 0);
  if (ZSTD_isError(n)) {
    spdlog::error("recording stopped: compression failed: {}", ZSTD_getErrorName(n));
    failed_ = true;
    return false;
  }
  if (options_.max_size_bytes) {
    const uint64_t max = *options_.max_size_bytes;
    // Room kept for the final report and the end, so a bounded recording
    // still ends cleanly.
    const uint64_t reserve = std::min<uint64_t>(max / 8, 256 * 1024);
    if (written_ + n > max) {
      events_dropped_ += frame_events;
      full_ = true;
      return false;
    }
    if (!finished_ && written_ + n > max - reserve)
      full_ = true;
  }
  if (!write_all(fd_.get(), frame_.data(), n)) {
    const int err = errno;
    // A partial frame would end the file in the middle of one; cut it off
    // so the file ends at the last whole frame.
    if (owns_file_ && ftruncate(fd_.get(), static_cast<off_t>(written_)) == 0)
      lseek(fd_.get(), 0, SEEK_END);
    events_dropped_ += frame_events;
    spdlog::error("recording stopped: {}: {}; the file holds everything before the last second", options_.path,
                  strerror(err));
    failed_ = true;
    return false;
  }
  written_ += n;
  events_written_ += frame_events;
  return true;
}

} // namespace treetrace
