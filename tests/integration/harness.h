// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Runs the real treetrace binary against real workloads and parses what it
// prints. Tests that need BPF call TT_REQUIRE_BPF(): without privileges they
// skip with the reason, unless TREETRACE_REQUIRE_BPF=1 makes that a failure.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

namespace tt_test {

using nlohmann::json;

// Why BPF cannot be used here, or nullopt when it can.
std::optional<std::string> bpf_unavailable_reason();

#define TT_REQUIRE_BPF()                                                                                               \
  do {                                                                                                                 \
    if (auto reason = ::tt_test::bpf_unavailable_reason()) {                                                           \
      const char *req = getenv("TREETRACE_REQUIRE_BPF");                                                               \
      if (req && std::string(req) == "1")                                                                              \
        FAIL() << "BPF required (TREETRACE_REQUIRE_BPF=1) but unavailable: " << *reason;                               \
      GTEST_SKIP() << "BPF unavailable: " << *reason;                                                                  \
    }                                                                                                                  \
  } while (0)

struct RunResult {
  int exit_code = -1; // WEXITSTATUS, or 128+signal
  std::string out;
  std::string err;
  std::vector<json> records; // every stdout line, parsed (a parse failure fails the test)
  double seconds = 0;

  std::vector<json> events(const std::string &name) const;
  std::optional<json> summary() const;
};

// Runs `treetrace args...` to completion (killed after timeout_s).
RunResult run_treetrace(const std::vector<std::string> &args, const std::vector<std::string> &env = {},
                        int timeout_s = 60);

// A treetrace running in the background (node mode), ready to trace.
class BackgroundTracer {
public:
  // `env`: extra environment (NAME=value) for treetrace and so for the
  // command it runs.
  explicit BackgroundTracer(const std::vector<std::string> &args, const std::vector<std::string> &env = {});
  ~BackgroundTracer();
  bool ready() const { return ready_; }
  pid_t pid() const { return pid_; }
  // Stops treetrace (SIGSTOP) for `seconds`, as a stalled reader would be,
  // then lets it go on.
  void pause_for(double seconds);
  // The next stdout line (with --format json), parsed, as soon as it is
  // complete; nullopt if none is complete within `timeout` or stdout has
  // ended. For tests that read the kernel's figures the moment a record
  // arrives. Stderr is drained meanwhile so treetrace never blocks on it.
  // Lines returned here are still in stop()'s and wait()'s result.
  std::optional<json> next_record(std::chrono::milliseconds timeout);
  // Sends SIGINT and collects the output.
  RunResult stop(int signo = 2);
  // Waits for treetrace to end by itself (run-a-command) and collects the output.
  RunResult wait() { return stop(0); }

private:
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  bool ready_ = false;
  std::string err_so_far_;
  RunResult result_;
  bool stopped_ = false;
  bool json_ = false;
  std::string streamed_;     // stdout already read by next_record(), complete lines and any partial one
  size_t streamed_next_ = 0; // where the first line not yet returned starts
  bool out_eof_ = false, err_eof_ = false;
};

// A process started by spawn(), with the read ends of the pipes that carry
// its output when captured (-1 otherwise: it writes where the test does).
struct Spawned {
  pid_t pid = -1;
  int out_fd = -1;
  int err_fd = -1;
};
enum class Capture { none, stdout_only, stdout_and_stderr };

// Forks and execs argv[0] (a path) with extra environment (NAME=value).
Spawned spawn(const std::vector<std::string> &argv, const std::vector<std::string> &env = {},
              Capture capture = Capture::none);

// Reads fd to its end, then closes it.
std::string read_all(int fd);

// Runs a command to completion with extra environment; returns exit status.
int run_command(const std::vector<std::string> &argv, const std::vector<std::string> &env = {});

std::string workload_bin();
std::string treetrace_bin();

// A fresh file for $TT_TRUTH and its parsed lines.
class TruthFile {
public:
  TruthFile();
  ~TruthFile();
  const std::string &path() const { return path_; }
  std::string env() const { return "TT_TRUTH=" + path_; }
  std::vector<json> records() const;
  std::vector<json> with(const std::string &key, const std::string &value) const;

private:
  std::string path_;
};

// Tolerance used throughout: |a - b| <= max(rel * b, abs).
::testing::AssertionResult within(double actual, double expected, double rel, double abs_tol);

// How far treetrace's RSS may honestly sit from /proc's figures. Since 6.2
// the kernel keeps RSS in per-CPU counters (file, anon, shmem); treetrace
// reads their global values, which differ from the exact sums by less than
// percpu_counter_batch (max(32, 2 x CPUs)) pages per CPU and counter, in
// either direction, while /proc may sum the per-CPU parts. The bound is
// derived from the kernel's batching rule, not fitted to observed errors;
// docs/accounting.md states it for users.
double rss_counter_slack_bytes();

// Where cgroup2 is mounted (/sys/fs/cgroup, or .../unified on hybrid
// layouts); empty when it is not.
std::string cgroup2_mount();

// BPF programs currently loaded in the kernel: id -> name.
std::map<uint32_t, std::string> loaded_bpf_programs();

// treetrace's programs among those loaded now and not in `before`: other
// tracers, other treetraces included, may be loaded beside it.
std::set<uint32_t> treetrace_programs_since(const std::map<uint32_t, std::string> &before);

// Of `ids`, the programs still loaded once `wait` has passed (the kernel
// frees a program asynchronously after its last reference goes).
std::set<uint32_t> still_loaded_after(std::set<uint32_t> ids, std::chrono::milliseconds wait);

// Entries in the BPF map called `name` that process `owner` holds open, read
// from the kernel (map ids from /proc/OWNER/fdinfo, keys walked with
// BPF_MAP_GET_NEXT_KEY); nullopt when it holds no such map.
std::optional<uint64_t> bpf_map_entries(pid_t owner, const std::string &name);

// VmRSS of a process in KiB (0 once it is gone).
uint64_t vm_rss_kb(pid_t pid);

} // namespace tt_test
