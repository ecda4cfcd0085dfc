// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Leak verdicts and request/limit advice on a real prefork pool of known
// shape (tests/workloads/pool.py), recorded and then reported.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>

#include "harness.h"

namespace tt_test {
namespace {

TEST(ReportVerdicts, PoolLeakerIsFlaggedAndTheOthersAreNot) {
  TT_REQUIRE_BPF();
  char tmpl[] = "/tmp/tt-verdicts-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string file = dir + "/pool.ttrec", pids = dir + "/pids";
  const std::string pool = std::string(TT_SOURCE_DIR) + "/tests/workloads/pool.py";
  RunResult rec = run_treetrace({"record", "-o", file, "--", "/usr/bin/python3", pool, "50", pids},
                                {"MALLOC_MMAP_THRESHOLD_=65536"}, 120);
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  std::map<std::string, uint32_t> pid_of;
  std::ifstream in(pids);
  std::string kind;
  uint32_t pid = 0;
  while (in >> kind >> pid)
    pid_of[kind] = pid;
  ASSERT_EQ(pid_of.size(), 4u);

  RunResult rep = run_treetrace({"report", file, "--format", "json"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  ASSERT_EQ(rep.records.size(), 1u);
  const json &groups = rep.records[0]["groups"];
  ASSERT_EQ(groups.size(), 1u) << "the command's tree";
  const json &g = groups[0];

  std::map<uint32_t, json> judged;
  for (const json &j : g["judgements"])
    judged[j["pid"].get<uint32_t>()] = j;
  for (const auto &[k, p] : pid_of) {
    ASSERT_TRUE(judged.count(p)) << k << " was not judged: " << g["judgements"].dump();
    EXPECT_TRUE(judged[p]["judged"].get<bool>()) << k << ": " << judged[p].dump();
  }
  ASSERT_EQ(g["leaks"].size(), 1u) << g["judgements"].dump();
  const json &leak = g["leaks"][0];
  EXPECT_EQ(leak["pid"].get<uint32_t>(), pid_of["leak"]) << g["judgements"].dump();
  // It grows 1 MiB/s; the fit over the window minima should say so.
  const double rate_mib_s = leak["rate_bytes_per_s"].get<double>() / (1 << 20);
  EXPECT_GT(rate_mib_s, 0.7);
  EXPECT_LT(rate_mib_s, 1.3);
  EXPECT_EQ(leak["siblings"].get<int>(), 4) << "the other workers and the master";
  EXPECT_TRUE(leak["seconds_to_limit"].is_number()) << "the advised limit bounds it";
  for (const char *k : {"spiky", "warmup", "osc"})
    EXPECT_FALSE(judged[pid_of[k]]["leaking"].get<bool>()) << k << ": " << judged[pid_of[k]].dump();

  // Advice: two workers at half a core each, so about one core at the
  // 90th percentile; ticks are 1 s apart and the machine is shared, so
  // within 30%.
  const json &a = g["advice"];
  ASSERT_TRUE(a.is_object());
  EXPECT_GT(a["samples"].get<int>(), 40);
  EXPECT_TRUE(a["low_confidence"].get<bool>()) << "50 s is well short of the minimum";
  const int cpu = a["cpu_request_millicores"].get<int>();
  EXPECT_GE(cpu, 700);
  EXPECT_LE(cpu, 1300);
  EXPECT_TRUE(a["cpu_limit_millicores"].is_null());
  // Known floor at the end: leak 50 MiB + warmup 50 MiB + the workers' own
  // interpreters; the limit is the peak plus 15%, so at least 115 MiB.
  const double mib = 1 << 20;
  EXPECT_GE(a["memory_limit_bytes"].get<double>(), 115 * mib);
  EXPECT_GE(a["memory_limit_bytes"].get<double>(), a["memory_request_bytes"].get<double>());
  EXPECT_LE(a["memory_limit_bytes"].get<double>(), 1024 * mib);
  EXPECT_EQ(a["basis"], "pss");

  // The budget: at most 40 bytes per record on disk, everything included.
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  const double records = rep.records[0]["meta"]["records"].get<double>();
  EXPECT_LE(static_cast<double>(st.st_size) / records, 40.0) << st.st_size << " bytes for " << records;

  RunResult text = run_treetrace({"report", file});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("LEAK pid " + std::to_string(pid_of["leak"])), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("resources:"), std::string::npos);
  std::istringstream lines(text.out);
  std::string line;
  while (std::getline(lines, line))
    EXPECT_LE(line.size(), 100u) << line;
}

} // namespace
} // namespace tt_test
