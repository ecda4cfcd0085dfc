// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Leak verdicts and request/limit advice on a real prefork pool of known
// shape (tests/workloads/pool.py), recorded and then reported; the same
// verdicts as they form in a live tracer beside the recorder; and the
// recording's HTML report in a real browser.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <optional>
#include <set>
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
  BackgroundTracer live({"--format", "json", "--events", "none", "--interval", "1s", "--comm", "python3"});
  ASSERT_TRUE(live.ready());
  RunResult rec = run_treetrace({"record", "-o", file, "--", "/usr/bin/python3", pool, "50", pids},
                                {"MALLOC_MMAP_THRESHOLD_=65536"}, 120);
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  RunResult live_out = live.stop();
  ASSERT_EQ(live_out.exit_code, 0) << live_out.err;
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
  // 90th percentile. On a shared machine they may get less than they ask
  // for, so the floor is what they really used: the tree's exact CPU (exit
  // records, equal to wait4()) over the span the advice covers. A steady
  // load's 90th percentile sits at its mean; ticks are 1 s apart, so
  // within 10% below and 30% above.
  const json &a = g["advice"];
  ASSERT_TRUE(a.is_object());
  EXPECT_GT(a["samples"].get<int>(), 40);
  EXPECT_TRUE(a["low_confidence"].get<bool>()) << "50 s is well short of the minimum";
  const int cpu = a["cpu_request_millicores"].get<int>();
  const double used_millicores = g["cpu_ns"].get<double>() / 1e6 / a["duration_s"].get<double>();
  EXPECT_GE(cpu, 0.9 * used_millicores) << "used " << used_millicores << "m on average";
  EXPECT_LE(cpu, 1300) << "the workers ask for 1000m in all";
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

  // Live: the snapshots carry the leaker's verdict once it has lived long
  // enough, and never one for the other workers.
  std::set<uint32_t> innocent = {pid_of["spiky"], pid_of["warmup"], pid_of["osc"]};
  size_t snapshots_flagging = 0;
  std::optional<json> live_final, live_last_snapshot;
  for (const json &t : live_out.events("tree")) {
    for (const json &v : t["leaks"]) {
      EXPECT_FALSE(innocent.count(v["pid"].get<uint32_t>())) << "live verdict on an innocent worker: " << t.dump();
      if (v["pid"].get<uint32_t>() == pid_of["leak"]) {
        snapshots_flagging += !t["final"].get<bool>();
        (t["final"].get<bool>() ? live_final : live_last_snapshot) = v;
      }
    }
  }
  EXPECT_GE(snapshots_flagging, 5u) << "the verdict forms before the end";
  ASSERT_TRUE(live_final) << "the live final report flags the leaker";
  EXPECT_NEAR((*live_final)["rate_bytes_per_s"].get<double>() / (1 << 20), rate_mib_s, 0.3)
      << "the live verdict and the report's agree";
  // While it runs, the advised limit bounds it; once it has exited it
  // holds nothing and has no time to a limit.
  ASSERT_TRUE(live_last_snapshot);
  EXPECT_EQ((*live_last_snapshot)["limit_source"], "advice");
  EXPECT_TRUE((*live_last_snapshot)["seconds_to_limit"].is_number());
  EXPECT_TRUE((*live_final)["seconds_to_limit"].is_null());
  EXPECT_TRUE((*live_final)["exited"].get<bool>());
  EXPECT_FALSE((*live_last_snapshot)["exited"].get<bool>());

  RunResult text = run_treetrace({"report", file});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("LEAK pid " + std::to_string(pid_of["leak"])), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("resources:"), std::string::npos);
  std::istringstream lines(text.out);
  std::string line;
  while (std::getline(lines, line))
    EXPECT_LE(line.size(), 100u) << line;

  // The recording's HTML report, in headless Chromium: no console error, no
  // network request, one RSS line per process sampled twice or more (each
  // has a judgement entry).
  const std::string html = dir + "/pool.html";
  RunResult html_out = run_treetrace({"report", file, "--format", "html", "-o", html});
  ASSERT_EQ(html_out.exit_code, 0) << html_out.err;
  const size_t rss_lines = g["judgements"].size();
  ASSERT_GE(rss_lines, 4u);
  ASSERT_LE(rss_lines, 20u) << "past 20 lines the chart folds into others";
  const int browser = run_command({"/usr/bin/python3", std::string(TT_SOURCE_DIR) + "/tests/html/check_report.py", html,
                                   std::to_string(rss_lines), dir + "/pool.png"});
  if (browser == 77)
    GTEST_SKIP() << "no headless Chromium (TREETRACE_ALLOW_NO_BROWSER=1)";
  EXPECT_EQ(browser, 0) << "check_report.py failed on " << html;
}

} // namespace
} // namespace tt_test
