// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Per-process and per-tree accounting, driven by synthetic event streams.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/aggregator.h"

namespace treetrace {
namespace {

// A process as the event builders need it: identity, current parent, comm.
struct Proc {
  uint32_t pid = 0;
  uint64_t start_ns = 0;
  uint32_t ppid = 0;
  std::string comm;

  ProcKey key() const { return {pid, start_ns}; }
  Proc reparented(uint32_t new_ppid) const { return {pid, start_ns, new_ppid, comm}; }
  Proc child(uint32_t child_pid, uint64_t child_start_ns) const { return {child_pid, child_start_ns, pid, comm}; }
};

EventHeader header(const Proc &p, uint64_t ts_ns) {
  EventHeader h;
  h.ts_ns = ts_ns;
  h.proc = p.key();
  h.ppid = p.ppid;
  h.comm = p.comm;
  return h;
}

Event existing_event(const Proc &p, uint64_t ts_ns) { return ExistingEvent{header(p, ts_ns), 1, false}; }

// The fork record is made when the child starts.
Event fork_event(const Proc &parent, const Proc &child) {
  ForkEvent ev;
  ev.hdr = header(parent, child.start_ns);
  ev.child = child.key();
  return ev;
}

Event exec_event(const Proc &p, const std::string &new_comm, uint64_t ts_ns, uint32_t exec_tid = 0) {
  ExecEvent ev;
  ev.hdr = header(p, ts_ns);
  ev.hdr.comm = new_comm;
  ev.old_comm = p.comm;
  ev.exec_tid = exec_tid ? exec_tid : p.pid;
  ev.argv = {new_comm};
  return ev;
}

Event sample_event(const Proc &p, uint64_t ts_ns, const ProcCounters &counters) {
  return SampleEvent{header(p, ts_ns), counters};
}

Event exit_event(const Proc &p, uint64_t ts_ns, const ProcCounters &counters = {}, uint32_t wait_status = 0) {
  ExitEvent ev;
  ev.hdr = header(p, ts_ns);
  ev.counters = counters;
  ev.wait_status = wait_status;
  ev.exit_code = (wait_status >> 8) & 0xff;
  ev.signal = wait_status & 0x7f;
  return ev;
}

ProcCounters cpu(uint64_t cpu_ns) { return {.cpu_ns = cpu_ns}; }
ProcCounters rss(uint64_t rss_bytes, uint64_t cpu_ns = 0) { return {.cpu_ns = cpu_ns, .rss_bytes = rss_bytes}; }

const TreeReport *find_tree(const std::vector<TreeReport> &reports, const Proc &root) {
  for (const TreeReport &r : reports)
    if (r.root == root.key())
      return &r;
  return nullptr;
}

const CommUsage *find_comm(const TreeReport &r, const std::string &comm) {
  for (const CommUsage &u : r.by_comm)
    if (u.comm == comm)
      return &u;
  return nullptr;
}

const ProcessReport *find_process(const TreeReport &r, const Proc &p) {
  for (const ProcessReport &report : r.processes)
    if (report.key == p.key())
      return &report;
  return nullptr;
}

const Proc init{1, 10, 0, "systemd"};
// Most scenarios start from a shell found by the startup scan, whose parent
// (an sshd) is not traced: the shell roots its own tree.
const Proc shell{100, 1'000, 90, "bash"};

class AggregatorTest : public testing::Test {
protected:
  void start_shell() {
    agg_.on_event(existing_event(shell, 5'000));
    agg_.finish_startup_scan();
  }

  TreeReport tree_report(const Proc &root, uint64_t now_ns = 1'000'000, bool with_processes = false) {
    std::optional<TreeReport> report = agg_.tree(root.key(), now_ns, with_processes);
    if (!report) {
      ADD_FAILURE() << "no tree rooted at pid " << root.pid;
      return {};
    }
    return *report;
  }

  Aggregator agg_;
};

TEST_F(AggregatorTest, ForkedChildJoinsParentTree) {
  start_shell();
  const Proc make = shell.child(200, 10'000);
  const Attribution a = agg_.on_event(fork_event(shell, make));
  EXPECT_TRUE(a.tracked);
  EXPECT_EQ(a.tree_root, shell.key());
  EXPECT_EQ(agg_.tree_of(make.key()), shell.key());
  EXPECT_EQ(agg_.tree_of(shell.key()), shell.key());
  EXPECT_EQ(tree_report(shell).procs_total, 2u);
  EXPECT_EQ(tree_report(shell).procs_live, 2u);
  EXPECT_EQ(agg_.stats().procs_inferred, 0u);
}

TEST_F(AggregatorTest, PidReuseKeepsProcessesApart) {
  start_shell();
  const Proc other_root{300, 2'000, 1, "sshd"};
  agg_.on_event(existing_event(other_root, 5'000));

  const Proc first = shell.child(500, 10'000);
  agg_.on_event(fork_event(shell, first));
  agg_.on_event(sample_event(first, 11'000, cpu(700)));
  agg_.on_event(exit_event(first, 12'000, cpu(900)));

  // The same PID, reused by a process of another tree.
  const Proc second = other_root.child(500, 20'000);
  agg_.on_event(fork_event(other_root, second));
  agg_.on_event(sample_event(second, 21'000, cpu(40)));
  EXPECT_EQ(agg_.tree_of(second.key()), other_root.key());

  // A late record of the first holder must not reach either tree.
  const Attribution late = agg_.on_event(sample_event(first, 22'000, cpu(5'000)));
  EXPECT_FALSE(late.tracked);
  EXPECT_EQ(agg_.stats().stale_events, 1u);
  // So must one of a holder older still, never seen and long forgotten.
  const Proc ancient{500, 3'000, shell.pid, "bash"};
  EXPECT_FALSE(agg_.on_event(exit_event(ancient, 22'500, cpu(5'000))).tracked);
  EXPECT_EQ(agg_.stats().stale_events, 2u);

  EXPECT_EQ(tree_report(shell).cpu_ns, 900u);
  EXPECT_EQ(tree_report(other_root).cpu_ns, 40u);
  EXPECT_EQ(agg_.live_procs(), 3u);
}

TEST_F(AggregatorTest, ReusedPidRetiresHolderWhoseExitWasLost) {
  start_shell();
  const Proc first = shell.child(500, 10'000);
  agg_.on_event(fork_event(shell, first));
  agg_.on_event(sample_event(first, 11'000, cpu(700)));
  // first's exit record was dropped; the PID comes back with a new start time.
  const Proc second = shell.child(500, 20'000);
  agg_.on_event(fork_event(shell, second));

  EXPECT_EQ(agg_.stats().exits_lost, 1u);
  EXPECT_FALSE(agg_.tree_of(first.key()));
  EXPECT_EQ(agg_.live_procs(), 2u);
  const TreeReport r = tree_report(shell);
  EXPECT_EQ(r.procs_total, 3u);
  EXPECT_EQ(r.procs_live, 2u);
  EXPECT_EQ(r.cpu_ns, 700u);
  // The stale holder's exit, should it still come, changes nothing.
  agg_.on_event(exit_event(first, 21'000, cpu(800)));
  EXPECT_EQ(agg_.stats().stale_events, 1u);
  EXPECT_EQ(tree_report(shell).cpu_ns, 700u);
}

// A daemon double-forks away from the shell: its later records name init
// (or a subreaper) as parent, yet it and its children count for the shell.
void expect_daemon_stays_in_birth_tree(AggregatorConfig config, uint32_t adoptive_ppid) {
  Aggregator agg(config);
  const Proc subreaper{50, 500, 1, "containerd-shim"};
  agg.on_event(existing_event(init, 5'000));
  agg.on_event(existing_event(subreaper, 5'000));
  agg.on_event(existing_event(shell, 5'000));
  agg.finish_startup_scan();

  const Proc launcher = shell.child(200, 10'000);
  const Proc daemon = launcher.child(201, 11'000);
  agg.on_event(fork_event(shell, launcher));
  agg.on_event(fork_event(launcher, daemon));
  agg.on_event(exit_event(launcher, 12'000, cpu(10)));

  const Proc orphan = daemon.reparented(adoptive_ppid);
  agg.on_event(sample_event(orphan, 13'000, cpu(1'000)));
  const Proc worker = orphan.child(202, 14'000);
  const Attribution forked = agg.on_event(fork_event(orphan, worker));
  agg.on_event(exit_event(worker.reparented(adoptive_ppid), 15'000, cpu(300)));

  EXPECT_EQ(forked.tree_root, shell.key());
  EXPECT_EQ(agg.tree_of(daemon.key()), shell.key());
  std::optional<TreeReport> r = agg.tree(shell.key(), 20'000, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cpu_ns, 1'310u);
  EXPECT_EQ(r->procs_total, 4u);
  const ProcessReport *reparented = find_process(*r, daemon);
  ASSERT_TRUE(reparented);
  EXPECT_EQ(reparented->ppid, adoptive_ppid); // reported with its current parent
  for (const Proc &adopter : {init, subreaper})
    EXPECT_EQ(agg.tree(*agg.tree_of(adopter.key()), 20'000)->cpu_ns, 0u) << adopter.comm;
}

TEST(AggregatorReparenting, ToInit) { expect_daemon_stays_in_birth_tree({}, 1); }

TEST(AggregatorReparenting, ToInitWhenInitChildrenAreRoots) {
  expect_daemon_stays_in_birth_tree({.init_children_are_roots = true}, 1);
}

TEST(AggregatorReparenting, ToSubreaper) { expect_daemon_stays_in_birth_tree({}, 50); }

TEST(AggregatorInit, ChildrenOfInitJoinItsTreeByDefault) {
  Aggregator agg;
  const Proc sshd{300, 100, 1, "sshd"};
  const Proc cron = init.child(400, 10'000);
  agg.on_event(existing_event(init, 5'000));
  agg.on_event(existing_event(sshd, 5'000));
  agg.finish_startup_scan();
  agg.on_event(fork_event(init, cron));
  EXPECT_EQ(agg.tree_of(sshd.key()), init.key());
  EXPECT_EQ(agg.tree_of(cron.key()), init.key());
  EXPECT_EQ(agg.trees(), 1u);
}

TEST(AggregatorInit, ChildrenOfInitRootTheirOwnTreesInNodeMode) {
  Aggregator agg({.init_children_are_roots = true});
  const Proc sshd{300, 100, 1, "sshd"};
  const Proc cron = init.child(400, 10'000);
  const Proc kthread{2, 11, 0, "kthreadd"};
  agg.on_event(existing_event(init, 5'000));
  agg.on_event(existing_event(sshd, 5'000));
  agg.on_event(existing_event(kthread, 5'000));
  agg.finish_startup_scan();
  const Attribution a = agg.on_event(fork_event(init, cron));
  EXPECT_EQ(a.tree_root, cron.key());
  EXPECT_EQ(agg.tree_of(init.key()), init.key());
  EXPECT_EQ(agg.tree_of(sshd.key()), sshd.key());
  EXPECT_EQ(agg.tree_of(kthread.key()), kthread.key());
  EXPECT_EQ(agg.tree_of(cron.key()), cron.key());
  EXPECT_EQ(agg.trees(), 4u);
}

TEST_F(AggregatorTest, ExecFromNonLeaderThreadKeepsTheProcess) {
  start_shell();
  const Proc java = shell.child(200, 10'000);
  agg_.on_event(fork_event(shell, java));
  agg_.on_event(sample_event(java, 11'000, cpu(100)));
  // A worker thread (tid 205) execs: the kernel makes it the leader, with
  // the leader's start time, so the key is unchanged.
  agg_.on_event(exec_event(java, "sh", 12'000, 205));
  agg_.on_event(sample_event(java, 13'000, cpu(150)));

  EXPECT_EQ(agg_.live_procs(), 2u);
  const TreeReport r = tree_report(shell, 20'000, true);
  EXPECT_EQ(r.procs_total, 2u);
  EXPECT_EQ(r.cpu_ns, 150u);
  const ProcessReport *p = find_process(r, java);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->comm, "sh");
  EXPECT_EQ(p->comm_history, (std::vector<std::string>{"bash"}));
  EXPECT_EQ(p->cpu_ns, 150u);
}

TEST_F(AggregatorTest, RootCommFollowsTheRootsExec) {
  start_shell();
  agg_.on_event(exec_event(shell, "tmux", 6'000));
  EXPECT_EQ(tree_report(shell).root_comm, "tmux");
  agg_.on_event(fork_event(shell, shell.child(200, 7'000)));
  agg_.on_event(exit_event(shell, 8'000));
  EXPECT_EQ(tree_report(shell).root_comm, "tmux"); // its final comm
}

TEST_F(AggregatorTest, ProcessLiveUntilItsExitRecordWhateverItsLeaderDoes) {
  start_shell();
  const Proc app = shell.child(200, 10'000);
  agg_.on_event(fork_event(shell, app));
  // The leader thread has exited (no record for that); other threads keep
  // the process running and sampled under the same key.
  agg_.on_event(sample_event(app, 11'000, cpu(100)));
  agg_.on_event(sample_event(app, 12'000, cpu(400)));
  EXPECT_EQ(agg_.tree_of(app.key()), shell.key());
  EXPECT_EQ(tree_report(shell).procs_live, 2u);

  const Attribution a = agg_.on_event(exit_event(app, 13'000, cpu(450)));
  EXPECT_TRUE(a.tracked);
  EXPECT_FALSE(agg_.tree_of(app.key()));
  EXPECT_EQ(tree_report(shell).procs_live, 1u);
  EXPECT_EQ(tree_report(shell).cpu_ns, 450u);
}

TEST_F(AggregatorTest, ProcessWithUnknownParentRootsItsOwnTree) {
  start_shell();
  const Proc stray{700, 30'000, 650, "rsync"}; // parent 650 never seen
  const Attribution a = agg_.on_event(sample_event(stray, 31'000, cpu(10)));
  EXPECT_TRUE(a.tracked);
  EXPECT_EQ(a.tree_root, stray.key());
  EXPECT_EQ(agg_.stats().procs_inferred, 1u);
  const TreeReport r = tree_report(stray, 40'000, true);
  EXPECT_EQ(r.root_comm, "rsync");
  EXPECT_EQ(r.first_ts_ns, 31'000u); // first sight: its start was not seen
  ASSERT_EQ(r.processes.size(), 1u);
  EXPECT_EQ(r.processes[0].learned_via, LearnedVia::Inferred);
}

TEST_F(AggregatorTest, ProcessWithMissedForkJoinsKnownParentTree) {
  start_shell();
  const Proc child = shell.child(200, 10'000); // fork record lost
  agg_.on_event(exit_event(child, 11'000, cpu(25)));
  EXPECT_EQ(agg_.stats().procs_inferred, 1u);
  EXPECT_EQ(tree_report(shell).cpu_ns, 25u);
  EXPECT_EQ(tree_report(shell).procs_total, 2u);
  EXPECT_EQ(agg_.trees(), 1u);
}

TEST_F(AggregatorTest, ChildRecordsBeforeForkRecordCountOnce) {
  start_shell();
  const Proc child = shell.child(200, 10'000);
  agg_.on_event(exec_event(child, "gcc", 10'500));
  agg_.on_event(sample_event(child, 11'000, cpu(60)));
  const Attribution a = agg_.on_event(fork_event(shell, child)); // the fork record comes last

  EXPECT_TRUE(a.tracked);
  EXPECT_EQ(a.tree_root, shell.key());
  EXPECT_EQ(agg_.live_procs(), 2u);
  EXPECT_EQ(agg_.stats().procs_seen, 2u);
  const TreeReport r = tree_report(shell, 20'000, true);
  EXPECT_EQ(r.procs_total, 2u);
  EXPECT_EQ(r.cpu_ns, 60u);
  const ProcessReport *p = find_process(r, child);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->comm, "gcc");
  EXPECT_EQ(p->comm_history, (std::vector<std::string>{"bash"}));
  EXPECT_EQ(p->learned_via, LearnedVia::Inferred);
}

TEST_F(AggregatorTest, ForkRecordAfterChildExitIsStale) {
  start_shell();
  const Proc child = shell.child(200, 10'000);
  agg_.on_event(exit_event(child, 11'000, cpu(60)));
  const Attribution a = agg_.on_event(fork_event(shell, child));
  EXPECT_FALSE(a.tracked);
  EXPECT_EQ(agg_.stats().stale_events, 1u);
  EXPECT_EQ(agg_.live_procs(), 1u);
  EXPECT_EQ(tree_report(shell).procs_total, 2u);
  EXPECT_EQ(tree_report(shell).cpu_ns, 60u);
}

TEST_F(AggregatorTest, ForkRecordMovesChildThatRootedATreeIntoParentTree) {
  agg_.on_event(existing_event(init, 5'000));
  // Both parent and child were unknown; the child's records come first.
  const Proc parent{600, 20'000, 1, "make"};
  const Proc child = parent.child(601, 21'000);
  const Proc grandchild = child.child(602, 22'000);
  agg_.on_event(sample_event(child, 21'500, cpu(30)));
  agg_.on_event(fork_event(child, grandchild));
  agg_.on_event(exit_event(grandchild, 23'000, cpu(5)));
  EXPECT_EQ(agg_.tree_of(child.key()), child.key());

  agg_.on_event(fork_event(parent, child));
  EXPECT_EQ(agg_.tree_of(child.key()), init.key()); // the parent joined init's tree
  EXPECT_FALSE(agg_.tree(child.key(), 30'000));
  EXPECT_EQ(tree_report(init).cpu_ns, 35u);
  EXPECT_EQ(tree_report(init).procs_total, 4u); // init, parent, child, grandchild
}

TEST_F(AggregatorTest, StartupScanAdoptsChildrenSeenBeforeParents) {
  // The scan reports a pipeline bottom-up, while the worker keeps running:
  // it is sampled and forks children, one of which already exits.
  const Proc sshd{300, 100, 1, "sshd"};
  const Proc session = sshd.child(310, 200);
  const Proc worker = session.child(320, 300);
  const Proc running = worker.child(330, 5'100), finished = worker.child(331, 5'110);
  agg_.on_event(existing_event(worker, 5'000));
  agg_.on_event(sample_event(worker, 5'050, rss(1'000, 70'000)));
  agg_.on_event(fork_event(worker, running));
  agg_.on_event(fork_event(worker, finished));
  agg_.on_event(exec_event(finished, "grep", 5'120));
  agg_.on_event(exit_event(finished, 5'130, cpu(30)));
  agg_.on_event(existing_event(session, 5'200));
  agg_.on_event(existing_event(sshd, 5'300));
  agg_.on_event(existing_event(init, 5'400));
  EXPECT_EQ(agg_.tree_of(worker.key()), worker.key());

  agg_.finish_startup_scan();
  for (const ProcKey &k : {sshd.key(), session.key(), worker.key(), running.key()})
    EXPECT_EQ(agg_.tree_of(k), init.key()) << k.pid;
  EXPECT_EQ(agg_.trees(), 1u);
  const std::vector<TreeReport> snap = agg_.snapshot(6'000);
  ASSERT_EQ(snap.size(), 1u);
  const TreeReport &r = snap[0];
  EXPECT_EQ(r.procs_total, 6u);
  EXPECT_EQ(r.cpu_ns, 70'030u);
  EXPECT_EQ(r.cpu_interval_ns, 30u); // the worker's CPU before tracing is not
  ASSERT_TRUE(find_comm(r, "grep"));
  EXPECT_EQ(find_comm(r, "grep")->procs, 1u);
  // 1000 bytes since the worker's sample at 5050, over 1000 ns from its first sight.
  EXPECT_EQ(r.first_ts_ns, 5'000u);
  EXPECT_EQ(r.rss_bytes, 1'000u);
  EXPECT_EQ(r.rss_avg_bytes, 950u);
}

TEST_F(AggregatorTest, StartupScanKeepsTreeOfParentForkedWhileTracing) {
  // A service forked during the scan, already reparented to init, is found
  // as the parent of a scanned process (which it adopted as a subreaper).
  const Proc service = shell.child(200, 6'000);
  const Proc adopted{400, 300, service.pid, "worker"};
  agg_.on_event(existing_event(init, 5'000));
  agg_.on_event(existing_event(shell, 5'000));
  agg_.on_event(existing_event(adopted, 5'500));
  agg_.on_event(fork_event(shell, service));
  agg_.on_event(sample_event(service.reparented(init.pid), 6'500, cpu(1)));
  EXPECT_EQ(agg_.tree_of(adopted.key()), adopted.key());
  agg_.finish_startup_scan();
  EXPECT_EQ(agg_.tree_of(adopted.key()), shell.key()); // where the service was born, not init's
}

TEST(AggregatorInit, LateForkRecordFromInitKeepsChildAsRootInNodeMode) {
  Aggregator agg({.init_children_are_roots = true});
  agg.on_event(existing_event(init, 5'000));
  const Proc cron = init.child(400, 10'000);
  agg.on_event(exec_event(cron, "backup", 10'100));
  agg.on_event(fork_event(init, cron));
  EXPECT_EQ(agg.tree_of(cron.key()), cron.key());
  EXPECT_EQ(agg.trees(), 2u);
}

TEST(AggregatorInit, StartupScanStopsAtInitInNodeMode) {
  Aggregator agg({.init_children_are_roots = true});
  const Proc sshd{300, 100, 1, "sshd"};
  const Proc session = sshd.child(310, 200);
  agg.on_event(existing_event(session, 5'000));
  agg.on_event(existing_event(init, 5'100));
  agg.on_event(existing_event(sshd, 5'200));
  agg.finish_startup_scan();
  EXPECT_EQ(agg.tree_of(session.key()), sshd.key());
  EXPECT_EQ(agg.tree_of(sshd.key()), sshd.key());
  EXPECT_EQ(agg.tree_of(init.key()), init.key());
  EXPECT_EQ(agg.trees(), 2u);
}

TEST_F(AggregatorTest, StartupScanSurvivesParentCycles) {
  // Corrupt or racy scan data: two processes naming each other as parent.
  const Proc a{400, 100, 401, "a"};
  const Proc b{401, 200, 400, "b"};
  agg_.on_event(existing_event(a, 5'000));
  agg_.on_event(existing_event(b, 5'000));
  agg_.finish_startup_scan();
  EXPECT_EQ(agg_.live_procs(), 2u);
  EXPECT_EQ(agg_.tree_of(a.key()), agg_.tree_of(b.key()));
  EXPECT_EQ(agg_.trees(), 1u);
}

TEST_F(AggregatorTest, TreeCpuIsMonotonic) {
  start_shell();
  const Proc job = shell.child(200, 10'000);
  agg_.on_event(fork_event(shell, job));
  agg_.on_event(sample_event(job, 11'000, cpu(1'000)));
  EXPECT_EQ(agg_.snapshot(12'000)[0].cpu_ns, 1'000u);

  // A late, lower cumulative value and a lower exit value change nothing.
  agg_.on_event(sample_event(job, 13'000, cpu(800)));
  EXPECT_EQ(tree_report(shell).cpu_ns, 1'000u);
  agg_.on_event(exit_event(job, 14'000, cpu(900)));
  const TreeReport r = tree_report(shell, 15'000);
  EXPECT_EQ(r.cpu_ns, 1'000u);
  EXPECT_EQ(find_comm(r, "bash")->cpu_ns, 1'000u);
}

TEST_F(AggregatorTest, ExistingProcessCpuBeforeTracingIsNotIntervalCpu) {
  agg_.on_event(existing_event(init, 5'000));
  const Proc db{800, 500, 1, "postgres"};
  agg_.on_event(existing_event(db, 5'000));
  agg_.on_event(sample_event(db, 6'000, cpu(50'000)));
  // Its samples can also beat its scan record.
  const Proc cache{900, 600, 1, "redis"};
  agg_.on_event(sample_event(cache, 6'000, cpu(70'000)));
  agg_.on_event(existing_event(cache, 6'500));
  agg_.finish_startup_scan();
  EXPECT_EQ(agg_.stats().procs_inferred, 0u);

  std::vector<TreeReport> snap = agg_.snapshot(7'000);
  ASSERT_EQ(snap.size(), 1u); // all in init's tree
  EXPECT_EQ(find_tree(snap, init)->cpu_ns, 120'000u);
  EXPECT_EQ(find_tree(snap, init)->cpu_interval_ns, 0u);

  agg_.on_event(sample_event(db, 8'000, cpu(50'300)));
  agg_.on_event(sample_event(cache, 8'000, cpu(70'200)));
  snap = agg_.snapshot(9'000);
  EXPECT_EQ(find_tree(snap, init)->cpu_ns, 120'500u);
  EXPECT_EQ(find_tree(snap, init)->cpu_interval_ns, 500u);
}

TEST_F(AggregatorTest, CpuIntervalAcrossSnapshots) {
  start_shell();
  const Proc other{300, 2'000, 0, "sshd"}; // ppid 0: a root of its own
  agg_.on_event(existing_event(other, 5'000));
  agg_.on_event(sample_event(shell, 6'000, cpu(1'000'000))); // before tracing
  agg_.on_event(sample_event(other, 6'000, cpu(2'000'000)));

  std::vector<TreeReport> snap = agg_.snapshot(7'000);
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(find_tree(snap, shell)->cpu_interval_ns, 0u);
  EXPECT_EQ(find_tree(snap, other)->cpu_interval_ns, 0u);

  const Proc child = shell.child(200, 8'000);
  agg_.on_event(fork_event(shell, child));
  agg_.on_event(sample_event(child, 9'000, cpu(300)));
  agg_.on_event(sample_event(shell, 9'000, cpu(1'000'200)));
  agg_.on_event(sample_event(other, 9'000, cpu(2'000'100)));
  snap = agg_.snapshot(10'000);
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].root, shell.key()); // sorted by interval CPU
  EXPECT_EQ(snap[0].cpu_interval_ns, 500u);
  EXPECT_EQ(snap[1].cpu_interval_ns, 100u);

  agg_.on_event(exit_event(child, 11'000, cpu(400)));
  agg_.on_event(sample_event(other, 11'000, cpu(2'000'400)));
  snap = agg_.snapshot(12'000);
  EXPECT_EQ(snap[0].root, other.key());
  EXPECT_EQ(snap[0].cpu_interval_ns, 300u);
  EXPECT_EQ(snap[1].cpu_interval_ns, 100u);

  snap = agg_.snapshot(13'000);
  EXPECT_EQ(snap[0].cpu_interval_ns, 0u);
  EXPECT_EQ(snap[1].cpu_interval_ns, 0u);
  EXPECT_EQ(find_tree(snap, shell)->cpu_ns, 1'000'600u);
}

TEST_F(AggregatorTest, SnapshotListsLiveTreesFinalReportAll) {
  start_shell();
  const Proc batch{300, 2'000, 0, "cron"};
  agg_.on_event(existing_event(batch, 5'000));
  agg_.on_event(exit_event(batch, 6'000, cpu(9'000)));
  agg_.on_event(sample_event(shell, 6'000, cpu(10)));

  const std::vector<TreeReport> snap = agg_.snapshot(7'000);
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].root, shell.key());

  const std::vector<TreeReport> all = agg_.final_report(7'000);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].root, batch.key()); // sorted by CPU
  EXPECT_EQ(all[0].procs_live, 0u);
  EXPECT_EQ(all[0].last_ts_ns, 6'000u);
  EXPECT_EQ(all[1].root, shell.key());
}

TEST_F(AggregatorTest, ByCommAggregatesWorkers) {
  const Proc python{300, 2'000, 0, "python3"};
  agg_.on_event(existing_event(python, 5'000));
  agg_.on_event(sample_event(python, 5'500, {.cpu_ns = 50, .rss_bytes = 900, .rss_peak_bytes = 1'000}));
  for (uint32_t i = 0; i < 40; ++i) {
    const Proc worker = python.child(1'000 + i, 10'000 + i);
    agg_.on_event(fork_event(python, worker));
    agg_.on_event(exec_event(worker, "bcftools", 10'100 + i));
    const ProcCounters c{.cpu_ns = 10 + i, .rss_bytes = 100, .rss_peak_bytes = 200 + i};
    // Half still run at report time: they count too.
    agg_.on_event(i % 2 ? sample_event(worker, 20'000, c) : exit_event(worker, 20'000, c));
  }
  const TreeReport r = tree_report(python, 30'000);
  ASSERT_EQ(r.by_comm.size(), 2u);
  EXPECT_EQ(r.by_comm[0].comm, "bcftools");
  EXPECT_EQ(r.by_comm[0].procs, 40u);
  EXPECT_EQ(r.by_comm[0].cpu_ns, 40u * 10 + 39 * 40 / 2);
  EXPECT_EQ(r.by_comm[0].rss_peak_bytes, 239u);
  EXPECT_EQ(r.by_comm[1].comm, "python3");
  EXPECT_EQ(r.by_comm[1].procs, 1u);
  EXPECT_EQ(r.by_comm[1].cpu_ns, 50u);
  EXPECT_EQ(r.by_comm[1].rss_peak_bytes, 1'000u);
  EXPECT_EQ(r.proc_rss_peak_bytes, 1'000u);
  EXPECT_EQ(r.procs_total, 41u);
  EXPECT_EQ(r.procs_live, 21u);
  EXPECT_EQ(r.root_comm, "python3");
}

TEST(AggregatorBounds, CommsPastTheLimitFoldIntoOther) {
  Aggregator agg({.max_comms_per_tree = 2});
  const Proc root{300, 2'000, 0, "a"};
  agg.on_event(existing_event(root, 5'000));
  const char *comms[] = {"b", "c", "d", "b"};
  for (uint32_t i = 0; i < 4; ++i) {
    const Proc child = root.child(400 + i, 6'000 + i);
    agg.on_event(fork_event(root, child));
    agg.on_event(exec_event(child, comms[i], 6'100 + i));
    agg.on_event(exit_event(child, 7'000 + i, cpu(10)));
  }
  agg.on_event(sample_event(root, 8'000, cpu(1)));
  const TreeReport r = *agg.tree(root.key(), 9'000);
  ASSERT_EQ(r.by_comm.size(), 3u);
  EXPECT_EQ(find_comm(r, "b")->procs, 2u);
  EXPECT_EQ(find_comm(r, "c")->procs, 1u);
  // "d" came after the limit, and so does the still running "a".
  EXPECT_EQ(find_comm(r, "[other]")->procs, 2u);
  EXPECT_EQ(find_comm(r, "[other]")->cpu_ns, 11u);
}

TEST_F(AggregatorTest, TreeRssSumPeakAndAverage) {
  // Hand-computed; times relative to t0 = 1'000'000 ns.
  constexpr uint64_t t0 = 1'000'000;
  const Proc root{300, 500, 0, "server"};
  agg_.on_event(existing_event(root, t0));
  agg_.on_event(sample_event(root, t0 + 100, {.rss_bytes = 1'000, .rss_peak_sampled_bytes = 1'000}));
  const Proc child = root.child(301, t0 + 100);
  agg_.on_event(fork_event(root, child));
  // The child spiked to 5000 since its previous record: with the root at
  // 1000, the tree briefly held 6000.
  agg_.on_event(sample_event(child, t0 + 200,
                             {.rss_bytes = 3'000,
                              .rss_peak_bytes = 4'500,
                              .rss_peak_sampled_bytes = 5'000,
                              .rss_integral_byte_ns = 200'000,
                              .rss_integral_span_ns = 100}));
  agg_.on_event(sample_event(root, t0 + 300, {.rss_bytes = 2'000, .rss_peak_sampled_bytes = 2'000}));
  const Attribution child_exit = agg_.on_event(
      exit_event(child, t0 + 400, {.rss_bytes = 3'000, .rss_integral_byte_ns = 300'000, .rss_integral_span_ns = 100}));
  EXPECT_EQ(child_exit.rss_avg_bytes, 2'500u); // (200000 + 300000) / 200
  // A record from before the exit arriving late adds no area.
  agg_.on_event(sample_event(root, t0 + 350, {.rss_bytes = 2'000}));

  // Sum over time: 0 for 100 ns, 1000 for 100, 4000 for 100, 5000 for 100,
  // then 2000: by t0+500 the area is 1'200'000 over 500 ns.
  TreeReport r = tree_report(root, t0 + 500);
  EXPECT_EQ(r.rss_bytes, 2'000u);
  EXPECT_EQ(r.rss_peak_bytes, 6'000u);
  EXPECT_EQ(r.rss_avg_bytes, 2'400u);
  EXPECT_EQ(r.proc_rss_peak_bytes, 5'000u);
  EXPECT_EQ(r.first_ts_ns, t0);

  // After the last exit the average covers the tree's life only: 1'400'000 / 600.
  const Attribution root_exit = agg_.on_event(exit_event(root, t0 + 600, {.rss_bytes = 2'000}));
  EXPECT_EQ(root_exit.rss_avg_bytes, 2'000u); // no integral chunks: the latest RSS
  r = tree_report(root, t0 + 10'000);
  EXPECT_EQ(r.rss_bytes, 0u);
  EXPECT_EQ(r.rss_peak_bytes, 6'000u);
  EXPECT_EQ(r.rss_avg_bytes, 2'333u);
  EXPECT_EQ(r.last_ts_ns, t0 + 600);
}

TEST_F(AggregatorTest, PssReportedOnlyWhileTreeHasLiveMembers) {
  start_shell();
  const Proc job = shell.child(200, 10'000);
  agg_.on_event(fork_event(shell, job));
  std::vector<ProcKey> members = agg_.live_members(shell.key());
  std::sort(members.begin(), members.end(), [](const ProcKey &a, const ProcKey &b) { return a.pid < b.pid; });
  EXPECT_EQ(members, (std::vector<ProcKey>{shell.key(), job.key()}));
  EXPECT_FALSE(tree_report(shell).pss_bytes);

  agg_.set_tree_pss(shell.key(), 4'096);
  EXPECT_EQ(tree_report(shell).pss_bytes, 4'096u);
  agg_.on_event(exit_event(job, 11'000));
  EXPECT_EQ(tree_report(shell).pss_bytes, 4'096u); // until measured again
  agg_.on_event(exit_event(shell, 12'000));
  EXPECT_FALSE(tree_report(shell).pss_bytes);
  EXPECT_TRUE(agg_.live_members(shell.key()).empty());
}

TEST_F(AggregatorTest, ExitedProcessReports) {
  start_shell();
  const Proc ok = shell.child(200, 10'000), failed = shell.child(201, 10'001), killed = shell.child(202, 10'002);
  for (const Proc &p : {ok, failed, killed})
    agg_.on_event(fork_event(shell, p));
  agg_.on_event(exit_event(ok, 20'000, {.cpu_ns = 5, .rss_bytes = 64}));
  agg_.on_event(exit_event(failed, 21'000, {}, 2 << 8));
  agg_.on_event(exit_event(killed, 22'000, {}, 9));

  const TreeReport r = tree_report(shell, 30'000, true);
  ASSERT_EQ(r.processes.size(), 4u); // the live shell, then the exited in exit order
  EXPECT_EQ(r.processes[0].key, shell.key());
  EXPECT_TRUE(r.processes[0].live);
  const ProcessReport &first = r.processes[1];
  EXPECT_EQ(first.key, ok.key());
  EXPECT_FALSE(first.live);
  EXPECT_EQ(first.exit_code, 0);
  EXPECT_FALSE(first.signal);
  EXPECT_EQ(first.cpu_ns, 5u);
  EXPECT_EQ(first.rss_bytes, 64u);
  EXPECT_EQ(first.wall_ns, 10'000u);
  EXPECT_EQ(r.processes[2].exit_code, 2);
  EXPECT_FALSE(r.processes[3].exit_code);
  EXPECT_EQ(r.processes[3].signal, 9);
  EXPECT_TRUE(tree_report(shell).processes.empty()); // only when asked for
}

TEST_F(AggregatorTest, CommHistoryIsBounded) {
  start_shell();
  Proc p = shell.child(200, 10'000);
  agg_.on_event(fork_event(shell, p));
  for (int i = 0; i < 20; ++i) {
    const std::string next = "step" + std::to_string(i);
    agg_.on_event(exec_event(p, next, 11'000 + i));
    p.comm = next;
  }
  const TreeReport r = tree_report(shell, 20'000, true);
  const ProcessReport *report = find_process(r, p);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->comm, "step19");
  ASSERT_EQ(report->comm_history.size(), 8u);
  EXPECT_EQ(report->comm_history.front(), "step11"); // the latest ones, oldest first
  EXPECT_EQ(report->comm_history.back(), "step18");
}

TEST(AggregatorBounds, LiveTableOverflowIsCountedOncePerProcess) {
  Aggregator agg({.max_live_procs = 2});
  agg.on_event(existing_event(shell, 5'000));
  const Proc a = shell.child(200, 10'000), b = shell.child(201, 10'001);
  EXPECT_TRUE(agg.on_event(fork_event(shell, a)).tracked);
  const Attribution refused = agg.on_event(fork_event(shell, b));
  EXPECT_FALSE(refused.tracked);
  EXPECT_FALSE(agg.on_event(sample_event(b, 11'000, cpu(99))).tracked);
  EXPECT_FALSE(agg.on_event(exit_event(b, 12'000, cpu(100))).tracked);
  EXPECT_EQ(agg.stats().procs_untracked, 1u);
  // After its exit a late record is stale, like that of any exited process.
  EXPECT_FALSE(agg.on_event(sample_event(b, 12'500, cpu(100))).tracked);
  EXPECT_EQ(agg.stats().stale_events, 1u);
  EXPECT_EQ(agg.tree(shell.key(), 13'000)->cpu_ns, 0u);
  EXPECT_EQ(agg.tree(shell.key(), 13'000)->procs_total, 2u);

  // Room again once a tracked process exits.
  agg.on_event(exit_event(a, 14'000));
  EXPECT_TRUE(agg.on_event(fork_event(shell, shell.child(202, 15'000))).tracked);
  EXPECT_EQ(agg.live_procs(), 2u);
}

TEST(AggregatorBounds, FinishedTreeThatEndedFirstIsEvicted) {
  Aggregator agg({.max_trees = 3});
  const Proc a{300, 100, 0, "a"}, b{301, 101, 0, "b"}, c{302, 102, 0, "c"}, d{303, 103, 0, "d"};
  for (const Proc &p : {a, b, c})
    agg.on_event(existing_event(p, 5'000));
  agg.on_event(exit_event(b, 6'000, cpu(1)));
  agg.on_event(exit_event(a, 7'000, cpu(1)));
  agg.on_event(existing_event(d, 8'000)); // evicts b, which ended before a
  EXPECT_EQ(agg.stats().trees_evicted, 1u);
  EXPECT_EQ(agg.trees(), 3u);
  EXPECT_FALSE(agg.tree(b.key(), 9'000));
  EXPECT_TRUE(agg.tree(a.key(), 9'000));

  // With every tree live, a new root cannot be tracked.
  agg.on_event(exit_event(a, 9'000)); // stale: a already exited
  const Proc e{304, 104, 0, "e"}, f{305, 105, 0, "f"};
  agg.on_event(existing_event(e, 10'000)); // evicts a
  EXPECT_FALSE(agg.on_event(existing_event(f, 10'000)).tracked);
  EXPECT_EQ(agg.stats().trees_evicted, 2u);
  EXPECT_EQ(agg.stats().procs_untracked, 1u);
  EXPECT_EQ(agg.trees(), 3u);
}

TEST(AggregatorBounds, MillionShortLivedProcessesKeepMemoryFlat) {
  AggregatorConfig config;
  config.max_exited_reports = 1'000;
  Aggregator agg(config);
  const std::vector<Proc> roots = {{300, 100, 0, "make"}, {301, 101, 0, "ninja"}, {302, 102, 0, "bazel"}};
  for (const Proc &root : roots)
    agg.on_event(existing_event(root, 1'000));
  agg.finish_startup_scan();
  const size_t baseline = agg.live_procs();

  constexpr uint32_t lifecycles = 1'000'000;
  ForkEvent fork_ev;
  ExitEvent exit_ev;
  exit_ev.counters.cpu_ns = 3;
  for (uint32_t i = 0; i < lifecycles; ++i) {
    const Proc &root = roots[i % roots.size()];
    // PIDs cycle through 32768 values, as with the default pid_max.
    const ProcKey child{1'000 + i % 32'768, 2'000 + 2 * uint64_t{i}};
    fork_ev.hdr = header(root, child.start_ns);
    fork_ev.child = child;
    agg.on_event(fork_ev);
    exit_ev.hdr.proc = child;
    exit_ev.hdr.ppid = root.pid;
    exit_ev.hdr.ts_ns = child.start_ns + 1;
    agg.on_event(exit_ev);
  }

  EXPECT_EQ(agg.live_procs(), baseline);
  EXPECT_EQ(agg.trees(), roots.size());
  EXPECT_EQ(agg.stats().procs_seen, lifecycles + roots.size());
  EXPECT_EQ(agg.stats().exited_reports_dropped, lifecycles - 1'000u);
  EXPECT_EQ(agg.stats().stale_events, 0u);
  EXPECT_EQ(agg.stats().exits_lost, 0u);
  size_t reports = 0;
  uint64_t cpu_total = 0;
  for (const TreeReport &r : agg.final_report(3'000'000, true)) {
    reports += r.processes.size();
    cpu_total += r.cpu_ns;
    EXPECT_EQ(r.procs_live, 1u);
  }
  EXPECT_EQ(reports, 1'000u + roots.size());
  EXPECT_EQ(cpu_total, 3u * lifecycles);
}

TEST(AggregatorBounds, ManyShortLivedRootsStayWithinMaxTrees) {
  Aggregator agg({.max_trees = 64, .init_children_are_roots = true});
  agg.on_event(existing_event(init, 1'000));
  for (uint32_t i = 0; i < 10'000; ++i) {
    const Proc job = init.child(2'000 + i, 2'000 + i);
    agg.on_event(fork_event(init, job));
    agg.on_event(exit_event(job, 2'000 + i, cpu(1)));
  }
  EXPECT_EQ(agg.trees(), 64u);
  EXPECT_EQ(agg.stats().trees_evicted, 10'000u - 63);
  EXPECT_EQ(agg.stats().procs_untracked, 0u);
  EXPECT_EQ(agg.live_procs(), 1u);
}

TEST(AggregatorNames, LearnedVia) {
  EXPECT_STREQ(to_string(LearnedVia::Fork), "fork");
  EXPECT_STREQ(to_string(LearnedVia::Existing), "existing");
  EXPECT_STREQ(to_string(LearnedVia::Inferred), "inferred");
}

// After lost records: a member whose exit was lost lingers, a process whose
// fork was lost is missing. reconcile() makes the live set match the
// system's, keeps every CPU nanosecond already counted, and puts the
// recovered process in its parent's tree.
TEST(AggregatorReconcile, MatchesTheLiveSystemAfterLostRecords) {
  Aggregator agg;
  const Proc root{100, 1000, 1, "pool"};
  const Proc lost_exit = root.child(101, 2000);
  const Proc survivor = root.child(102, 3000);
  const Proc lost_fork = survivor.child(103, 4000);
  agg.on_event(existing_event(root, 1000));
  agg.finish_startup_scan();
  agg.on_event(fork_event(root, lost_exit));
  agg.on_event(fork_event(root, survivor));
  agg.on_event(sample_event(lost_exit, 5000, cpu(7'000'000)));
  ASSERT_EQ(agg.live_procs(), 3u);

  const std::vector<Aggregator::LiveProcess> live = {
      {root.key(), root.ppid, root.comm},
      {survivor.key(), survivor.ppid, survivor.comm},
      {lost_fork.key(), lost_fork.ppid, "bcftools"},
  };
  EXPECT_EQ(agg.reconcile(live, 6000), 2u);
  EXPECT_EQ(agg.live_procs(), 3u);
  EXPECT_EQ(agg.stats().exits_lost, 1u);
  EXPECT_EQ(agg.stats().procs_recovered, 1u);
  ASSERT_TRUE(agg.tree_of(lost_fork.key()));
  EXPECT_EQ(*agg.tree_of(lost_fork.key()), root.key()) << "recovered into its parent's tree";
  EXPECT_FALSE(agg.tree_of(lost_exit.key())) << "no dead process lingers";
  auto tree = agg.tree(root.key(), 7000);
  ASSERT_TRUE(tree);
  EXPECT_EQ(tree->procs_live, 3u);
  EXPECT_EQ(tree->procs_total, 4u);
  EXPECT_EQ(tree->cpu_ns, 7'000'000u) << "the retired member's CPU stays counted";

  // Once matched, a second pass changes nothing: no process appears twice.
  EXPECT_EQ(agg.reconcile(live, 8000), 0u);
  EXPECT_EQ(agg.live_procs(), 3u);
}

} // namespace
} // namespace treetrace
