// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/cgroup_identity.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treetrace {
namespace {

constexpr size_t kContainerIdLength = 64;
constexpr size_t kStaticPodUidLength = 32; // md5 of the manifest, hex
constexpr size_t kPodUidLength = 36;       // 8-4-4-4-12
// systemd's UNIT_NAME_MAX is 256 with the terminating NUL.
constexpr size_t kUnitNameMax = 255;

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool all_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_hex(c); });
}

bool is_container_id(std::string_view s) { return s.size() == kContainerIdLength && all_lower_hex(s); }

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Pod UID as a cgroup name spells it: `separator` is '-' for cgroupfs and
// '_' in systemd slice names, where '-' means nesting. Uppercase never
// appears there, so it is not a pod. Returns the canonical form: dashed, or
// the 32 hex digits of a static pod as they are.
std::optional<std::string> pod_uid_in_cgroup_name(std::string_view s, char separator) {
  if (s.size() == kStaticPodUidLength && all_lower_hex(s))
    return std::string(s);
  if (s.size() != kPodUidLength)
    return std::nullopt;
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (out[i] != separator)
        return std::nullopt;
      out[i] = '-';
    } else if (!is_lower_hex(out[i])) {
      return std::nullopt;
    }
  }
  return out;
}

// "pod<uid>" -> canonical uid.
std::optional<std::string> pod_component(std::string_view s, char separator) {
  if (!starts_with(s, "pod"))
    return std::nullopt;
  return pod_uid_in_cgroup_name(s.substr(3), separator);
}

bool is_qos_name(std::string_view s) { return s == "burstable" || s == "besteffort"; }

bool is_unit_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '-' ||
         c == '_' || c == '.' || c == '\\' || c == '@';
}

// Unit types whose cgroups hold processes; .slice only groups them.
bool is_process_unit(std::string_view s) {
  if (s.size() > kUnitNameMax || !std::all_of(s.begin(), s.end(), is_unit_name_char))
    return false;
  for (std::string_view suffix : {".service", ".scope", ".socket", ".mount", ".swap"})
    if (ends_with(s, suffix) && s.size() > suffix.size())
      return true;
  return false;
}

struct RuntimePrefix {
  std::string_view prefix;
  std::string_view runtime;
};

// "<prefix><64 hex>" with or without ".scope": the systemd driver names the
// scope, cri-o and podman use the same name as a cgroupfs directory. The
// conmon cgroups (crio-conmon-<id>, libpod-conmon-<id>) never match, since
// "conmon-<id>" is not 64 hex digits: conmon is not the container.
constexpr RuntimePrefix kRuntimePrefixes[] = {
    {"docker-", "docker"},             // dockerd and cri-dockerd, systemd driver
    {"cri-containerd-", "containerd"}, // containerd's CRI plugin, systemd driver
    {"nerdctl-", "containerd"},        // nerdctl (a containerd client), systemd driver
    {"crio-", "cri-o"},
    {"libpod-", "podman"},
};

struct ContainerMatch {
  std::string_view id;
  std::string_view runtime;
};

std::optional<ContainerMatch> container_component(std::string_view name, std::string_view parent, size_t index) {
  std::string_view body = ends_with(name, ".scope") ? name.substr(0, name.size() - 6) : name;
  for (const RuntimePrefix &p : kRuntimePrefixes)
    if (starts_with(body, p.prefix) && is_container_id(body.substr(p.prefix.size())))
      return ContainerMatch{body.substr(p.prefix.size()), p.runtime};
  // cgroupfs drivers name the container's directory by its bare id:
  // /docker/<id>, containerd's /<namespace>/<id>, and the kubelet's
  // .../pod<uid>/<id>, where the runtime is not in the path.
  if (!is_container_id(name))
    return std::nullopt;
  std::string_view runtime;
  if (parent == "docker")
    runtime = "docker";
  else if (index == 1 && (parent == "default" || parent == "k8s.io"))
    runtime = "containerd";
  return ContainerMatch{name, runtime};
}

struct PodMatch {
  std::string uid;      // empty: a QoS cgroup, not a pod
  std::string_view qos; // empty: the kubepods root, which holds every class
};

// Systemd driver: one slice name encodes its whole ancestry, joined by '-':
// [root-]kubepods[-burstable|-besteffort][-pod<uid with '_'>].slice, where a
// custom --cgroup-root adds the leading parts (kind: "kubelet-kubepods-...").
std::optional<PodMatch> kubepods_slice(std::string_view name) {
  if (!ends_with(name, ".slice"))
    return std::nullopt;
  std::string_view body = name.substr(0, name.size() - 6);
  std::vector<std::string_view> parts;
  for (size_t pos = 0;;) {
    size_t dash = body.find('-', pos);
    parts.push_back(body.substr(pos, dash == std::string_view::npos ? std::string_view::npos : dash - pos));
    if (dash == std::string_view::npos)
      break;
    pos = dash + 1;
  }
  const size_t n = parts.size();
  if (parts[n - 1] == "kubepods")
    return PodMatch{};
  if (n >= 2 && parts[n - 2] == "kubepods" && is_qos_name(parts[n - 1]))
    return PodMatch{"", parts[n - 1]};
  auto uid = pod_component(parts[n - 1], '_');
  if (!uid)
    return std::nullopt;
  if (n >= 2 && parts[n - 2] == "kubepods")
    return PodMatch{std::move(*uid), "guaranteed"};
  if (n >= 3 && parts[n - 3] == "kubepods" && is_qos_name(parts[n - 2]))
    return PodMatch{std::move(*uid), parts[n - 2]};
  return std::nullopt;
}

// Cgroupfs driver: kubepods[/burstable|/besteffort]/pod<uid>, one
// component each; `c` is the component list up to and including index i.
std::optional<PodMatch> kubepods_cgroupfs(const std::vector<std::string_view> &c, size_t i) {
  if (c[i] == "kubepods")
    return PodMatch{};
  if (i >= 1 && c[i - 1] == "kubepods" && is_qos_name(c[i]))
    return PodMatch{"", c[i]};
  auto uid = pod_component(c[i], '-');
  if (!uid)
    return std::nullopt;
  if (i >= 1 && c[i - 1] == "kubepods")
    return PodMatch{std::move(*uid), "guaranteed"};
  if (i >= 2 && c[i - 2] == "kubepods" && is_qos_name(c[i - 1]))
    return PodMatch{std::move(*uid), c[i - 1]};
  return std::nullopt;
}

uint64_t steady_now_ms() {
  auto d = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

bool rescan_due(const std::optional<uint64_t> &last, uint64_t now, uint64_t interval) {
  return !last || now < *last || now - *last >= interval;
}

// Kubernetes object names: a namespace is a DNS-1123 label, a pod name a
// DNS-1123 subdomain; neither has '_', which is what lets the kubelet join
// them with it.
bool is_dns_name(std::string_view s, size_t max_length, bool dots_allowed) {
  if (s.empty() || s.size() > max_length)
    return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (dots_allowed && c == '.');
  });
}

// User input echoed in a one-line error: control bytes would break the line.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 100))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > 100)
    out += "...";
  return out;
}

struct WalkResult {
  std::vector<std::string> matches;
  bool truncated = false; // a limit stopped the walk somewhere
  std::string error;      // the mount itself could not be read
};

// Depth-first over real directories below `mount`; a directory that matches
// is recorded and not descended into, so only topmost matches come back.
WalkResult walk_cgroups(std::string_view mount_arg, const CgroupWalkLimits &limits,
                        const std::function<bool(const CgroupIdentity &)> &matches) {
  WalkResult result;
  std::string mount(mount_arg);
  while (mount.size() > 1 && mount.back() == '/')
    mount.pop_back();
  if (mount.empty() || mount.front() != '/' || mount.find('\0') != std::string::npos) {
    result.error = "invalid cgroup mount point '" + printable(mount_arg) + "'";
    return result;
  }
  struct stat root_st;
  if (::stat(mount.c_str(), &root_st) != 0) {
    result.error = "cannot read cgroup mount " + mount + ": " + std::strerror(errno);
    return result;
  }
  if (!S_ISDIR(root_st.st_mode)) {
    result.error = "cgroup mount " + mount + " is not a directory";
    return result;
  }

  struct Pending {
    std::string rel; // "" is the root
    uint32_t depth;
  };
  std::vector<Pending> pending{{std::string(), 0}};
  size_t visited = 0;
  while (!pending.empty()) {
    Pending dir = std::move(pending.back());
    pending.pop_back();
    if (++visited > limits.max_directories) {
      result.truncated = true;
      break;
    }
    if (matches(identity_from_cgroup_path(dir.rel.empty() ? "/" : dir.rel))) {
      result.matches.push_back(dir.rel.empty() ? "/" : dir.rel);
      continue;
    }
    std::string abs = mount == "/" ? (dir.rel.empty() ? "/" : dir.rel) : mount + dir.rel;
    // The mount itself may be reached through a symlink; nothing below it.
    int fd = ::open(abs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (dir.rel.empty() ? 0 : O_NOFOLLOW));
    DIR *d = fd < 0 ? nullptr : ::fdopendir(fd);
    if (d == nullptr) {
      const int err = errno;
      if (fd >= 0)
        ::close(fd);
      if (dir.rel.empty()) {
        result.error = "cannot read cgroup mount " + mount + ": " + std::strerror(err);
        return result;
      }
      continue; // removed since its parent was read, or not ours to read
    }
    while (struct dirent *e = ::readdir(d)) {
      if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
        continue; // the control files
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
        continue;
      struct stat st;
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
          st.st_dev != root_st.st_dev)
        continue;
      if (dir.depth + 1 > limits.max_depth) {
        result.truncated = true;
        continue;
      }
      pending.push_back({dir.rel + '/' + e->d_name, dir.depth + 1});
    }
    ::closedir(d);
  }
  std::sort(result.matches.begin(), result.matches.end());
  return result;
}

std::string not_found(std::string_view what, const WalkResult &walk, std::string_view mount,
                      const CgroupWalkLimits &limits) {
  std::string where(mount);
  while (where.size() > 1 && where.back() == '/')
    where.pop_back();
  std::string out = std::string(what) + ": no cgroup under " + where;
  if (walk.truncated)
    out += " (searched " + std::to_string(limits.max_directories) + " cgroups up to depth " +
           std::to_string(limits.max_depth) + ")";
  return out;
}

} // namespace

CgroupIdentity identity_from_cgroup_path(std::string_view path) {
  CgroupIdentity id;
  if (path.find('\0') != std::string_view::npos)
    return id;
  std::vector<std::string_view> components;
  for (size_t pos = 0; pos < path.size();) {
    size_t slash = path.find('/', pos);
    size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end > pos)
      components.push_back(path.substr(pos, end - pos));
    pos = end + 1;
  }

  for (size_t i = 0; i < components.size(); ++i) {
    std::string_view c = components[i];
    if (c == "." || c == "..")
      return CgroupIdentity{};
    if (is_process_unit(c))
      id.systemd_unit = std::string(c);

    auto pod = kubepods_slice(c);
    if (!pod)
      pod = kubepods_cgroupfs(components, i);
    if (pod) {
      // A kubepods root or QoS cgroup starts a new pod hierarchy (a kind
      // node's kubelet inside a pod's container), so nothing from an outer
      // pod carries over.
      id.pod_uid = std::move(pod->uid);
      id.qos_class = std::string(pod->qos);
      continue;
    }
    if (auto container = container_component(c, i > 0 ? components[i - 1] : std::string_view(), i)) {
      id.container_id = std::string(container->id);
      id.container_runtime = std::string(container->runtime);
    }
  }
  return id;
}

std::optional<std::string> canonical_pod_uid(std::string_view uid) {
  std::string lower(uid);
  for (char &c : lower)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  if (auto dashed = pod_uid_in_cgroup_name(lower, '-'))
    return dashed;
  return pod_uid_in_cgroup_name(lower, '_');
}

// --- PodDirectory -------------------------------------------------------------

PodDirectory::PodDirectory(std::string root) : PodDirectory(std::move(root), Options{}) {}

PodDirectory::PodDirectory(std::string root, Options options) : root_(std::move(root)), options_(std::move(options)) {
  if (!options_.now_ms)
    options_.now_ms = steady_now_ms;
}

std::optional<PodName> PodDirectory::lookup(std::string_view pod_uid) {
  ++stats_.lookups;
  auto uid = canonical_pod_uid(pod_uid);
  if (!uid) {
    ++stats_.misses;
    return std::nullopt; // never a reason to scan
  }
  auto it = pods_.find(*uid);
  if (it != pods_.end())
    return it->second;
  if (rescan_due(last_scan_ms_, options_.now_ms(), options_.min_rescan_interval_ms)) {
    rescan();
    it = pods_.find(*uid);
    if (it != pods_.end())
      return it->second;
  }
  ++stats_.misses;
  return std::nullopt;
}

void PodDirectory::rescan() {
  ++stats_.scans;
  last_scan_ms_ = options_.now_ms();
  DIR *dir = ::opendir(root_.c_str());
  if (dir == nullptr)
    return; // no kubelet on this machine, or not readable: no names
  std::unordered_map<std::string, PodName> fresh;
  while (struct dirent *e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..")
      continue;
    struct stat st;
    size_t first = name.find('_');
    size_t second = first == std::string_view::npos ? first : name.find('_', first + 1);
    if (second == std::string_view::npos || name.find('_', second + 1) != std::string_view::npos) {
      ++stats_.ignored;
      continue;
    }
    std::string_view ns = name.substr(0, first), pod = name.substr(first + 1, second - first - 1);
    auto uid = pod_uid_in_cgroup_name(name.substr(second + 1), '-');
    if (!uid || !is_dns_name(ns, 63, false) || !is_dns_name(pod, 253, true) ||
        ::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
      ++stats_.ignored;
      continue;
    }
    if (fresh.size() >= options_.max_entries) {
      ++stats_.overflowed;
      continue;
    }
    fresh.insert_or_assign(std::move(*uid), PodName{std::string(pod), std::string(ns)});
  }
  ::closedir(dir);
  // A pod's log directory goes when the pod is deleted, while events from
  // its last processes may still be on their way; UIDs are never reused.
  for (auto &[uid, pod] : pods_) {
    if (fresh.size() >= options_.max_entries)
      break;
    fresh.try_emplace(uid, std::move(pod));
  }
  pods_ = std::move(fresh);
}

// --- IdentityCache ------------------------------------------------------------

IdentityCache::IdentityCache(PathLookup path_of, PodDirectory *pods)
    : IdentityCache(std::move(path_of), pods, Options{}) {}

IdentityCache::IdentityCache(PathLookup path_of, PodDirectory *pods, Options options)
    : path_of_(std::move(path_of)), pods_(pods), options_(options) {}

void IdentityCache::add_pod_name(CgroupIdentity &identity) {
  if (pods_ == nullptr || identity.pod_uid.empty() || !identity.pod_name.empty())
    return;
  if (auto name = pods_->lookup(identity.pod_uid)) {
    identity.pod_name = std::move(name->name);
    identity.pod_namespace = std::move(name->namespace_);
  }
}

std::optional<CgroupIdentity> IdentityCache::lookup(uint64_t cgroup_id) {
  ++stats_.lookups;
  auto it = identities_.find(cgroup_id);
  if (it != identities_.end()) {
    add_pod_name(it->second);
    return it->second;
  }
  std::optional<std::string> path = path_of_ ? path_of_(cgroup_id) : std::nullopt;
  if (!path) {
    ++stats_.path_misses;
    return std::nullopt;
  }
  CgroupIdentity identity = identity_from_cgroup_path(*path);
  add_pod_name(identity);
  if (identities_.size() >= std::max<size_t>(options_.max_entries, 1)) {
    identities_.clear();
    ++stats_.resets;
  }
  identities_.emplace(cgroup_id, identity);
  return identity;
}

// --- --container and --pod ------------------------------------------------------

Result<std::vector<std::string>> find_container_cgroups(std::string_view mount, std::string_view id_prefix,
                                                        CgroupWalkLimits limits) {
  const std::string what = "--container " + printable(id_prefix);
  if (id_prefix.empty())
    return Error(std::string("--container: empty container id"));
  if (id_prefix.size() > kContainerIdLength)
    return Error(what + ": longer than a container id (64 hex digits)");
  std::string prefix(id_prefix);
  for (char &c : prefix) {
    if (c >= 'A' && c <= 'F')
      c = static_cast<char>(c - 'A' + 'a');
    if (!is_lower_hex(c))
      return Error(what + ": a container id has only hex digits (0-9, a-f)");
  }
  WalkResult walk = walk_cgroups(
      mount, limits, [&](const CgroupIdentity &identity) { return starts_with(identity.container_id, prefix); });
  if (!walk.error.empty())
    return Error(what + ": " + walk.error);
  if (walk.matches.empty())
    return Error(not_found(what, walk, mount, limits) + " belongs to a container whose id starts with " + prefix);
  return std::move(walk.matches);
}

Result<std::vector<std::string>> find_pod_cgroups(std::string_view mount, std::string_view pod_uid,
                                                  CgroupWalkLimits limits) {
  const std::string what = "--pod " + printable(pod_uid);
  auto uid = canonical_pod_uid(pod_uid);
  if (!uid)
    return Error(what + ": not a pod UID (8-4-4-4-12 hex digits like 5f0c2a1e-7b3d-4c9a-8e6f-1a2b3c4d5e6f, or 32 for a "
                        "static pod)");
  WalkResult walk =
      walk_cgroups(mount, limits, [&](const CgroupIdentity &identity) { return identity.pod_uid == *uid; });
  if (!walk.error.empty())
    return Error(what + ": " + walk.error);
  if (walk.matches.empty())
    return Error(not_found(what, walk, mount, limits) + " belongs to this pod");
  return std::move(walk.matches);
}

} // namespace treetrace
