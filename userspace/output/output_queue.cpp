#include "output/output_queue.h"

#include <cerrno>
#include <chrono>
#include <unistd.h>
#include <vector>

namespace treetrace {

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

bool OutputQueue::try_push(std::string line) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (fd_closed() || queued_bytes_ + line.size() > max_bytes_) {
      dropped_lines_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queued_bytes_ += line.size();
    lines_.push_back(std::move(line));
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
    any = !lines_.empty();
  }
  if (any) // an idle round does not wake the writer for nothing
    has_data_.notify_one();
}

bool OutputQueue::push_wait(std::string line, int timeout_ms) {
  {
    std::unique_lock lock(mu_);
    // A line larger than the whole queue is let in once the queue is empty.
    auto fits = [&] { return fd_closed() || queued_bytes_ == 0 || queued_bytes_ + line.size() <= max_bytes_; };
    has_data_.notify_one(); // what waits for room must be on its way out
    if (!has_room_.wait_for(lock, std::chrono::milliseconds(timeout_ms), fits) || fd_closed()) {
      dropped_lines_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queued_bytes_ += line.size();
    lines_.push_back(std::move(line));
  }
  has_data_.notify_one();
  return true;
}

void OutputQueue::flush(int timeout_ms) {
  has_data_.notify_one();
  std::unique_lock lock(mu_);
  has_room_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                     [&] { return fd_closed() || (lines_.empty() && !writing_); });
}

void OutputQueue::writer_loop() {
  std::vector<std::string> batch;
  std::string buffer;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      has_data_.wait(lock, [&] { return stopping_ || !lines_.empty(); });
      if (lines_.empty() && stopping_)
        return;
      // Take everything queued: one write() per batch, not per line.
      while (!lines_.empty()) {
        batch.push_back(std::move(lines_.front()));
        lines_.pop_front();
      }
      writing_ = true;
    }
    buffer.clear();
    for (auto &l : batch)
      buffer += l;
    size_t off = 0;
    while (off < buffer.size() && !fd_closed()) {
      ssize_t n = write(fd_, buffer.data() + off, buffer.size() - off);
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
      for (auto &l : batch)
        queued_bytes_ -= l.size();
      if (!fd_closed())
        written_lines_.fetch_add(batch.size(), std::memory_order_relaxed);
      writing_ = false;
    }
    batch.clear();
    has_room_.notify_all();
  }
}

} // namespace treetrace
