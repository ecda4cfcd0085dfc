// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// A bounded queue of output lines drained to a file descriptor by its own
// thread, so the ring buffer reader never waits on a slow stdout. Lines that
// do not fit are dropped and counted; reports can wait for room instead.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace treetrace {

class OutputQueue {
public:
  OutputQueue(int fd, size_t max_bytes);
  ~OutputQueue(); // flushes what it can, then joins the writer
  OutputQueue(const OutputQueue &) = delete;
  OutputQueue &operator=(const OutputQueue &) = delete;

  // Never blocks: returns false (and counts the line) when full or closed.
  // The line is copied; it is written after the next publish() (or once a
  // quarter of the queue is used), so a batch of lines costs the writer one
  // wakeup.
  bool try_push(std::string_view line);
  // Wakes the writer for what try_push() queued.
  void publish();
  // Waits up to timeout_ms for room; for reports that must not be lost.
  bool push_wait(std::string_view line, int timeout_ms);
  // Waits until everything queued is written or the fd is closed.
  void flush(int timeout_ms);

  // The reader of our fd went away (EPIPE): stop producing.
  bool fd_closed() const { return fd_closed_.load(std::memory_order_relaxed); }
  uint64_t dropped_lines() const { return dropped_lines_.load(std::memory_order_relaxed); }
  uint64_t written_lines() const { return written_lines_.load(std::memory_order_relaxed); }

private:
  void writer_loop();
  void append_locked(std::string_view line);

  const int fd_;
  const size_t max_bytes_;
  std::mutex mu_;
  std::condition_variable has_data_;
  std::condition_variable has_room_;
  // Lines are appended to one buffer, which the writer swaps for its own
  // empty one and writes whole: no allocation, copy or free per line, and
  // one write() per batch.
  std::string pending_;
  size_t pending_lines_ = 0;
  size_t queued_bytes_ = 0; // pending_ plus the batch being written
  bool stopping_ = false;
  bool writing_ = false;
  std::atomic<bool> fd_closed_{false};
  std::atomic<uint64_t> dropped_lines_{0};
  std::atomic<uint64_t> written_lines_{0};
  std::thread writer_;
};

} // namespace treetrace
