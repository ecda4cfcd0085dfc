// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "output/output_queue.h"

#include <cerrno>
#include <chrono>
#include <unistd.h>
#include <utility>

namespace treetrace {
namespace {

// A batch buffer keeps its capacity from batch to batch up to this much;
// a burst larger than that is freed once written, so that memory goes back.
constexpr size_t kKeptCapacity = 1 << 20;

} // namespace

OutputQueue::OutputQueue(int fd, size_t max_bytes)
    : fd_(fd), max_bytes_(max_bytes), writer_([this] { writer_loop(); }) {}

OutputQueue::~OutputQueue() {
  flush(2000);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  has_data_.notify_all();
  writer_.join();
}

void OutputQueue::append_locked(std::string_view line) {
  pending_.append(line);
  ++pending_lines_;
  queued_bytes_ += line.size();
}

bool OutputQueue::try_push(std::string_view line) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (fd_closed() || queued_bytes_ + line.size() > max_bytes_) {
      dropped_lines_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    append_locked(line);
    wake = queued_bytes_ >= max_bytes_ / 4;
  }
  // Waking the writer per line made it take one line at a time, a context
  // switch each; publish() wakes it once per batch of records instead.
  if (wake)
    has_data_.notify_one();
  return true;
}

void OutputQueue::publish() {
  bool any;
  {
    std::lock_guard lock(mu_);
    any = pending_lines_ != 0;
  }
  if (any) // an idle round does not wake the writer for nothing
    has_data_.notify_one();
}

bool OutputQueue::push_wait(std::string_view line, int timeout_ms) {
  {
    std::unique_lock lock(mu_);
    // A line larger than the whole queue is let in once the queue is empty.
    auto fits = [&] { return fd_closed() || queued_bytes_ == 0 || queued_bytes_ + line.size() <= max_bytes_; };
    has_data_.notify_one(); // what waits for room must be on its way out
    if (!has_room_.wait_for(lock, std::chrono::milliseconds(timeout_ms), fits) || fd_closed()) {
      dropped_lines_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    append_locked(line);
  }
  has_data_.notify_one();
  return true;
}

void OutputQueue::flush(int timeout_ms) {
  has_data_.notify_one();
  std::unique_lock lock(mu_);
  has_room_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                     [&] { return fd_closed() || (pending_lines_ == 0 && !writing_); });
}

void OutputQueue::writer_loop() {
  std::string batch;
  for (;;) {
    size_t lines = 0;
    {
      std::unique_lock lock(mu_);
      has_data_.wait(lock, [&] { return stopping_ || pending_lines_ != 0; });
      if (pending_lines_ == 0 && stopping_)
        return;
      // Take everything queued: one write() per batch, not per line.
      batch.swap(pending_);
      lines = std::exchange(pending_lines_, 0);
      writing_ = true;
    }
    size_t off = 0;
    while (off < batch.size() && !fd_closed()) {
      ssize_t n = write(fd_, batch.data() + off, batch.size() - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        fd_closed_.store(true, std::memory_order_relaxed); // EPIPE and friends: nobody reads
        break;
      }
      off += static_cast<size_t>(n);
    }
    {
      std::lock_guard lock(mu_);
      queued_bytes_ -= batch.size();
      if (!fd_closed())
        written_lines_.fetch_add(lines, std::memory_order_relaxed);
      writing_ = false;
    }
    if (batch.capacity() > kKeptCapacity)
      std::string().swap(batch);
    else
      batch.clear();
    has_room_.notify_all();
  }
}

} // namespace treetrace
