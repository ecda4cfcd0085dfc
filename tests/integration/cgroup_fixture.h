// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Scratch cgroups for integration tests, created fresh and removed again
// whatever the test's outcome (RAII): a cgroup v2 directory (optionally
// nested, shaped like a Kubernetes pod's), and a memory-limited cgroup on
// whichever hierarchy has the memory controller: cgroup v2 on unified
// nodes, the cgroup v1 memory hierarchy on hybrid ones. Mounts are found
// in /proc/self/mountinfo, never assumed.
//
// A constructor does not throw: check ok() and report error(), e.g.
//   ScratchCgroup cg;
//   ASSERT_TRUE(cg.ok()) << cg.error();
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace tt_test {

// Skips a test that needs a memory controller on a node that has none.
#define TT_REQUIRE_MEMCG()                                                                                             \
  do {                                                                                                                 \
    if (auto reason = ::tt_test::MemoryLimitedCgroup::unavailable_reason())                                            \
      GTEST_SKIP() << *reason;                                                                                         \
  } while (0)

// argv wrapped so that the process joins the cgroup (writes itself to
// procs_file) and then execs argv: membership filters (--cgroup) pick a
// process up at its exec, so it is traced from its first instruction.
std::vector<std::string> exec_in_cgroup(const std::string &procs_file, const std::vector<std::string> &argv);

// Every pid listed in a cgroup.procs file (empty if it cannot be read).
std::vector<pid_t> cgroup_procs(const std::string &procs_file);

class ScratchCgroup {
public:
  // A fresh directory "tt-<pid>-<n>" under the cgroup2 mount, and below it
  // `nested` ("a/b/c"), created parent by parent.
  explicit ScratchCgroup(const std::string &nested = "");
  ~ScratchCgroup();
  ScratchCgroup(const ScratchCgroup &) = delete;
  ScratchCgroup &operator=(const ScratchCgroup &) = delete;

  bool ok() const { return error_.empty(); }
  const std::string &error() const { return error_; }

  // The innermost directory: absolute, and relative to the cgroup2 mount
  // with a leading '/', as treetrace prints cgroup paths.
  const std::string &abs_path() const { return abs_path_; }
  const std::string &rel_path() const { return rel_path_; }
  std::string procs_file() const { return abs_path_ + "/cgroup.procs"; }
  // usage_usec of the innermost cgroup's cpu.stat (it and its
  // descendants, every process that ever ran there); nullopt if unreadable.
  std::optional<uint64_t> cpu_usage_usec() const;

private:
  std::string mount_;
  std::vector<std::string> created_; // outermost first
  std::string abs_path_, rel_path_;
  std::string error_;
};

class MemoryLimitedCgroup {
public:
  explicit MemoryLimitedCgroup(uint64_t limit_bytes);
  ~MemoryLimitedCgroup();
  MemoryLimitedCgroup(const MemoryLimitedCgroup &) = delete;
  MemoryLimitedCgroup &operator=(const MemoryLimitedCgroup &) = delete;

  // Why no memory controller exists on this node (the test should skip),
  // or nullopt when one does.
  static std::optional<std::string> unavailable_reason();

  bool ok() const { return error_.empty(); }
  const std::string &error() const { return error_; }

  bool is_v1() const { return v1_; }
  const std::string &abs_path() const { return abs_path_; }
  // Relative to the memory hierarchy's mount, with a leading '/'.
  const std::string &rel_path() const { return rel_path_; }
  std::string procs_file() const { return abs_path_ + "/cgroup.procs"; }
  // The limit as the kernel holds it (read back: it rounds to pages).
  uint64_t limit_bytes() const { return limit_bytes_; }
  // How swap was kept out of it: "memory.swap.max=0",
  // "memory.memsw.limit_in_bytes", or why neither could be set.
  const std::string &swap_note() const { return swap_note_; }
  // OOM kills inside the cgroup: memory.events "oom_kill" (v2) or
  // memory.oom_control "oom_kill" (v1); nullopt if unreadable.
  std::optional<uint64_t> oom_kill_count() const;

private:
  bool v1_ = false;
  std::string abs_path_, rel_path_;
  uint64_t limit_bytes_ = 0;
  std::string swap_note_;
  std::string error_;
  bool created_ = false;
  std::string v2_root_enabled_; // the cgroup2 root whose +memory this enabled, to undo
};

// Writes `value` in one write(2), as cgroup files require; "" on success,
// else what failed.
std::string write_file(const std::string &path, const std::string &value);

} // namespace tt_test
