// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// record and report on real processes: a report equals the live run that
// traced the same workload beside it; a killed recorder, a full disk and
// a size bound leave readable files; bad files get one line.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "harness.h"

namespace tt_test {
namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/tt-recording-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

json report_json(const std::string &file) {
  RunResult r = run_treetrace({"report", file, "--format", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.records.size(), 1u) << r.out;
  return r.records.empty() ? json() : r.records[0];
}

// Alive and not yet a zombie (without reaping it: stop() does).
bool running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

// A copy of sh under a name of our own: --comm picks it and what it starts.
std::string named_shell(const std::string &dir, const std::string &name) {
  const std::string path = dir + "/" + name;
  EXPECT_EQ(run_command({"/bin/cp", "/bin/sh", path}), 0);
  return path;
}

TEST(Recording, ReportEqualsTheLiveRunBesideIt) {
  TT_REQUIRE_BPF();
  const std::string dir = temp_dir(), file = dir + "/side.ttrec";
  const std::string shell = named_shell(dir, "ttrec_side");
  BackgroundTracer recorder({"record", "-o", file, "--comm", "ttrec_side"});
  BackgroundTracer live({"--format", "json", "--comm", "ttrec_side"});
  ASSERT_TRUE(recorder.ready() && live.ready());
  ASSERT_EQ(run_command({shell, "-c",
                         workload_bin() + " burn 300 & " + workload_bin() + " spike 40 200 & " + workload_bin() +
                             " prefork 3 150 & wait; ls / >/dev/null"}),
            0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500)); // the exit records are in
  RunResult live_out = live.stop();
  RunResult rec_out = recorder.stop();
  ASSERT_EQ(rec_out.exit_code, 0) << rec_out.err;
  EXPECT_TRUE(rec_out.out.empty()) << "record prints nothing on stdout";
  EXPECT_NE(rec_out.err.find("bytes per record"), std::string::npos) << rec_out.err;

  std::vector<json> live_trees;
  for (const json &t : live_out.events("tree"))
    if (t.value("final", false) && t["root_comm"] == "ttrec_side")
      live_trees.push_back(t);
  ASSERT_EQ(live_trees.size(), 1u) << live_out.out;
  const json report = report_json(file);
  const json *group = nullptr;
  for (const json &g : report["groups"])
    if (g["root_pid"] == live_trees[0]["root_pid"])
      group = &g;
  ASSERT_NE(group, nullptr) << report.dump();
  const json &t = live_trees[0];
  // Exit records are exact in both tracers: the same kernel counters.
  EXPECT_EQ((*group)["cpu_ns"], t["cpu_ns"]);
  EXPECT_EQ((*group)["procs_total"], t["procs_total"]);
  EXPECT_EQ((*group)["proc_rss_peak_bytes"], t["proc_rss_peak_bytes"]);
  EXPECT_EQ((*group)["oom_kills"], t["oom_kills"]);
  ASSERT_EQ((*group)["by_comm"].size(), t["by_comm"].size());
  for (size_t i = 0; i < t["by_comm"].size(); ++i) {
    EXPECT_EQ((*group)["by_comm"][i]["comm"], t["by_comm"][i]["comm"]);
    EXPECT_EQ((*group)["by_comm"][i]["cpu_ns"], t["by_comm"][i]["cpu_ns"]);
  }
  EXPECT_FALSE(report["meta"]["cut_short"].get<bool>());
  // The budget: at most 40 bytes per record on disk, header included.
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  const double records = report["meta"]["records"].get<double>();
  ASSERT_GE(records, 10);
}

TEST(Recording, SigkillLeavesAFileThatReportsUpToItsLastFrame) {
  TT_REQUIRE_BPF();
  const std::string dir = temp_dir(), file = dir + "/killed.ttrec";
  const std::string shell = named_shell(dir, "ttrec_kill");
  BackgroundTracer recorder({"record", "-o", file, "--comm", "ttrec_kill"});
  ASSERT_TRUE(recorder.ready());
  ASSERT_EQ(run_command({shell, "-c", workload_bin() + " prefork 4 100"}), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500)); // at least one second-frame flushed since
  RunResult killed = recorder.stop(SIGKILL);
  const json report = report_json(file);
  EXPECT_TRUE(report["meta"]["cut_short"].get<bool>());
  EXPECT_NE(report["meta"]["cut_note"].get<std::string>().find("cut short"), std::string::npos);
  bool found = false;
  for (const json &g : report["groups"])
    found |= g["name"].get<std::string>().find("ttrec_kill") != std::string::npos && g["procs_total"] >= 5;
  EXPECT_TRUE(found) << report.dump();
  RunResult text = run_treetrace({"report", file});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("cut short"), std::string::npos) << text.out;
}

TEST(Recording, FullDiskStopsWithOneLineAndKeepsEarlierFrames) {
  TT_REQUIRE_BPF();
  const std::string dir = temp_dir();
  const std::string mnt = dir + "/small";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0)
    GTEST_SKIP() << "cannot mount a small tmpfs: " << strerror(errno);
  const std::string file = mnt + "/full.ttrec";
  // Node-wide: enough records to fill 48 KiB within seconds.
  BackgroundTracer recorder({"record", "-o", file});
  ASSERT_TRUE(recorder.ready());
  for (int i = 0; i < 200 && running(recorder.pid()); ++i)
    run_command({workload_bin(), "churn", "500", "8", "fork"});
  RunResult r = recorder.wait();
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  RunResult rep = run_treetrace({"report", file, "--format", "json"});
  EXPECT_EQ(rep.exit_code, 0) << rep.err;
  ASSERT_EQ(rep.records.size(), 1u);
  EXPECT_TRUE(rep.records[0]["meta"]["cut_short"].get<bool>());
  EXPECT_GT(rep.records[0]["meta"]["records"].get<int>(), 100);
  umount2(mnt.c_str(), MNT_DETACH);
}

TEST(Recording, MaxSizeStopsCleanlyAndSaysSo) {
  TT_REQUIRE_BPF();
  const std::string file = temp_dir() + "/bounded.ttrec";
  BackgroundTracer recorder({"record", "-o", file, "--max-size", "256K"});
  ASSERT_TRUE(recorder.ready());
  for (int i = 0; i < 200 && running(recorder.pid()); ++i)
    run_command({workload_bin(), "churn", "500", "8", "fork"});
  RunResult r = recorder.wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("--max-size"), std::string::npos) << r.err;
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_LE(st.st_size, 256 * 1024);
  const json report = report_json(file);
  EXPECT_FALSE(report["meta"]["cut_short"].get<bool>()) << "the end fits within the bound";
}

TEST(Recording, BadFilesGetOneLineAndExitNonZero) {
  const std::string dir = temp_dir();
  auto write = [&](const std::string &name, const std::string &bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    return dir + "/" + name;
  };
  std::string good_header("\x5b\x2a\x4d\x18\x10\x00\x00\x00TTREC\x00\x01\x00", 16);
  good_header += std::string(8, '\0');
  std::string newer = good_header;
  newer[14] = 9;
  const struct {
    std::string file, expect;
  } cases[] = {
      {write("empty", ""), "empty"},
      {write("foreign", "#!/bin/sh\necho hello\n"), "not a treetrace recording"},
      {write("short", good_header.substr(0, 10)), "not a treetrace recording"},
      {write("newer", newer), "newer"},
      {write("headeronly", good_header), "no data"},
      {write("corrupt", good_header + "\x28\xb5\x2f\xfd garbage garbage"), "corrupt"},
      {dir + "/missing", "No such file"},
  };
  for (const auto &c : cases) {
    RunResult r = run_treetrace({"report", c.file});
    EXPECT_EQ(r.exit_code, 1) << c.file;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.file << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  RunResult flag = run_treetrace({"report", dir + "/empty", "--format", "pdf"});
  EXPECT_EQ(flag.exit_code, 2);
}

} // namespace
} // namespace tt_test
