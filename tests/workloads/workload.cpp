// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Workloads the integration tests run under treetrace. Each process that
// matters writes the kernel's own account of itself (VmHWM from
// /proc/self/status, rusage) as one JSON line appended to $TT_TRUTH, so the
// tests compare treetrace against the kernel, not against constants.
//
//   tt_workload burn MS                 burn MS ms of CPU, record, exit
//   tt_workload spike MIB HOLD_MS [LINGER_MS]  touch MIB MiB, hold, free, (linger,) record
//   tt_workload grow MIB STEPS STEP_MS  grow RSS by MIB MiB per step (a leak)
//   tt_workload threads MS              leader exits first; a thread burns MS
//   tt_workload exec-from-thread PROG.. a non-leader thread calls execv
//   tt_workload prefork N MS            fork N workers (no exec) burning MS
//   tt_workload daemon MS               double-fork a daemon that burns MS
//   tt_workload wait4 PROG ARGS..       run PROG, record its wait4() rusage
//   tt_workload pool W T SPIKE_MIB      prefork pool, see run_pool()
//   tt_workload pid-reuse N             run N children under the same PID in turn
//   tt_workload subreaper MS            become a subreaper, double-fork a daemon
//   tt_workload sleepers N SECONDS      N children that sleep, then exit
//   tt_workload exec-loop RATE SECONDS  spawn /bin/true RATE times a second
//   tt_workload forkbomb SECONDS        fork as fast as allowed, with turnover
//   tt_workload churn TOTAL ALIVE HOW   TOTAL short-lived children, ALIVE at a time
//   tt_workload signal SIG              kill itself with SIG
//   tt_workload exit CODE               exit with CODE
//   tt_workload sleep MS
//   tt_workload burn-sleep BURST_MS SLEEP_MS ROUNDS  ROUNDS x (burn BURST_MS, sleep SLEEP_MS), record
//   tt_workload alloc-sleep MIB SLEEP_MS    touch MIB MiB (kept mapped), sleep, record
//   tt_workload idle-workers N SECONDS [MIB]  touch MIB MiB (8), fork N workers that sleep from birth
//   tt_workload staggered-threads N STEP_MS LINGER_MS  thread i burns (i+1)*STEP_MS, then linger asleep
//   tt_workload pool-burn W SECONDS [DUTY_PCT]  master + W forked workers burning DUTY_PCT (50) of the time
//   tt_workload oom-child MIB               a child touches MIB MiB in 1 MiB steps (to be OOM-killed)
//   tt_workload oom-children N MIB          N such children, one after the other
//
// Environment, applied by every mode at startup before anything else:
//   TT_CGROUP_PROCS=FILE[:FILE...]    the process moves itself into each
//                                     cgroup.procs given (one per hierarchy,
//                                     for hybrid v1/v2 layouts), so it is
//                                     in place before its first measured
//                                     instruction and no test has to race it
//   TT_CHILD_CGROUP_PROCS=FILE[:...]  the same, done by oom-child's child
//                                     before it allocates
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <spawn.h>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

uint64_t now_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

long status_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return -1;
  char line[256];
  long value = -1;
  const size_t n = strlen(field);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0 && line[n] == ':')
      value = strtol(line + n + 1, nullptr, 10);
  fclose(f);
  return value;
}

// The truth file is opened before anything is measured, so that opening it
// cannot change the figures the record carries.
int open_truth() {
  const char *path = getenv("TT_TRUTH");
  return path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
}

void write_truth(int fd, const std::string &json) {
  if (fd < 0)
    return;
  std::string line = json + "\n";
  // O_APPEND writes of one small buffer do not interleave between processes.
  ssize_t ignored = write(fd, line.data(), line.size());
  (void)ignored;
  close(fd);
}

void append_truth(const std::string &json) { write_truth(open_truth(), json); }

uint64_t timeval_us(const timeval &tv) {
  return static_cast<uint64_t>(tv.tv_sec) * 1'000'000ull + static_cast<uint64_t>(tv.tv_usec);
}

std::string self_record(const char *role) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return "{\"kind\":\"self\",\"role\":\"" + std::string(role) + "\",\"pid\":" + std::to_string(getpid()) +
         ",\"ppid\":" + std::to_string(getppid()) + ",\"vmhwm_kb\":" + std::to_string(status_kb("VmHWM")) +
         ",\"vmrss_kb\":" + std::to_string(status_kb("VmRSS")) +
         ",\"cpu_us\":" + std::to_string(timeval_us(ru.ru_utime) + timeval_us(ru.ru_stime)) + "}";
}

// What this process knows about itself just before it exits. The record is
// taken twice and the second kept: a forked child maps file pages lazily, so
// the first pass faults in the code that measures and formats (tens of pages
// each, with the kernel's fault-around), and the second pass's VmHWM then
// covers every page the process maps before it exits.
void record_self(const char *role) {
  const int fd = open_truth();
  std::string line = self_record(role);
  line = self_record(role);
  write_truth(fd, line);
}

void burn_thread_cpu(uint64_t ms) {
  const uint64_t until = now_ns(CLOCK_THREAD_CPUTIME_ID) + ms * 1'000'000ull;
  volatile uint64_t sink = 0;
  while (now_ns(CLOCK_THREAD_CPUTIME_ID) < until)
    for (int i = 0; i < 10000; i++)
      sink = sink + static_cast<uint64_t>(i);
}

void hold_for(uint64_t ms) {
  const uint64_t until = now_ns(CLOCK_MONOTONIC) + ms * 1'000'000ull;
  volatile uint64_t sink = 0;
  // Busy-wait: the spike must not depend on the process being switched out.
  while (now_ns(CLOCK_MONOTONIC) < until)
    sink = sink + 1;
}

void touch_and_free(size_t mib, uint64_t hold_ms) {
  const size_t bytes = mib << 20;
  void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(3);
  }
  memset(p, 0x5a, bytes);
  hold_for(hold_ms);
  munmap(p, bytes);
}

int run_burn(uint64_t ms) {
  burn_thread_cpu(ms);
  record_self("burn");
  return 0;
}

int run_spike(size_t mib, uint64_t hold_ms, uint64_t linger_ms) {
  burn_thread_cpu(5);
  touch_and_free(mib, hold_ms);
  // Live on for LINGER_MS, waking every 10 ms, so live samples follow the spike.
  const uint64_t linger_until = now_ns(CLOCK_MONOTONIC) + linger_ms * 1'000'000ull;
  while (now_ns(CLOCK_MONOTONIC) < linger_until) {
    burn_thread_cpu(1);
    usleep(10000);
  }
  burn_thread_cpu(5);
  record_self("spike");
  return 0;
}

int run_grow(size_t mib, int steps, uint64_t step_ms) {
  for (int i = 0; i < steps; i++) {
    void *p = mmap(nullptr, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      return 3;
    memset(p, 0x33, mib << 20); // leaked on purpose
    usleep(static_cast<useconds_t>(step_ms * 1000));
  }
  record_self("grow");
  return 0;
}

uint64_t g_thread_burn_ms = 0;

void *burner(void *) {
  burn_thread_cpu(g_thread_burn_ms);
  record_self("threads");
  return nullptr;
}

int run_threads(uint64_t ms) {
  g_thread_burn_ms = ms;
  pthread_t t;
  if (pthread_create(&t, nullptr, burner, nullptr) != 0)
    return 3;
  // The leader leaves first; the process lives on in the other thread and
  // exits with status 0 when that thread returns.
  pthread_exit(nullptr);
}

char **g_exec_argv = nullptr;

void *exec_thread(void *) {
  usleep(20000);
  execv(g_exec_argv[0], g_exec_argv);
  perror("execv");
  _exit(127);
}

int run_exec_from_thread(char **argv) {
  g_exec_argv = argv;
  pthread_t t;
  if (pthread_create(&t, nullptr, exec_thread, nullptr) != 0)
    return 3;
  for (;;)
    pause();
}

// Reaps `pid` (any child when -1) with its rusage. The kernel charges a
// dying process its last slice of CPU at its final context switch, which
// can come after the parent is told of the exit: reaping at once reads a
// rusage without that slice. So wait for the exit without reaping, give
// the zombie time to switch out for the last time, then reap.
pid_t reap(pid_t pid, int *status, rusage *ru) {
  siginfo_t info{};
  if (waitid(pid < 0 ? P_ALL : P_PID, pid < 0 ? 0 : static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0)
    return -1;
  usleep(50000);
  return wait4(info.si_pid, status, 0, ru);
}

void record_wait4(pid_t pid, int status, const rusage &ru) {
  append_truth("{\"kind\":\"wait4\",\"pid\":" + std::to_string(pid) + ",\"status\":" + std::to_string(status) +
               ",\"cpu_us\":" + std::to_string(timeval_us(ru.ru_utime) + timeval_us(ru.ru_stime)) +
               ",\"maxrss_kb\":" + std::to_string(ru.ru_maxrss) + "}");
}

int run_prefork(int n, uint64_t ms) {
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      burn_thread_cpu(ms);
      record_self("worker");
      _exit(0);
    }
  }
  int status = 0;
  rusage ru{};
  pid_t pid;
  while ((pid = reap(-1, &status, &ru)) > 0)
    record_wait4(pid, status, ru);
  record_self("master");
  return 0;
}

int run_daemon(uint64_t ms) {
  pid_t pid = fork();
  if (pid == 0) {
    if (fork() == 0) {
      setsid();
      // Like a real daemon: let go of the caller's terminal and pipes.
      int null_fd = open("/dev/null", O_RDWR);
      for (int fd = 0; fd < 3; fd++)
        dup2(null_fd, fd);
      burn_thread_cpu(ms);
      record_self("daemon");
      _exit(0);
    }
    _exit(0); // the intermediate exits at once: the daemon is reparented
  }
  waitpid(pid, nullptr, 0);
  record_self("daemon-parent");
  return 0;
}

int run_wait4(char **argv) {
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  if (reap(pid, &status, &ru) != pid)
    return 3;
  record_wait4(pid, status, ru);
  return 0;
}

// A prefork pool like Celery's: the master forks W workers; each worker runs
// T tasks, each task a short subprocess (fork+exec of this binary). Worker 0
// leaks; worker 1's first task spikes SPIKE_MIB for 15 ms; worker 2's first
// task double-forks a daemon.
int run_pool(int workers, int tasks, size_t spike_mib) {
  // Tasks run this binary under another name, as a pool runs bcftools: the
  // kernel names a process after the file it execs, here a symlink.
  char exe[4096] = {};
  if (readlink("/proc/self/exe", exe, sizeof exe - 1) <= 0)
    return 3;
  char dir[] = "/tmp/tt-pool-XXXXXX";
  if (!mkdtemp(dir))
    return 3;
  const std::string task_bin = std::string(dir) + "/tt_task";
  if (symlink(exe, task_bin.c_str()) != 0)
    return 3;
  const char *self = task_bin.c_str();
  std::vector<pid_t> pids;
  for (int w = 0; w < workers; w++) {
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<void *> leaked;
      for (int t = 0; t < tasks; t++) {
        if (w == 0) {
          void *p = mmap(nullptr, 8u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          if (p != MAP_FAILED) {
            memset(p, 0x11, 8u << 20);
            leaked.push_back(p);
          }
        }
        std::string spike = std::to_string(spike_mib);
        pid_t task = fork();
        if (task == 0) {
          if (w == 1 && t == 0)
            execl(self, "tt_task", "spike", spike.c_str(), "15", static_cast<char *>(nullptr));
          else if (w == 2 && t == 0)
            execl(self, "tt_task", "daemon", "60", static_cast<char *>(nullptr));
          else
            execl(self, "tt_task", "burn", "20", static_cast<char *>(nullptr));
          _exit(127);
        }
        waitpid(task, nullptr, 0);
        burn_thread_cpu(10);
        usleep(30000);
      }
      record_self(w == 0 ? "leaky-worker" : "worker");
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids)
    waitpid(pid, nullptr, 0);
  unlink(task_bin.c_str());
  rmdir(dir);
  record_self("master");
  return 0;
}

// Forks a child with exactly `pid` (clone3 set_tid; needs CAP_SYS_ADMIN or
// CAP_CHECKPOINT_RESTORE in the initial PID namespace).
pid_t fork_with_pid(pid_t pid) {
  clone_args args{};
  args.exit_signal = SIGCHLD;
  args.set_tid = reinterpret_cast<uint64_t>(&pid);
  args.set_tid_size = 1;
  return static_cast<pid_t>(syscall(SYS_clone3, &args, sizeof args));
}

// N processes, one after the other, all with the same PID: child i burns
// (i + 1) * 10 ms, so each has its own CPU figure to be told apart by.
int run_pid_reuse(int n) {
  pid_t pid = 0;
  for (int i = 0; i < n; i++) {
    pid_t child = i == 0 ? fork() : fork_with_pid(pid);
    if (child < 0) {
      perror("clone3(set_tid)");
      return 3;
    }
    if (child == 0) {
      burn_thread_cpu(static_cast<uint64_t>(i + 1) * 10);
      _exit(0);
    }
    pid = child;
    int status = 0;
    rusage ru{};
    if (reap(child, &status, &ru) != child)
      return 3;
    record_wait4(child, status, ru);
  }
  return 0;
}

int run_subreaper(uint64_t ms) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    return 3;
  pid_t pid = fork();
  if (pid == 0) {
    if (fork() == 0) {
      burn_thread_cpu(ms);
      record_self("orphan");
      _exit(0);
    }
    _exit(0);
  }
  // Reap the intermediate, then the orphan it left, which comes to us.
  while (wait(nullptr) > 0) {
  }
  record_self("subreaper");
  return 0;
}

int run_sleepers(int n, uint64_t seconds) {
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      sleep(static_cast<unsigned>(seconds));
      _exit(0);
    }
    if (pid < 0)
      return 3;
  }
  while (wait(nullptr) > 0) {
  }
  return 0;
}

int run_exec_loop(uint64_t rate, uint64_t seconds) {
  const uint64_t start = now_ns(CLOCK_MONOTONIC);
  const uint64_t period = 1'000'000'000ull / (rate ? rate : 1);
  char *const args[] = {const_cast<char *>("/bin/true"), nullptr};
  for (uint64_t i = 0;; i++) {
    const uint64_t due = start + i * period;
    if (due > start + seconds * 1'000'000'000ull)
      break;
    while (now_ns(CLOCK_MONOTONIC) < due)
      usleep(100);
    pid_t pid;
    if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, args, environ) == 0)
      waitpid(pid, nullptr, 0);
  }
  return 0;
}

// Every process forks two children and exits, so the population sits at
// the cgroup's pids.max with constant turnover until the deadline. A fork
// refused by pids.max is retried after a short pause.
int run_forkbomb(uint64_t seconds) {
  const uint64_t deadline = now_ns(CLOCK_MONOTONIC) + seconds * 1'000'000'000ull;
  for (;;) {
    int children = 0;
    while (children < 2) {
      if (now_ns(CLOCK_MONOTONIC) > deadline)
        _exit(0);
      pid_t pid = fork();
      if (pid == 0) {
        children = 0;
        continue;
      }
      if (pid > 0)
        children++;
      else
        usleep(1000);
    }
    _exit(0);
  }
}

// Churn: TOTAL short-lived processes with ALIVE of them alive at any time.
// Each child blocks on a shared pipe; once ALIVE are up, the parent writes
// one token per new child, so one waiting child exits and is reaped before
// the next starts. No sleeps to tune: the rate is what the kernel allows.
//
// HOW is "fork" (a copy of this process, as a worker pool makes) or "vm":
// clone(CLONE_VM) without CLONE_THREAD, a separate process (own PID, own
// exit, own reaping) that shares this one's memory, as posix_spawn()'s
// children do before they exec. To a tracer both are process lifecycles
// with the same events; "vm" skips copying page tables, which makes it
// ~7x faster on small VMs and a million of them fit in minutes.
int churn_child(void *tokens_fd) {
  char token;
  // Raw syscalls: this child shares the parent's memory, errno included.
  syscall(SYS_read, *static_cast<int *>(tokens_fd), &token, 1);
  syscall(SYS_exit, 0);
  return 0;
}

int run_churn(uint64_t total, uint64_t alive_target, const std::string &how) {
  static int tokens[2];
  if (alive_target == 0 || (how != "fork" && how != "vm") || pipe2(tokens, O_CLOEXEC) != 0)
    return 3;
  // One stack per concurrently alive "vm" child; a slot is free again once
  // the child that used it has been reaped.
  constexpr size_t kStack = 16 * 1024;
  std::vector<char> stacks(how == "vm" ? kStack * alive_target : 0);
  std::vector<pid_t> slot_owner(alive_target, 0);
  const uint64_t start = now_ns(CLOCK_MONOTONIC);
  uint64_t alive = 0, forked = 0, failed = 0;
  auto reap_one = [&] {
    char token = 't';
    if (write(tokens[1], &token, 1) != 1)
      return false;
    const pid_t pid = waitpid(-1, nullptr, __WALL);
    if (pid <= 0)
      return false;
    for (pid_t &owner : slot_owner)
      if (owner == pid) {
        owner = 0;
        break;
      }
    alive--;
    return true;
  };
  while (forked < total) {
    if (alive >= alive_target && !reap_one())
      return 3;
    size_t slot = 0;
    while (slot_owner[slot] != 0)
      slot++;
    pid_t pid;
    if (how == "vm") {
      pid = clone(churn_child, stacks.data() + kStack * (slot + 1), CLONE_VM | SIGCHLD, &tokens[0]);
    } else {
      pid = fork();
      if (pid == 0)
        churn_child(&tokens[0]);
    }
    if (pid < 0) {
      failed++;
      if (alive == 0 || !reap_one())
        return 3;
      continue;
    }
    slot_owner[slot] = pid;
    alive++;
    forked++;
  }
  while (alive > 0)
    if (!reap_one())
      return 3;
  const uint64_t wall_ns = now_ns(CLOCK_MONOTONIC) - start;
  append_truth("{\"kind\":\"churn\",\"forked\":" + std::to_string(forked) +
               ",\"fork_failures\":" + std::to_string(failed) + ",\"wall_ns\":" + std::to_string(wall_ns) + "}");
  return 0;
}

// Writes "0" (the writer itself) into each cgroup.procs file of a
// ':'-separated list. Returns false, having said why on stderr, if one
// cannot be joined: a workload in the wrong cgroup would make its test
// measure the wrong thing.
bool join_cgroups(const char *list) {
  if (!list || !*list)
    return true;
  std::string rest = list;
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    const std::string file = rest.substr(0, colon);
    rest = colon == std::string::npos ? "" : rest.substr(colon + 1);
    if (file.empty())
      continue;
    const int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) {
      fprintf(stderr, "tt_workload: cannot join cgroup via %s: %s\n", file.c_str(), strerror(errno));
      if (fd >= 0)
        close(fd);
      return false;
    }
    close(fd);
  }
  return true;
}

void sleep_ms(uint64_t ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1'000'000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Anonymous memory that stays mapped and resident: every page written.
bool touch_mib(size_t mib) {
  if (mib == 0)
    return true;
  void *p = mmap(nullptr, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return false;
  memset(p, 0x42, mib << 20);
  return true;
}

// Short bursts separated by sleeps, each shorter than a test's snapshot
// interval: a process that works, then goes idle, again and again.
int run_burn_sleep(uint64_t burst_ms, uint64_t sleep_ms_each, uint64_t rounds) {
  for (uint64_t i = 0; i < rounds; i++) {
    burn_thread_cpu(burst_ms);
    // What the burst cost, read before anything else runs: a snapshot taken
    // during the sleep must show at least this much. The time is the
    // boot-time clock that treetrace stamps its records with.
    const int fd = open_truth();
    const uint64_t cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    const uint64_t at_ns = now_ns(CLOCK_BOOTTIME);
    write_truth(fd, "{\"kind\":\"burst\",\"pid\":" + std::to_string(getpid()) +
                        ",\"cpu_ns\":" + std::to_string(cpu_ns) + ",\"boottime_ns\":" + std::to_string(at_ns) + "}");
    sleep_ms(sleep_ms_each);
  }
  record_self("burn-sleep");
  return 0;
}

// Grows once, then is idle: nothing after the allocation switches it out.
int run_alloc_sleep(size_t mib, uint64_t sleep_ms_total) {
  if (!touch_mib(mib))
    return 3;
  sleep_ms(sleep_ms_total);
  record_self("alloc-sleep");
  return 0;
}

// The gunicorn case: the master maps its memory, then forks workers (no
// exec) that go to sleep at once, so a worker is never switched out after
// doing anything. The workers share the master's pages copy-on-write.
int run_idle_workers(int n, uint64_t seconds, size_t mib) {
  if (!touch_mib(mib))
    return 3;
  const pid_t master = getpid();
  std::string pids;
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      // Never outlive the master, even when a failing test kills it.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != master)
        _exit(0);
      sleep_ms(seconds * 1000);
      _exit(0);
    }
    if (pid < 0)
      return 3;
    pids += (pids.empty() ? "" : ",") + std::to_string(pid);
  }
  append_truth("{\"kind\":\"idle-workers\",\"master\":" + std::to_string(master) + ",\"workers\":[" + pids + "]}");
  sleep_ms(seconds * 1000);
  while (wait(nullptr) > 0) {
  }
  return 0;
}

struct StaggeredThread {
  uint64_t burn_ms = 0;
};

void *staggered_thread(void *arg) {
  burn_thread_cpu(static_cast<StaggeredThread *>(arg)->burn_ms);
  return nullptr;
}

// Threads that end one after another, each after its own amount of CPU,
// then a process that sleeps: its CPU lives on only in the exited threads.
int run_staggered_threads(int n, uint64_t step_ms, uint64_t linger_ms) {
  const size_t count = n > 0 ? static_cast<size_t>(n) : 0;
  std::vector<StaggeredThread> args(count);
  std::vector<pthread_t> threads(count);
  for (size_t i = 0; i < count; i++) {
    args[i].burn_ms = (i + 1) * step_ms;
    if (pthread_create(&threads[i], nullptr, staggered_thread, &args[i]) != 0)
      return 3;
  }
  for (pthread_t t : threads)
    pthread_join(t, nullptr);
  sleep_ms(linger_ms);
  record_self("staggered-threads");
  return 0;
}

// Burns duty_pct of every 20 ms period until `until_ns` (CLOCK_MONOTONIC).
void burn_duty(uint64_t until_ns, uint64_t duty_pct) {
  constexpr uint64_t kPeriodMs = 20;
  const uint64_t busy_ms = kPeriodMs * duty_pct / 100;
  while (now_ns(CLOCK_MONOTONIC) < until_ns) {
    if (busy_ms)
      burn_thread_cpu(busy_ms);
    if (busy_ms < kPeriodMs)
      sleep_ms(kPeriodMs - busy_ms);
  }
}

// A running pool for attach mode: the master and W forked workers burn at
// a duty cycle, so they keep being switched out and keep using CPU.
int run_pool_burn(int workers, uint64_t seconds, uint64_t duty_pct) {
  if (duty_pct > 100)
    duty_pct = 100;
  const uint64_t until = now_ns(CLOCK_MONOTONIC) + seconds * 1'000'000'000ull;
  const pid_t master = getpid();
  for (int i = 0; i < workers; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != master)
        _exit(0);
      burn_duty(until, duty_pct);
      _exit(0);
    }
    if (pid < 0)
      return 3;
  }
  burn_duty(until, duty_pct);
  while (wait(nullptr) > 0) {
  }
  return 0;
}

// The child: moves itself into the memory-limited cgroup, then allocates
// and touches 1 MiB at a time until it has MIB MiB or the OOM killer
// ends it. Exits 0 only if it was not killed.
[[noreturn]] void oom_child_body(size_t mib) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (!join_cgroups(getenv("TT_CHILD_CGROUP_PROCS")))
    _exit(4);
  for (size_t i = 0; i < mib; i++) {
    void *p = mmap(nullptr, 1u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      _exit(3);
    memset(p, 0x6b, 1u << 20);
  }
  _exit(0);
}

// Forks one oom child and records how it ended, as wait() saw it. Also
// records the parent's anonymous RSS at the fork: the child starts with
// those pages (copy-on-write, charged to the parent's cgroup), so its anon
// RSS can exceed what the limited cgroup charged it by that much.
bool run_one_oom_child(size_t mib) {
  const long parent_anon_kb = status_kb("RssAnon");
  const pid_t pid = fork();
  if (pid == 0)
    oom_child_body(mib);
  if (pid < 0)
    return false;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid)
    return false;
  append_truth("{\"kind\":\"oom-child\",\"pid\":" + std::to_string(pid) + ",\"status\":" + std::to_string(status) +
               ",\"signal\":" + std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0) +
               ",\"parent_rss_anon_kb\":" + std::to_string(parent_anon_kb) + "}");
  return true;
}

int run_oom_children(uint64_t n, size_t mib) {
  const uint64_t start = now_ns(CLOCK_MONOTONIC);
  for (uint64_t i = 0; i < n; i++)
    if (!run_one_oom_child(mib))
      return 3;
  append_truth("{\"kind\":\"oom-children\",\"children\":" + std::to_string(n) +
               ",\"wall_ns\":" + std::to_string(now_ns(CLOCK_MONOTONIC) - start) + "}");
  return 0;
}

int usage() {
  fprintf(stderr, "usage: tt_workload MODE ARGS... (see the source)\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  const std::string mode = argv[1];
  auto arg = [&](int i) -> uint64_t { return i < argc ? strtoull(argv[i], nullptr, 10) : 0; };
  // Joined before anything is done or measured; not passed on, so a
  // descendant a test moves elsewhere is not pulled back by its own exec.
  if (!join_cgroups(getenv("TT_CGROUP_PROCS")))
    return 4;
  unsetenv("TT_CGROUP_PROCS");
  if (mode == "burn-sleep")
    return run_burn_sleep(arg(2), arg(3), arg(4));
  if (mode == "alloc-sleep")
    return run_alloc_sleep(arg(2), arg(3));
  if (mode == "idle-workers")
    return run_idle_workers(static_cast<int>(arg(2)), arg(3), argc > 4 ? arg(4) : 8);
  if (mode == "staggered-threads")
    return run_staggered_threads(static_cast<int>(arg(2)), arg(3), arg(4));
  if (mode == "pool-burn")
    return run_pool_burn(static_cast<int>(arg(2)), arg(3), argc > 4 ? arg(4) : 50);
  if (mode == "oom-child")
    return run_one_oom_child(arg(2)) ? 0 : 3;
  if (mode == "oom-children")
    return run_oom_children(arg(2), arg(3));
  if (mode == "burn")
    return run_burn(arg(2));
  if (mode == "spike")
    return run_spike(arg(2), arg(3), arg(4));
  if (mode == "grow")
    return run_grow(arg(2), static_cast<int>(arg(3)), arg(4));
  if (mode == "threads")
    return run_threads(arg(2));
  if (mode == "exec-from-thread" && argc > 2)
    return run_exec_from_thread(argv + 2);
  if (mode == "prefork")
    return run_prefork(static_cast<int>(arg(2)), arg(3));
  if (mode == "daemon")
    return run_daemon(arg(2));
  if (mode == "wait4" && argc > 2)
    return run_wait4(argv + 2);
  if (mode == "pool")
    return run_pool(static_cast<int>(arg(2)), static_cast<int>(arg(3)), arg(4));
  if (mode == "pid-reuse")
    return run_pid_reuse(static_cast<int>(arg(2)));
  if (mode == "subreaper")
    return run_subreaper(arg(2));
  if (mode == "sleepers")
    return run_sleepers(static_cast<int>(arg(2)), arg(3));
  if (mode == "exec-loop")
    return run_exec_loop(arg(2), arg(3));
  if (mode == "churn")
    return argc > 4 ? run_churn(arg(2), arg(3), argv[4]) : usage();
  if (mode == "forkbomb")
    return run_forkbomb(arg(2));
  if (mode == "signal") {
    signal(static_cast<int>(arg(2)), SIG_DFL);
    burn_thread_cpu(5);
    kill(getpid(), static_cast<int>(arg(2)));
    pause();
    return 3;
  }
  if (mode == "exit")
    return static_cast<int>(arg(2));
  if (mode == "sleep") {
    usleep(static_cast<useconds_t>(arg(2) * 1000));
    return 0;
  }
  return usage();
}
