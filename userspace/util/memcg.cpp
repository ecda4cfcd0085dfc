// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/memcg.h"

#include <cerrno>
#include <climits>

#include "util/cgroup.h"
#include "util/cgroup_identity.h"
#include "util/proc_parse.h"

namespace treetrace {
namespace {

bool has_word(std::string_view text, std::string_view word, char sep) {
  for (size_t pos = 0; pos <= text.size();) {
    size_t end = text.find(sep, pos);
    if (end == std::string_view::npos)
      end = text.size();
    if (text.substr(pos, end - pos) == word)
      return true;
    pos = end + 1;
  }
  return false;
}

// Absolute, and no empty, "." or ".." component ("/" itself is fine).
bool is_plain_cgroup_path(std::string_view p) {
  if (p.empty() || p.front() != '/')
    return false;
  if (p == "/")
    return true;
  for (size_t pos = 1; pos <= p.size();) {
    size_t end = p.find('/', pos);
    if (end == std::string_view::npos)
      end = p.size();
    std::string_view c = p.substr(pos, end - pos);
    if (c.empty() || c == "." || c == ".." || c.find('\0') != std::string_view::npos)
      return false;
    pos = end + 1;
  }
  return true;
}

std::string parent_of(std::string_view p) {
  const size_t slash = p.rfind('/');
  return slash == 0 || slash == std::string_view::npos ? std::string("/") : std::string(p.substr(0, slash));
}

bool identity_matches(MemcgGroupKind kind, std::string_view path, std::string_view key) {
  const CgroupIdentity id = identity_from_cgroup_path(path);
  switch (kind) {
  case MemcgGroupKind::Container:
    return id.container_id == key;
  case MemcgGroupKind::Pod:
    return id.pod_uid == key;
  case MemcgGroupKind::Unit:
    return id.systemd_unit == key;
  case MemcgGroupKind::Cgroup:
    break;
  }
  return false;
}

std::string_view trim_newline(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.remove_suffix(1);
  return s;
}

} // namespace

std::optional<MemcgHierarchy>
find_memcg_hierarchy(std::string_view mountinfo_text,
                     const std::function<std::optional<std::string>(const std::string &path)> &read_file) {
  // The controller is bound to one hierarchy at a time: where cgroup v2
  // lists it, no v1 hierarchy can have it, and the other way round.
  if (auto v2 = find_cgroup2_mount(mountinfo_text)) {
    auto controllers = read_file(*v2 + "/cgroup.controllers");
    if (controllers) {
      std::string_view c = trim_newline(*controllers);
      if (has_word(c, "memory", ' '))
        return MemcgHierarchy{*v2, false};
    }
  }
  if (auto v1 = find_cgroup1_mount(mountinfo_text, "memory"))
    return MemcgHierarchy{*v1, true};
  return std::nullopt;
}

std::optional<std::string> memcg_path_from_proc_cgroup(std::string_view text, bool v1) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // hierarchy-id:controller-list:path; the path may itself hold ':'.
    const size_t c1 = line.find(':');
    if (c1 == std::string_view::npos)
      continue;
    const size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos)
      continue;
    std::string_view id = line.substr(0, c1), controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string_view path = line.substr(c2 + 1);
    const bool wanted = v1 ? id != "0" && has_word(controllers, "memory", ',') : id == "0" && controllers.empty();
    if (!wanted)
      continue;
    constexpr std::string_view kDeleted = " (deleted)";
    if (path.size() >= kDeleted.size() && path.substr(path.size() - kDeleted.size()) == kDeleted)
      return std::nullopt;
    if (!is_plain_cgroup_path(path))
      return std::nullopt;
    return std::string(path);
  }
  return std::nullopt;
}

std::optional<std::string> common_cgroup_ancestor(const std::vector<std::string> &paths) {
  if (paths.empty())
    return std::nullopt;
  std::string common = paths.front();
  for (const std::string &p : paths) {
    // Shorten `common` until `p` is it or below it.
    while (common != "/" && !(p == common || (p.size() > common.size() && p.compare(0, common.size(), common) == 0 &&
                                              p[common.size()] == '/')))
      common = parent_of(common);
  }
  return common;
}

std::optional<std::string> group_memcg_path(MemcgGroupKind kind, std::string_view key, bool v1,
                                            const std::vector<std::string> &members) {
  if (key.empty())
    return std::nullopt;
  std::optional<std::string> found;
  if (kind == MemcgGroupKind::Cgroup) {
    if (!v1) {
      found = std::string(key);
      if (!is_plain_cgroup_path(*found))
        return std::nullopt;
    } else {
      if (members.empty())
        return std::nullopt;
      for (const std::string &m : members)
        if (m != members.front())
          return std::nullopt;
      found = members.front();
    }
  } else {
    found = common_cgroup_ancestor(members);
    if (!found || !identity_matches(kind, *found, key))
      return std::nullopt;
    for (std::string up = parent_of(*found); up != "/" && identity_matches(kind, up, key); up = parent_of(up))
      found = up;
  }
  if (*found == "/")
    return std::nullopt;
  return found;
}

std::optional<uint64_t> parse_memcg_counter(std::string_view text) {
  if (!text.empty() && text.back() == '\n')
    text.remove_suffix(1);
  if (text.empty() || text.size() > 20)
    return std::nullopt;
  uint64_t v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9')
      return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(ch - '0');
    if (v > (UINT64_MAX - digit) / 10)
      return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

std::optional<uint64_t> parse_memcg_limit(std::string_view text, bool v1, uint64_t page_size) {
  if (!v1 && (text == "max" || text == "max\n"))
    return std::nullopt;
  auto v = parse_memcg_counter(text);
  if (!v)
    return std::nullopt;
  if (v1) {
    // PAGE_COUNTER_MAX is LONG_MAX / PAGE_SIZE pages; the file shows it
    // times the page size ("-1" and larger writes are clamped to it).
    const uint64_t page = page_size ? page_size : 4096;
    const uint64_t unlimited = (static_cast<uint64_t>(LLONG_MAX) / page) * page;
    if (*v >= unlimited)
      return std::nullopt;
  }
  return v;
}

std::optional<MemcgFigures> read_memcg_figures(const MemcgHierarchy &h, const std::string &rel_path, uint64_t page_size,
                                               int *error) {
  if (error)
    *error = 0;
  const std::string dir = h.mount + (rel_path == "/" ? std::string() : rel_path);
  auto read = [&](const char *name, int *err) {
    const std::string path = dir + "/" + name;
    return read_text_file(path.c_str(), 64, err);
  };
  int err = 0;
  MemcgFigures f;
  auto current = read(h.v1 ? "memory.usage_in_bytes" : "memory.current", &err);
  if (current && !(f.current_bytes = parse_memcg_counter(*current)))
    err = EINVAL;
  if (!f.current_bytes) {
    if (error)
      *error = err ? err : EINVAL;
    return std::nullopt;
  }
  int peak_err = 0;
  if (auto peak = read(h.v1 ? "memory.max_usage_in_bytes" : "memory.peak", &peak_err))
    f.peak_bytes = parse_memcg_counter(*peak);
  auto limit = read(h.v1 ? "memory.limit_in_bytes" : "memory.max", &err);
  if (!limit) {
    if (error)
      *error = err ? err : EINVAL;
    return std::nullopt;
  }
  f.limit_bytes = parse_memcg_limit(*limit, h.v1, page_size);
  // A limit that is neither a number nor "max" is no limit file's.
  if (!f.limit_bytes && !(h.v1 ? parse_memcg_counter(*limit).has_value() : trim_newline(*limit) == "max")) {
    if (error)
      *error = EINVAL;
    return std::nullopt;
  }
  return f;
}

} // namespace treetrace
