// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "core/groups.h"

#include <algorithm>
#include <array>

namespace treetrace {
namespace {

constexpr std::array<GroupBy, 6> kGroupBys = {GroupBy::Tree, GroupBy::Container, GroupBy::Pod,
                                              GroupBy::Unit, GroupBy::Cgroup,    GroupBy::Comm};

} // namespace

const char *to_string(GroupBy g) {
  switch (g) {
  case GroupBy::Tree:
    return "tree";
  case GroupBy::Container:
    return "container";
  case GroupBy::Pod:
    return "pod";
  case GroupBy::Unit:
    return "unit";
  case GroupBy::Cgroup:
    return "cgroup";
  case GroupBy::Comm:
    return "comm";
  }
  return "tree";
}

std::optional<GroupBy> group_by_from_name(std::string_view name) {
  for (GroupBy g : kGroupBys)
    if (name == to_string(g))
      return g;
  return std::nullopt;
}

std::string group_by_names() {
  std::string out;
  for (GroupBy g : kGroupBys)
    out += std::string(out.empty() ? "" : ", ") + to_string(g);
  return out;
}

bool GroupIndex::make_room() {
  // Finished groups go first, oldest end first. An entry is stale when
  // its group has live members again, or ended again later (and so has a
  // newer entry): it is dropped and the next one tried.
  while (!finished_.empty()) {
    auto oldest = finished_.begin();
    auto it = groups_.find(oldest->second);
    const uint64_t ended_ns = oldest->first;
    finished_.erase(oldest);
    if (it != groups_.end() && it->second.members.empty() && it->second.last_ts_ns == ended_ns) {
      groups_.erase(it);
      ++evicted_;
      return true;
    }
  }
  return false;
}

std::string GroupIndex::join(const std::string &key, const ProcKey &member, uint64_t rss_bytes, uint64_t cgroup_id,
                             uint64_t ts_ns) {
  std::string used = key;
  auto it = groups_.find(key);
  if (it == groups_.end()) {
    if (groups_.size() >= max_groups_ && !make_room()) {
      ++overflowed_;
      used = kOther;
      it = groups_.find(used);
    }
    if (it == groups_.end()) {
      Account &a = groups_[used];
      a.group = used;
      // "[other]" gathers members of many cgroups: it shows none of their identities.
      a.cgroup_id = used == kOther ? 0 : cgroup_id;
      a.first_ts_ns = ts_ns;
      a.last_ts_ns = ts_ns;
      a.rss_integrated_to_ns = ts_ns;
      it = groups_.find(used);
    }
  }
  add_member(it->second, member, rss_bytes, ts_ns);
  return used;
}

void GroupIndex::leave(const std::string &key, const ProcKey &member, uint64_t rss_bytes, const CommUsage &usage,
                       uint64_t ts_ns) {
  Account *a = find(key);
  if (!a)
    return;
  remove_member(*a, member, rss_bytes, usage, max_comms_, ts_ns);
  if (a->members.empty())
    finished_.emplace(a->last_ts_ns, key);
}

Account *GroupIndex::find(const std::string &key) {
  auto it = groups_.find(key);
  return it == groups_.end() ? nullptr : &it->second;
}

const Account *GroupIndex::find(const std::string &key) const {
  auto it = groups_.find(key);
  return it == groups_.end() ? nullptr : &it->second;
}

} // namespace treetrace
