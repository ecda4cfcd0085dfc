// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "harness.h"

#include "util/cgroup.h"
#include "util/proc_parse.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tt_test {
namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

bool drain(int out_fd, int err_fd, std::string &out, std::string &err, double deadline,
           const std::string *until_err = nullptr) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (until_err && err.find(*until_err) != std::string::npos)
      return true;
    int left_ms = static_cast<int>((deadline - now_s()) * 1000);
    if (left_ms <= 0)
      return false;
    if (poll(fds, 2, left_ms) <= 0)
      continue;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
        continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        fds[i].fd = -1;
        open_fds--;
        continue;
      }
      (i == 0 ? out : err).append(buf, static_cast<size_t>(n));
    }
  }
  return true;
}

bool is_json(const std::vector<std::string> &args) {
  for (size_t i = 0; i + 1 < args.size() && args[i] != "--"; i++)
    if (args[i] == "--format" && args[i + 1] == "json")
      return true;
  return false;
}

int decode_status(int status) {
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

// With --format json every stdout line must be JSON; otherwise none is parsed.
void parse_records(RunResult &r, bool json_output) {
  std::istringstream in(r.out);
  std::string line;
  while (json_output && std::getline(in, line)) {
    if (line.empty())
      continue;
    try {
      r.records.push_back(json::parse(line));
    } catch (const json::parse_error &e) {
      ADD_FAILURE() << "stdout line is not valid JSON (" << e.what() << "): " << line;
    }
  }
}

} // namespace

std::optional<std::string> bpf_unavailable_reason() {
  static std::optional<std::optional<std::string>> cached;
  if (cached)
    return *cached;
  // The real check: load a trivial program. Capabilities alone can lie
  // (e.g. a seccomp profile or lockdown may still refuse).
  struct bpf_insn prog[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "tt_probe", "GPL", prog, 2, nullptr);
  if (fd < 0) {
    cached = std::string("cannot load a BPF program: ") + strerror(errno) +
             " (run as root, or with CAP_BPF and CAP_PERFMON)";
  } else {
    close(fd);
    cached = std::optional<std::string>{};
  }
  return *cached;
}

std::vector<json> RunResult::events(const std::string &name) const {
  std::vector<json> out;
  for (const auto &r : records)
    if (r.value("event", "") == name)
      out.push_back(r);
  return out;
}

std::optional<json> RunResult::summary() const {
  auto s = events("summary");
  if (s.empty())
    return std::nullopt;
  return s.back();
}

RunResult run_treetrace(const std::vector<std::string> &args, const std::vector<std::string> &env, int timeout_s) {
  std::vector<std::string> argv{treetrace_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r;
  int out_fd, err_fd;
  const double start = now_s();
  const Spawned child = spawn(argv, env, Capture::stdout_and_stderr);
  const pid_t pid = child.pid;
  out_fd = child.out_fd;
  err_fd = child.err_fd;
  if (pid < 0) {
    ADD_FAILURE() << "cannot spawn treetrace";
    return r;
  }
  if (!drain(out_fd, err_fd, r.out, r.err, start + timeout_s)) {
    kill(pid, SIGKILL);
    ADD_FAILURE() << "treetrace timed out after " << timeout_s << " s; stderr: " << r.err;
  }
  close(out_fd);
  close(err_fd);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = decode_status(status);
  r.seconds = now_s() - start;
  parse_records(r, is_json(args));
  return r;
}

BackgroundTracer::BackgroundTracer(const std::vector<std::string> &args, const std::vector<std::string> &env)
    : json_(is_json(args)) {
  std::vector<std::string> argv{treetrace_bin(), "-v"};
  argv.insert(argv.end(), args.begin(), args.end());
  const Spawned child = spawn(argv, env, Capture::stdout_and_stderr);
  pid_ = child.pid;
  out_fd_ = child.out_fd;
  err_fd_ = child.err_fd;
  if (pid_ < 0)
    return;
  // Wait for the startup scan to finish: from then on nothing is missed.
  const std::string marker = "tracing:";
  std::string ignored_out;
  // Stdout is not read here; a test that prints a lot must stop() soon.
  pollfd fd{err_fd_, POLLIN, 0};
  const double deadline = now_s() + 30;
  char buf[4096];
  while (now_s() < deadline && err_so_far_.find(marker) == std::string::npos) {
    if (poll(&fd, 1, 100) > 0) {
      ssize_t n = read(err_fd_, buf, sizeof buf);
      if (n <= 0)
        break;
      err_so_far_.append(buf, static_cast<size_t>(n));
    }
  }
  ready_ = err_so_far_.find(marker) != std::string::npos;
  if (!ready_)
    ADD_FAILURE() << "background treetrace did not become ready; stderr: " << err_so_far_;
}

RunResult BackgroundTracer::stop(int signo) {
  if (stopped_ || pid_ < 0)
    return result_;
  stopped_ = true;
  const double start = now_s();
  if (signo)
    kill(pid_, signo);
  result_.err = err_so_far_;
  result_.out = streamed_; // what next_record() already read, returned or not
  if (!drain(out_fd_, err_fd_, result_.out, result_.err, start + (signo ? 20 : 60))) {
    kill(pid_, SIGKILL);
    ADD_FAILURE() << "treetrace did not stop within 20 s of signal " << signo;
  }
  close(out_fd_);
  close(err_fd_);
  int status = 0;
  waitpid(pid_, &status, 0);
  result_.exit_code = decode_status(status);
  result_.seconds = now_s() - start;
  parse_records(result_, json_);
  return result_;
}

std::optional<json> BackgroundTracer::next_record(std::chrono::milliseconds timeout) {
  if (stopped_ || pid_ < 0)
    return std::nullopt;
  const double deadline = now_s() + static_cast<double>(timeout.count()) / 1000;
  char buf[65536];
  for (;;) {
    size_t nl;
    while ((nl = streamed_.find('\n', streamed_next_)) != std::string::npos) {
      const std::string line = streamed_.substr(streamed_next_, nl - streamed_next_);
      streamed_next_ = nl + 1;
      if (line.empty() || !json_)
        continue;
      try {
        return json::parse(line);
      } catch (const json::parse_error &e) {
        ADD_FAILURE() << "stdout line is not valid JSON (" << e.what() << "): " << line;
      }
    }
    if (out_eof_)
      return std::nullopt;
    const int left_ms = std::max(0, static_cast<int>((deadline - now_s()) * 1000));
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_eof_ ? -1 : err_fd_, POLLIN, 0}};
    const int ready = poll(fds, 2, left_ms);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      return std::nullopt;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0)
        out_eof_ = true;
      else
        streamed_.append(buf, static_cast<size_t>(n));
    }
    if (fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      const ssize_t n = read(err_fd_, buf, sizeof buf);
      if (n <= 0)
        err_eof_ = true;
      else
        err_so_far_.append(buf, static_cast<size_t>(n));
    }
  }
}

BackgroundTracer::~BackgroundTracer() {
  if (!stopped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    close(out_fd_);
    close(err_fd_);
  }
}

Spawned spawn(const std::vector<std::string> &argv, const std::vector<std::string> &env, Capture capture) {
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  if (capture != Capture::none && pipe2(out, O_CLOEXEC) != 0)
    return {};
  if (capture == Capture::stdout_and_stderr && pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return {};
  }
  pid_t pid = fork();
  if (pid == 0) {
    if (out[1] >= 0)
      dup2(out[1], 1);
    if (err[1] >= 0)
      dup2(err[1], 2);
    for (const auto &e : env)
      putenv(strdup(e.c_str()));
    std::vector<char *> args;
    for (const auto &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  for (int fd : {out[1], err[1]})
    if (fd >= 0)
      close(fd);
  if (pid < 0) {
    for (int fd : {out[0], err[0]})
      if (fd >= 0)
        close(fd);
    return {};
  }
  return {pid, out[0], err[0]};
}

std::string read_all(int fd) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    text.append(buf, static_cast<size_t>(n));
  close(fd);
  return text;
}

void BackgroundTracer::pause_for(double seconds) {
  kill(pid_, SIGSTOP);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  kill(pid_, SIGCONT);
}

int run_command(const std::vector<std::string> &argv, const std::vector<std::string> &env) {
  const Spawned child = spawn(argv, env);
  int status = 0;
  waitpid(child.pid, &status, 0);
  return decode_status(status);
}

std::string workload_bin() { return TT_WORKLOAD_BIN; }
std::string treetrace_bin() { return TT_TREETRACE_BIN; }

TruthFile::TruthFile() {
  char tmpl[] = "/tmp/tt-truth-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd >= 0)
    close(fd);
  path_ = tmpl;
}

TruthFile::~TruthFile() { unlink(path_.c_str()); }

std::vector<json> TruthFile::records() const {
  std::vector<json> out;
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty())
      out.push_back(json::parse(line));
  return out;
}

std::vector<json> TruthFile::with(const std::string &key, const std::string &value) const {
  std::vector<json> out;
  for (auto &r : records())
    if (r.contains(key) && r[key].is_string() && r[key] == value)
      out.push_back(r);
  return out;
}

::testing::AssertionResult within(double actual, double expected, double rel, double abs_tol) {
  const double tol = std::max(rel * std::abs(expected), abs_tol);
  if (std::abs(actual - expected) <= tol)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "actual " << actual << " vs expected " << expected << " differs by "
                                       << std::abs(actual - expected) << " > tolerance " << tol;
}

double rss_counter_slack_bytes() {
  const long cpus = sysconf(_SC_NPROCESSORS_CONF);
  const long batch = std::max(32L, 2 * cpus);
  constexpr long kRssCounters = 3; // MM_FILEPAGES, MM_ANONPAGES, MM_SHMEMPAGES
  return static_cast<double>(kRssCounters * cpus * batch * sysconf(_SC_PAGESIZE));
}

std::string cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  return treetrace::find_cgroup2_mount(text.str()).value_or("");
}

std::set<uint32_t> treetrace_programs_since(const std::map<uint32_t, std::string> &before) {
  static const std::set<std::string> ours = {"handle_switch", "handle_fork", "handle_exec", "handle_exit",
                                             "scan_tasks"};
  std::set<uint32_t> ids;
  for (const auto &[id, name] : loaded_bpf_programs())
    if (!before.count(id) && ours.count(name))
      ids.insert(id);
  return ids;
}

std::set<uint32_t> still_loaded_after(std::set<uint32_t> ids, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (!ids.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto now = loaded_bpf_programs();
    std::erase_if(ids, [&](uint32_t id) { return !now.count(id); });
  }
  return ids;
}

std::map<uint32_t, std::string> loaded_bpf_programs() {
  std::map<uint32_t, std::string> names;
  uint32_t id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0)
      continue;
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
      names[id] = info.name;
    close(fd);
  }
  return names;
}

std::optional<uint64_t> bpf_map_entries(pid_t owner, const std::string &name) {
  const std::string fdinfo_dir = "/proc/" + std::to_string(owner) + "/fdinfo";
  DIR *dir = opendir(fdinfo_dir.c_str());
  if (!dir)
    return std::nullopt;
  std::set<uint32_t> map_ids;
  while (dirent *entry = readdir(dir)) {
    std::ifstream info(fdinfo_dir + "/" + entry->d_name);
    std::string line;
    while (std::getline(info, line))
      if (line.rfind("map_id:", 0) == 0)
        map_ids.insert(static_cast<uint32_t>(std::stoul(line.substr(7))));
  }
  closedir(dir);
  for (uint32_t id : map_ids) {
    const int fd = bpf_map_get_fd_by_id(id);
    if (fd < 0)
      continue;
    bpf_map_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0 || name != info.name) {
      close(fd);
      continue;
    }
    std::vector<char> key(info.key_size), next(info.key_size);
    uint64_t entries = 0;
    void *prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
      entries++;
      key.swap(next);
      prev = key.data();
    }
    close(fd);
    return entries;
  }
  return std::nullopt;
}

uint64_t vm_rss_kb(pid_t pid) {
  const auto status = treetrace::read_proc_status(pid);
  return status && status->vm_rss_bytes ? *status->vm_rss_bytes / 1024 : 0;
}

} // namespace tt_test
