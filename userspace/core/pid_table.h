// Which process holds each PID, and which processes exited lately: what
// tells a late record of an exited process from a new process that got
// its PID. Pure C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>

#include "core/account.h"
#include "core/model.h"

namespace treetrace {

class PidTable {
public:
  // Exited processes remembered so that their late records (reordered
  // across CPUs, a short range) are recognised as stale rather than as new
  // processes.
  static constexpr size_t recent_exits_kept = 4096;

  // The process holding `pid`, tracked or not.
  std::optional<ProcKey> holder(uint32_t pid) const {
    auto it = holders_.find(pid);
    return it == holders_.end() ? std::nullopt : std::optional<ProcKey>(it->second);
  }

  bool holds(const ProcKey &key) const { return holder(key.pid) == key; }

  bool has_exited(const ProcKey &key) const {
    if (recent_exits_.contains(key))
      return true;
    // PIDs are unique among live processes: a newer holder means this one is gone.
    auto it = holders_.find(key.pid);
    return it != holders_.end() && it->second.start_ns > key.start_ns;
  }

  // Makes `key` the holder of its PID; returns the process it displaced,
  // whose exit record was then lost (or is later than everything else).
  std::optional<ProcKey> claim(const ProcKey &key) {
    auto [it, inserted] = holders_.try_emplace(key.pid, key);
    if (inserted || it->second == key)
      return std::nullopt;
    return std::exchange(it->second, key);
  }

  // The process exited: its PID is free, and its late records are stale.
  void release(const ProcKey &key) {
    if (auto it = holders_.find(key.pid); it != holders_.end() && it->second == key)
      holders_.erase(it);
    if (!recent_exits_.insert(key).second)
      return;
    recent_exit_order_.push_back(key);
    if (recent_exit_order_.size() > recent_exits_kept) {
      recent_exits_.erase(recent_exit_order_.front());
      recent_exit_order_.pop_front();
    }
  }

private:
  std::unordered_map<uint32_t, ProcKey> holders_;
  ProcSet recent_exits_;
  std::deque<ProcKey> recent_exit_order_;
};

} // namespace treetrace
