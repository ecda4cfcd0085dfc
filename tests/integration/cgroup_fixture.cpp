// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "cgroup_fixture.h"

#include "harness.h"

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace tt_test {
namespace {

std::atomic<int> g_serial{0};

// A name no other test process (or earlier run) on this node can hold.
std::string unique_name(const char *prefix) {
  return std::string(prefix) + std::to_string(getpid()) + "-" + std::to_string(g_serial++);
}

bool exists(const std::string &path) { return access(path.c_str(), F_OK) == 0; }

std::optional<std::string> read_text(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The value of `key` in a "key value" per line file (cpu.stat,
// memory.events, memory.oom_control).
std::optional<uint64_t> keyed_value(const std::string &path, const std::string &key) {
  std::ifstream in(path);
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v)
    if (k == key)
      return v;
  return std::nullopt;
}

bool has_word(const std::string &text, const std::string &word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w)
    if (w == word)
      return true;
  return false;
}

// Undoes mountinfo's octal escapes (\040 for a space, ...).
std::string unescape(const std::string &s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 2])) && std::isdigit(static_cast<unsigned char>(s[i + 3]))) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Mount point of the cgroup v1 hierarchy that carries the memory
// controller, from /proc/self/mountinfo; one whose root is the hierarchy's
// root is preferred, so that paths relative to it are the kernel's.
std::string cgroup_v1_memory_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, fallback;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point, opts, f;
    fields >> id >> parent >> dev >> root >> mount_point >> opts;
    while (fields >> f && f != "-") {
    }
    std::string fstype, source, super_opts;
    fields >> fstype >> source >> super_opts;
    if (fstype != "cgroup")
      continue;
    std::istringstream options(super_opts);
    bool memory = false;
    for (std::string o; std::getline(options, o, ',');)
      memory = memory || o == "memory";
    if (!memory)
      continue;
    if (root == "/")
      return unescape(mount_point);
    if (fallback.empty())
      fallback = unescape(mount_point);
  }
  return fallback;
}

// Does the cgroup2 mount offer the memory controller to its children?
bool v2_has_memory(const std::string &mount) {
  auto controllers = read_text(mount + "/cgroup.controllers");
  return controllers && has_word(*controllers, "memory");
}

// Every directory at and below `dir`, deepest first: the order rmdir needs.
void subtree_bottom_up(const std::string &dir, std::vector<std::string> &out) {
  if (DIR *d = opendir(dir.c_str())) {
    std::vector<std::string> children;
    while (dirent *e = readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..")
        continue;
      struct stat st {};
      const std::string path = dir + "/" + name;
      if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        children.push_back(path);
    }
    closedir(d);
    for (const auto &c : children)
      subtree_bottom_up(c, out);
  }
  out.push_back(dir);
}

// Kills every process at and below `dir` and waits (bounded) until none is
// left, then removes the directories deepest first. cgroup.kill (v2, 5.14+)
// kills the whole subtree at once, forks in flight included; without it
// each listed pid is sent SIGKILL until the lists stay empty.
void kill_and_remove(const std::string &dir) {
  if (dir.empty() || !exists(dir))
    return;
  const bool have_kill = exists(dir + "/cgroup.kill");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::vector<std::string> dirs;
    subtree_bottom_up(dir, dirs);
    size_t members = 0;
    for (const auto &d : dirs)
      members += cgroup_procs(d + "/cgroup.procs").size();
    if (members == 0 || std::chrono::steady_clock::now() > deadline)
      break;
    if (have_kill)
      write_file(dir + "/cgroup.kill", "1");
    else
      for (const auto &d : dirs)
        for (pid_t pid : cgroup_procs(d + "/cgroup.procs"))
          kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<std::string> dirs;
  subtree_bottom_up(dir, dirs);
  for (const auto &d : dirs)
    for (int i = 0; i < 100 && rmdir(d.c_str()) != 0 && errno == EBUSY; i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (exists(dir))
    fprintf(stderr, "cgroup_fixture: could not remove %s: %s\n", dir.c_str(), strerror(errno));
}

std::string make_dir(const std::string &path) {
  if (mkdir(path.c_str(), 0755) != 0)
    return "cannot create cgroup " + path + ": " + strerror(errno) +
           (errno == EACCES || errno == EPERM ? " (needs root or a delegated cgroup)" : "");
  return "";
}

} // namespace

// Writes `value` in one write(2), as cgroup files require; "" on success,
// else what failed.
std::string write_file(const std::string &path, const std::string &value) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return "cannot open " + path + ": " + strerror(errno);
  const ssize_t n = write(fd, value.data(), value.size());
  const int saved = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size()))
    return "cannot write '" + value + "' to " + path + ": " + strerror(saved);
  return "";
}

std::vector<pid_t> cgroup_procs(const std::string &procs_file) {
  std::vector<pid_t> pids;
  std::ifstream in(procs_file);
  pid_t pid;
  while (in >> pid)
    pids.push_back(pid);
  return pids;
}

ScratchCgroup::ScratchCgroup(const std::string &nested) {
  mount_ = cgroup2_mount();
  if (mount_.empty()) {
    error_ = "no cgroup2 filesystem in /proc/self/mountinfo";
    return;
  }
  rel_path_ = "/" + unique_name("tt-");
  abs_path_ = mount_ + rel_path_;
  if ((error_ = make_dir(abs_path_)) != "")
    return;
  created_.push_back(abs_path_);
  std::istringstream parts(nested);
  for (std::string part; std::getline(parts, part, '/');) {
    if (part.empty())
      continue;
    rel_path_ += "/" + part;
    abs_path_ = mount_ + rel_path_;
    if ((error_ = make_dir(abs_path_)) != "")
      return;
    created_.push_back(abs_path_);
  }
}

ScratchCgroup::~ScratchCgroup() {
  if (!created_.empty())
    kill_and_remove(created_.front());
}

std::vector<std::string> exec_in_cgroup(const std::string &procs_file, const std::vector<std::string> &argv) {
  std::vector<std::string> wrapped{"/bin/sh", "-c", "echo 0 > \"$0\" && exec \"$@\"", procs_file};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

std::optional<uint64_t> ScratchCgroup::cpu_usage_usec() const {
  return keyed_value(abs_path_ + "/cpu.stat", "usage_usec");
}

std::optional<std::string> MemoryLimitedCgroup::unavailable_reason() {
  const std::string v2 = cgroup2_mount();
  if (!v2.empty() && v2_has_memory(v2))
    return std::nullopt;
  if (!cgroup_v1_memory_mount().empty())
    return std::nullopt;
  return "no memory controller: cgroup2 " + (v2.empty() ? std::string("is not mounted") : "at " + v2 + " lacks it") +
         " and no cgroup v1 memory hierarchy is mounted";
}

MemoryLimitedCgroup::MemoryLimitedCgroup(uint64_t limit_bytes) {
  const std::string v2 = cgroup2_mount();
  std::string mount;
  if (!v2.empty() && v2_has_memory(v2)) {
    mount = v2;
    // The controller must be enabled in every parent's subtree_control;
    // the cgroup is made directly under the root, so that is the root's.
    auto enabled = read_text(v2 + "/cgroup.subtree_control");
    if (!enabled || !has_word(*enabled, "memory")) {
      if (std::string e = write_file(v2 + "/cgroup.subtree_control", "+memory"); !e.empty()) {
        error_ = "cannot enable the memory controller: " + e;
        return;
      }
      v2_root_enabled_ = v2;
    }
  } else {
    mount = cgroup_v1_memory_mount();
    v1_ = true;
    if (mount.empty()) {
      error_ = unavailable_reason().value_or("no memory controller");
      return;
    }
  }
  rel_path_ = "/" + unique_name("tt-mem-");
  abs_path_ = mount + rel_path_;
  if ((error_ = make_dir(abs_path_)) != "")
    return;
  created_ = true;
  const std::string limit_file = abs_path_ + (v1_ ? "/memory.limit_in_bytes" : "/memory.max");
  if ((error_ = write_file(limit_file, std::to_string(limit_bytes))) != "")
    return;
  auto limit = read_text(limit_file);
  limit_bytes_ = limit ? std::strtoull(limit->c_str(), nullptr, 10) : 0;
  if (limit_bytes_ == 0) {
    error_ = "cannot read back " + limit_file;
    return;
  }
  // Without swap the cgroup cannot push its anonymous pages out, so the
  // limit is reached by the allocation itself and the OOM killer runs.
  const std::string swap_file = abs_path_ + (v1_ ? "/memory.memsw.limit_in_bytes" : "/memory.swap.max");
  if (!exists(swap_file)) {
    swap_note_ = swap_file + " absent (kernel without swap accounting): swap not limited";
  } else if (std::string e = write_file(swap_file, v1_ ? std::to_string(limit_bytes_) : "0"); !e.empty()) {
    swap_note_ = "swap not limited: " + e;
  } else {
    swap_note_ = v1_ ? "memory.memsw.limit_in_bytes=" + std::to_string(limit_bytes_) : "memory.swap.max=0";
  }
}

MemoryLimitedCgroup::~MemoryLimitedCgroup() {
  if (created_)
    kill_and_remove(abs_path_);
  // Leave the node as found; refused (EBUSY) if others use it meanwhile.
  if (!v2_root_enabled_.empty())
    write_file(v2_root_enabled_ + "/cgroup.subtree_control", "-memory");
}

std::optional<uint64_t> MemoryLimitedCgroup::oom_kill_count() const {
  return v1_ ? keyed_value(abs_path_ + "/memory.oom_control", "oom_kill")
             : keyed_value(abs_path_ + "/memory.events", "oom_kill");
}

} // namespace tt_test
