// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// cgroup v2 helpers: find the mount, resolve user-given cgroup paths, and
// map cgroup ids (as BPF reports them) back to paths.
//
// The cgroup id the kernel reports (bpf_get_current_cgroup_id) is the
// kernfs node id, which on 64-bit systems is the directory's inode number
// (Linux 5.5+, "kernfs: use 64bit inos if ino_t is 64bit").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "util/result.h"

namespace treetrace {

// Mount point of the first cgroup2 filesystem in /proc/self/mountinfo
// text: /sys/fs/cgroup on unified systems, often /sys/fs/cgroup/unified
// on hybrid ones. Octal escapes (\040 \011 \012 \134) are undone.
std::optional<std::string> find_cgroup2_mount(std::string_view mountinfo_text);

// Mount point of the cgroup v1 hierarchy that holds `controller` (e.g.
// "memory"), from /proc/self/mountinfo text: /sys/fs/cgroup/memory on
// hybrid layouts; nullopt where that controller is on cgroup v2 or absent.
std::optional<std::string> find_cgroup1_mount(std::string_view mountinfo_text, std::string_view controller);

// The hierarchy id /proc/cgroups gives `controller`; 0 means cgroup v2.
std::optional<uint32_t> cgroup1_hierarchy_of(std::string_view proc_cgroups_text, std::string_view controller);

struct CgroupTarget {
  std::string abs_path; // canonical, under the canonical mount point
  std::string rel_path; // "/" for the root, else "/a/b"
  uint64_t id = 0;      // inode number of the directory == kernel cgroup id
  uint32_t level = 0;   // components below the root: root = 0
};

// Resolves a cgroup given by the user. A path equal to the mount point or
// starting with "<mount>/" is absolute; anything else is relative to the
// mount, even with a leading '/' ("/system.slice" and "system.slice" are
// the same). Symlinks and ".." are resolved, and the result must be a
// directory inside the mount. Errors are one line for the user, e.g.
// "cgroup 'x' does not exist under /sys/fs/cgroup".
// Does not check that `mount` really is cgroup2: pass find_cgroup2_mount().
Result<CgroupTarget> resolve_cgroup(std::string_view user_path, std::string_view mount);

// cgroup id -> path relative to the mount ("/system.slice/x.service").
// Filled by walking the mount; a lookup miss triggers a rescan, at most
// once per min_rescan_interval_ms, so a flood of ids of unknown (e.g.
// already removed) cgroups cannot turn into a flood of walks. Entries of
// cgroups that disappear are kept while there is room, because events
// from their processes may still be in flight. Not thread-safe.
class CgroupPathCache {
public:
  struct Options {
    uint64_t min_rescan_interval_ms = 1000;
    size_t max_entries = 65536;
    // Monotonic milliseconds; tests inject a fake clock.
    std::function<uint64_t()> now_ms;
  };

  struct Stats {
    uint64_t scans = 0;
    uint64_t lookups = 0;
    uint64_t misses = 0;      // lookups that found nothing, even after any rescan
    uint64_t overflowed = 0;  // directories not stored because the cache was full
    uint64_t scan_errors = 0; // directories that could not be read
  };

  explicit CgroupPathCache(std::string mount);
  CgroupPathCache(std::string mount, Options options);

  std::optional<std::string> lookup(uint64_t id);
  // Walks the mount now, regardless of the rate limit.
  void rescan();

  size_t size() const { return paths_.size(); }
  const Stats &stats() const { return stats_; }
  const std::string &mount() const { return mount_; }

private:
  std::string mount_;
  Options options_;
  std::unordered_map<uint64_t, std::string> paths_;
  std::optional<uint64_t> last_scan_ms_;
  Stats stats_;
};

} // namespace treetrace
