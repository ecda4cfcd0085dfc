// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one definition of every record that crosses the BPF ring buffer, and
 * of the counters the BPF side keeps. Included by bpf/treetrace.bpf.c (with
 * vmlinux.h already providing the __u* types) and by the C++ userspace.
 *
 * Rules that keep both sides in agreement:
 *  - fixed-width types only, explicit padding, every struct a multiple of 8;
 *  - the record kind is the first field of every record;
 *  - tests/unit/test_event_layout.cpp checks the C++ view of each struct
 *    against the BTF of the built BPF object.
 */
#ifndef TREETRACE_EVENTS_H
#define TREETRACE_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TT_COMM_LEN 16
#define TT_FILENAME_LEN 256
#define TT_ARGV_LEN 1024

/* Filters. Patterns are matched against the 15-character kernel comm. */
#define TT_MAX_COMM_PATTERNS 8
#define TT_COMM_PATTERN_LEN 32
#define TT_MAX_CGROUP_FILTERS 8
#define TT_MAX_PID_FILTERS 1024

enum tt_event_kind {
	TT_EVENT_FORK = 1,     /* a new process (not a thread) was created */
	TT_EVENT_EXEC = 2,     /* a process replaced its image */
	TT_EVENT_EXIT = 3,     /* the last thread of a process is gone */
	TT_EVENT_SAMPLE = 4,   /* rate-limited live counters of a process */
	TT_EVENT_EXISTING = 5, /* a process already running at startup */
	TT_EVENT_OOM_KILL = 6, /* the OOM killer killed a traced process */
	TT_EVENT_KIND_MAX = 7,
};

/* Where a sample record comes from. */
enum tt_sample_origin {
	TT_SAMPLE_SWITCH = 0,  /* rate-limited, at a switch-out of the process */
	TT_SAMPLE_REFRESH = 1, /* the refresh pass userspace runs before it shows live state */
};

/* tt_exit_event.flags */
#define TT_EXIT_OOM_KILLED 0x1 /* the OOM killer chose this process */

/* oom_control.constraint (enum oom_constraint, stable since 2.6.x). */
enum tt_oom_constraint {
	TT_OOM_CONSTRAINT_NONE = 0, /* the whole node ran out */
	TT_OOM_CONSTRAINT_CPUSET = 1,
	TT_OOM_CONSTRAINT_MEMORY_POLICY = 2,
	TT_OOM_CONSTRAINT_MEMCG = 3, /* a memory cgroup hit its limit */
};

/* tt_oom_kill_event.flags */
#define TT_OOM_CONTEXT_KNOWN 0x1 /* constraint and memcg were worked out (see find_oom_memcg()) */
#define TT_OOM_VICTIM_PID_ONLY                                                                     \
	0x2 /* old mark_victim prototype: only the victim's thread id is known */

/* Where the RSS numbers of an exit record come from. */
enum tt_exit_mem_source {
	/* Read from the mm at sched_process_exit, before exit_mm() (6.16+). */
	TT_EXIT_MEM_AT_EXIT = 0,
	/* The mm was already gone: last switch-out sample, peak from signal->maxrss. */
	TT_EXIT_MEM_LAST_SAMPLE = 1,
	/* Never sampled (kernel thread, or exited before any sample). */
	TT_EXIT_MEM_NONE = 2,
};

/* Common prefix of every record. */
struct tt_event_header {
	__u32 kind;	 /* enum tt_event_kind */
	__u32 pid;	 /* host tgid */
	__u64 ts_ns;	 /* CLOCK_BOOTTIME when the record was made */
	__u64 start_ns;	 /* group leader start_boottime: (pid, start_ns) is a process */
	__u64 cgroup_id; /* cgroup v2 id (kernfs inode) of the task */
	__u32 ppid;	 /* host tgid of real_parent */
	__u32 ns_pid;	 /* tgid in the task's own pid namespace */
	char comm[TT_COMM_LEN];
};

struct tt_fork_event {
	struct tt_event_header hdr; /* the parent */
	__u32 child_pid;
	__u32 child_ns_pid;
	__u64 child_start_ns;
};

struct tt_exec_event {
	struct tt_event_header hdr; /* comm is the new comm */
	char old_comm[TT_COMM_LEN];
	__u32 exec_tid;	     /* thread that called execve; != pid when a non-leader exec'd */
	__u32 argv_len;	     /* bytes used in argv, NUL-separated */
	__u8 argv_truncated; /* the command line was longer than TT_ARGV_LEN */
	__u8 filename_truncated;
	__u8 pad[6];
	char filename[TT_FILENAME_LEN];
	char argv[TT_ARGV_LEN];
};

/*
 * Counters of a whole thread group. CPU is the exact scheduler runtime
 * (se.sum_exec_runtime) summed over every thread, exited or live.
 */
struct tt_proc_counters {
	__u64 cpu_ns;
	__u64 utime_ns; /* tick-sampled split, used only to divide cpu_ns */
	__u64 stime_ns;
	__u64 rss_bytes; /* file + anon + shmem */
	__u64 rss_anon_bytes;
	__u64 rss_file_bytes;
	__u64 rss_shmem_bytes;
	__u64 rss_peak_bytes; /* max(hiwater_rss, rss) of the memory image: VmHWM */
	/*
	 * Highest RSS seen at any switch-out since the previous record of this
	 * process; catches spikes the kernel's hiwater mark already covers and,
	 * unlike it, resets per record so live peaks can be reported per interval.
	 */
	__u64 rss_peak_sampled_bytes;
	/* Integral of RSS over wall time since the previous record, in byte-microseconds / 1024. */
	__u64 rss_integral_kib_us;
	__u64 rss_integral_span_us;
};

struct tt_exit_event {
	struct tt_event_header hdr;
	struct tt_proc_counters counters;
	__u64 minflt;
	__u64 majflt;
	__u64 nvcsw;
	__u64 nivcsw;
	__u32 wait_status; /* as wait4() would report it */
	__u32 mem_source;  /* enum tt_exit_mem_source */
	__u32 flags;	   /* TT_EXIT_* */
	__u32 pad;
};

struct tt_sample_event {
	struct tt_event_header hdr;
	struct tt_proc_counters counters;
	/* Of every thread, exited or live, as of its last fold (exact in refresh rows). */
	__u64 minflt;
	__u64 majflt;
	__u64 nvcsw;
	__u64 nivcsw;
	__u32 origin; /* enum tt_sample_origin */
	__u32 pad;
};

struct tt_existing_event {
	struct tt_event_header hdr;
	__u32 nr_threads;
	__u32 is_kernel_thread;
};

/* Made when the OOM killer kills a traced process (oom:mark_victim). */
struct tt_oom_kill_event {
	struct tt_event_header hdr; /* the victim; start_ns 0 with TT_OOM_VICTIM_PID_ONLY */
	__u64 rss_anon_bytes;	    /* the victim's memory when it was chosen */
	__u64 rss_file_bytes;
	__u64 rss_shmem_bytes;
	__u64 rss_peak_bytes;
	__u64 memcg_id;		  /* cgroup id of the memory cgroup whose limit was hit; 0: none */
	__u64 memcg_limit_bytes;  /* its limit (memory.max / memory.limit_in_bytes) */
	__u64 memcg_usage_bytes;  /* its usage when the killer ran */
	__u32 memcg_hierarchy_id; /* 0: cgroup v2; else the v1 hierarchy (/proc/cgroups) */
	__u32 constraint;	  /* enum tt_oom_constraint */
	__u32 trigger_pid;	  /* the process whose allocation invoked the killer */
	__u32 flags;		  /* TT_OOM_* */
};

/*
 * Per-CPU counters (BPF_MAP_TYPE_PERCPU_ARRAY "counters", one __u64 each).
 * For each record kind: attempts are counted before bpf_ringbuf_reserve(),
 * so attempts == delivered + dropped_full always holds once userspace has
 * read everything.
 */
enum tt_counter {
	TT_CNT_ATTEMPT_BASE = 0,			   /* + kind */
	TT_CNT_DROP_RINGBUF_FULL_BASE = TT_EVENT_KIND_MAX, /* + kind */
	TT_CNT_PROC_TABLE_FULL = 2 * TT_EVENT_KIND_MAX,	   /* procs map insert failed */
	TT_CNT_TASK_STORAGE_FAIL,			   /* task storage create failed */
	TT_CNT_PROC_STATE_MISSING,			   /* traced task without process state */
	TT_CNT_ARGV_READ_FAIL,
	TT_CNT_CREDIT_CONTENDED, /* a thread's counters could not be credited (never expected) */
	TT_CNT_OOM_NOT_KILLED,	 /* mark_victim for a task that was already exiting: no kill */
	TT_CNT_OOM_UNTRACED,	 /* OOM kills of processes treetrace does not trace */
	TT_CNT_MAX,
};

#endif /* TREETRACE_EVENTS_H */
