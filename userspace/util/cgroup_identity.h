// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Container, pod and systemd identity of a cgroup, from its path alone.
//
// Users look for workers by container id, pod and systemd unit; the
// kernel only tells us a cgroup id, which CgroupPathCache turns into a path
// relative to the cgroup mount. The container runtimes and the kubelet put
// everything users know into that path (docs/identity.md lists every rule
// with an example), so identity_from_cgroup_path() needs no daemon socket,
// no root and no I/O.
//
// PodDirectory adds the pod's name and namespace from the kubelet's log
// directory; IdentityCache puts the two together per cgroup id; the
// find_*_cgroups() functions turn --container and --pod into cgroups.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "util/result.h"

namespace treetrace {

struct CgroupIdentity {
  // The container's full id as the path spells it: 64 lowercase hex digits
  // (docker, containerd, cri-o, podman all use that form). Empty outside a
  // container, and for conmon, which runs beside its container rather than
  // in it. The innermost container in the path wins (docker in docker,
  // kind nodes).
  std::string container_id;
  // "docker", "containerd", "cri-o" or "podman"; empty when there is no
  // container, or when the path does not say which runtime made it (bare
  // ids under a cgroupfs pod).
  std::string container_runtime;
  // Kubernetes pod UID: lowercase 8-4-4-4-12 for pods from the API server,
  // or the 32 lowercase hex digits the kubelet gives static pods. Empty
  // outside a pod.
  std::string pod_uid;
  // "guaranteed", "burstable" or "besteffort"; empty outside a pod or a QoS
  // cgroup of the kubelet.
  std::string qos_class;
  // The innermost path component that is a valid systemd unit name of a
  // type that runs processes: .service, .scope, .socket, .mount or .swap.
  // Slices are groupings, never the answer. Names stay as written (\x2d
  // escapes included). Empty when no component qualifies.
  std::string systemd_unit;
  // Filled by IdentityCache from PodDirectory; identity_from_cgroup_path()
  // leaves them empty.
  std::string pod_name;
  std::string pod_namespace;

  bool operator==(const CgroupIdentity &) const = default;
};

// Identity from a cgroup path relative to a cgroup mount, v1 or v2
// ("/system.slice/nginx.service"; the leading '/' is optional). Pure: only
// the string is looked at. Never throws; any byte sequence is valid input.
// A path with a NUL byte or a "." or ".." component is not one the kernel
// reports, and gets an empty identity rather than a guess.
CgroupIdentity identity_from_cgroup_path(std::string_view path);

// A pod UID as the kubelet names it, from what a user typed: dashed or
// underscored (as in systemd slice names) 8-4-4-4-12 hex, or 32 hex digits
// (static pods), any case. nullopt for anything else.
std::optional<std::string> canonical_pod_uid(std::string_view uid);

struct PodName {
  std::string name;
  std::string namespace_;
  bool operator==(const PodName &) const = default;
};

// Pod name and namespace by UID, from the kubelet's log directories
// <root>/<namespace>_<name>_<uid>/ (kubelet 1.14 and later). Only entries
// that are directories with a valid namespace, name and UID count: no
// directory, no name. A lookup miss rescans the root at most once per
// min_rescan_interval_ms, so ids of pods without a log directory cannot turn
// into a flood of scans. Entries of removed directories are kept while
// there is room, because their processes' events may still be in flight.
// Not thread-safe.
class PodDirectory {
public:
  struct Options {
    uint64_t min_rescan_interval_ms = 1000;
    size_t max_entries = 4096;
    // Monotonic milliseconds; tests inject a fake clock.
    std::function<uint64_t()> now_ms;
  };

  struct Stats {
    uint64_t scans = 0;
    uint64_t lookups = 0;
    uint64_t misses = 0;     // lookups that found nothing, even after any rescan
    uint64_t overflowed = 0; // pod directories not stored because the cache was full
    uint64_t ignored = 0;    // entries that are not <namespace>_<name>_<uid> directories
  };

  explicit PodDirectory(std::string root = "/var/log/pods");
  PodDirectory(std::string root, Options options);

  // `pod_uid` in any form canonical_pod_uid() accepts.
  std::optional<PodName> lookup(std::string_view pod_uid);
  // Reads the root now, regardless of the rate limit.
  void rescan();

  size_t size() const { return pods_.size(); }
  const Stats &stats() const { return stats_; }
  const std::string &root() const { return root_; }

private:
  std::string root_;
  Options options_;
  std::unordered_map<std::string, PodName> pods_; // canonical uid -> name
  std::optional<uint64_t> last_scan_ms_;
  Stats stats_;
};

// Identity by cgroup id, cached. The caller supplies the id -> path lookup
// (CgroupPathCache::lookup in treetrace) and, optionally, a PodDirectory to
// fill pod_name and pod_namespace. Ids whose path is unknown are not cached,
// so a later lookup can find them. An identity cached without a pod name
// asks the PodDirectory again on later lookups (that is rate-limited
// there), since a pod's log directory can appear after its first process.
// When max_entries is reached the cache starts over empty, which bounds
// memory and keeps the cgroups still in use. Not thread-safe.
class IdentityCache {
public:
  using PathLookup = std::function<std::optional<std::string>(uint64_t cgroup_id)>;

  struct Options {
    size_t max_entries = 16384;
  };

  struct Stats {
    uint64_t lookups = 0;
    uint64_t path_misses = 0; // ids the path lookup did not know
    uint64_t resets = 0;      // times the cache was full and started over
  };

  IdentityCache(PathLookup path_of, PodDirectory *pods = nullptr);
  IdentityCache(PathLookup path_of, PodDirectory *pods, Options options);

  std::optional<CgroupIdentity> lookup(uint64_t cgroup_id);

  size_t size() const { return identities_.size(); }
  const Stats &stats() const { return stats_; }

private:
  void add_pod_name(CgroupIdentity &identity);

  PathLookup path_of_;
  PodDirectory *pods_;
  Options options_;
  std::unordered_map<uint64_t, CgroupIdentity> identities_;
  Stats stats_;
};

// Bounds for walking a cgroup mount: a hierarchy is rarely deeper than 12
// (a kind node's pods) or larger than a few thousand cgroups.
struct CgroupWalkLimits {
  uint32_t max_depth = 32;
  size_t max_directories = 200000;
};

// For --container ID-PREFIX and --pod UID: walks the cgroup mount (real
// directories on the mount's filesystem; symlinks are not followed) and
// returns, sorted, the cgroups whose identity matches, as paths relative to
// the mount like CgroupTarget::rel_path. Only the topmost matching
// directories are returned: the pod's cgroup, not each container below it;
// the container's cgroup, not its sub-cgroups. The results of a container
// prefix can belong to more than one container. Errors are one line for the
// user, e.g. "--pod 1234...: no cgroup under /sys/fs/cgroup belongs to this
// pod".
//
// A container id prefix is 1 to 64 hex digits, any case. A pod UID is any
// form canonical_pod_uid() accepts.
Result<std::vector<std::string>> find_container_cgroups(std::string_view mount, std::string_view id_prefix,
                                                        CgroupWalkLimits limits = {});
Result<std::vector<std::string>> find_pod_cgroups(std::string_view mount, std::string_view pod_uid,
                                                  CgroupWalkLimits limits = {});

} // namespace treetrace
