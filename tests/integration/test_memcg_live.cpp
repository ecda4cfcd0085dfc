// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Memory cgroup figures of live group rows (memcg_current_bytes,
// memcg_peak_bytes, memcg_limit_bytes) against the cgroup's own files.
//
// The row is keyed by a cgroup v2 path; the figures come from the memory
// cgroup, which on hybrid nodes is another directory on the v1 memory
// hierarchy. So the workload joins both there: the scratch v2 cgroup (the
// row) by the shell that execs it, the memory-limited v1 cgroup by itself
// before it allocates (TT_CGROUP_PROCS). On unified nodes one v2 cgroup with
// a memory limit is both.
#include "cgroup_fixture.h"
#include "harness.h"
#include "http_client.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace tt_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kLimit = 256 * kMiB;
constexpr uint64_t kTouchedMiB = 64;

uint64_t boottime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::optional<uint64_t> read_u64(const std::string &path) {
  std::ifstream in(path);
  uint64_t v = 0;
  if (!(in >> v))
    return std::nullopt;
  return v;
}

// How far two readings of a cgroup's usage a moment apart may honestly
// differ while its only process sleeps: the memory controller charges in
// per-CPU batches of MEMCG_CHARGE_BATCH (64) pages, and a batch can be
// taken or given back by kernel allocations (page tables, slab) in
// between, on each CPU. Twice that, or 1 MiB, whichever is more.
uint64_t usage_slack_bytes() {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  const uint64_t batches = 2 * 64 * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) * (cpus > 0 ? cpus : 1);
  return std::max<uint64_t>(batches, kMiB);
}

// The cgroups a workload joins: the row's (v2) and the memory one.
struct Placement {
  std::unique_ptr<MemoryLimitedCgroup> mem;
  std::unique_ptr<ScratchCgroup> row; // v1 only: on v2, mem is the row
  std::string error;

  Placement() : mem(std::make_unique<MemoryLimitedCgroup>(kLimit)) {
    if (!mem->ok()) {
      error = mem->error();
      return;
    }
    if (mem->is_v1()) {
      row = std::make_unique<ScratchCgroup>();
      if (!row->ok())
        error = row->error();
    }
  }
  std::string row_key() const { return row ? row->rel_path() : mem->rel_path(); }
  std::string usage_file() const {
    return mem->abs_path() + (mem->is_v1() ? "/memory.usage_in_bytes" : "/memory.current");
  }
  // Waits up to 5 s for the cgroup to be charged at least this much.
  bool wait_for_usage(uint64_t at_least) const {
    const auto deadline = Clock::now() + 5s;
    while (read_u64(usage_file()).value_or(0) < at_least && Clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    return read_u64(usage_file()).value_or(0) >= at_least;
  }
  // The workload, in both cgroups from its first allocation on.
  pid_t start(const std::vector<std::string> &workload_argv) const {
    const std::string row_procs = row ? row->procs_file() : mem->procs_file();
    std::vector<std::string> env;
    if (row)
      env.push_back("TT_CGROUP_PROCS=" + mem->procs_file());
    return spawn(exec_in_cgroup(row_procs, workload_argv), env).pid;
  }
};

struct Reaped {
  pid_t pid;
  ~Reaped() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

bool is_null_or_absent(const json &row, const char *key) { return !row.contains(key) || row[key].is_null(); }

TEST(MemcgLive, GroupRowMatchesTheCgroupFiles) {
  TT_REQUIRE_BPF();
  TT_REQUIRE_MEMCG();
  Placement where;
  ASSERT_EQ(where.error, "");
  const std::string key = where.row_key();
  BackgroundTracer tracer({"--format", "json", "--group-by", "cgroup", "--interval", "1s", "--cgroup", key});
  ASSERT_TRUE(tracer.ready());
  Reaped workload{where.start({workload_bin(), "alloc-sleep", std::to_string(kTouchedMiB), "8000"})};
  ASSERT_GT(workload.pid, 0);

  // The workload has touched its memory once its cgroup is charged for it.
  const bool touched = where.wait_for_usage(kTouchedMiB * kMiB);
  const uint64_t touched_at = boottime_ns();
  ASSERT_TRUE(touched) << where.usage_file() << " never reached the touched " << kTouchedMiB << " MiB";

  // The first snapshot row taken after that, with the file read around it.
  std::optional<json> row;
  uint64_t file_before = 0, file_after = 0;
  const auto deadline = Clock::now() + 5s;
  while (!row && Clock::now() < deadline) {
    const uint64_t before = read_u64(where.usage_file()).value_or(0);
    auto rec = tracer.next_record(200ms);
    if (!rec || rec->value("event", "") != "group" || rec->value("final", true) || !(*rec)["group"].is_string() ||
        (*rec)["group"] != key || rec->value("ts_ns", uint64_t{0}) <= touched_at)
      continue;
    file_after = read_u64(where.usage_file()).value_or(0);
    file_before = before;
    row = *rec;
  }
  ASSERT_TRUE(row) << "no snapshot row for " << key;
  ASSERT_GE(row->value("procs_live", uint64_t{0}), 1u) << row->dump();
  ASSERT_TRUE((*row)["memcg_current_bytes"].is_number()) << row->dump();
  ASSERT_TRUE((*row)["memcg_peak_bytes"].is_number()) << row->dump();
  ASSERT_TRUE((*row)["memcg_limit_bytes"].is_number()) << row->dump();
  const uint64_t current = (*row)["memcg_current_bytes"], peak = (*row)["memcg_peak_bytes"],
                 limit = (*row)["memcg_limit_bytes"];
  const uint64_t slack = usage_slack_bytes();
  std::cout << "memcg " << (where.mem->is_v1() ? "v1 " : "v2 ") << where.mem->abs_path() << ": treetrace current "
            << current << " peak " << peak << " limit " << limit << "; file usage " << file_before << " before, "
            << file_after << " after; limit file " << where.mem->limit_bytes() << "; slack " << slack << "\n";

  EXPECT_EQ(limit, where.mem->limit_bytes()) << "the limit is the file's, exactly";
  EXPECT_GE(current, kTouchedMiB * kMiB) << "the touched memory is charged to the cgroup";
  EXPECT_TRUE(within(static_cast<double>(current), static_cast<double>(file_before), 0, static_cast<double>(slack)))
      << "usage file just before the row: " << file_before;
  EXPECT_TRUE(within(static_cast<double>(current), static_cast<double>(file_after), 0, static_cast<double>(slack)))
      << "usage file just after the row: " << file_after;
  EXPECT_GE(peak, current);

  // The final row, taken while the workload still lives, has them too.
  const RunResult r = tracer.stop();
  bool final_seen = false;
  for (const auto &g : r.events("group")) {
    if (g["final"] != true || !g["group"].is_string() || g["group"] != key)
      continue;
    final_seen = true;
    EXPECT_EQ(g.value("memcg_limit_bytes", uint64_t{0}), where.mem->limit_bytes()) << g.dump();
    EXPECT_GE(g.value("memcg_current_bytes", uint64_t{0}), kTouchedMiB * kMiB) << g.dump();
  }
  EXPECT_TRUE(final_seen) << r.out;
}

// The value of `family` for the series of group `key` in an exposition.
std::optional<uint64_t> exposed(const std::string &body, const std::string &family, const std::string &key) {
  const std::string prefix = family + "{group=\"" + key + "\",";
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0)
      return std::stoull(line.substr(line.rfind(' ') + 1));
  return std::nullopt;
}

// A scrape shows the cgroup as it is at that scrape, not as it was at the
// one before: memory touched between two scrapes is in the second.
TEST(MemcgLive, ScrapeShowsTheCgroupFilesAsTheyAreNow) {
  TT_REQUIRE_BPF();
  TT_REQUIRE_MEMCG();
  Placement where;
  ASSERT_EQ(where.error, "");
  const std::string key = where.row_key();
  const uint16_t port = free_tcp_port();
  BackgroundTracer tracer(
      {"--listen", "127.0.0.1:" + std::to_string(port), "--events", "none", "--group-by", "cgroup", "--cgroup", key});
  ASSERT_TRUE(tracer.ready());
  const uint64_t slack = usage_slack_bytes();
  struct Seen {
    uint64_t usage, limit, file_before, file_after;
  };
  auto scrape = [&]() -> std::optional<Seen> {
    // Past the window in which a collection is served again.
    std::this_thread::sleep_for(150ms);
    const uint64_t before = read_u64(where.usage_file()).value_or(0);
    auto r = http_request("127.0.0.1", port, "/metrics");
    const uint64_t after = read_u64(where.usage_file()).value_or(0);
    if (!r || r->status != 200)
      return std::nullopt;
    auto usage = exposed(r->body, "treetrace_group_memcg_usage_bytes", key);
    auto limit = exposed(r->body, "treetrace_group_memcg_limit_bytes", key);
    if (!usage || !limit) {
      ADD_FAILURE() << "no memcg series for " << key << " in:\n" << r->body;
      return std::nullopt;
    }
    return Seen{*usage, *limit, before, after};
  };

  Reaped first{where.start({workload_bin(), "alloc-sleep", std::to_string(kTouchedMiB), "8000"})};
  ASSERT_GT(first.pid, 0);
  ASSERT_TRUE(where.wait_for_usage(kTouchedMiB * kMiB)) << where.usage_file();
  const auto one = scrape();
  ASSERT_TRUE(one);

  // Half as much again, touched by a second process after that scrape.
  Reaped second{where.start({workload_bin(), "alloc-sleep", std::to_string(kTouchedMiB / 2), "8000"})};
  ASSERT_GT(second.pid, 0);
  ASSERT_TRUE(where.wait_for_usage(one->usage + kTouchedMiB / 2 * kMiB)) << where.usage_file();
  const auto two = scrape();
  ASSERT_TRUE(two);
  std::cout << "memcg scrapes of " << key << ": " << one->usage << " (file " << one->file_before << ".."
            << one->file_after << "), then " << two->usage << " (file " << two->file_before << ".." << two->file_after
            << "); limit " << two->limit << "; slack " << slack << "\n";

  for (const Seen *s : {&*one, &*two}) {
    EXPECT_EQ(s->limit, where.mem->limit_bytes()) << "the limit is the file's, exactly";
    EXPECT_TRUE(
        within(static_cast<double>(s->usage), static_cast<double>(s->file_before), 0, static_cast<double>(slack)))
        << "usage " << s->usage << ", file just before the scrape " << s->file_before;
    EXPECT_TRUE(
        within(static_cast<double>(s->usage), static_cast<double>(s->file_after), 0, static_cast<double>(slack)))
        << "usage " << s->usage << ", file just after the scrape " << s->file_after;
  }
  EXPECT_GE(two->usage + slack, one->usage + kTouchedMiB / 2 * kMiB) << "the second scrape has the new memory";
}

// Trees and commands are no cgroup: their rows never carry memcg figures,
// even when every member sits in a memory-limited cgroup.
TEST(MemcgLive, TreeAndCommRowsHaveNone) {
  TT_REQUIRE_BPF();
  TT_REQUIRE_MEMCG();
  for (const std::string group_by : {"tree", "comm"}) {
    SCOPED_TRACE("--group-by " + group_by);
    Placement where;
    ASSERT_EQ(where.error, "");
    BackgroundTracer tracer(
        {"--format", "json", "--group-by", group_by, "--interval", "300ms", "--cgroup", where.row_key()});
    ASSERT_TRUE(tracer.ready());
    Reaped workload{where.start({workload_bin(), "alloc-sleep", "16", "3000"})};
    ASSERT_GT(workload.pid, 0);
    const char *event = group_by == "tree" ? "tree" : "group";
    size_t live_rows = 0;
    const auto deadline = Clock::now() + 4s;
    while (live_rows < 2 && Clock::now() < deadline) {
      auto rec = tracer.next_record(100ms);
      if (rec && rec->value("event", "") == event && rec->value("procs_live", uint64_t{0}) > 0)
        live_rows++;
    }
    EXPECT_GE(live_rows, 2u) << "snapshot rows with the workload alive";
    const RunResult r = tracer.stop();
    size_t rows = 0;
    for (const auto &t : r.events(event)) {
      rows++;
      for (const char *k : {"memcg_current_bytes", "memcg_peak_bytes", "memcg_limit_bytes"})
        EXPECT_TRUE(is_null_or_absent(t, k)) << k << ": " << t.dump();
    }
    EXPECT_GT(rows, 0u) << r.out;
  }
}

} // namespace
} // namespace tt_test
