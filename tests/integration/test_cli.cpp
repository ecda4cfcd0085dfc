// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Bad input gets one clear line on stderr and a non-zero exit, before any
// BPF is loaded (so most of these need no privileges).
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

namespace tt_test {
namespace {

size_t line_count(const std::string &s) {
  size_t n = 0;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line))
    n++;
  return n;
}

void expect_one_line_error(const RunResult &r, int code, const std::string &needle) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(line_count(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("treetrace: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(Cli, UnknownFlag) { expect_one_line_error(run_treetrace({"--no-such-flag"}), 2, "no-such-flag"); }

TEST(Cli, MalformedDuration) {
  expect_one_line_error(run_treetrace({"--duration", "5 parsecs"}), 2, "duration");
  expect_one_line_error(run_treetrace({"--interval", "-1s"}), 2, "duration");
}

TEST(Cli, UnknownEventName) { expect_one_line_error(run_treetrace({"--events", "fork,spawn"}), 2, "spawn"); }

TEST(Cli, MissingCgroup) {
  expect_one_line_error(run_treetrace({"--cgroup", "no/such/cgroup-tt"}), 2, "no/such/cgroup-tt");
}

TEST(Cli, MissingPid) {
  // PID 4194303 is pid_max's upper bound and never handed out on a test box.
  expect_one_line_error(run_treetrace({"--pid", "4194303"}), 2, "no such process");
  expect_one_line_error(run_treetrace({"--pid", "-5"}), 2, "--pid");
}

TEST(Cli, CommPatternThatCanNeverMatch) {
  expect_one_line_error(run_treetrace({"--comm", "abcdefghij*klmnopqrst"}), 2, "--comm");
}

TEST(Cli, CommandNotFoundExits127) {
  expect_one_line_error(run_treetrace({"--", "tt-no-such-command-xyz"}), 127, "command not found");
}

TEST(Cli, CommandNotExecutableExits126) {
  char path[] = "/tmp/tt-noexec-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_EQ(chmod(path, 0644), 0);
  expect_one_line_error(run_treetrace({"--", path}), 126, "Permission denied");
  unlink(path);
}

TEST(Cli, WaitTreeNeedsCommand) { expect_one_line_error(run_treetrace({"--wait-tree"}), 2, "--wait-tree"); }

TEST(Cli, RingBufferSizeMustBePowerOfTwo) {
  expect_one_line_error(run_treetrace({"--ringbuf-size", "100000"}), 2, "--ringbuf-size");
}

TEST(Cli, HelpGoesToStdout) {
  auto r = run_treetrace({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--comm"), std::string::npos);
  EXPECT_NE(r.out.find("--wait-tree"), std::string::npos);
}

} // namespace
} // namespace tt_test
