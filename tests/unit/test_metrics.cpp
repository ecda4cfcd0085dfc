// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The Prometheus exposition: escaping, the collector's promises (counters
// never go backwards, grace period, bounded series) and promtool's verdict.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "output/exposition.h"
#include "output/metrics.h"

using namespace treetrace;

namespace {

constexpr uint64_t kSec = 1'000'000'000ull;

TreeReport group_row(const std::string &key, uint64_t cpu_ns, uint64_t live, uint64_t last_ts_ns = 0) {
  TreeReport r;
  r.group = key;
  r.cpu_ns = cpu_ns;
  r.procs_live = live;
  r.procs_total = live + 1;
  r.rss_bytes = live * 4096;
  r.rss_peak_bytes = r.rss_bytes;
  r.pss_bytes = live * 2048;
  r.last_ts_ns = last_ts_ns;
  r.by_comm.push_back({key + "-worker", live + 1, cpu_ns, 4096});
  return r;
}

TreeReport tree_row(uint32_t pid, const std::string &comm, uint64_t cpu_ns, uint64_t live, uint64_t last_ts_ns = 0) {
  TreeReport r = group_row("", cpu_ns, live, last_ts_ns);
  r.root = ProcKey{pid, pid * 1000ull};
  r.root_comm = comm;
  r.by_comm = {{comm, 1, cpu_ns, 4096}};
  return r;
}

// name{labels} -> value, for every sample line.
std::map<std::string, double> samples(const std::string &text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

std::string cpu_series(const std::string &group) {
  return "treetrace_group_cpu_seconds_total{group=\"" + group +
         "\",container_id=\"\",pod=\"\",namespace=\"\",pod_uid=\"\",unit=\"\"}";
}

MetricsConfig config(GroupBy by = GroupBy::Cgroup) {
  MetricsConfig c;
  c.group_by = by;
  c.version = "test";
  return c;
}

// promtool's own check of an exposition; "" when clean.
std::optional<std::string> promtool_verdict(const std::string &text) {
  if (system("command -v promtool >/dev/null 2>&1") != 0)
    return std::nullopt;
  char path[] = "/tmp/tt-metrics-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE *p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && fgets(buf, sizeof buf, p))
    out += buf;
  const int status = p ? pclose(p) : -1;
  unlink(path);
  if (status != 0 && out.empty())
    out = "promtool exited with status " + std::to_string(status);
  return status == 0 ? std::string() : out;
}

} // namespace

TEST(Exposition, EscapesLabelValuesAndHelp) {
  std::string out;
  ExpositionWriter w(out);
  w.family("treetrace_x", MetricType::Gauge, "back\\slash and\nnewline");
  w.sample("treetrace_x", {{"group", "a\"b\\c\nd"}}, 1.5);
  EXPECT_EQ(out, "# HELP treetrace_x back\\\\slash and\\nnewline\n# TYPE treetrace_x gauge\n"
                 "treetrace_x{group=\"a\\\"b\\\\c\\nd\"} 1.5\n");
}

TEST(Exposition, InvalidUtf8BecomesReplacementCharacters) {
  std::string out;
  ExpositionWriter::append_label_value(out, std::string("ok\xff\xc3(\xe2\x82\xac", 8));
  EXPECT_EQ(out, "ok\xef\xbf\xbd\xef\xbf\xbd(\xe2\x82\xac");
}

TEST(Exposition, SpecialValuesAsPrometheusParsesThem) {
  std::string out;
  ExpositionWriter::append_value(out, std::nan(""));
  out += ' ';
  ExpositionWriter::append_value(out, INFINITY);
  out += ' ';
  ExpositionWriter::append_value(out, -INFINITY);
  out += ' ';
  ExpositionWriter::append_value(out, 0.1);
  EXPECT_EQ(out, "NaN +Inf -Inf 0.1");
  std::string big;
  ExpositionWriter w(big);
  w.sample("treetrace_y", std::span<const Label>{}, uint64_t{18446744073709551615ull});
  EXPECT_EQ(big, "treetrace_y 18446744073709551615\n");
}

TEST(Metrics, FamilyTableIsInEnumOrderWithPrometheusNames) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kMetricFamilies.size(); ++i) {
    const auto &f = kMetricFamilies[i];
    EXPECT_EQ(static_cast<size_t>(f.id), i) << f.name;
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
    EXPECT_TRUE(std::regex_match(std::string(f.name), std::regex("treetrace_[a-z_]+"))) << f.name;
    const bool total = f.name.ends_with("_total");
    EXPECT_EQ(total, f.type == MetricType::Counter) << f.name << ": counters, and only counters, end in _total";
  }
}

TEST(Metrics, CountersKeepTheLastValueOfRowsThatLeave) {
  MetricsCollector c(config(GroupBy::Tree), nullptr);
  // Two trees with one root command share a series; then one is evicted
  // from the aggregator's tables (it is no longer among the rows).
  auto first = samples(c.collect({tree_row(10, "sh", 3 * kSec, 1), tree_row(20, "sh", 2 * kSec, 1)}, {}, 1 * kSec));
  EXPECT_DOUBLE_EQ(first.at(cpu_series("sh")), 5.0);
  auto second = samples(c.collect({tree_row(20, "sh", 4 * kSec, 1)}, {}, 2 * kSec));
  EXPECT_DOUBLE_EQ(second.at(cpu_series("sh")), 7.0) << "tree 10's 3 s stay in the counter after it left";
  // A row whose figure went down (it cannot, but the counter must not).
  auto third = samples(c.collect({tree_row(20, "sh", 1 * kSec, 1)}, {}, 3 * kSec));
  EXPECT_DOUBLE_EQ(third.at(cpu_series("sh")), 7.0);
}

TEST(Metrics, FinishedGroupStaysForTheGracePeriodThenGoes) {
  MetricsConfig cfg = config();
  cfg.grace_ns = 60 * kSec;
  MetricsCollector c(cfg, nullptr);
  c.collect({group_row("/a", 2 * kSec, 1)}, {}, 10 * kSec);
  // All members exited at t=11 s.
  auto during = samples(c.collect({group_row("/a", 3 * kSec, 0, 11 * kSec)}, {}, 50 * kSec));
  ASSERT_TRUE(during.count(cpu_series("/a")));
  EXPECT_DOUBLE_EQ(during.at(cpu_series("/a")), 3.0);
  auto after = samples(c.collect({group_row("/a", 3 * kSec, 0, 11 * kSec)}, {}, 72 * kSec));
  EXPECT_FALSE(after.count(cpu_series("/a"))) << "dropped 60 s after its last activity";
  // It does not come back while the aggregator still holds the old row.
  auto later = samples(c.collect({group_row("/a", 3 * kSec, 0, 11 * kSec)}, {}, 80 * kSec));
  EXPECT_FALSE(later.count(cpu_series("/a")));
}

TEST(Metrics, MaxSeriesKeepsExportedGroupsAndCountsTheRest) {
  MetricsConfig cfg = config();
  cfg.max_series = 90; // a group here is 8 series: 7 families and 1 command
  MetricsCollector c(cfg, nullptr);
  std::vector<TreeReport> rows;
  for (int i = 0; i < 11; ++i)
    rows.push_back(group_row("/g" + std::to_string(i), (1 + i) * kSec, 1));
  auto first = samples(c.collect(rows, {}, kSec));
  EXPECT_EQ(c.groups_exported(), 11u);
  // A new, busier group does not push out those already exported.
  rows.push_back(group_row("/busy", 100 * kSec, 1));
  auto second = samples(c.collect(rows, {}, 2 * kSec));
  EXPECT_FALSE(second.count(cpu_series("/busy")));
  EXPECT_TRUE(second.count(cpu_series("/g0")));
  EXPECT_EQ(c.series_dropped_total(), 8u);
  EXPECT_DOUBLE_EQ(second.at("treetrace_series_dropped_total"), 8.0);
}

TEST(Metrics, CommandsPastTheLimitFoldIntoOtherWhichOnlyGrows) {
  MetricsConfig cfg = config();
  cfg.commands_per_group = 2;
  MetricsCollector c(cfg, nullptr);
  TreeReport row = group_row("/p", 10 * kSec, 1);
  row.by_comm = {{"python3", 1, 6 * kSec, 0}, {"bcftools", 3, 3 * kSec, 0}, {"sh", 2, 1 * kSec, 0}};
  auto m = samples(c.collect({row}, {}, kSec));
  const std::string prefix =
      "treetrace_group_command_cpu_seconds_total{group=\"/p\",container_id=\"\",pod=\"\",namespace=\"\","
      "pod_uid=\"\",unit=\"\",command=\"";
  EXPECT_DOUBLE_EQ(m.at(prefix + "python3\"}"), 6.0);
  EXPECT_DOUBLE_EQ(m.at(prefix + "bcftools\"}"), 3.0);
  EXPECT_DOUBLE_EQ(m.at(prefix + "other\"}"), 1.0);
  // A new busy command cannot take a named series: it adds to "other".
  row.by_comm.push_back({"gzip", 1, 5 * kSec, 0});
  m = samples(c.collect({row}, {}, 2 * kSec));
  EXPECT_DOUBLE_EQ(m.at(prefix + "other\"}"), 6.0);
  EXPECT_FALSE(m.count(prefix + "gzip\"}"));
}

TEST(Metrics, IdentityLabelsAreTheGroupsOwn) {
  MetricsCollector c(config(GroupBy::Pod), [](uint64_t) {
    CgroupIdentity id;
    id.container_id = std::string(64, 'a');
    id.pod_uid = "0f0e0d0c-0b0a-0908-0706-050403020100";
    id.pod_name = "web-1";
    id.pod_namespace = "shop";
    id.systemd_unit = "cri-containerd-aaaa.scope";
    return std::optional<CgroupIdentity>(id);
  });
  TreeReport row = group_row("0f0e0d0c-0b0a-0908-0706-050403020100", kSec, 1);
  row.cgroup_id = 42;
  const std::string text = c.collect({row}, {}, kSec);
  EXPECT_NE(text.find("treetrace_group_processes{group=\"0f0e0d0c-0b0a-0908-0706-050403020100\",container_id=\"\","
                      "pod=\"web-1\",namespace=\"shop\",pod_uid=\"0f0e0d0c-0b0a-0908-0706-050403020100\",unit=\"\"} 1"),
            std::string::npos)
      << "a pod's containers differ, so a pod series names none of them:\n"
      << text;
}

TEST(Metrics, NoPidLabelsUnlessAskedAndThenBounded) {
  TreeReport row = tree_row(77, "gunicorn", kSec, 3);
  for (uint32_t pid = 100; pid < 103; ++pid) {
    ProcessReport p;
    p.key = {pid, pid};
    p.comm = "gunicorn";
    p.rss_bytes = pid * 4096;
    p.cpu_ns = kSec;
    row.processes.push_back(p);
  }
  MetricsCollector plain(config(GroupBy::Tree), nullptr);
  EXPECT_EQ(plain.collect({row}, {}, kSec).find("pid=\""), std::string::npos);

  MetricsConfig cfg = config(GroupBy::Tree);
  cfg.processes = true;
  cfg.max_series = 9 + 4; // the group, then room for two processes' two series
  MetricsCollector with(cfg, nullptr);
  auto m = samples(with.collect({row}, {}, kSec));
  EXPECT_TRUE(m.count("treetrace_process_memory_rss_bytes{group=\"gunicorn\",pid=\"102\",command=\"gunicorn\"}"));
  EXPECT_TRUE(m.count("treetrace_process_memory_rss_bytes{group=\"gunicorn\",pid=\"101\",command=\"gunicorn\"}"));
  EXPECT_FALSE(m.count("treetrace_process_memory_rss_bytes{group=\"gunicorn\",pid=\"100\",command=\"gunicorn\"}"))
      << "the smallest is cut first";
  EXPECT_EQ(with.series_dropped_total(), 2u);
}

TEST(Metrics, LossCausesAddUpAsInTheSummary) {
  MetricsCollector c(config(), nullptr);
  SelfStats self;
  self.session.loss = {.attempts = 100,
                       .delivered = 90,
                       .dropped_kernel = 10,
                       .dropped_output = 3,
                       .proc_table_full = 2,
                       .procs_untracked = 1};
  auto m = samples(c.collect({}, self, kSec));
  EXPECT_DOUBLE_EQ(m.at("treetrace_records_attempted_total"),
                   m.at("treetrace_records_total") + m.at("treetrace_records_lost_total{cause=\"ring_buffer_full\"}"));
  double lost = 0;
  for (const auto &[k, v] : m)
    if (k.starts_with("treetrace_records_lost_total"))
      lost += v;
  EXPECT_DOUBLE_EQ(lost, static_cast<double>(self.session.loss.lost()));
}

TEST(Metrics, PromtoolAcceptsHostileNames) {
  MetricsConfig cfg = config(GroupBy::Comm);
  cfg.processes = true;
  MetricsCollector c(cfg, nullptr);
  std::vector<TreeReport> rows;
  for (std::string name : {std::string("quo\"te"), std::string("back\\slash"), std::string("new\nline"),
                           std::string("\xff\xfe bad utf8"), std::string(""), std::string("sp ace{}=,")}) {
    TreeReport r = group_row(name, kSec, 1);
    ProcessReport p;
    p.key = {4242, 1};
    p.comm = name;
    r.processes.push_back(p);
    rows.push_back(r);
  }
  SelfStats self;
  self.http_responses = {{200, 3}, {404, 1}};
  const std::string text = c.collect(rows, self, kSec);
  auto verdict = promtool_verdict(text);
  if (!verdict)
    GTEST_SKIP() << "promtool is not installed (scripts/setup-deps.sh installs prometheus)";
  EXPECT_EQ(*verdict, "") << text;
}

// docs/metrics.md lists every family treetrace exports, with its type, and
// nothing else: the dashboard's test checks its queries against that list.
TEST(Metrics, DocsListExactlyTheExportedFamilies) {
  std::ifstream in(std::string(TT_SOURCE_DIR) + "/docs/metrics.md");
  ASSERT_TRUE(in) << "cannot read docs/metrics.md";
  std::map<std::string, std::string> documented;
  const std::regex row(R"(^\| `(treetrace_[a-z_]+)` \| (counter|gauge) \|)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row))
      EXPECT_TRUE(documented.emplace(m[1], m[2]).second) << "listed twice: " << m[1];
  }
  for (const auto &f : kMetricFamilies) {
    auto it = documented.find(std::string(f.name));
    if (it == documented.end()) {
      ADD_FAILURE() << f.name << " is exported but not in docs/metrics.md";
      continue;
    }
    EXPECT_EQ(it->second, to_string(f.type)) << f.name;
    documented.erase(it);
  }
  for (const auto &[name, type] : documented)
    ADD_FAILURE() << name << " is in docs/metrics.md but not exported";
}

TEST(Exposition, SecondsAreExactDecimals) {
  auto seconds = [](uint64_t ns) {
    std::string out;
    ExpositionWriter::append_seconds(out, ns);
    return out;
  };
  EXPECT_EQ(seconds(5'623'862'616), "5.623862616");
  EXPECT_EQ(seconds(1'500'000'000), "1.5");
  EXPECT_EQ(seconds(3'000'000'000), "3");
  EXPECT_EQ(seconds(1), "0.000000001");
  EXPECT_EQ(seconds(0), "0");
  EXPECT_EQ(seconds(18446744073709551615ull), "18446744073.709551615");
}

// A group that is one memory cgroup exports its cgroup's figures as they
// were read; a group without them, and a series that several rows share,
// exports none, rather than a sum that would count shared pages twice.
TEST(Metrics, MemcgFiguresOnlyForOneCgroupAndOnlyAsRead) {
  auto series = [](const std::string &family, const std::string &group) {
    return family + "{group=\"" + group + "\",container_id=\"\",pod=\"\",namespace=\"\",pod_uid=\"\",unit=\"\"}";
  };
  MetricsCollector c(config(), nullptr);
  TreeReport limited = group_row("/limited", kSec, 2);
  limited.memcg_current_bytes = 67'371'008;
  limited.memcg_peak_bytes = 70'000'640;
  limited.memcg_limit_bytes = 268'435'456;
  TreeReport unlimited = group_row("/unlimited", kSec, 1);
  unlimited.memcg_current_bytes = 4096;
  unlimited.memcg_peak_bytes = 8192;
  TreeReport unread = group_row("/unread", kSec, 1);
  const std::string text = c.collect({limited, unlimited, unread}, {}, kSec);
  auto got = samples(text);
  EXPECT_DOUBLE_EQ(got.at(series("treetrace_group_memcg_usage_bytes", "/limited")), 67'371'008.0);
  EXPECT_DOUBLE_EQ(got.at(series("treetrace_group_memcg_peak_bytes", "/limited")), 70'000'640.0);
  EXPECT_DOUBLE_EQ(got.at(series("treetrace_group_memcg_limit_bytes", "/limited")), 268'435'456.0);
  EXPECT_DOUBLE_EQ(got.at(series("treetrace_group_memcg_usage_bytes", "/unlimited")), 4096.0);
  EXPECT_FALSE(got.count(series("treetrace_group_memcg_limit_bytes", "/unlimited"))) << "unlimited: no limit";
  for (const char *f :
       {"treetrace_group_memcg_usage_bytes", "treetrace_group_memcg_peak_bytes", "treetrace_group_memcg_limit_bytes"})
    EXPECT_FALSE(got.count(series(f, "/unread"))) << f << ": never guessed";
  if (auto verdict = promtool_verdict(text))
    EXPECT_EQ(*verdict, "") << text;

  // Two trees with one root command share a series: no memcg figures.
  MetricsCollector trees(config(GroupBy::Tree), nullptr);
  TreeReport a = tree_row(10, "sh", kSec, 1), b = tree_row(20, "sh", kSec, 1);
  a.memcg_current_bytes = b.memcg_current_bytes = 4096;
  auto shared = samples(trees.collect({a, b}, {}, kSec));
  EXPECT_FALSE(shared.count(series("treetrace_group_memcg_usage_bytes", "sh")));

  // A group whose processes are all gone has no cgroup figures to show.
  TreeReport gone = group_row("/limited", 2 * kSec, 0, kSec);
  gone.memcg_current_bytes = 4096;
  auto after = samples(c.collect({gone}, {}, 2 * kSec));
  EXPECT_FALSE(after.count(series("treetrace_group_memcg_usage_bytes", "/limited")));
}
