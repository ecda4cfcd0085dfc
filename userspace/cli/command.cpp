// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "cli/command.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/proc_parse.h"

namespace treetrace {

// Finds COMMAND the way a shell does, so "not found" is reported up front.
std::variant<std::string, int> resolve_command(const std::string &name) {
  auto executable = [](const std::string &path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), F_OK) != 0)
      return 127;
    return executable(name) ? std::variant<std::string, int>(name) : 126;
  }
  const char *path_env = getenv("PATH");
  std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  bool found_not_executable = false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos)
      end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (executable(candidate))
      return candidate;
    if (access(candidate.c_str(), F_OK) == 0)
      found_not_executable = true;
    start = end + 1;
  }
  return found_not_executable ? 126 : 127;
}

HeldChild fork_held(const std::string &path, const std::vector<std::string> &argv, const sigset_t &original_mask) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return HeldChild{};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[1]);
    sigprocmask(SIG_SETMASK, &original_mask, nullptr);
    signal(SIGPIPE, SIG_DFL);
    char go = 0;
    ssize_t n;
    do
      n = read(fds[0], &go, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
      _exit(126); // treetrace failed to start: never run untraced
    std::vector<char *> args;
    for (const auto &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execv(path.c_str(), args.data());
    fprintf(stderr, "treetrace: %s: %s\n", argv[0].c_str(), strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  close(fds[0]);
  HeldChild child;
  child.pid = pid;
  child.release_fd.reset(fds[1]);
  if (pid < 0)
    child.release_fd.reset();
  return child;
}

bool still_running(const ProcKey &member) {
  auto stat = read_proc_stat(static_cast<int>(member.pid));
  if (!stat || stat->state == 'Z' || stat->state == 'X')
    return false;
  static const uint64_t ns_per_tick = 1'000'000'000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  const uint64_t start_tick = member.start_ns / ns_per_tick;
  return stat->starttime + 1 >= start_tick && stat->starttime <= start_tick + 1;
}

} // namespace treetrace
