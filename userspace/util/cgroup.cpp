// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/cgroup.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <vector>

namespace treetrace {
namespace {

// Undoes the octal escapes the kernel's mangle() applies to mountinfo
// paths (space, tab, newline, backslash); anything else is kept as is.
std::string unescape_mountinfo(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
        s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string_view strip_trailing_slashes(std::string_view s) {
  while (s.size() > 1 && s.back() == '/')
    s.remove_suffix(1);
  return s;
}

bool is_under(std::string_view path, std::string_view dir) {
  if (dir == "/")
    return !path.empty() && path.front() == '/';
  return path == dir || (path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/');
}

std::optional<std::string> canonical_path(const std::string &path, int &err) {
  char *resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) {
    err = errno;
    return std::nullopt;
  }
  std::string out(resolved);
  std::free(resolved);
  return out;
}

std::string quoted(std::string_view s) {
  std::string out = "'";
  out.append(s);
  out += '\'';
  return out;
}

uint64_t steady_now_ms() {
  auto d = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

} // namespace

std::optional<std::string> find_cgroup2_mount(std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);

    // id parent major:minor root mount_point options [optional...] - fstype source super_options
    std::string_view mount_point;
    bool after_separator = false;
    size_t index = 0;
    while (!line.empty()) {
      size_t sp = line.find(' ');
      std::string_view token = line.substr(0, sp);
      line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
      if (after_separator) {
        if (token == "cgroup2" && !mount_point.empty())
          return unescape_mountinfo(mount_point);
        break; // the token after " - " is the fstype; nothing else matters
      }
      if (index == 4)
        mount_point = token;
      // The optional fields (shared:N, master:N, ...) end at a lone "-".
      else if (index >= 6 && token == "-")
        after_separator = true;
      ++index;
    }
  }
  return std::nullopt;
}

std::optional<std::string> find_cgroup1_mount(std::string_view text, std::string_view controller) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // ... mount_point ... - cgroup SOURCE rw,memory  (super options list the controllers)
    const size_t sep = line.find(" - ");
    if (sep == std::string_view::npos)
      continue;
    std::string_view head = line.substr(0, sep), tail = line.substr(sep + 3);
    std::vector<std::string_view> fields;
    for (size_t pos = 0; pos <= head.size() && fields.size() < 5;) {
      size_t sp = head.find(' ', pos);
      fields.push_back(head.substr(pos, sp == std::string_view::npos ? std::string_view::npos : sp - pos));
      if (sp == std::string_view::npos)
        break;
      pos = sp + 1;
    }
    if (fields.size() < 5 || tail.substr(0, 7) != "cgroup ")
      continue;
    const size_t opts_at = tail.rfind(' ');
    std::string_view opts = tail.substr(opts_at + 1);
    for (size_t pos = 0; pos <= opts.size();) {
      size_t comma = opts.find(',', pos);
      if (opts.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos) == controller)
        return unescape_mountinfo(fields[4]);
      if (comma == std::string_view::npos)
        break;
      pos = comma + 1;
    }
  }
  return std::nullopt;
}

std::optional<uint32_t> cgroup1_hierarchy_of(std::string_view proc_cgroups, std::string_view controller) {
  // "#subsys_name hierarchy num_cgroups enabled"; hierarchy 0 is cgroup v2.
  while (!proc_cgroups.empty()) {
    size_t nl = proc_cgroups.find('\n');
    std::string_view line = proc_cgroups.substr(0, nl);
    proc_cgroups = nl == std::string_view::npos ? std::string_view() : proc_cgroups.substr(nl + 1);
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos || line.substr(0, tab) != controller)
      continue;
    std::string_view rest = line.substr(tab + 1);
    uint32_t value = 0;
    size_t i = 0;
    for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9' && value < 100000000; ++i)
      value = value * 10 + static_cast<uint32_t>(rest[i] - '0');
    if (i == 0)
      return std::nullopt;
    return value;
  }
  return std::nullopt;
}

Result<CgroupTarget> resolve_cgroup(std::string_view user_path, std::string_view mount) {
  if (user_path.empty())
    return Error(std::string("empty cgroup path"));
  if (user_path.find('\0') != std::string_view::npos)
    return Error(std::string("cgroup path contains a NUL byte"));
  mount = strip_trailing_slashes(mount);
  if (mount.empty() || mount.front() != '/')
    return Error("invalid cgroup2 mount point " + quoted(mount));

  int err = 0;
  auto real_mount = canonical_path(std::string(mount), err);
  if (!real_mount)
    return Error("cannot access cgroup2 mount " + std::string(mount) + ": " + std::strerror(err));

  std::string candidate;
  if (is_under(user_path, mount) || is_under(user_path, *real_mount)) {
    candidate = std::string(user_path);
  } else {
    std::string_view rel = user_path;
    while (!rel.empty() && rel.front() == '/')
      rel.remove_prefix(1);
    candidate = std::string(mount);
    if (!rel.empty()) {
      if (candidate != "/")
        candidate += '/';
      candidate.append(rel);
    }
  }

  auto resolved = canonical_path(candidate, err);
  if (!resolved) {
    if (err == ENOENT || err == ENOTDIR)
      return Error("cgroup " + quoted(user_path) + " does not exist under " + std::string(mount));
    return Error("cannot access cgroup " + quoted(user_path) + ": " + std::strerror(err));
  }
  // ".." or a symlink may lead out of the hierarchy.
  if (!is_under(*resolved, *real_mount))
    return Error("cgroup " + quoted(user_path) + " is outside the cgroup2 mount " + std::string(mount));

  struct stat st;
  if (::stat(resolved->c_str(), &st) != 0) {
    err = errno;
    return Error("cannot access cgroup " + quoted(user_path) + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode))
    return Error("cgroup " + quoted(user_path) + " is not a directory under " + std::string(mount));

  CgroupTarget target;
  target.id = static_cast<uint64_t>(st.st_ino);
  if (*resolved == *real_mount) {
    target.rel_path = "/";
  } else {
    target.rel_path = *real_mount == "/" ? *resolved : resolved->substr(real_mount->size());
    for (char c : target.rel_path)
      target.level += c == '/' ? 1 : 0;
  }
  target.abs_path = std::move(*resolved);
  return target;
}

CgroupPathCache::CgroupPathCache(std::string mount) : CgroupPathCache(std::move(mount), Options{}) {}

CgroupPathCache::CgroupPathCache(std::string mount, Options options)
    : mount_(strip_trailing_slashes(mount)), options_(std::move(options)) {
  if (!options_.now_ms)
    options_.now_ms = steady_now_ms;
}

std::optional<std::string> CgroupPathCache::lookup(uint64_t id) {
  ++stats_.lookups;
  auto it = paths_.find(id);
  if (it != paths_.end())
    return it->second;
  uint64_t now = options_.now_ms();
  if (!last_scan_ms_ || now < *last_scan_ms_ || now - *last_scan_ms_ >= options_.min_rescan_interval_ms) {
    rescan();
    it = paths_.find(id);
    if (it != paths_.end())
      return it->second;
  }
  ++stats_.misses;
  return std::nullopt;
}

void CgroupPathCache::rescan() {
  ++stats_.scans;
  last_scan_ms_ = options_.now_ms();

  struct stat root_st;
  if (::stat(mount_.c_str(), &root_st) != 0 || !S_ISDIR(root_st.st_mode)) {
    ++stats_.scan_errors;
    return; // keep what we had
  }
  std::unordered_map<uint64_t, std::string> fresh;
  auto add = [&](uint64_t id, std::string path) {
    if (fresh.size() < options_.max_entries)
      fresh.emplace(id, std::move(path));
    else
      ++stats_.overflowed;
  };
  add(static_cast<uint64_t>(root_st.st_ino), "/");

  // Iterative walk: no recursion, no nftw global state. Relative paths; ""
  // is the root.
  std::vector<std::string> pending{std::string()};
  std::string dir_path;
  while (!pending.empty()) {
    std::string rel = std::move(pending.back());
    pending.pop_back();
    dir_path = mount_ == "/" ? rel : mount_ + rel;
    if (dir_path.empty())
      dir_path = "/";
    DIR *dir = ::opendir(dir_path.c_str());
    if (dir == nullptr) {
      if (errno != ENOENT) // ENOENT: removed since its parent was read
        ++stats_.scan_errors;
      continue;
    }
    while (struct dirent *e = ::readdir(dir)) {
      if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
        continue; // the control files
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
        continue;
      struct stat st;
      if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
          st.st_dev != root_st.st_dev)
        continue;
      std::string child = rel + '/' + e->d_name;
      add(static_cast<uint64_t>(st.st_ino), child);
      pending.push_back(std::move(child));
    }
    ::closedir(dir);
  }

  // Cgroups removed since the last scan may still have events in flight;
  // ids are never reused, so their old paths stay correct.
  for (auto &[id, path] : paths_) {
    if (fresh.size() >= options_.max_entries)
      break;
    fresh.try_emplace(id, std::move(path));
  }
  paths_ = std::move(fresh);
}

} // namespace treetrace
