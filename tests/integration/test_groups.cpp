// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Container, pod and systemd identity (docs/identity.md), --group-by,
// --pod and --container, against real cgroup v2 directories named the way
// the kubelet, docker, containerd, cri-o, podman and systemd name them, with
// real processes in them, and against a real podman container.
//
// A process joins its cgroup itself, between fork and exec (by writing to
// cgroup.procs), so the exec treetrace sees is already in place and no test
// races the kernel. Kernel truth is what the directories are: a record's
// cgroup_id must be the directory's inode number, a group's CPU must match
// the cgroup's own cpu.stat.
//
// The kubelet's, docker's and podman's cgroups start at the mount's root, as
// on a real node. The kubelet's roots (kubepods.slice, kubepods) must not
// exist before a test: a real kubelet's are never touched, and a test fails
// with the reason. Everything a test made is removed, deepest first, with
// its processes killed, whatever the test's outcome.
#include "cgroup_fixture.h"
#include "harness.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <ftw.h>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <poll.h>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace tt_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- Names -------------------------------------------------------------------

std::mt19937_64 &rng() {
  static std::mt19937_64 gen{std::random_device{}()};
  return gen;
}

std::string random_hex(size_t digits) {
  static const char *hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < digits; i++)
    s += hex[rng()() % 16];
  return s;
}

// A random RFC 4122 version-4 UID, as the API server hands out.
std::string random_pod_uid() {
  std::string u = random_hex(8) + "-" + random_hex(4) + "-4" + random_hex(3) + "-" + "89ab"[rng()() % 4] +
                  random_hex(3) + "-" + random_hex(12);
  return u;
}

// The form systemd slice names need: '-' separates ancestry there.
std::string underscored(std::string uid) {
  std::replace(uid.begin(), uid.end(), '-', '_');
  return uid;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// A unique tag per test process, for top-level names and units.
std::string run_tag() { return std::to_string(getpid()); }

// ---- Files -------------------------------------------------------------------

bool exists(const std::string &path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

std::optional<uint64_t> inode_of(const std::string &path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0)
    return std::nullopt;
  return static_cast<uint64_t>(st.st_ino);
}

std::vector<pid_t> procs_of(const std::string &dir) {
  std::vector<pid_t> pids;
  std::ifstream in(dir + "/cgroup.procs");
  for (long pid; in >> pid;)
    pids.push_back(static_cast<pid_t>(pid));
  return pids;
}

// usage_usec of a cgroup v2 directory's cpu.stat: every process that ran
// there or below, as the kernel charged it.
std::optional<uint64_t> cpu_usage_usec(const std::string &dir) {
  std::ifstream in(dir + "/cpu.stat");
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value)
    if (key == "usage_usec")
      return value;
  return std::nullopt;
}

// Kills every process in `dir` (cgroup.kill, Linux 5.14+, else one by one)
// and waits, bounded, until it is empty; then removes it, retrying while
// the kernel still holds dying tasks. "" on success.
std::string kill_and_rmdir(const std::string &dir) {
  const auto deadline = Clock::now() + 3s;
  while (Clock::now() < deadline) {
    const auto pids = procs_of(dir);
    if (pids.empty() && rmdir(dir.c_str()) == 0)
      return "";
    if (!pids.empty()) {
      if (!exists(dir + "/cgroup.kill") || !write_file(dir + "/cgroup.kill", "1").empty())
        for (pid_t pid : pids)
          kill(pid, SIGKILL);
    } else if (errno == ENOENT) {
      return "";
    }
    std::this_thread::sleep_for(20ms);
  }
  return "cannot remove cgroup " + dir + ": " + strerror(errno) + " (members: " + std::to_string(procs_of(dir).size()) +
         ")";
}

// ---- Cgroups made for a test --------------------------------------------------

// Cgroup v2 directories made for one test, below the cgroup2 mount, and
// removed again (deepest first, members killed) when it ends. Only
// directories this object made are ever removed.
class CgroupDirs {
public:
  CgroupDirs() : mount_(cgroup2_mount()) {}
  ~CgroupDirs() {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it)
      if (std::string err = kill_and_rmdir(*it); !err.empty())
        ADD_FAILURE() << err;
  }
  CgroupDirs(const CgroupDirs &) = delete;
  CgroupDirs &operator=(const CgroupDirs &) = delete;

  const std::string &mount() const { return mount_; }
  std::string abs(const std::string &rel) const { return mount_ + rel; }

  // Makes `rel` ("/a/b/c", relative to the mount) and any missing parent.
  // The directory itself must be new. With `fresh_top`, so must its
  // top-level component unless this object made it: that is a kubelet's
  // root, which a test must never share with a real kubelet or an earlier
  // run. "" on success, else why not.
  std::string make(const std::string &rel, bool fresh_top = false) {
    if (mount_.empty())
      return "no cgroup2 filesystem is mounted (see /proc/self/mountinfo)";
    if (exists(abs(rel)))
      return abs(rel) + " already exists: left by an earlier run, or in use on this node; remove it first";
    std::string path = mount_;
    size_t start = 1;
    bool top = true;
    while (start <= rel.size()) {
      size_t end = rel.find('/', start);
      if (end == std::string::npos)
        end = rel.size();
      path += "/" + rel.substr(start, end - start);
      const bool ours = std::find(created_.begin(), created_.end(), path) != created_.end();
      if (!ours && exists(path)) {
        if (top && fresh_top)
          return path + " already exists, so a kubelet (or an earlier, killed test run) owns it; this test makes "
                        "its own and will not touch that one: remove it (kill its processes, rmdir bottom-up) "
                        "and rerun";
      } else if (!ours) {
        if (mkdir(path.c_str(), 0755) != 0)
          return "cannot make cgroup " + path + ": " + strerror(errno);
        created_.push_back(path);
      }
      top = false;
      start = end + 1;
    }
    return "";
  }

private:
  std::string mount_;
  std::vector<std::string> created_; // absolute, parents before children
};

// ---- Processes -----------------------------------------------------------------

// Symlinks to tt_workload under chosen names: the kernel names a process
// after the basename it was exec'd as, so each gets its own comm.
class CommLinks {
public:
  CommLinks() {
    char tmpl[] = "/tmp/tt-groups-bin-XXXXXX";
    if (mkdtemp(tmpl))
      dir_ = tmpl;
  }
  ~CommLinks() {
    for (const auto &l : links_)
      unlink(l.c_str());
    if (!dir_.empty())
      rmdir(dir_.c_str());
  }
  CommLinks(const CommLinks &) = delete;
  CommLinks &operator=(const CommLinks &) = delete;

  // The path to exec for a process called `comm` (at most 15 characters).
  std::string path(const std::string &comm) {
    const std::string p = dir_ + "/" + comm;
    if (std::find(links_.begin(), links_.end(), p) == links_.end()) {
      if (symlink(workload_bin().c_str(), p.c_str()) == 0)
        links_.push_back(p);
      else
        ADD_FAILURE() << "cannot make " << p << ": " << strerror(errno);
    }
    return p;
  }

private:
  std::string dir_;
  std::vector<std::string> links_;
};

// Children of the test, each started in a cgroup; killed and reaped if a
// test ends before they do.
class Children {
public:
  ~Children() {
    for (auto &[pid, status] : status_)
      if (!status) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
  }
  Children() = default;
  Children(const Children &) = delete;
  Children &operator=(const Children &) = delete;

  // Forks; the child writes itself into `cgroup_dir`/cgroup.procs and then
  // execs argv (exit 126 if it could not move). -1 if fork failed.
  pid_t start(const std::string &cgroup_dir, const std::vector<std::string> &argv) {
    const std::string procs = cgroup_dir + "/cgroup.procs";
    std::vector<char *> args;
    for (const auto &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      const int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, "0", 1) != 1) {
        static const char msg[] = "test_groups: cannot join the cgroup\n";
        ssize_t ignored = write(2, msg, sizeof msg - 1);
        (void)ignored;
        _exit(126);
      }
      close(fd);
      execv(args[0], args.data());
      _exit(127);
    }
    if (pid > 0)
      status_[pid] = std::nullopt;
    return pid;
  }

  // Whether `pid` has ended (reaped now, or before).
  bool ended(pid_t pid) {
    auto it = status_.find(pid);
    if (it == status_.end())
      return false;
    int st = 0;
    if (!it->second && waitpid(pid, &st, WNOHANG) == pid)
      it->second = st;
    return it->second.has_value();
  }

  // Waits for every child, at most `limit` in all; a child still running
  // then is killed. Returns the children that did not exit 0, described.
  std::string wait_all(std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    std::string problems;
    for (auto &[pid, status] : status_) {
      while (!status) {
        int st = 0;
        const pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
          status = st;
        } else if (r < 0) {
          status = -1;
        } else if (Clock::now() >= deadline) {
          kill(pid, SIGKILL);
          waitpid(pid, &st, 0);
          status = st;
          problems += " pid " + std::to_string(pid) + " was still running and was killed;";
        } else {
          std::this_thread::sleep_for(5ms);
        }
      }
      if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
        problems += " pid " + std::to_string(pid) + " ended with status " + std::to_string(*status) + ";";
    }
    return problems;
  }

private:
  std::map<pid_t, std::optional<int>> status_;
};

// ---- Records -------------------------------------------------------------------

int64_t pid_of(const json &r) { return r.contains("pid") && r["pid"].is_number() ? r["pid"].get<int64_t>() : -1; }

// Reads a tracer's records as they come until every pid in `pids` has an
// exit record (at most `limit`), a little longer for stragglers, then stops
// it. Reading as they come keeps its stdout from ever filling up.
RunResult collect(BackgroundTracer &tracer, std::set<pid_t> pids, std::chrono::milliseconds limit = 15s) {
  auto deadline = Clock::now() + limit;
  bool grace = false;
  while (Clock::now() < deadline) {
    if (pids.empty() && !grace) {
      grace = true; // anything that should not be there has had time to come too
      deadline = std::min(deadline, Clock::now() + 300ms);
    }
    auto r = tracer.next_record(100ms);
    if (!r) {
      std::this_thread::sleep_for(10ms);
      continue;
    }
    if (r->value("event", "") == "exit")
      pids.erase(static_cast<pid_t>(pid_of(*r)));
  }
  if (!pids.empty())
    ADD_FAILURE() << pids.size() << " processes' exit records did not arrive within " << limit.count() << " ms";
  return tracer.stop();
}

std::optional<json> record_of(const RunResult &r, const std::string &event, pid_t pid) {
  for (const auto &rec : r.events(event))
    if (pid_of(rec) == pid)
      return rec;
  return std::nullopt;
}

// A string field as the test reports it: "<absent>" when missing.
std::string field(const json &r, const char *name) {
  if (!r.contains(name))
    return "<absent>";
  return r[name].is_string() ? r[name].get<std::string>() : "<not a string: " + r[name].dump() + ">";
}

// What a cgroup's path says about its processes (docs/identity.md); empty
// fields must be absent from a record, never empty or guessed.
struct Identity {
  Identity(std::string cid = "", std::string runtime = "", std::string pod_uid_ = "", std::string qos = "",
           std::string unit = "", std::string pod_name = "", std::string ns = "")
      : container_id(std::move(cid)), container_runtime(std::move(runtime)), pod_uid(std::move(pod_uid_)),
        qos_class(std::move(qos)), systemd_unit(std::move(unit)), pod(std::move(pod_name)), namespace_(std::move(ns)) {}
  std::string container_id, container_runtime, pod_uid, qos_class, systemd_unit, pod, namespace_;
};

void expect_identity(const json &rec, const Identity &want) {
  const std::pair<const char *, const std::string *> fields[] = {
      {"container_id", &want.container_id}, {"container_runtime", &want.container_runtime}, {"pod_uid", &want.pod_uid},
      {"qos_class", &want.qos_class},       {"systemd_unit", &want.systemd_unit},           {"pod", &want.pod},
      {"namespace", &want.namespace_}};
  for (const auto &[name, value] : fields) {
    if (value->empty())
      EXPECT_FALSE(rec.contains(name)) << name << " must be absent; record: " << rec.dump();
    else
      EXPECT_EQ(field(rec, name), *value) << name << "; record: " << rec.dump();
  }
}

// The exec and exit records of `pid`, each in cgroup `rel` (the kernel's id
// for it is the directory's inode) with identity `want`.
void expect_process_identity(const RunResult &r, pid_t pid, const CgroupDirs &dirs, const std::string &rel,
                             const Identity &want) {
  const std::optional<uint64_t> ino = inode_of(dirs.abs(rel));
  ASSERT_TRUE(ino) << dirs.abs(rel);
  for (const char *event : {"exec", "exit"}) {
    SCOPED_TRACE(event);
    const auto rec = record_of(r, event, pid);
    ASSERT_TRUE(rec) << "no " << event << " record for pid " << pid << " (in " << rel << ")";
    EXPECT_EQ(field(*rec, "cgroup"), rel) << rec->dump();
    EXPECT_EQ(rec->value("cgroup_id", uint64_t{0}), *ino) << "the kernel's id of " << rel << "; " << rec->dump();
    expect_identity(*rec, want);
  }
}

// The final group rows of a run, by key ("" for the null key); a key seen
// twice fails the test.
std::map<std::string, json> final_groups(const RunResult &r, const std::string &group_by) {
  std::map<std::string, json> rows;
  for (const auto &rec : r.events("group")) {
    if (rec.value("final", false) != true)
      continue;
    EXPECT_EQ(field(rec, "group_by"), group_by) << rec.dump();
    EXPECT_TRUE(rec.contains("group")) << rec.dump();
    const std::string key = rec["group"].is_null() ? "" : field(rec, "group");
    EXPECT_FALSE(rows.count(key)) << "two final rows for group '" << key << "'";
    rows[key] = rec;
  }
  EXPECT_TRUE(r.events("tree").empty()) << "with --group-by " << group_by << " no tree rows are printed";
  return rows;
}

std::string keys_of(const std::map<std::string, json> &rows) {
  std::string s;
  for (const auto &[k, v] : rows)
    s += (s.empty() ? "'" : ", '") + k + "'";
  return s;
}

// ---- 1. Every naming scheme ------------------------------------------------------

struct SchemeRow {
  const char *name;
  std::string rel; // the cgroup, relative to the mount
  Identity want;
  bool kubelet = false; // the top-level component is a kubelet's root
};

TEST(Groups, IdentityOfEveryNamingScheme) {
  TT_REQUIRE_BPF();
  const std::string pa = random_pod_uid(), pb = random_pod_uid(), pc = random_pod_uid(), pd = random_pod_uid(),
                    pe = random_pod_uid(), pf = random_pod_uid();
  const std::string static_pod = random_hex(32);
  auto h = [] { return random_hex(64); };
  const std::string c1 = h(), c2 = h(), c3 = h(), c4 = h(), c5 = h(), c6 = h(), c7 = h(), c8 = h(), c9 = h(), c10 = h(),
                    c11 = h(), c12 = h(), c13 = h();
  const std::string tag = run_tag();
  const std::string bu = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + underscored(pa) + ".slice";
  const std::string be =
      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + underscored(pc) + ".slice";
  const std::string service = "tt-test-" + tag + ".service";
  const std::vector<SchemeRow> rows = {
      {"kubelet systemd, burstable, containerd",
       bu + "/cri-containerd-" + c1 + ".scope",
       {c1, "containerd", pa, "burstable", "cri-containerd-" + c1 + ".scope"},
       true},
      {"kubelet systemd, conmon beside a cri-o container (no container id)",
       bu + "/crio-conmon-" + c2 + ".scope",
       {"", "", pa, "burstable", "crio-conmon-" + c2 + ".scope"},
       true},
      {"kubelet systemd, guaranteed (directly under kubepods.slice)",
       "/kubepods.slice/kubepods-pod" + underscored(pb) + ".slice/cri-containerd-" + c3 + ".scope",
       {c3, "containerd", pb, "guaranteed", "cri-containerd-" + c3 + ".scope"},
       true},
      {"kubelet systemd, besteffort, cri-o",
       be + "/crio-" + c4 + ".scope",
       {c4, "cri-o", pc, "besteffort", "crio-" + c4 + ".scope"},
       true},
      {"kubelet systemd, a QoS cgroup itself (no pod)",
       "/kubepods.slice/kubepods-besteffort.slice",
       {"", "", "", "besteffort", ""},
       true},
      {"kubelet systemd, kubepods.slice itself (no class)", "/kubepods.slice", {}, true},
      {"kubelet cgroupfs, burstable (runtime not in the path)",
       "/kubepods/burstable/pod" + pd + "/" + c5,
       {c5, "", pd, "burstable", ""},
       true},
      {"kubelet cgroupfs, guaranteed", "/kubepods/pod" + pe + "/" + c6, {c6, "", pe, "guaranteed", ""}, true},
      {"kubelet cgroupfs, besteffort, cri-o",
       "/kubepods/besteffort/pod" + pf + "/crio-" + c7,
       {c7, "cri-o", pf, "besteffort", ""},
       true},
      {"kubelet cgroupfs, static pod (32-digit UID)",
       "/kubepods/besteffort/pod" + static_pod + "/" + c8,
       {c8, "", static_pod, "besteffort", ""},
       true},
      {"docker, systemd driver",
       "/system.slice/docker-" + c9 + ".scope",
       {c9, "docker", "", "", "docker-" + c9 + ".scope"}},
      {"docker, systemd driver, systemd inside the container",
       "/system.slice/docker-" + c10 + ".scope/init.scope",
       {c10, "docker", "", "", "init.scope"}},
      {"docker, cgroupfs driver", "/docker/" + c11, {c11, "docker", "", "", ""}},
      {"podman, systemd driver",
       "/machine.slice/libpod-" + c12 + ".scope",
       {c12, "podman", "", "", "libpod-" + c12 + ".scope"}},
      {"podman, cgroupfs driver", "/libpod_parent/libpod-" + c13, {c13, "podman", "", "", ""}},
      {"a systemd service", "/system.slice/" + service, {"", "", "", "", service}},
      {"a plain cgroup", "/tt-groups-" + tag + "-plain", {}},
  };

  CgroupDirs dirs;
  // Parents first: a row may be another row's parent (kubepods.slice).
  std::vector<const SchemeRow *> by_depth;
  for (const auto &row : rows)
    by_depth.push_back(&row);
  std::stable_sort(by_depth.begin(), by_depth.end(), [](const SchemeRow *a, const SchemeRow *b) {
    return std::count(a->rel.begin(), a->rel.end(), '/') < std::count(b->rel.begin(), b->rel.end(), '/');
  });
  for (const SchemeRow *row : by_depth)
    ASSERT_EQ(dirs.make(row->rel, row->kubelet), "") << row->name;

  // Every top-level directory is a filter: the node's other processes stay out.
  std::set<std::string> tops;
  for (const auto &row : rows)
    tops.insert(row.rel.substr(0, row.rel.find('/', 1)));
  std::vector<std::string> args{"--format", "json"};
  for (const auto &t : tops) {
    args.push_back("--cgroup");
    args.push_back(t);
  }
  ASSERT_LE(tops.size(), 8u);
  BackgroundTracer tracer(args);
  ASSERT_TRUE(tracer.ready());

  Children children;
  std::vector<pid_t> pids;
  for (const auto &row : rows) {
    pids.push_back(children.start(dirs.abs(row.rel), {workload_bin(), "burn", "5"}));
    ASSERT_GT(pids.back(), 0) << row.name;
  }
  EXPECT_EQ(children.wait_all(20s), "");
  const RunResult r = collect(tracer, {pids.begin(), pids.end()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (size_t i = 0; i < rows.size(); i++) {
    SCOPED_TRACE(std::string(rows[i].name) + ": " + rows[i].rel);
    expect_process_identity(r, pids[i], dirs, rows[i].rel, rows[i].want);
  }
}

// ---- 2. --group-by ------------------------------------------------------------------

// Two pods (two containers in one, one in the other), a systemd service
// and a process in a plain cgroup (in no pod, container or unit), each
// process with its own comm, traced by five treetraces at once, one per
// --group-by key. Run once; each test checks one key.
struct Member {
  std::string comm, rel;
  pid_t pid = -1;
};

struct GroupScenario {
  std::string error; // why it could not be run
  std::string pod_a, pod_b, ca1, ca2, cb1, service;
  std::string pod_a_rel, pod_b_rel, ca1_rel, ca2_rel, cb1_rel, host_rel, service_rel;
  std::vector<Member> members;
  std::map<std::string, RunResult> runs;      // by --group-by key
  std::map<std::string, uint64_t> usage_usec; // cgroup (rel) -> cpu.stat usage_usec after the run
};

// The --group-by keys this run will check: one treetrace for each test of
// the five that runs (ctest runs each test in a process of its own).
std::set<std::string> group_keys_to_run(const std::string &requested) {
  static const std::map<std::string, std::string> key_of_test = {
      {"GroupByPod", "pod"},
      {"GroupByContainerSeparatesContainersOfOnePod", "container"},
      {"GroupByUnit", "unit"},
      {"GroupByCgroup", "cgroup"},
      {"GroupByComm", "comm"}};
  std::set<std::string> keys{requested};
  const ::testing::UnitTest *unit = ::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit->total_test_suite_count(); i++) {
    const ::testing::TestSuite *suite = unit->GetTestSuite(i);
    if (std::string(suite->name()) != "Groups")
      continue;
    for (int j = 0; j < suite->total_test_count(); j++) {
      const ::testing::TestInfo *test = suite->GetTestInfo(j);
      if (auto it = key_of_test.find(test->name()); it != key_of_test.end() && test->should_run())
        keys.insert(it->second);
    }
  }
  return keys;
}

const GroupScenario &group_scenario(const std::string &requested) {
  static GroupScenario *s = [&] {
    auto *g = new GroupScenario;
    g->pod_a = random_pod_uid();
    g->pod_b = random_pod_uid();
    g->ca1 = random_hex(64);
    g->ca2 = random_hex(64);
    g->cb1 = random_hex(64);
    const std::string tag = run_tag();
    g->service = "tt-test-" + tag + "-groups.service";
    g->pod_a_rel = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + underscored(g->pod_a) + ".slice";
    g->pod_b_rel = "/kubepods.slice/kubepods-pod" + underscored(g->pod_b) + ".slice";
    g->ca1_rel = g->pod_a_rel + "/cri-containerd-" + g->ca1 + ".scope";
    g->ca2_rel = g->pod_a_rel + "/cri-containerd-" + g->ca2 + ".scope";
    g->cb1_rel = g->pod_b_rel + "/cri-containerd-" + g->cb1 + ".scope";
    g->host_rel = "/tt-groups-" + tag + "-host";
    g->service_rel = "/system.slice/" + g->service;

    CgroupDirs dirs;
    for (const auto &[rel, kubelet] : std::vector<std::pair<std::string, bool>>{
             {g->ca1_rel, true}, {g->ca2_rel, true}, {g->cb1_rel, true}, {g->host_rel, false}, {g->service_rel, false}})
      if (std::string err = dirs.make(rel, kubelet); !err.empty()) {
        g->error = err;
        return g;
      }
    g->members = {{"ttg_web", g->ca1_rel}, {"ttg_web", g->ca1_rel},   {"ttg_sidecar", g->ca2_rel},
                  {"ttg_db", g->cb1_rel},  {"ttg_host", g->host_rel}, {"ttg_svc", g->service_rel}};
    const std::vector<std::string> filters{"--cgroup",  "/kubepods.slice", "--cgroup",
                                           g->host_rel, "--cgroup",        g->service_rel};
    std::map<std::string, std::unique_ptr<BackgroundTracer>> tracers;
    for (const std::string &key : group_keys_to_run(requested)) {
      std::vector<std::string> args{"--format", "json", "--group-by", key};
      args.insert(args.end(), filters.begin(), filters.end());
      tracers[key] = std::make_unique<BackgroundTracer>(args);
      if (!tracers[key]->ready()) {
        g->error = "treetrace --group-by " + key + " did not start";
        return g;
      }
    }
    CommLinks links;
    Children children;
    std::set<pid_t> pids;
    const char *burn_ms[] = {"40", "20", "30", "50", "25", "35"};
    for (size_t i = 0; i < g->members.size(); i++) {
      auto &m = g->members[i];
      m.pid = children.start(dirs.abs(m.rel), {links.path(m.comm), "burn", burn_ms[i]});
      if (m.pid <= 0) {
        g->error = "fork failed";
        return g;
      }
      pids.insert(m.pid);
    }
    if (std::string problems = children.wait_all(20s); !problems.empty()) {
      g->error = "workloads failed:" + problems;
      return g;
    }
    for (auto &[key, tracer] : tracers)
      g->runs[key] = collect(*tracer, pids);
    for (const auto &rel :
         {g->pod_a_rel, g->pod_b_rel, g->ca1_rel, g->ca2_rel, g->cb1_rel, g->host_rel, g->service_rel})
      if (auto u = cpu_usage_usec(dirs.abs(rel)))
        g->usage_usec[rel] = *u;
    return g;
  }();
  return *s;
}

// The processes of a group: the pids, and the CPU their exit records in
// that run say they used.
struct Expected {
  std::set<pid_t> pids;
  std::map<std::string, uint64_t> procs_by_comm;
};

// One final row per expected key and no other; each row's procs and CPU
// are exactly those of its processes' exit records in the same run, and
// its CPU matches the kernel's cpu.stat of the cgroup it stands for.
void check_groups(const std::string &key, const std::map<std::string, Expected> &want,
                  const std::map<std::string, std::string> &cgroup_of_group = {}) {
  const GroupScenario &g = group_scenario(key);
  ASSERT_EQ(g.error, "");
  ASSERT_TRUE(g.runs.count(key)) << "no treetrace ran with --group-by " << key;
  const RunResult &r = g.runs.at(key);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto rows = final_groups(r, key);
  std::map<std::string, json> wanted_rows;
  for (const auto &[k, e] : want) {
    SCOPED_TRACE("group '" + k + "'");
    auto it = rows.find(k);
    if (it == rows.end()) {
      ADD_FAILURE() << "no final row for group '" << k << "'; rows: " << keys_of(rows);
      continue;
    }
    const json &row = it->second;
    uint64_t cpu = 0;
    for (pid_t pid : e.pids) {
      const auto exit = record_of(r, "exit", pid);
      ASSERT_TRUE(exit) << "no exit record for pid " << pid;
      cpu += exit->value("cpu_ns", uint64_t{0});
    }
    EXPECT_EQ(row.value("procs_total", uint64_t{0}), e.pids.size()) << row.dump();
    EXPECT_EQ(row.value("procs_live", uint64_t{99}), 0u) << row.dump();
    EXPECT_EQ(row.value("cpu_ns", uint64_t{0}), cpu) << "the sum of its processes' exit cpu_ns; " << row.dump();
    std::map<std::string, uint64_t> by_comm;
    if (row.contains("by_comm") && row["by_comm"].is_array())
      for (const auto &c : row["by_comm"])
        by_comm[field(c, "comm")] += c.value("procs", uint64_t{0});
    EXPECT_EQ(by_comm, e.procs_by_comm) << row.dump();
    if (auto cg = cgroup_of_group.find(k); cg != cgroup_of_group.end()) {
      // The kernel's own figure: cpu.stat also counts what each process
      // spent between joining and exec'ing, and not what it spent before
      // joining (both well under a millisecond).
      ASSERT_TRUE(g.usage_usec.count(cg->second)) << cg->second;
      EXPECT_TRUE(within(static_cast<double>(row.value("cpu_ns", uint64_t{0})),
                         static_cast<double>(g.usage_usec.at(cg->second)) * 1000, 0.03,
                         2e6 * static_cast<double>(e.pids.size())))
          << "cpu_ns vs " << cg->second << "/cpu.stat usage_usec";
    }
  }
  for (const auto &[k, row] : rows)
    EXPECT_TRUE(want.count(k)) << "unexpected group row '" << k << "': " << row.dump();
}

// Pids of the scenario's members that satisfy `pred`, with their comms.
template <class Pred> Expected members_where(const GroupScenario &g, Pred pred) {
  Expected e;
  for (const auto &m : g.members)
    if (pred(m)) {
      e.pids.insert(m.pid);
      e.procs_by_comm[m.comm]++;
    }
  return e;
}

TEST(Groups, GroupByPod) {
  TT_REQUIRE_BPF();
  const GroupScenario &g = group_scenario("pod");
  ASSERT_EQ(g.error, "");
  auto in = [&](const std::string &prefix) {
    return members_where(g, [&](const Member &m) { return m.rel.rfind(prefix, 0) == 0; });
  };
  check_groups("pod",
               {{g.pod_a, in(g.pod_a_rel)},
                {g.pod_b, in(g.pod_b_rel)},
                {"", members_where(g, [&](const Member &m) { return m.rel == g.host_rel || m.rel == g.service_rel; })}},
               {{g.pod_a, g.pod_a_rel}, {g.pod_b, g.pod_b_rel}});
  // A pod's row says which pod and class, and names no container or unit.
  const auto rows = final_groups(g.runs.at("pod"), "pod");
  if (rows.count(g.pod_a))
    expect_identity(rows.at(g.pod_a), {"", "", g.pod_a, "burstable", ""});
  if (rows.count(g.pod_b))
    expect_identity(rows.at(g.pod_b), {"", "", g.pod_b, "guaranteed", ""});
  if (rows.count(""))
    expect_identity(rows.at(""), {});
}

TEST(Groups, GroupByContainerSeparatesContainersOfOnePod) {
  TT_REQUIRE_BPF();
  const GroupScenario &g = group_scenario("container");
  ASSERT_EQ(g.error, "");
  auto in = [&](const std::string &rel) { return members_where(g, [&](const Member &m) { return m.rel == rel; }); };
  check_groups("container",
               {{g.ca1, in(g.ca1_rel)},
                {g.ca2, in(g.ca2_rel)},
                {g.cb1, in(g.cb1_rel)},
                {"", members_where(g, [&](const Member &m) { return m.rel == g.host_rel || m.rel == g.service_rel; })}},
               {{g.ca1, g.ca1_rel}, {g.ca2, g.ca2_rel}, {g.cb1, g.cb1_rel}});
  const auto rows = final_groups(g.runs.at("container"), "container");
  if (rows.count(g.ca1))
    expect_identity(rows.at(g.ca1), {g.ca1, "containerd", g.pod_a, "burstable", ""});
  if (rows.count(g.cb1))
    expect_identity(rows.at(g.cb1), {g.cb1, "containerd", g.pod_b, "guaranteed", ""});
}

TEST(Groups, GroupByUnit) {
  TT_REQUIRE_BPF();
  const GroupScenario &g = group_scenario("unit");
  ASSERT_EQ(g.error, "");
  auto in = [&](const std::string &rel) { return members_where(g, [&](const Member &m) { return m.rel == rel; }); };
  const std::string u1 = "cri-containerd-" + g.ca1 + ".scope", u2 = "cri-containerd-" + g.ca2 + ".scope",
                    u3 = "cri-containerd-" + g.cb1 + ".scope";
  check_groups("unit",
               {{u1, in(g.ca1_rel)},
                {u2, in(g.ca2_rel)},
                {u3, in(g.cb1_rel)},
                {g.service, in(g.service_rel)},
                {"", in(g.host_rel)}},
               {{u1, g.ca1_rel}, {u2, g.ca2_rel}, {u3, g.cb1_rel}, {g.service, g.service_rel}, {"", g.host_rel}});
  const auto rows = final_groups(g.runs.at("unit"), "unit");
  if (rows.count(g.service))
    expect_identity(rows.at(g.service), {"", "", "", "", g.service});
}

TEST(Groups, GroupByCgroup) {
  TT_REQUIRE_BPF();
  const GroupScenario &g = group_scenario("cgroup");
  ASSERT_EQ(g.error, "");
  std::map<std::string, Expected> want;
  std::map<std::string, std::string> cgroups;
  for (const auto &rel : {g.ca1_rel, g.ca2_rel, g.cb1_rel, g.host_rel, g.service_rel}) {
    want[rel] = members_where(g, [&](const Member &m) { return m.rel == rel; });
    cgroups[rel] = rel;
  }
  check_groups("cgroup", want, cgroups);
}

TEST(Groups, GroupByComm) {
  TT_REQUIRE_BPF();
  const GroupScenario &g = group_scenario("comm");
  ASSERT_EQ(g.error, "");
  std::map<std::string, Expected> want;
  for (const auto &m : g.members)
    want[m.comm] = members_where(g, [&](const Member &o) { return o.comm == m.comm; });
  check_groups("comm", want);
  // A comm's row is no cgroup's: it carries no identity.
  for (const auto &[k, row] : final_groups(g.runs.at("comm"), "comm"))
    expect_identity(row, {});
}

// Snapshots (--interval) are group rows too: one per group, each counting
// the members alive at that moment.
TEST(Groups, SnapshotsHaveOneRowPerGroup) {
  TT_REQUIRE_BPF();
  const std::string pod = random_pod_uid(), ctr = random_hex(64);
  const std::string ctr_rel = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + underscored(pod) +
                              ".slice/cri-containerd-" + ctr + ".scope";
  const std::string host_rel = "/tt-groups-" + run_tag() + "-snapshot-host";
  CgroupDirs dirs;
  ASSERT_EQ(dirs.make(ctr_rel, true), "");
  ASSERT_EQ(dirs.make(host_rel), "");
  BackgroundTracer tracer({"--format", "json", "--group-by", "pod", "--interval", "200ms", "--cgroup",
                           "/kubepods.slice", "--cgroup", host_rel});
  ASSERT_TRUE(tracer.ready());
  Children children;
  const pid_t sleeper = children.start(dirs.abs(ctr_rel), {workload_bin(), "sleep", "2000"});
  const pid_t burner = children.start(dirs.abs(host_rel), {workload_bin(), "burn", "30"});
  ASSERT_GT(sleeper, 0);
  ASSERT_GT(burner, 0);

  // Rows of one snapshot share its ts_ns. Wait for one taken after the
  // burner is gone, while the sleeper is still in its cgroup (the kernel's
  // cgroup.procs says so before and after the snapshot arrives).
  std::map<uint64_t, std::map<std::string, json>> snapshots;
  bool burner_gone = false, checked = false;
  const auto deadline = Clock::now() + 1500ms;
  while (!checked && Clock::now() < deadline) {
    burner_gone = burner_gone || children.ended(burner);
    const auto members = procs_of(dirs.abs(ctr_rel));
    const bool sleeper_in_place = members == std::vector<pid_t>{sleeper};
    auto rec = tracer.next_record(50ms);
    if (!rec || rec->value("event", "") != "group" || rec->value("final", true))
      continue;
    const std::string key = (*rec)["group"].is_null() ? "" : field(*rec, "group");
    auto &snap = snapshots[rec->value("ts_ns", uint64_t{0})];
    EXPECT_FALSE(snap.count(key)) << "two rows for group '" << key << "' in one snapshot";
    snap[key] = *rec;
    if (key == pod && burner_gone && sleeper_in_place && procs_of(dirs.abs(ctr_rel)) == std::vector<pid_t>{sleeper}) {
      EXPECT_EQ(rec->value("procs_live", uint64_t{0}), 1u) << "the sleeper is alive in the pod: " << rec->dump();
      EXPECT_EQ(rec->value("procs_total", uint64_t{0}), 1u) << rec->dump();
      expect_identity(*rec, {"", "", pod, "burstable", ""});
      checked = true;
    }
  }
  EXPECT_TRUE(checked) << "no snapshot row for the pod while its sleeper was alive (" << snapshots.size()
                       << " snapshots seen)";
  EXPECT_EQ(children.wait_all(10s), "");
  const RunResult r = collect(tracer, {sleeper});
  const auto rows = final_groups(r, "pod");
  ASSERT_TRUE(rows.count(pod)) << keys_of(rows);
  EXPECT_EQ(rows.at(pod).value("procs_live", uint64_t{99}), 0u) << rows.at(pod).dump();
  ASSERT_TRUE(rows.count("")) << keys_of(rows);
  EXPECT_EQ(rows.at("").value("procs_total", uint64_t{0}), 1u) << "the host process: " << rows.at("").dump();
}

// ---- 3. Pod names from /var/log/pods ------------------------------------------------

// The kubelet's log directory of one pod, made for a test and removed after
// (and /var/log/pods too, if the test made it).
class PodLogDir {
public:
  PodLogDir(const std::string &ns, const std::string &name, const std::string &uid) {
    if (!exists(root_)) {
      if (mkdir(root_.c_str(), 0755) != 0) {
        error_ = "cannot make " + root_ + ": " + strerror(errno);
        return;
      }
      made_root_ = true;
    }
    dir_ = root_ + "/" + ns + "_" + name + "_" + uid;
    if (exists(dir_)) {
      error_ = dir_ + " already exists: not this test's, so it is left alone; remove it and rerun";
      dir_.clear();
      return;
    }
    if (mkdir(dir_.c_str(), 0755) != 0) {
      error_ = "cannot make " + dir_ + ": " + strerror(errno);
      dir_.clear();
    }
  }
  ~PodLogDir() {
    if (!dir_.empty() && rmdir(dir_.c_str()) != 0)
      ADD_FAILURE() << "cannot remove " << dir_ << ": " << strerror(errno);
    if (made_root_ && rmdir(root_.c_str()) != 0)
      ADD_FAILURE() << "cannot remove " << root_ << ": " << strerror(errno);
  }
  PodLogDir(const PodLogDir &) = delete;
  PodLogDir &operator=(const PodLogDir &) = delete;
  const std::string &error() const { return error_; }

private:
  const std::string root_ = "/var/log/pods";
  std::string dir_, error_;
  bool made_root_ = false;
};

TEST(Groups, PodNameAndNamespaceOnlyFromTheKubeletLogDirectory) {
  TT_REQUIRE_BPF();
  const std::string named = random_pod_uid(), unnamed = random_pod_uid();
  const std::string ns = "tt-ns-" + run_tag(), name = "tt-web-" + random_hex(6) + ".v1";
  const std::string cn = random_hex(64), cu = random_hex(64);
  const std::string named_pod =
      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + underscored(named) + ".slice";
  const std::string unnamed_pod =
      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + underscored(unnamed) + ".slice";
  const std::string named_rel = named_pod + "/cri-containerd-" + cn + ".scope";
  const std::string unnamed_rel = unnamed_pod + "/cri-containerd-" + cu + ".scope";
  CgroupDirs dirs;
  ASSERT_EQ(dirs.make(named_rel, true), "");
  ASSERT_EQ(dirs.make(unnamed_rel, true), "");
  PodLogDir log_dir(ns, name, named);
  ASSERT_EQ(log_dir.error(), "");

  BackgroundTracer tracer({"--format", "json", "--group-by", "pod", "--cgroup", "/kubepods.slice"});
  ASSERT_TRUE(tracer.ready());
  Children children;
  const pid_t pn = children.start(dirs.abs(named_rel), {workload_bin(), "burn", "10"});
  const pid_t pu = children.start(dirs.abs(unnamed_rel), {workload_bin(), "burn", "10"});
  ASSERT_GT(pn, 0);
  ASSERT_GT(pu, 0);
  EXPECT_EQ(children.wait_all(20s), "");
  const RunResult r = collect(tracer, {pn, pu});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  {
    SCOPED_TRACE("pod with a log directory");
    expect_process_identity(r, pn, dirs, named_rel,
                            {cn, "containerd", named, "besteffort", "cri-containerd-" + cn + ".scope", name, ns});
  }
  {
    SCOPED_TRACE("pod without one: no name is guessed");
    expect_process_identity(r, pu, dirs, unnamed_rel,
                            {cu, "containerd", unnamed, "besteffort", "cri-containerd-" + cu + ".scope"});
  }
  const auto rows = final_groups(r, "pod");
  ASSERT_TRUE(rows.count(named)) << keys_of(rows);
  ASSERT_TRUE(rows.count(unnamed)) << keys_of(rows);
  expect_identity(rows.at(named), {"", "", named, "besteffort", "", name, ns});
  expect_identity(rows.at(unnamed), {"", "", unnamed, "besteffort", ""});
}

// ---- 4. --pod and --container ----------------------------------------------------------

// Every record of the run that names a process: only `traced` pids, and
// each of them has its exec and exit records.
void expect_only_traced(const RunResult &r, const std::set<pid_t> &traced, const std::set<pid_t> &untraced) {
  for (const auto &rec : r.records) {
    const int64_t pid = pid_of(rec);
    if (pid < 0)
      continue;
    EXPECT_FALSE(untraced.count(static_cast<pid_t>(pid))) << "a process the filter excludes was traced: " << rec.dump();
    EXPECT_TRUE(traced.count(static_cast<pid_t>(pid))) << "a process nobody started was traced: " << rec.dump();
  }
  for (pid_t pid : traced) {
    EXPECT_TRUE(record_of(r, "exec", pid)) << "no exec record for traced pid " << pid;
    EXPECT_TRUE(record_of(r, "exit", pid)) << "no exit record for traced pid " << pid;
  }
}

TEST(Groups, PodFilterTracesOnlyThatPod) {
  TT_REQUIRE_BPF();
  const std::string in_pod = random_pod_uid(), other_pod = random_pod_uid();
  const std::string c1 = random_hex(64), c2 = random_hex(64), c3 = random_hex(64);
  const std::string pod_rel =
      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + underscored(in_pod) + ".slice";
  const std::string a1 = pod_rel + "/cri-containerd-" + c1 + ".scope",
                    a2 = pod_rel + "/cri-containerd-" + c2 + ".scope";
  const std::string b1 = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + underscored(other_pod) +
                         ".slice/cri-containerd-" + c3 + ".scope";
  const std::string host = "/tt-groups-" + run_tag() + "-podfilter-host";
  CgroupDirs dirs;
  for (const auto &rel : {a1, a2, b1})
    ASSERT_EQ(dirs.make(rel, true), "");
  ASSERT_EQ(dirs.make(host), "");

  // The UID as a user may type it: upper case (docs/identity.md: any case).
  BackgroundTracer tracer({"--format", "json", "--pod", upper(in_pod)});
  ASSERT_TRUE(tracer.ready());
  Children children;
  // All at once: the excluded ones run while the traced ones do.
  const pid_t t1 = children.start(dirs.abs(a1), {workload_bin(), "burn", "40"});
  const pid_t t2 = children.start(dirs.abs(a2), {workload_bin(), "burn", "40"});
  const pid_t u1 = children.start(dirs.abs(b1), {workload_bin(), "burn", "40"});
  const pid_t u2 = children.start(dirs.abs(host), {workload_bin(), "burn", "40"});
  for (pid_t p : {t1, t2, u1, u2})
    ASSERT_GT(p, 0);
  EXPECT_EQ(children.wait_all(20s), "");
  const RunResult r = collect(tracer, {t1, t2});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_only_traced(r, {t1, t2}, {u1, u2});
  for (pid_t p : {t1, t2})
    if (auto exit = record_of(r, "exit", p)) {
      EXPECT_EQ(field(*exit, "pod_uid"), in_pod) << exit->dump();
    }
  ASSERT_TRUE(r.summary());
  EXPECT_EQ(r.summary()->value("procs", uint64_t{0}), 2u) << r.summary()->dump();
}

TEST(Groups, ContainerFilterTracesOnlyThatContainer) {
  TT_REQUIRE_BPF();
  const std::string pod = random_pod_uid();
  const std::string mine = random_hex(64), sibling = random_hex(64);
  const std::string pod_rel =
      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + underscored(pod) + ".slice";
  const std::string ctr = pod_rel + "/crio-" + mine + ".scope";
  // conmon of the same container is not the container (docs/identity.md).
  const std::string conmon = pod_rel + "/crio-conmon-" + mine + ".scope";
  const std::string other = pod_rel + "/crio-" + sibling + ".scope";
  CgroupDirs dirs;
  for (const auto &rel : {ctr, conmon, other})
    ASSERT_EQ(dirs.make(rel, true), "");
  // A sub-cgroup of the container (a runtime's or a worker's own) is
  // part of it.
  ASSERT_EQ(dirs.make(ctr + "/worker"), "");

  BackgroundTracer tracer({"--format", "json", "--group-by", "container", "--container", mine.substr(0, 12)});
  ASSERT_TRUE(tracer.ready());
  Children children;
  const pid_t t1 = children.start(dirs.abs(ctr), {workload_bin(), "burn", "40"});
  const pid_t t2 = children.start(dirs.abs(ctr + "/worker"), {workload_bin(), "burn", "40"});
  const pid_t u1 = children.start(dirs.abs(other), {workload_bin(), "burn", "40"});
  const pid_t u2 = children.start(dirs.abs(conmon), {workload_bin(), "burn", "40"});
  for (pid_t p : {t1, t2, u1, u2})
    ASSERT_GT(p, 0);
  EXPECT_EQ(children.wait_all(20s), "");
  const RunResult r = collect(tracer, {t1, t2});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_only_traced(r, {t1, t2}, {u1, u2});
  expect_process_identity(r, t2, dirs, ctr + "/worker", {mine, "cri-o", pod, "besteffort", "crio-" + mine + ".scope"});
  const auto rows = final_groups(r, "container");
  EXPECT_EQ(rows.size(), 1u) << keys_of(rows);
  ASSERT_TRUE(rows.count(mine)) << keys_of(rows);
  EXPECT_EQ(rows.at(mine).value("procs_total", uint64_t{0}), 2u) << rows.at(mine).dump();
}

size_t line_count(const std::string &s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

// Exit 2, one line on stderr that says what was wrong, nothing on stdout.
void expect_usage_error(const std::vector<std::string> &args, const std::string &needle) {
  SCOPED_TRACE(args.back());
  const RunResult r = run_treetrace(args, {}, 30);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(line_count(r.err), 1u) << r.err;
  EXPECT_TRUE(!r.err.empty() && r.err.back() == '\n') << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(Groups, UnknownPodIsRefused) {
  TT_REQUIRE_BPF();
  const std::string uid = random_pod_uid();
  // A pod that does exist elsewhere must not make an unknown one match.
  const std::string other = random_pod_uid();
  CgroupDirs dirs;
  ASSERT_EQ(dirs.make("/kubepods/burstable/pod" + other + "/" + random_hex(64), true), "");
  expect_usage_error({"--format", "json", "--pod", uid}, uid);
  expect_usage_error({"--format", "json", "--pod", "coredns"}, "coredns");
}

TEST(Groups, UnknownContainerPrefixIsRefused) {
  TT_REQUIRE_BPF();
  const std::string id = random_hex(64);
  CgroupDirs dirs;
  ASSERT_EQ(dirs.make("/docker/" + id), "");
  // Differs from the only container made here in its first digit, and 24
  // random digits make any other container on the node a 2^-96 chance.
  std::string prefix = random_hex(24);
  prefix[0] = id[0] == 'f' ? '0' : 'f';
  expect_usage_error({"--format", "json", "--container", prefix}, prefix);
  expect_usage_error({"--format", "json", "--container", "nginx"}, "nginx");
}

TEST(Groups, AmbiguousContainerPrefixIsRefused) {
  TT_REQUIRE_BPF();
  const std::string shared = random_hex(12);
  const std::string a = shared + "0" + random_hex(51), b = shared + "1" + random_hex(51);
  CgroupDirs dirs;
  ASSERT_EQ(dirs.make("/system.slice/docker-" + a + ".scope"), "");
  ASSERT_EQ(dirs.make("/docker/" + b), "");
  expect_usage_error({"--format", "json", "--container", shared}, shared);
  // One more digit names one container, which is then traced.
  const RunResult r = run_treetrace({"--format", "json", "--container", shared + "1", "--duration", "200ms"}, {}, 30);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.summary()) << r.out;
}

TEST(Groups, UnknownGroupByKeyIsRefused) {
  TT_REQUIRE_BPF();
  expect_usage_error({"--format", "json", "--group-by", "nonsense"}, "nonsense");
}

// ---- 5. A real podman container ----------------------------------------------------------

std::optional<std::string> find_in_path(const std::string &name) {
  const char *env = getenv("PATH");
  std::istringstream dirs(std::string(env ? env : "") +
                          ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && access((d + "/" + name).c_str(), X_OK) == 0)
      return d + "/" + name;
  return std::nullopt;
}

struct Captured {
  int status = -1;
  std::string out, err;
  bool timed_out = false;
};

// Runs a command to its end (killed after `limit`), with its output.
Captured run_captured(const std::vector<std::string> &argv, std::chrono::milliseconds limit) {
  Captured c;
  const Spawned child = spawn(argv, {}, Capture::stdout_and_stderr);
  if (child.pid < 0)
    return c;
  const auto deadline = Clock::now() + limit;
  pollfd fds[2] = {{child.out_fd, POLLIN, 0}, {child.err_fd, POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      c.timed_out = true;
      kill(child.pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, static_cast<int>(left)) <= 0)
      continue;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        fds[i].fd = -1;
        open_fds--;
      } else {
        (i == 0 ? c.out : c.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  close(child.out_fd);
  close(child.err_fd);
  waitpid(child.pid, &c.status, 0);
  return c;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

std::string copy_file(const std::string &from, const std::string &to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (!in || !out)
    return "cannot copy " + from + " to " + to;
  out << in.rdbuf();
  out.close();
  if (!out)
    return "cannot write " + to;
  return "";
}

std::string make_dirs(const std::string &path) {
  std::string p;
  std::istringstream parts(path);
  for (std::string c; std::getline(parts, c, '/');) {
    if (c.empty())
      continue;
    p += "/" + c;
    if (mkdir(p.c_str(), 0755) != 0 && errno != EEXIST)
      return "cannot make " + p + ": " + strerror(errno);
  }
  return "";
}

// A root filesystem made here, of tt_workload (as /ttg_ctr) and the shared
// libraries ldd says it needs: no image, no registry, no busybox.
class Rootfs {
public:
  Rootfs() {
    char tmpl[] = "/tmp/tt-groups-rootfs-XXXXXX";
    if (!mkdtemp(tmpl)) {
      error_ = std::string("mkdtemp: ") + strerror(errno);
      return;
    }
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
    for (const char *d : {"/proc", "/sys", "/dev", "/etc", "/tmp"})
      if (error_ = make_dirs(dir_ + d); !error_.empty())
        return;
    if (error_ = copy_file(workload_bin(), dir_ + "/ttg_ctr"); !error_.empty())
      return;
    chmod((dir_ + "/ttg_ctr").c_str(), 0755);
    const auto ldd = find_in_path("ldd");
    if (!ldd) {
      error_ = "ldd not found (package libc-bin)";
      return;
    }
    const Captured libs = run_captured({*ldd, workload_bin()}, 20s);
    if (libs.status != 0) {
      error_ = "ldd " + workload_bin() + " failed: " + libs.err;
      return;
    }
    std::istringstream lines(libs.out);
    for (std::string line; std::getline(lines, line);) {
      // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
      size_t at = line.find("=> /");
      at = at != std::string::npos ? at + 3 : line.find_first_not_of(" \t");
      if (at == std::string::npos || line[at] != '/')
        continue;
      const std::string lib = line.substr(at, line.find(' ', at) - at);
      if (error_ = make_dirs(dir_ + lib.substr(0, lib.rfind('/'))); !error_.empty())
        return;
      if (error_ = copy_file(lib, dir_ + lib); !error_.empty())
        return;
      chmod((dir_ + lib).c_str(), 0755);
    }
  }
  ~Rootfs() {
    // Depth first, never across a mount point, never following a link.
    if (!dir_.empty())
      nftw(
          dir_.c_str(),
          [](const char *p, const struct stat *, int, FTW *) {
            (void)remove(p);
            return 0;
          },
          16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  }
  Rootfs(const Rootfs &) = delete;
  Rootfs &operator=(const Rootfs &) = delete;
  const std::string &dir() const { return dir_; }
  const std::string &error() const { return error_; }

private:
  std::string dir_, error_;
};

// Every cgroup mount, v1 and v2, from /proc/self/mountinfo.
std::vector<std::string> cgroup_mounts() {
  std::vector<std::string> mounts;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mount_point, opts, w;
    f >> id >> parent >> dev >> root >> mount_point >> opts;
    while (f >> w && w != "-") {
    }
    std::string fstype;
    f >> fstype;
    if (fstype == "cgroup" || fstype == "cgroup2")
      mounts.push_back(mount_point);
  }
  return mounts;
}

// A podman container by name, removed (with its cgroups, if podman left
// any it made for this test) when the test ends.
class PodmanContainer {
public:
  PodmanContainer(std::string podman, std::string name) : podman_(std::move(podman)), name_(std::move(name)) {
    // podman's cgroupfs parent: made by podman on first use, in every
    // hierarchy; removed after only where this test's container made it.
    for (const auto &m : cgroup_mounts())
      if (!exists(m + "/libpod_parent"))
        new_parents_.push_back(m + "/libpod_parent");
  }
  ~PodmanContainer() {
    run_captured({podman_, "rm", "--force", "--time", "0", name_}, 30s);
    for (const auto &p : new_parents_) {
      if (!exists(p))
        continue;
      // Only empty directories: rmdir refuses anything still in use.
      std::vector<std::string> children;
      if (DIR *d = opendir(p.c_str())) {
        while (dirent *e = readdir(d)) {
          const std::string n = e->d_name;
          struct stat st {};
          if (n != "." && n != ".." && lstat((p + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode))
            children.push_back(p + "/" + n);
        }
        closedir(d);
      }
      for (const auto &c : children)
        rmdir(c.c_str());
      rmdir(p.c_str());
    }
  }
  PodmanContainer(const PodmanContainer &) = delete;
  PodmanContainer &operator=(const PodmanContainer &) = delete;
  const std::string &name() const { return name_; }

private:
  std::string podman_, name_;
  std::vector<std::string> new_parents_;
};

TEST(Groups, PodmanContainerProcessesCarryItsId) {
  TT_REQUIRE_BPF();
  const auto podman = find_in_path("podman");
  if (!podman)
    GTEST_SKIP() << "podman is not installed, so no real container can be run here "
                    "(CI: apt-get install -y podman runc)";
  Rootfs rootfs;
  ASSERT_EQ(rootfs.error(), "");
  PodmanContainer container(*podman, "tt-groups-" + run_tag() + "-" + random_hex(6));

  BackgroundTracer tracer({"--format", "json", "--group-by", "container", "--comm", "ttg_ctr"});
  ASSERT_TRUE(tracer.ready());
  // crun refuses a hybrid cgroup layout whose cgroup2 still has a
  // controller (hugetlb here: "cgroups in hybrid mode not supported, drop
  // all controllers from cgroupv2"); runc joins the cgroup2 hierarchy
  // there too. Without CAP_SYS_RESOURCE podman's default rlimits (nofile
  // 1048576, and more processes than conmon's own limit) cannot be set,
  // so small ones are asked for. --network none: nothing to set up.
  std::vector<std::string> run{*podman};
  if (auto runc = find_in_path("runc")) {
    run.push_back("--runtime");
    run.push_back(*runc);
  }
  for (const char *a : {"run", "--detach", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit",
                        "nproc=4096:4096", "--name"})
    run.push_back(a);
  run.push_back(container.name());
  run.push_back("--rootfs");
  run.push_back(rootfs.dir());
  // A master and two forked workers, each burning 1 s: still running
  // when podman is asked which host PID the container has.
  for (const char *a : {"/ttg_ctr", "prefork", "2", "1000"})
    run.push_back(a);
  const Captured started = run_captured(run, 60s);
  ASSERT_FALSE(started.timed_out) << "podman run did not return within 60 s: " << started.err;
  ASSERT_EQ(started.status, 0) << "podman could not run a container here: " << started.err;
  const std::string id = trim(started.out);
  ASSERT_EQ(id.size(), 64u) << "podman run --detach printed '" << started.out << "'";

  const Captured inspect = run_captured(
      {*podman, "inspect", "--format", "{{.Id}} {{.State.Pid}} {{.State.CgroupPath}}", container.name()}, 30s);
  ASSERT_EQ(inspect.status, 0) << inspect.err;
  std::istringstream fields(inspect.out);
  std::string inspected_id, cgroup_path;
  long host_pid = 0;
  fields >> inspected_id >> host_pid >> cgroup_path;
  EXPECT_EQ(inspected_id, id) << inspect.out;
  EXPECT_GT(host_pid, 0) << "the container had ended before podman inspect: " << inspect.out;

  const Captured waited = run_captured({*podman, "wait", container.name()}, 30s);
  ASSERT_EQ(waited.status, 0) << waited.err;
  EXPECT_EQ(trim(waited.out), "0") << "the container's exit code";

  // Three processes: the master, then its two workers.
  std::set<pid_t> seen;
  auto deadline = Clock::now() + 10s;
  while (seen.size() < 3 && Clock::now() < deadline)
    if (auto rec = tracer.next_record(100ms); rec && rec->value("event", "") == "exit")
      seen.insert(static_cast<pid_t>(pid_of(*rec)));
  const RunResult r = tracer.stop();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::cout << "[ podman   ] container " << id << " in cgroup " << cgroup_path << " (runtime "
            << (run[1] == "--runtime" ? run[2] : "podman's default") << ")\n";

  const auto exits = r.events("exit");
  ASSERT_EQ(exits.size(), 3u) << r.out;
  uint64_t cpu = 0;
  for (const auto &e : exits) {
    EXPECT_EQ(field(e, "container_id"), id) << e.dump();
    EXPECT_EQ(field(e, "container_runtime"), "podman") << e.dump();
    EXPECT_FALSE(e.contains("pod_uid")) << e.dump();
    // Where podman put it, as podman says (cgroupfs v1 paths on this hybrid
    // host, the same in the cgroup2 hierarchy).
    if (!cgroup_path.empty()) {
      EXPECT_EQ(field(e, "cgroup"), cgroup_path) << e.dump();
    }
    EXPECT_NE(field(e, "cgroup").find("libpod-" + id), std::string::npos) << e.dump();
    cpu += e.value("cpu_ns", uint64_t{0});
  }
  // The container's first process is the PID podman reports, and PID 1 in
  // the container's own namespace.
  const auto exec = record_of(r, "exec", static_cast<pid_t>(host_pid));
  ASSERT_TRUE(exec) << "no exec record for the container's PID " << host_pid << "; " << r.out;
  EXPECT_EQ(exec->value("ns_pid", int64_t{0}), 1) << exec->dump();
  EXPECT_EQ(field(*exec, "container_id"), id) << exec->dump();

  const auto rows = final_groups(r, "container");
  ASSERT_EQ(rows.size(), 1u) << keys_of(rows);
  ASSERT_TRUE(rows.count(id)) << keys_of(rows);
  EXPECT_EQ(rows.at(id).value("procs_total", uint64_t{0}), 3u) << rows.at(id).dump();
  EXPECT_EQ(rows.at(id).value("cpu_ns", uint64_t{0}), cpu) << rows.at(id).dump();
  EXPECT_EQ(field(rows.at(id), "container_runtime"), "podman") << rows.at(id).dump();
}

} // namespace
} // namespace tt_test
