// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Which process holds each PID, and which processes exited lately: what
// tells a late record of an exited process from a new process that got
// its PID. Pure C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/flat_map.h"
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
    const ProcKey *h = holders_.find(pid);
    return h ? std::optional<ProcKey>(*h) : std::nullopt;
  }

  bool holds(const ProcKey &key) const {
    const ProcKey *h = holders_.find(key.pid);
    return h && *h == key;
  }

  bool has_exited(const ProcKey &key) const {
    if (recent_exits_.contains(key))
      return true;
    // PIDs are unique among live processes: a newer holder means this one is gone.
    const ProcKey *h = holders_.find(key.pid);
    return h && h->start_ns > key.start_ns;
  }

  // Makes `key` the holder of its PID; returns the process it displaced,
  // whose exit record was then lost (or is later than everything else).
  std::optional<ProcKey> claim(const ProcKey &key) {
    auto [holder, inserted] = holders_.try_emplace(key.pid, key);
    if (inserted || *holder == key)
      return std::nullopt;
    return std::exchange(*holder, key);
  }

  // The process exited: its PID is free, and its late records are stale.
  void release(const ProcKey &key) {
    if (const ProcKey *h = holders_.find(key.pid); h && *h == key)
      holders_.erase(key.pid);
    if (!recent_exits_.try_emplace(key).second)
      return;
    // The oldest of a full ring makes room for the newest.
    if (recent_exit_order_.size() < recent_exits_kept) {
      recent_exit_order_.push_back(key);
      return;
    }
    recent_exits_.erase(recent_exit_order_[oldest_exit_]);
    recent_exit_order_[oldest_exit_] = key;
    oldest_exit_ = (oldest_exit_ + 1) % recent_exits_kept;
  }

private:
  FlatMap<uint32_t, ProcKey, PidKeyTraits> holders_;
  FlatSet<ProcKey, ProcKeyTraits> recent_exits_;
  std::vector<ProcKey> recent_exit_order_; // a ring once full: oldest_exit_ is its oldest
  size_t oldest_exit_ = 0;
};

} // namespace treetrace
