// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Memory cgroup figures of a group row: which memory cgroup is the
// group's, and what its usage, peak and limit files say.
//
// The memory controller sits on cgroup v2 on unified nodes and on its own
// cgroup v1 hierarchy on hybrid ones (then the row's key, a cgroup v2
// path, says nothing about the memory cgroup). Either way a process's
// memory cgroup is in its /proc/PID/cgroup, relative to the mount of the
// hierarchy that has the controller. Everything here but the *read_*
// functions is pure, for tests; those take the mount as an argument.
//
// Like the rest of treetrace, cgroup paths are taken to be relative to
// the mount's root: the cgroup mounts are the host's, or the container's
// own under its cgroup namespace.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace treetrace {

struct MemcgHierarchy {
  std::string mount; // absolute mount point of the hierarchy with the memory controller
  bool v1 = false;   // cgroup v1 (hybrid layouts), else cgroup v2

  bool operator==(const MemcgHierarchy &) const = default;
};

// Where the memory controller is, from /proc/self/mountinfo text.
// `read_file(path)` reads a small file (nullopt when it cannot): it is
// asked for <cgroup2 mount>/cgroup.controllers, which lists "memory" when
// cgroup v2 has the controller. Otherwise the cgroup v1 hierarchy that
// carries "memory", if one is mounted. nullopt: no memory controller.
std::optional<MemcgHierarchy>
find_memcg_hierarchy(std::string_view mountinfo_text,
                     const std::function<std::optional<std::string>(const std::string &path)> &read_file);

// The memory cgroup in /proc/PID/cgroup text, relative to the hierarchy's
// mount ("/a/b", "/" for the root): cgroup v2's "0::PATH" line, or on v1
// the line whose controller list has "memory" ("4:memory:PATH",
// "3:cpu,memory:PATH"). nullopt when there is no such line, or its path is
// not one to read figures from: not absolute, with an empty, "." or ".."
// component (a cgroup outside our cgroup namespace shows as "/.."), or a
// removed cgroup (" (deleted)").
std::optional<std::string> memcg_path_from_proc_cgroup(std::string_view proc_cgroup_text, bool v1);

// The deepest cgroup that holds all of `paths` ("/a/b/c", "/a/b/d" ->
// "/a/b"; "/a", "/b" -> "/"). nullopt for none.
std::optional<std::string> common_cgroup_ancestor(const std::vector<std::string> &paths);

// The groupings whose rows are cgroups (core GroupBy minus Tree and Comm).
enum class MemcgGroupKind { Cgroup, Container, Pod, Unit };

// The memory cgroup of one group row, from the row's key and the memory
// cgroups of (some of) its live members, as memcg_path_from_proc_cgroup()
// gives them. nullopt rather than a cgroup that is not the group's:
//  - Cgroup, on v2: the key, which is the cgroup (members need not be
//    asked). On v1: the members' memory cgroup, which they must all share;
//    any disagreement and the row has none.
//  - Container, Pod, Unit: members often sit in sub-cgroups (a pod's
//    containers, a unit's sub-cgroups), so their deepest common ancestor
//    is taken, and from there the topmost ancestor with the group's
//    identity (identity_from_cgroup_path): the pod's cgroup, the
//    container's, the unit's. That is where the runtime or systemd puts
//    the group's limit, and it charges everything in the group, including
//    members not traced; the common ancestor alone would move with which
//    members happen to be live (one busy container's cgroup, not the
//    pod's). If the common ancestor does not carry the group's identity
//    (members spread over unrelated memory cgroups, as a v1 hierarchy laid
//    out apart from v2 can be), the row has none.
// The root cgroup is never the answer: cgroup v2 has no figures there,
// and v1's would be the whole node's. An empty key (the row of processes
// in no group) has none either.
std::optional<std::string> group_memcg_path(MemcgGroupKind kind, std::string_view key, bool v1,
                                            const std::vector<std::string> &member_memcg_paths);

// A usage or peak counter file: decimal digits, then optionally a newline.
std::optional<uint64_t> parse_memcg_counter(std::string_view text);

// A limit file: v2 memory.max ("max" is no limit), v1
// memory.limit_in_bytes (no limit is the page counter's maximum,
// LONG_MAX rounded down to pages: 0x7ffffffffffff000 with 4 KiB pages;
// any value at or above it is taken as none). nullopt: no limit, or text
// that is no limit file's.
std::optional<uint64_t> parse_memcg_limit(std::string_view text, bool v1, uint64_t page_size);

struct MemcgFigures {
  std::optional<uint64_t> current_bytes;
  std::optional<uint64_t> peak_bytes;  // v2 memory.peak is Linux 5.19+
  std::optional<uint64_t> limit_bytes; // nullopt: no limit

  bool operator==(const MemcgFigures &) const = default;
};

// Reads <mount><rel_path>'s usage, peak and limit, usage first (a peak is
// then never below the usage read before it). nullopt, with the errno in
// *error when given, when the usage or limit file cannot be read or parsed
// (the cgroup is gone, is no memory cgroup, or the memory controller is not
// enabled for it): then nothing is known, not even whether there is a
// limit. A peak file that is absent or unreadable leaves only the peak
// unknown.
std::optional<MemcgFigures> read_memcg_figures(const MemcgHierarchy &hierarchy, const std::string &rel_path,
                                               uint64_t page_size, int *error = nullptr);

} // namespace treetrace
