// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Groups other than trees: what one row of a snapshot is under
// --group-by container|pod|unit|cgroup|comm. A process is in one group at
// a time, chosen by its cgroup (or comm) as the aggregator last saw it;
// its CPU stays with the group it was in when it used it. Pure C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/account.h"

namespace treetrace {

enum class GroupBy { Tree, Container, Pod, Unit, Cgroup, Comm };

const char *to_string(GroupBy g);
std::optional<GroupBy> group_by_from_name(std::string_view name);
// "tree, container, pod, unit, cgroup, comm", for messages.
std::string group_by_names();

class GroupIndex {
public:
  GroupIndex(size_t max_groups, size_t max_comms) : max_groups_(max_groups), max_comms_(max_comms) {}

  // Adds `member` to the group `key`, made if new. When max_groups are
  // live, it joins the shared "[other]" group instead. Returns the key of
  // the group it joined.
  std::string join(const std::string &key, const ProcKey &member, uint64_t rss_bytes, uint64_t cgroup_id,
                   uint64_t ts_ns);
  // Takes `member` out of its group `key`; the group's CPU keeps its share.
  void leave(const std::string &key, const ProcKey &member, uint64_t rss_bytes, const CommUsage &usage, uint64_t ts_ns);

  Account *find(const std::string &key);
  const Account *find(const std::string &key) const;
  const std::unordered_map<std::string, Account> &all() const { return groups_; }
  std::unordered_map<std::string, Account> &all() { return groups_; }
  uint64_t evicted() const { return evicted_; }
  uint64_t overflowed() const { return overflowed_; }

  static constexpr const char *kOther = "[other]";

private:
  bool make_room();

  size_t max_groups_;
  size_t max_comms_;
  std::unordered_map<std::string, Account> groups_;
  std::multimap<uint64_t, std::string> finished_; // groups with no live member, by end time
  uint64_t evicted_ = 0;                          // finished groups dropped to make room
  uint64_t overflowed_ = 0;                       // joins sent to "[other]" because every group was live
};

} // namespace treetrace
