// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/proc_parse.h"

#include <cerrno>
#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace treetrace {
namespace {

using namespace std::string_literals;

// A real /proc/PID/stat line (kernel 6.x, 52 fields).
const std::string kStatTail =
    " R 3730 3730 2304 0 -1 4194304 97 0 1 0 11 22 0 0 20 0 3 0 76164 3133440 394 "
    "18446744073709551615 94115974336512 94115974356393 140724156626864 0 0 0 0 0 0 0 0 0 17 0 0 "
    "0 0 0 0 94115974372400 94115974374016 94116785344512 140724156631496 140724156631516 "
    "140724156631516 140724156633067 0\n";

std::string stat_line(const std::string &comm) { return "3732 (" + comm + ")" + kStatTail; }

TEST(UtilProcStat, ParsesAllFields) {
  auto st = parse_proc_stat(stat_line("cat"));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->pid, 3732);
  EXPECT_EQ(st->comm, "cat");
  EXPECT_EQ(st->state, 'R');
  EXPECT_EQ(st->ppid, 3730);
  EXPECT_EQ(st->minflt, 97u);
  EXPECT_EQ(st->majflt, 1u);
  EXPECT_EQ(st->utime, 11u);
  EXPECT_EQ(st->stime, 22u);
  EXPECT_EQ(st->num_threads, 3);
  EXPECT_EQ(st->starttime, 76164u);
  EXPECT_EQ(st->vsize_bytes, 3133440u);
  EXPECT_EQ(st->rss_pages, 394);
}

TEST(UtilProcStat, CommEndsAtTheLastParenthesis) {
  for (const std::string comm : {"a) R 1 (b", ")", "((", "a b c", "x)", ") R 1 2 3 4 5 6", "", "tab\there", "new\nline",
                                 "\n) Z 9 (\n", "caf\xc3\xa9"}) {
    auto st = parse_proc_stat(stat_line(comm));
    ASSERT_TRUE(st.has_value()) << comm;
    EXPECT_EQ(st->comm, comm);
    EXPECT_EQ(st->state, 'R');
    EXPECT_EQ(st->ppid, 3730);
    EXPECT_EQ(st->starttime, 76164u);
    EXPECT_EQ(st->rss_pages, 394);
  }
}

TEST(UtilProcStat, AcceptsExactlyTwentyFourFieldsWithoutNewline) {
  auto st = parse_proc_stat("1 (init) S 0 1 1 0 -1 4194560 100 200 3 4 5 6 7 8 20 0 1 0 9 1000 50");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->pid, 1);
  EXPECT_EQ(st->ppid, 0);
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->utime, 5u);
  EXPECT_EQ(st->stime, 6u);
  EXPECT_EQ(st->starttime, 9u);
  EXPECT_EQ(st->rss_pages, 50);
}

TEST(UtilProcStat, RejectsMalformed) {
  const std::string good = stat_line("cat");
  // Every truncation of a valid line before rss (field 24) is malformed.
  size_t rss_start = good.find(" 394 ") + 1;
  size_t rss_end = rss_start + 3;
  for (size_t len = 0; len <= rss_start; ++len)
    EXPECT_FALSE(parse_proc_stat(good.substr(0, len)).has_value()) << good.substr(0, len);
  EXPECT_TRUE(parse_proc_stat(good.substr(0, rss_end)).has_value());

  for (const std::string &bad : {
           ""s,
           "\n"s,
           "3732 cat) R 1"s + kStatTail,   // no '('
           "3732 (cat" + kStatTail,        // no ')'
           "x (cat)" + kStatTail,          // pid not a number
           "-5 (cat)" + kStatTail,         // negative pid
           "3732  (cat)" + kStatTail,      // double space
           "3732 (cat)R 3730" + kStatTail, // no space after ')'
           "3732 (cat) RR 3730 3730 2304 0 -1 4194304 97 0 1 0 11 22 0 0 20 0 3 0 76164 1 2\n"s,
           "3732 (cat) R 3730  3730 2304 0 -1 4194304 97 0 1 0 11 22 0 0 20 0 3 0 76164 1 2\n"s,
           "3732 (cat) R 3730 3730 2304 0 -1 4194304 97 0 1 0 11 22 0 0 20 0 3 0 x 1 2\n"s,
           "3732 (cat) R 3730 3730 2304 0 -1 4194304 97 0 1 0 -11 22 0 0 20 0 3 0 1 1 2\n"s,
           "3732 (cat) R 99999999999 3730 2304 0 -1 4194304 97 0 1 0 11 22 0 0 20 0 3 0 1 1 2\n"s,
           "3732 (cat) R 3730 3730 2304 0 -1 4194304 97 0 1 0 11 22 0 0 20 0 3 0 1 1\n"s,
       }) {
    EXPECT_FALSE(parse_proc_stat(bad).has_value()) << bad;
  }
}

const char kStatus[] = "Name:\tcat\n"
                       "Umask:\t0022\n"
                       "State:\tR (running)\n"
                       "Tgid:\t3733\n"
                       "Ngid:\t0\n"
                       "Pid:\t3733\n"
                       "PPid:\t3730\n"
                       "NStgid:\t3733\t12\t1\n"
                       "NSpid:\t3733\t12\t1\n"
                       "VmPeak:\t    3060 kB\n"
                       "VmHWM:\t    1764 kB\n"
                       "VmRSS:\t    1700 kB\n"
                       "RssAnon:\t     112 kB\n"
                       "RssFile:\t    1588 kB\n"
                       "RssShmem:\t       0 kB\n"
                       "Threads:\t4\n"
                       "SigQ:\t0/96365\n";

TEST(UtilProcStatus, ParsesFields) {
  ProcStatus st = parse_proc_status(kStatus);
  EXPECT_EQ(st.vm_hwm_bytes, 1764u * 1024);
  EXPECT_EQ(st.vm_rss_bytes, 1700u * 1024);
  EXPECT_EQ(st.rss_anon_bytes, 112u * 1024);
  EXPECT_EQ(st.rss_file_bytes, 1588u * 1024);
  EXPECT_EQ(st.rss_shmem_bytes, 0u);
  EXPECT_EQ(st.tgid, 3733);
  EXPECT_EQ(st.ppid, 3730);
  EXPECT_EQ(st.threads, 4u);
  EXPECT_EQ(st.nspid, (std::vector<int32_t>{3733, 12, 1}));
}

TEST(UtilProcStatus, KernelThreadHasNoMemoryFields) {
  ProcStatus st = parse_proc_status("Name:\tkthreadd\nTgid:\t2\nPid:\t2\nPPid:\t0\nNSpid:\t2\n"
                                    "Kthread:\t1\nThreads:\t1\n");
  EXPECT_FALSE(st.vm_hwm_bytes.has_value());
  EXPECT_FALSE(st.vm_rss_bytes.has_value());
  EXPECT_FALSE(st.rss_anon_bytes.has_value());
  EXPECT_FALSE(st.rss_file_bytes.has_value());
  EXPECT_FALSE(st.rss_shmem_bytes.has_value());
  EXPECT_EQ(st.tgid, 2);
  EXPECT_EQ(st.ppid, 0);
  EXPECT_EQ(st.nspid, std::vector<int32_t>{2});
}

TEST(UtilProcStatus, MalformedFieldsAreUnset) {
  ProcStatus st = parse_proc_status("VmHWM:\t1764\n"                       // no unit
                                    "VmRSS:\t 12 MB\n"                     // wrong unit
                                    "RssAnon:\t -5 kB\n"                   // negative
                                    "RssFile:\t kB\n"                      // no number
                                    "RssShmem:\t99999999999999999999 kB\n" // overflow
                                    "Tgid:\tabc\n"
                                    "PPid:\t\n"
                                    "NSpid:\t1\tx\t3\n"
                                    "Threads:\t-1\n");
  EXPECT_FALSE(st.vm_hwm_bytes.has_value());
  EXPECT_FALSE(st.vm_rss_bytes.has_value());
  EXPECT_FALSE(st.rss_anon_bytes.has_value());
  EXPECT_FALSE(st.rss_file_bytes.has_value());
  EXPECT_FALSE(st.rss_shmem_bytes.has_value());
  EXPECT_FALSE(st.tgid.has_value());
  EXPECT_FALSE(st.ppid.has_value());
  EXPECT_TRUE(st.nspid.empty());
  EXPECT_FALSE(st.threads.has_value());
}

TEST(UtilProcStatus, TruncatedAndEmpty) {
  ProcStatus empty = parse_proc_status("");
  EXPECT_FALSE(empty.tgid.has_value());
  EXPECT_TRUE(empty.nspid.empty());
  // Cut in the middle of the VmRSS line: earlier fields survive.
  std::string text = kStatus;
  text = text.substr(0, text.find("VmRSS:") + 5);
  ProcStatus st = parse_proc_status(text);
  EXPECT_EQ(st.tgid, 3733);
  EXPECT_EQ(st.vm_hwm_bytes, 1764u * 1024);
  EXPECT_FALSE(st.vm_rss_bytes.has_value());
  EXPECT_FALSE(st.threads.has_value());
  // A last line without its newline still counts.
  EXPECT_EQ(parse_proc_status("Threads:\t7").threads, 7u);
}

TEST(UtilProcStatus, FirstOccurrenceWins) {
  ProcStatus st = parse_proc_status("Tgid:\t5\nTgid:\t6\nVmRSS:\t1 kB\nVmRSS:\t2 kB\n");
  EXPECT_EQ(st.tgid, 5);
  EXPECT_EQ(st.vm_rss_bytes, 1024u);
}

const char kSmapsRollup[] = "562743642000-7ffc61491000 ---p 00000000 00:00 0                          [rollup]\n"
                            "Rss:                1764 kB\n"
                            "Pss:                 358 kB\n"
                            "Pss_Dirty:           112 kB\n"
                            "Pss_Anon:            112 kB\n"
                            "Pss_File:            246 kB\n"
                            "Pss_Shmem:             0 kB\n"
                            "Shared_Clean:       1604 kB\n"
                            "Swap:                  0 kB\n";

TEST(UtilSmapsRollup, Parses) {
  auto r = parse_smaps_rollup(kSmapsRollup);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rss_bytes, 1764u * 1024);
  EXPECT_EQ(r->pss_bytes, 358u * 1024);
  EXPECT_EQ(r->pss_anon_bytes, 112u * 1024);
  EXPECT_EQ(r->pss_file_bytes, 246u * 1024);
  EXPECT_EQ(r->pss_shmem_bytes, 0u);
}

TEST(UtilSmapsRollup, OldKernelWithoutPssSplit) {
  auto r = parse_smaps_rollup("00400000-7fff ---p 00000000 00:00 0 [rollup]\n"
                              "Rss:  100 kB\nPss:  50 kB\nShared_Clean: 4 kB\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rss_bytes, 100u * 1024);
  EXPECT_EQ(r->pss_bytes, 50u * 1024);
  EXPECT_FALSE(r->pss_anon_bytes.has_value());
  EXPECT_FALSE(r->pss_file_bytes.has_value());
  EXPECT_FALSE(r->pss_shmem_bytes.has_value());
}

TEST(UtilSmapsRollup, NeedsRssAndPss) {
  EXPECT_FALSE(parse_smaps_rollup("").has_value()); // kernel threads, zombies
  EXPECT_FALSE(parse_smaps_rollup("Rss: 100 kB\n").has_value());
  EXPECT_FALSE(parse_smaps_rollup("Pss: 100 kB\n").has_value());
  EXPECT_FALSE(parse_smaps_rollup("Rss: 100 kB\nPss: x kB\n").has_value());
  std::string text = kSmapsRollup;
  EXPECT_FALSE(parse_smaps_rollup(text.substr(0, text.find("Pss:") + 2)).has_value());
}

TEST(UtilCmdline, SplitsAtNul) {
  auto c = parse_cmdline("ls\0-l\0/tmp\0"s, 4096);
  EXPECT_EQ(c.args, (std::vector<std::string>{"ls", "-l", "/tmp"}));
  EXPECT_FALSE(c.truncated);
}

TEST(UtilCmdline, KeepsEmptyArgumentsAndUnterminatedTail) {
  EXPECT_EQ(parse_cmdline("a\0\0b\0"s, 100).args, (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(parse_cmdline("\0"s, 100).args, std::vector<std::string>{""});
  // setproctitle() style: one string, no NUL.
  EXPECT_EQ(parse_cmdline("nginx: worker process", 100).args, std::vector<std::string>{"nginx: worker process"});
  EXPECT_TRUE(parse_cmdline("", 100).args.empty());
}

TEST(UtilCmdline, TruncatesAtMaxBytes) {
  std::string data = "python3\0-c\0print(1)\0"s;
  auto c = parse_cmdline(data, 10);
  EXPECT_TRUE(c.truncated);
  EXPECT_EQ(c.args, (std::vector<std::string>{"python3", "-c"}));
  c = parse_cmdline(data, 9);
  EXPECT_TRUE(c.truncated);
  EXPECT_EQ(c.args, (std::vector<std::string>{"python3", "-"}));
  c = parse_cmdline(data, data.size());
  EXPECT_FALSE(c.truncated);
  EXPECT_EQ(c.args.size(), 3u);
  c = parse_cmdline(data, 0);
  EXPECT_TRUE(c.truncated);
  EXPECT_TRUE(c.args.empty());
}

// --- Real processes -------------------------------------------------------

std::string current_comm() {
  char name[17] = {};
  prctl(PR_GET_NAME, name);
  return name;
}

TEST(UtilProcReal, ReadsOwnStat) {
  auto st = read_proc_stat(getpid());
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->pid, getpid());
  EXPECT_EQ(st->ppid, getppid());
  EXPECT_EQ(st->state, 'R');
  EXPECT_EQ(st->comm, current_comm());
  EXPECT_GE(st->num_threads, 1);
  EXPECT_GT(st->rss_pages, 0);
  EXPECT_GT(st->starttime, 0u);
}

TEST(UtilProcReal, ReadsTrickyRealComm) {
  // The kernel stores whatever we set, parentheses and newlines included.
  std::string saved = current_comm();
  for (const char *comm : {"a) R 1 (b", "x\n) Z 2 (", "))) ((("}) {
    ASSERT_EQ(prctl(PR_SET_NAME, comm), 0);
    auto st = read_proc_stat(getpid());
    ASSERT_TRUE(st.has_value()) << comm;
    EXPECT_EQ(st->comm, comm);
    EXPECT_EQ(st->ppid, getppid());
  }
  prctl(PR_SET_NAME, saved.c_str());
}

TEST(UtilProcReal, ReadsOwnStatus) {
  auto st = read_proc_status(getpid());
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->tgid, getpid()); // same pid namespace as this /proc (no remount in tests)
  EXPECT_EQ(st->ppid, getppid());
  ASSERT_FALSE(st->nspid.empty());
  EXPECT_EQ(st->nspid.back(), getpid());
  ASSERT_TRUE(st->vm_rss_bytes.has_value());
  ASSERT_TRUE(st->vm_hwm_bytes.has_value());
  EXPECT_GT(*st->vm_rss_bytes, 0u);
  EXPECT_GE(*st->vm_hwm_bytes, *st->vm_rss_bytes);
  ASSERT_TRUE(st->rss_anon_bytes && st->rss_file_bytes && st->rss_shmem_bytes);
  EXPECT_EQ(*st->rss_anon_bytes + *st->rss_file_bytes + *st->rss_shmem_bytes, *st->vm_rss_bytes);
  EXPECT_GE(st->threads.value_or(0), 1u);
}

TEST(UtilProcReal, ReadsOwnSmapsRollup) {
  int err = 0;
  if (!read_proc_file(getpid(), "smaps_rollup", 1, &err) && err == ENOENT)
    GTEST_SKIP() << "/proc/PID/smaps_rollup needs Linux 4.14+";
  auto r = read_smaps_rollup(getpid());
  ASSERT_TRUE(r.has_value());
  EXPECT_GT(r->rss_bytes, 0u);
  EXPECT_GT(r->pss_bytes, 0u);
  EXPECT_LE(r->pss_bytes, r->rss_bytes);
}

TEST(UtilProcReal, ReadsOwnCmdline) {
  auto c = read_cmdline(getpid(), 1 << 20);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->truncated);
  ASSERT_FALSE(c->args.empty());
  EXPECT_EQ(c->args[0], program_invocation_name);

  auto t = read_cmdline(getpid(), 3);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->truncated);
  ASSERT_EQ(t->args.size(), 1u);
  EXPECT_EQ(t->args[0], std::string(program_invocation_name).substr(0, 3));
}

TEST(UtilProcReal, ReadLimitAndErrors) {
  auto some = read_proc_file(getpid(), "status", 10);
  ASSERT_TRUE(some.has_value());
  EXPECT_EQ(some->size(), 10u);
  EXPECT_EQ(some->substr(0, 5), "Name:");

  int err = 0;
  EXPECT_FALSE(read_proc_file(getpid(), "no-such-file", 100, &err).has_value());
  EXPECT_EQ(err, ENOENT);
  EXPECT_FALSE(read_proc_file(0, "stat", 100, &err).has_value());
  EXPECT_EQ(err, EINVAL);
  EXPECT_FALSE(read_proc_file(-1, "stat", 100).has_value());
  std::string long_name(200, 'x');
  EXPECT_FALSE(read_proc_file(getpid(), long_name.c_str(), 100, &err).has_value());
  EXPECT_EQ(err, ENAMETOOLONG);
}

TEST(UtilProcReal, ZombieAndReapedProcess) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0)
    _exit(3);
  // Wait until it is a zombie without reaping it.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);

  auto st = read_proc_stat(child);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state, 'Z');
  EXPECT_EQ(st->ppid, getpid());
  auto cmd = read_cmdline(child, 4096);
  ASSERT_TRUE(cmd.has_value());
  EXPECT_TRUE(cmd->args.empty());
  EXPECT_FALSE(read_smaps_rollup(child).has_value()); // no mm any more

  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  int err = 0;
  EXPECT_FALSE(read_proc_file(child, "stat", 4096, &err).has_value());
  EXPECT_EQ(err, ENOENT);
  EXPECT_FALSE(read_proc_stat(child).has_value());
  EXPECT_FALSE(read_proc_status(child).has_value());
  EXPECT_FALSE(read_cmdline(child, 100).has_value());
}

} // namespace
} // namespace treetrace
