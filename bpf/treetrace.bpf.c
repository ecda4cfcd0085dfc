// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * treetrace kernel side.
 *
 * Per-thread state lives in task storage and marks which tasks are traced;
 * per-process state lives in the bounded `procs` hash, keyed by
 * (tgid, start time) so a reused PID never lands on an old process. The
 * ring buffer carries lifecycle records and rate-limited samples only:
 * nothing is emitted per context switch.
 *
 * A traced thread's switch-out usually does nothing but a read-only look
 * at its task storage and one comparison: its CPU and its process's memory are folded
 * into the process state at most once per fold interval (10 ms, or the
 * sample interval if shorter), timed by the scheduler's own clock, and for
 * the last time at the thread's final switch-out (prev_state ==
 * TASK_DEAD), after which the kernel charges it nothing more. The exit
 * record is therefore emitted at the final switch-out of the last thread,
 * not at sched_process_exit, so its CPU matches what wait4() reports.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "core_fixes.bpf.h"
#include "treetrace/events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Settings, fixed before load: the verifier prunes what is switched off. */
const volatile bool filter_active = false; /* false: trace every user process */
const volatile bool trace_kernel_threads = false;
const volatile bool pid_filter_active = false;
const volatile __u32 comm_pattern_count = 0;
const volatile char comm_patterns[TT_MAX_COMM_PATTERNS][TT_COMM_PATTERN_LEN] = {};
/*
 * Per pattern, what a comm must hold for the pattern to have a chance: its
 * first 16 bytes, compared under a mask of the literal prefix (the bytes
 * before the first '*' or '?'; for a name without either, the whole name
 * and its NUL). comm_pattern_exact: the masked compare is the whole answer.
 */
const volatile __u64 comm_prefix_words[TT_MAX_COMM_PATTERNS][2] = {};
const volatile __u64 comm_prefix_masks[TT_MAX_COMM_PATTERNS][2] = {};
const volatile bool comm_pattern_exact[TT_MAX_COMM_PATTERNS] = {};
const volatile __u32 cgroup_filter_count = 0;
const volatile __u64 cgroup_filter_ids[TT_MAX_CGROUP_FILTERS] = {};
const volatile __u32 cgroup_filter_levels[TT_MAX_CGROUP_FILTERS] = {};
const volatile __u64 sample_interval_ns = 1000000000ULL;
/* A thread's counters reach its process at most this often (and at its end). */
const volatile __u64 fold_interval_ns = 10000000ULL;
const volatile __u64 page_size = 4096;
/*
 * 0: the kernel's default wakeups; else wake the reader once this many bytes
 * wait, or at a record that comes after wakeup_quiet_ns without a wakeup.
 */
const volatile __u64 wakeup_min_bytes = 0;
const volatile __u64 wakeup_quiet_ns = 50000000ULL;
/*
 * Set by userspace while the startup scan runs: a fork whose parent has not
 * been visited yet must check the parent's ancestors itself.
 */
volatile bool startup_scan_pending = false;
/* Pass of the startup scan: 1 marks tasks, 2 reports processes. */
volatile __u32 scan_pass = 0;
/* Bumped by userspace before each refresh: see refresh_tasks. */
volatile __u64 refresh_generation = 0;

/*
 * Record types reach the object's BTF only through a global: these anchors
 * let tests/unit/test_event_layout.cpp check the C++ layouts against it.
 */
struct tt_fork_event *btf_anchor_fork __attribute__((unused));
struct tt_exec_event *btf_anchor_exec __attribute__((unused));
struct tt_exit_event *btf_anchor_exit __attribute__((unused));
struct tt_sample_event *btf_anchor_sample __attribute__((unused));
struct tt_existing_event *btf_anchor_existing __attribute__((unused));
struct tt_oom_kill_event *btf_anchor_oom_kill __attribute__((unused));

/*
 * What of a thread's own counters has been added to its process. Every
 * field only moves forward, by compare-and-swap (credit()), because two
 * folders can race on one thread: its own switch-out and a refresh pass
 * running on another CPU.
 */
struct thread_credit {
	__u64 runtime_ns; /* se.sum_exec_runtime */
	__u64 utime, stime;
	__u64 minflt, majflt, nvcsw, nivcsw;
};

struct task_state {
	struct thread_credit credited;
	__u64 folded_at_clock; /* se.exec_start at the last fold; 0: fold at once */
	__u32 flags;
	/*
	 * The exit of a sole thread (TS_SOLE_EXIT), kept here until its final
	 * switch-out, so sched_process_exit needs no process-table lookup.
	 * Pages in 32 bits: 16 TiB.
	 */
	__u32 exit_wait_status;
	__u32 exit_file_pages, exit_anon_pages, exit_shmem_pages;
	__u32 exit_peak_pages, exit_hiwater_pages;
	__u32 exit_mem_source; /* enum tt_exit_mem_source; LAST_SAMPLE: decided at the switch-out */
};

#define TS_EXIT_SEEN 0x1 /* sched_process_exit fired for this thread */
/*
 * The thread is its process's only one, and has been since the process was
 * born at a fork seen here: it is the last of its process to switch out.
 * Cleared when it starts a thread.
 */
#define TS_SOLE 0x2
#define TS_SOLE_EXIT 0x4 /* a TS_SOLE thread exited: its exit is in task storage */

struct proc_key {
	__u32 tgid;
	__u32 pad;
	__u64 start_ns;
};

struct proc_state {
	__u64 cpu_ns;
	__u64 utime_ns; /* of exited threads, plus the baseline at startup */
	__u64 stime_ns;
	__u64 minflt, majflt, nvcsw, nivcsw; /* credited from threads, plus baseline */
	__u64 last_sample_ns;
	__u64 refreshed_generation; /* refresh_generation when last reported by a refresh */
	__u64 rss_last_ts_ns;
	__u64 rss_last_pages;
	__u64 rss_peak_sampled_pages;
	__u64 hiwater_seen_pages; /* mm->hiwater_rss at the last fold */
	__u64 rss_integral_kib_us;
	__u64 rss_integral_span_us;
	/* Memory at sched_process_exit of the last thread. */
	__u64 exit_rss_pages;
	__u64 exit_rss_part_pages[TT_NR_MM_COUNTERS]; /* by counter; 6.16+ only */
	__u64 exit_peak_pages;
	__u32 exiting_threads;
	__u32 flags;
	__u32 wait_status;
	__u32 mem_source;
	/*
	 * The command name at the last fork or exec, for the next exec's
	 * old_comm: here rather than in task storage, so exec needs only the
	 * lookup of this state it makes anyway, not a writable task-storage one.
	 */
	char comm[TT_COMM_LEN];
};

#define PS_GROUP_DEAD 0x1
#define PS_EXIT_EMITTED 0x2
#define PS_FOUND_BY_SCAN 0x4 /* not seen being born: report it as existing */
#define PS_OOM_KILLED 0x8    /* the OOM killer chose it: one oom_kill record, and said at exit */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by userspace */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_state);
} task_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 131072); /* resized by userspace (--max-procs) */
	__type(key, struct proc_key);
	__type(value, struct proc_state);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TT_MAX_PID_FILTERS);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		(*v)++; /* per-CPU slot: no atomics needed */
}

/*
 * Adds value - *credited to *total, once, and moves *credited to value.
 * The mark only moves forward, by compare-and-swap: when two folders race
 * (a thread's own switch-out and a refresh pass on another CPU), whichever
 * swaps first adds its part, and the other adds only what lies beyond it,
 * so nothing is counted twice or lost. Thread counters never decrease, so
 * a value at or below the mark has already been credited.
 */
static __always_inline bool credit(__u64 *credited, __u64 value, __u64 *total)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		__u64 old = *(volatile __u64 *)credited;

		if (value <= old)
			return false;
		if (__sync_val_compare_and_swap(credited, old, value) == old) {
			__sync_fetch_and_add(total, value - old);
			return true;
		}
	}
	count(TT_CNT_CREDIT_CONTENDED);
	return false;
}

/* ---- Identity ---------------------------------------------------------- */

/*
 * Tasks and mms arrive as BTF-typed pointers (tracepoint arguments, the
 * iterator's task): plain dereferences compile to direct, fault-safe loads,
 * where BPF_CORE_READ() costs a bpf_probe_read_kernel() call per field
 * (about 60 ns each here: a record header read that way cost 0.6 us, against
 * a few ns loaded directly; docs/lifecycle-cost.md). Every helper below
 * that only reads takes the pointer through TT_RO() (core_fixes.bpf.h).
 */
static __always_inline struct proc_key key_of(struct task_struct *t)
{
	struct task_struct *ro = TT_RO(t);
	struct proc_key key = {
		.tgid = ro->tgid,
		/* de_thread() copies the leader's start time to an exec'ing thread. */
		.start_ns = ro->group_leader->start_boottime,
	};
	return key;
}

/*
 * A task's comm as two 8-byte words. A memcpy of the char array compiles to
 * sixteen byte loads, each of them fault-checked through TT_RO(), and then
 * shifts to put them together. comm follows pointers in task_struct, so
 * it is 8-byte aligned.
 */
static __always_inline void copy_comm(char *dst, const char *task_comm)
{
	/* The stack's loads and stores must be aligned; so are the records'. */
	_Static_assert(__builtin_offsetof(struct tt_event_header, comm) % 8 == 0,
		       "header comm alignment");
	_Static_assert(__builtin_offsetof(struct proc_state, comm) % 8 == 0,
		       "proc_state comm alignment");
	const __u64 *from = (const __u64 *)task_comm;
	__u64 *to = (__u64 *)dst;

	to[0] = from[0];
	to[1] = from[1];
}

/* The tgid as seen from the task's own pid namespace. */
static __always_inline __u32 ns_tgid(struct task_struct *t)
{
	struct pid *pid = TT_RO(t)->group_leader->thread_pid;
	unsigned int level = pid->level;
	int nr = 0;

	/* The initial namespace, the common case, at a constant offset. */
	if (level == 0) {
		nr = pid->numbers[0].nr;
		/* Or clang merges this load with the stack load below. */
		barrier_var(nr);
		return nr;
	}
	/*
	 * The verifier takes no variable offset into a BTF-typed object, so
	 * this is a probe read at pid plus a bounded offset. Before 6.10
	 * (commit 41d047a87106, "bpf/verifier: relax MUL range computation
	 * check") the verifier gives up on the bounds of a multiplication whose
	 * source register is not a constant, and clang puts the CO-RE size,
	 * which it cannot fold, in the destination: the product is unbounded
	 * and 6.1 to 6.9 refuse to add it to a pointer ("math between ptr_
	 * pointer and register with unbounded min value is not allowed"). The
	 * mask, an AND by a constant, bounds it on every kernel and changes
	 * nothing: 63 entries of struct upid (16 bytes) are well below 64 KiB.
	 */
	__u32 off = (level & 0x3f) * bpf_core_type_size(struct upid);

	off &= 0xffff;
	bpf_probe_read_kernel(&nr, sizeof(nr),
			      (void *)pid + bpf_core_field_offset(struct pid, numbers) + off +
				      bpf_core_field_offset(struct upid, nr));
	return nr;
}

static __always_inline void fill_header(struct tt_event_header *h, __u32 kind,
					struct task_struct *t, __u64 now)
{
	struct task_struct *ro = TT_RO(t);
	struct task_struct *leader = ro->group_leader;

	h->kind = kind;
	h->ts_ns = now;
	h->pid = ro->tgid;
	h->start_ns = leader->start_boottime;
	h->cgroup_id = ro->cgroups->dfl_cgrp->kn->id;
	h->ppid = ro->real_parent->tgid;
	h->ns_pid = ns_tgid(ro);
	/* The kernel keeps comm NUL-terminated; userspace stops at the NUL. */
	copy_comm(h->comm, leader->comm);
}

/* ---- Ring buffer --------------------------------------------------------- */

static __always_inline void *reserve_event(__u32 kind, __u64 size)
{
	void *e;

	/* Counted before the reserve so attempts == delivered + dropped holds. */
	count(TT_CNT_ATTEMPT_BASE + kind);
	e = bpf_ringbuf_reserve(&events, size, 0);
	if (!e)
		count(TT_CNT_DROP_RINGBUF_FULL_BASE + kind);
	return e;
}

/* Per CPU: CLOCK_BOOTTIME of the last record this CPU submitted. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} last_record_ns SEC(".maps");

static __always_inline void submit_event(void *e, __u64 now)
{
	__u64 flags = 0;

	/*
	 * Batch wakeups. Without flags the kernel wakes the reader whenever it
	 * has caught up, which under a steady trickle is once per record, and
	 * a wakeup (an irq_work, then a reader context switch) costs far more
	 * than the record: about 12-20 us here (bench/floor's ringbuf probe),
	 * against 0.5 us without it. So wake the reader when enough data
	 * waits, or at the first record a CPU submits after wakeup_quiet_ns
	 * without one: that record is delivered at once, and the reader's
	 * poll timeout bounds how long the others wait. While records keep
	 * coming, as in a fork storm, nothing is woken for being quiet (a rule
	 * of one wakeup per quiet interval cost a fork+exec storm about 0.2 us
	 * per exec). Per CPU, so no cache line bounces between CPUs at each
	 * record. Signed: a record's time may be a little before the previous
	 * one's (a fork's is the child's start time).
	 */
	if (wakeup_min_bytes) {
		__u32 zero = 0;
		__u64 *last = bpf_map_lookup_elem(&last_record_ns, &zero);

		flags = BPF_RB_NO_WAKEUP;
		if (last) {
			if ((__s64)(now - *last) >= (__s64)wakeup_quiet_ns)
				flags = BPF_RB_FORCE_WAKEUP;
			*last = now;
		}
		if (flags == BPF_RB_NO_WAKEUP &&
		    bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_min_bytes)
			flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(e, flags);
}

/* ---- Task storage, read-only --------------------------------------------- */

#define STORAGE_SLOT(i)                                                                            \
	case i:                                                                                    \
		sdata = storage->cache[i];                                                         \
		break

/*
 * This task's task_states value, read-only, from the storage's lookup
 * cache, or NULL when the cache does not hold it. It is what
 * bpf_task_storage_get() itself looks at first, without the helper call
 * and its recursion guard, which cost as much as the rest of a traced
 * switch-out. The slot of a map is fixed when the map is created
 * (bpf_local_storage_map.cache_idx); the verifier allows only constant
 * offsets into the cache, hence the switch. Everything read here is
 * freed only after an RCU grace period, and tp_btf programs run inside
 * an RCU read-side section. Writes go through the helper.
 */
static __always_inline const struct task_state *peek_task_state(struct bpf_local_storage *storage)
{
	struct bpf_local_storage_map *smap = (void *)&task_states;
	struct bpf_local_storage_data *sdata = NULL;

	switch (smap->cache_idx) {
		STORAGE_SLOT(0);
		STORAGE_SLOT(1);
		STORAGE_SLOT(2);
		STORAGE_SLOT(3);
		STORAGE_SLOT(4);
		STORAGE_SLOT(5);
		STORAGE_SLOT(6);
		STORAGE_SLOT(7);
		STORAGE_SLOT(8);
		STORAGE_SLOT(9);
		STORAGE_SLOT(10);
		STORAGE_SLOT(11);
		STORAGE_SLOT(12);
		STORAGE_SLOT(13);
		STORAGE_SLOT(14);
		STORAGE_SLOT(15);
	}
	if (!sdata || sdata->smap != smap)
		return NULL;
	return (const struct task_state *)sdata->data;
}

/* What find_task_state() could tell. */
enum {
	TS_ABSENT,  /* not traced */
	TS_FOUND,   /* traced; the value read-only in *out */
	TS_UNKNOWN, /* ask the helper */
};

#define MAX_STORAGE_WALK 8

/*
 * This task's task_states value, read-only, without the helper. When the
 * cache slot holds another map's value (another tool gave the task storage
 * too, or its map shares our slot), the storage's own list, as the
 * kernel's slow path walks it: a task holds one value per task-storage map,
 * and more than a few is unheard of. The walk needs bpf_rdonly_cast() to
 * type the list's elements; the 6.1 build leaves it to the helper.
 */
static __always_inline int find_task_state(struct bpf_local_storage *storage,
					   const struct task_state **out)
{
	if (!storage)
		return TS_ABSENT;
	*out = peek_task_state(storage);
	if (*out)
		return TS_FOUND;
#ifdef TT_TRUSTED_LOADS
	return TS_UNKNOWN;
#else
	struct hlist_node *n = storage->list.first;

	for (int i = 0; i < MAX_STORAGE_WALK; i++) {
		if (!n)
			return TS_ABSENT;
		/* The element's data, typed as what the cache slots point to. */
		struct bpf_local_storage_data *sdata = bpf_rdonly_cast(
			(void *)n - bpf_core_field_offset(struct bpf_local_storage_elem, snode) +
				bpf_core_field_offset(struct bpf_local_storage_elem, sdata),
			bpf_core_type_id_kernel(struct bpf_local_storage_data));

		if (sdata->smap == (void *)&task_states) {
			*out = (const struct task_state *)sdata->data;
			return TS_FOUND;
		}
		n = n->next;
	}
	return TS_UNKNOWN;
#endif
}

/*
 * Is this task traced? Tasks no BPF program has given storage to cost one
 * load, traced ones the peek above. @t must be trusted (a tracepoint's or
 * iterator's task), for the helper.
 */
static __always_inline bool task_traced(struct task_struct *t)
{
	const struct task_state *v;

	switch (find_task_state(TT_RO(t)->bpf_storage, &v)) {
	case TS_ABSENT:
		return false;
	case TS_FOUND:
		return true;
	}
	return bpf_task_storage_get(&task_states, t, 0, 0);
}

/*
 * The same for a task reached by walking pointers, which the helper does
 * not take untrusted: the slow path walks the storage's list with probe
 * reads, since in the 6.1 build its links are not typed.
 */
static __always_inline bool ancestor_traced(struct task_struct *t)
{
	struct bpf_local_storage *storage = TT_RO(t)->bpf_storage;
	const struct task_state *v;
	struct hlist_node *n = NULL;

	switch (find_task_state(storage, &v)) {
	case TS_ABSENT:
		return false;
	case TS_FOUND:
		return true;
	}
	bpf_probe_read_kernel(&n, sizeof(n), &storage->list.first);
	for (int i = 0; i < MAX_STORAGE_WALK && n; i++) {
		void *smap = NULL;

		bpf_probe_read_kernel(
			&smap, sizeof(smap),
			(void *)n - bpf_core_field_offset(struct bpf_local_storage_elem, snode) +
				bpf_core_field_offset(struct bpf_local_storage_elem, sdata) +
				bpf_core_field_offset(struct bpf_local_storage_data, smap));
		if (smap == (void *)&task_states)
			return true;
		bpf_probe_read_kernel(&n, sizeof(n),
				      (void *)n + bpf_core_field_offset(struct hlist_node, next));
	}
	return false;
}

#include "filters.bpf.h"

/* ---- Memory ---------------------------------------------------------------- */

static __always_inline __u64 rss_pages_of(struct mm_struct *mm)
{
	return mm_counter(mm, TT_MM_FILEPAGES) + mm_counter(mm, TT_MM_ANONPAGES) +
	       mm_counter(mm, TT_MM_SHMEMPAGES);
}

/* VmHWM: the hiwater mark is only raised before RSS drops, so include RSS now. */
static __always_inline __u64 peak_pages(struct mm_struct *mm, __u64 rss_pages)
{
	__u64 hiwater = mm->hiwater_rss;

	return hiwater > rss_pages ? hiwater : rss_pages;
}

static __always_inline __u64 pages_to_bytes(__u64 pages)
{
	return pages * page_size;
}

static __always_inline void raise_sampled_peak(struct proc_state *ps, __u64 pages)
{
	if (pages > ps->rss_peak_sampled_pages)
		ps->rss_peak_sampled_pages = pages;
}

/*
 * Integrates RSS over wall time for the time-weighted average. Threads of
 * one process switch out on several CPUs at once: the exchange on the
 * timestamp gives each interval to exactly one of them.
 *
 * The kernel raises mm->hiwater_rss to the current RSS before every unmap
 * (update_hiwater_rss() in the munmap and MADV_DONTNEED paths), so a rise
 * since the last fold is a peak reached since then, even one that was
 * freed again before this fold: folds need not see it happen. The
 * exchange gives a rise to one fold only.
 */
static __always_inline void integrate_rss_pages(struct proc_state *ps, __u64 rss_pages,
						__u64 hiwater, __u64 now)
{
	__u64 last = __sync_lock_test_and_set(&ps->rss_last_ts_ns, now);
	__u64 prev_pages = ps->rss_last_pages;

	ps->rss_last_pages = rss_pages;
	raise_sampled_peak(ps, rss_pages);
	if (hiwater > ps->hiwater_seen_pages &&
	    hiwater > __sync_lock_test_and_set(&ps->hiwater_seen_pages, hiwater))
		raise_sampled_peak(ps, hiwater);
	if (last && now > last) {
		__u64 dt_us = (now - last) / 1000;

		__sync_fetch_and_add(&ps->rss_integral_kib_us,
				     prev_pages * (page_size / 1024) * dt_us);
		__sync_fetch_and_add(&ps->rss_integral_span_us, dt_us);
	}
}

static __always_inline void integrate_rss(struct proc_state *ps, struct mm_struct *mm, __u64 now)
{
	integrate_rss_pages(ps, rss_pages_of(mm), mm->hiwater_rss, now);
}

/* ---- Process state --------------------------------------------------------- */

static __always_inline struct proc_state *proc_of(struct task_struct *t)
{
	struct proc_key key = key_of(t);

	return bpf_map_lookup_elem(&procs, &key);
}

/*
 * Adds a process's state; true if it is in the table (already there
 * counts: the startup scan can meet a child before its fork tracepoint).
 */
static __always_inline bool insert_proc(struct task_struct *t, struct proc_state *init)
{
	struct proc_key key = key_of(t);
	long err = bpf_map_update_elem(&procs, &key, init, BPF_NOEXIST);

	if (err && err != -TT_EEXIST) {
		count(TT_CNT_PROC_TABLE_FULL);
		return false;
	}
	return true;
}

static __always_inline struct proc_state *create_proc(struct task_struct *t,
						      struct proc_state *init)
{
	if (!insert_proc(t, init))
		return NULL;
	return proc_of(t);
}

static __always_inline struct task_state *mark_traced(struct task_struct *t, __u64 runtime_credited)
{
	struct task_state *ts =
		bpf_task_storage_get(&task_states, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!ts) {
		count(TT_CNT_TASK_STORAGE_FAIL);
		return NULL;
	}
	__builtin_memset(&ts->credited, 0, sizeof(ts->credited));
	ts->credited.runtime_ns = runtime_credited;
	ts->folded_at_clock = 0;
	ts->flags = 0;
	return ts;
}

/*
 * The sampled peak is "since the previous record" for switch-out samples
 * and exit records, which reset it; a refresh row reads it and leaves it,
 * so a spike still shows in the next sample whether or not a refresh
 * came in between. The RSS integral is consumed by every row, refresh
 * rows included: userspace adds them all up.
 */
static __always_inline void fill_counters(struct tt_proc_counters *c, struct proc_state *ps,
					  bool keep_peak)
{
	c->cpu_ns = ps->cpu_ns;
	c->rss_peak_sampled_bytes = pages_to_bytes(
		keep_peak ? ps->rss_peak_sampled_pages
			  : __sync_lock_test_and_set(&ps->rss_peak_sampled_pages, 0));
	c->rss_integral_kib_us = __sync_lock_test_and_set(&ps->rss_integral_kib_us, 0);
	c->rss_integral_span_us = __sync_lock_test_and_set(&ps->rss_integral_span_us, 0);
}

static __always_inline void fill_live_memory(struct tt_proc_counters *c, struct mm_struct *mm)
{
	__u64 file = mm_counter(mm, TT_MM_FILEPAGES);
	__u64 anon = mm_counter(mm, TT_MM_ANONPAGES);
	__u64 shmem = mm_counter(mm, TT_MM_SHMEMPAGES);
	__u64 rss = file + anon + shmem;

	c->rss_bytes = pages_to_bytes(rss);
	c->rss_anon_bytes = pages_to_bytes(anon);
	c->rss_file_bytes = pages_to_bytes(file);
	c->rss_shmem_bytes = pages_to_bytes(shmem);
	c->rss_peak_bytes = pages_to_bytes(peak_pages(mm, rss));
	if (c->rss_peak_sampled_bytes < c->rss_bytes)
		c->rss_peak_sampled_bytes = c->rss_bytes;
}

/* A sample's counters; the caller fills its header. */
static __always_inline void fill_sample_body(struct tt_sample_event *e, struct task_struct *t,
					     struct proc_state *ps, __u32 origin)
{
	struct mm_struct *mm;

	__builtin_memset(&e->counters, 0, sizeof(e->counters));
	fill_counters(&e->counters, ps, origin == TT_SAMPLE_REFRESH);
	e->counters.utime_ns = ps->utime_ns;
	e->counters.stime_ns = ps->stime_ns;
	e->minflt = ps->minflt;
	e->majflt = ps->majflt;
	e->nvcsw = ps->nvcsw;
	e->nivcsw = ps->nivcsw;
	e->origin = origin;
	e->pad = 0;
	mm = TT_RO(t)->mm;
	if (mm)
		fill_live_memory(&e->counters, mm);
}

static __always_inline void emit_sample(struct task_struct *t, struct proc_state *ps, __u64 now)
{
	struct tt_sample_event *e = reserve_event(TT_EVENT_SAMPLE, sizeof(*e));

	if (!e)
		return;
	fill_header(&e->hdr, TT_EVENT_SAMPLE, t, now);
	fill_sample_body(e, t, ps, TT_SAMPLE_SWITCH);
	submit_event(e, now);
}

static __always_inline void maybe_sample(struct task_struct *t, struct proc_state *ps, __u64 now)
{
	__u64 last = ps->last_sample_ns;

	if (now - last < sample_interval_ns)
		return;
	/* One sample per interval even when several threads race here. */
	if (__sync_val_compare_and_swap(&ps->last_sample_ns, last, now) != last)
		return;
	emit_sample(t, ps, now);
}

/* ---- fork ------------------------------------------------------------------ */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	struct task_struct *c = TT_RO(child);
	bool is_thread = c->pid != c->tgid;

	if (!task_traced(parent)) {
		/* Threads belong to their process: an untraced one stays untraced. */
		if (is_thread)
			return 0;
		if (!trace_kernel_threads && is_kernel_thread(c))
			return 0;
		/* With no filter every task matches; filter_active is a
		 * constant, so the verifier skips the walk altogether. */
		if (filter_active && (startup_scan_pending ? !self_or_ancestor_matches(child)
							   : !matches_filters(child, c->comm)))
			return 0;
	}

	struct task_state *ts = mark_traced(child, 0);

	if (!ts)
		return 0;
	if (is_thread) {
		/* The creator is running this fork: nothing else writes its flags. */
		struct task_state *creator = bpf_task_storage_get(&task_states, parent, 0, 0);

		if (creator)
			creator->flags &= ~TS_SOLE;
		return 0;
	}
	ts->flags = TS_SOLE;

	/*
	 * The fork's time is the child's birth: copy_process() has just read
	 * CLOCK_BOOTTIME into start_boottime, which saves reading the clock
	 * again (its shared timekeeper lines are often on the other CPU).
	 * The first sample is due one interval after birth: a short-lived
	 * process is described whole by its exit record, and a fork storm
	 * should cost three records per process, not four.
	 */
	__u64 now = c->start_boottime;
	struct proc_state init = {.last_sample_ns = now};
	struct mm_struct *mm = c->mm;

	copy_comm(init.comm, c->comm);
	if (mm) {
		/*
		 * The child's counters were copied from the parent by dup_mmap():
		 * what integrate_rss() makes of a fresh state, set before the
		 * insert so the new entry needs no lookup.
		 */
		__u64 pages = rss_pages_of(mm), hiwater = mm->hiwater_rss;

		init.rss_last_ts_ns = now;
		init.rss_last_pages = pages;
		init.hiwater_seen_pages = hiwater;
		init.rss_peak_sampled_pages = hiwater > pages ? hiwater : pages;
	}
	insert_proc(child, &init);

	struct tt_fork_event *e = reserve_event(TT_EVENT_FORK, sizeof(*e));

	if (!e)
		return 0;
	fill_header(&e->hdr, TT_EVENT_FORK, parent, now);
	e->child_pid = c->tgid;
	e->child_ns_pid = ns_tgid(c);
	e->child_start_ns = now;
	submit_event(e, now);
	return 0;
}

/* ---- exec ------------------------------------------------------------------ */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *ro = TT_RO(p);
	struct proc_state *ps;
	__u64 now;

	/*
	 * The clock is read only once the task is known to be traced: an
	 * untraced exec on a filtered node spent a third of its cost on it.
	 */
	if (task_traced(p)) {
		now = bpf_ktime_get_boot_ns();
		ps = proc_of(p);
	} else {
		/* A new command name may match --comm; de_thread() left one thread. */
		if (!filter_active || (!trace_kernel_threads && is_kernel_thread(ro)) ||
		    !matches_filters(p, ro->comm))
			return 0;
		now = bpf_ktime_get_boot_ns();
		if (!mark_traced(p, ro->se.sum_exec_runtime))
			return 0;
		/* Threads that de_thread() reaped are already in the signal totals. */
		struct proc_state init = {
			.cpu_ns = ro->signal->sum_sched_runtime + ro->se.sum_exec_runtime,
			.last_sample_ns = now,
		};

		/* Seen first with its new name: that is its old name too. */
		copy_comm(init.comm, ro->comm);
		ps = create_proc(p, &init);
	}

	struct mm_struct *mm = ro->mm;

	if (ps && mm) {
		ps->hiwater_seen_pages = 0; /* a new image, with a hiwater mark of its own */
		integrate_rss(ps, mm, now);
	}

	struct tt_exec_event *e = reserve_event(TT_EVENT_EXEC, sizeof(*e));

	if (!e)
		goto out;
	fill_header(&e->hdr, TT_EVENT_EXEC, p, now);
	if (ps)
		__builtin_memcpy(e->old_comm, ps->comm, TT_COMM_LEN);
	else /* not in the process table (counted as full): unknown */
		__builtin_memset(e->old_comm, 0, TT_COMM_LEN);
	e->exec_tid = old_pid;
	e->argv_truncated = 0;
	e->filename_truncated = 0;

	const char *filename = TT_RO(bprm)->filename;
	long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename);

	if (n == sizeof(e->filename)) {
		char next = 0;

		bpf_probe_read_kernel(&next, 1, filename + sizeof(e->filename) - 1);
		e->filename_truncated = next != 0;
	}

	unsigned long arg_start = mm ? mm->arg_start : 0;
	unsigned long arg_end = mm ? mm->arg_end : 0;
	__u64 len = arg_end > arg_start ? arg_end - arg_start : 0;

	if (len > TT_ARGV_LEN) {
		len = TT_ARGV_LEN;
		e->argv_truncated = 1;
	}
	e->argv_len = 0;
	if (len && bpf_probe_read_user(e->argv, len, (void *)arg_start) == 0)
		e->argv_len = len;
	else if (len)
		count(TT_CNT_ARGV_READ_FAIL);
	submit_event(e, now);
out:
	if (ps)
		copy_comm(ps->comm, ro->comm);
	return 0;
}

/* ---- exit ------------------------------------------------------------------ */

static __always_inline __u32 wait_status_of(struct task_struct *t)
{
	struct task_struct *ro = TT_RO(t);
	struct signal_struct *sig = ro->signal;

	/* The same choice wait_task_zombie() makes. */
	if (sig->flags & TT_SIGNAL_GROUP_EXIT)
		return sig->group_exit_code;
	return ro->group_leader->exit_code;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	struct task_struct *ro = TT_RO(p);
	struct task_state *ts;
	struct proc_state *ps;
	bool group_dead;

	/* Never given storage: untraced, decided without the helper. */
	if (!ro->bpf_storage)
		return 0;
	ts = bpf_task_storage_get(&task_states, p, 0, 0);
	if (!ts)
		return 0;
	if ((ts->flags & TS_SOLE) && ro->signal->live.counter == 0) {
		/*
		 * The process's exit: kept for the final switch-out (finish_thread()).
		 * No clock is read here: the RSS integral runs to that switch-out's
		 * time, which the exit record carries too. A clock read was half
		 * of this program's cost (docs/lifecycle-cost.md); the few
		 * microseconds of exit path in between are integrated at the RSS
		 * read here.
		 */
		struct mm_struct *mm = ro->mm;

		ts->exit_wait_status = wait_status_of(ro);
		ts->exit_mem_source = TT_EXIT_MEM_LAST_SAMPLE;
		if (mm) {
			/* 6.16+: see below. */
			__u64 file = mm_counter(mm, TT_MM_FILEPAGES);
			__u64 anon = mm_counter(mm, TT_MM_ANONPAGES);
			__u64 shmem = mm_counter(mm, TT_MM_SHMEMPAGES);

			ts->exit_file_pages = file;
			ts->exit_anon_pages = anon;
			ts->exit_shmem_pages = shmem;
			ts->exit_peak_pages = peak_pages(mm, file + anon + shmem);
			ts->exit_hiwater_pages = mm->hiwater_rss;
			ts->exit_mem_source = TT_EXIT_MEM_AT_EXIT;
		}
		ts->flags |= TS_EXIT_SEEN | TS_SOLE_EXIT;
		return 0;
	}
	ps = proc_of(p);
	if (!ps) {
		count(TT_CNT_PROC_STATE_MISSING);
		return 0;
	}
	ts->flags |= TS_EXIT_SEEN;
	__sync_fetch_and_add(&ps->exiting_threads, 1);

	/*
	 * do_exit() decrements signal->live before this tracepoint on every
	 * kernel, so 0 means the group is dead. 6.16 ("exit: move and extend
	 * sched_process_exit() tracepoint") also passes that result as a
	 * second argument, but 6.1-6.15 have one argument and the verifier
	 * rejects reading a second; knowing which prototype this kernel has
	 * would cost userspace a full parse of the kernel's BTF at start.
	 * Two threads exiting together can both see 0 here, where only one
	 * gets group_dead; PS_EXIT_EMITTED keeps that from making two records.
	 */
	group_dead = ro->signal->live.counter == 0;
	if (!group_dead)
		return 0;

	ps->wait_status = wait_status_of(ro);

	struct mm_struct *mm = ro->mm;
	__u64 now = bpf_ktime_get_boot_ns();

	if (mm) {
		/* 6.16+: the tracepoint runs before exit_mm(), the image is intact. */
		__u64 file = mm_counter(mm, TT_MM_FILEPAGES);
		__u64 anon = mm_counter(mm, TT_MM_ANONPAGES);
		__u64 shmem = mm_counter(mm, TT_MM_SHMEMPAGES);
		__u64 rss = file + anon + shmem;

		ps->exit_rss_pages = rss;
		ps->exit_rss_part_pages[TT_MM_FILEPAGES] = file;
		ps->exit_rss_part_pages[TT_MM_ANONPAGES] = anon;
		ps->exit_rss_part_pages[TT_MM_SHMEMPAGES] = shmem;
		ps->exit_peak_pages = peak_pages(mm, rss);
		ps->mem_source = TT_EXIT_MEM_AT_EXIT;
		integrate_rss_pages(ps, rss, mm->hiwater_rss, now);
	} else if (ps->rss_last_ts_ns) {
		/*
		 * Before 6.16, exit_mm() has already run: keep the last sample,
		 * and take the peak from signal->maxrss, which do_exit() raised
		 * to this image's hiwater mark (it also covers images before an
		 * exec, which the 6.16+ path does not).
		 */
		ps->exit_rss_pages = ps->rss_last_pages; /* the total only */
		ps->exit_peak_pages = ro->signal->maxrss;
		ps->mem_source = TT_EXIT_MEM_LAST_SAMPLE;
	} else {
		ps->mem_source = TT_EXIT_MEM_NONE;
	}
	__sync_fetch_and_or(&ps->flags, PS_GROUP_DEAD);
	return 0;
}

static __always_inline void emit_exit(struct task_struct *t, struct proc_state *ps, __u64 now)
{
	struct tt_exit_event *e = reserve_event(TT_EVENT_EXIT, sizeof(*e));

	if (!e)
		return;
	fill_header(&e->hdr, TT_EVENT_EXIT, t, now);
	__builtin_memset(&e->counters, 0, sizeof(e->counters));
	fill_counters(&e->counters, ps, false);
	e->counters.utime_ns = ps->utime_ns;
	e->counters.stime_ns = ps->stime_ns;
	e->counters.rss_bytes = pages_to_bytes(ps->exit_rss_pages);
	e->counters.rss_file_bytes = pages_to_bytes(ps->exit_rss_part_pages[TT_MM_FILEPAGES]);
	e->counters.rss_anon_bytes = pages_to_bytes(ps->exit_rss_part_pages[TT_MM_ANONPAGES]);
	e->counters.rss_shmem_bytes = pages_to_bytes(ps->exit_rss_part_pages[TT_MM_SHMEMPAGES]);
	e->counters.rss_peak_bytes = pages_to_bytes(ps->exit_peak_pages);
	e->minflt = ps->minflt;
	e->majflt = ps->majflt;
	e->nvcsw = ps->nvcsw;
	e->nivcsw = ps->nivcsw;
	e->wait_status = ps->wait_status;
	e->mem_source = ps->mem_source;
	e->flags = ps->flags & PS_OOM_KILLED ? TT_EXIT_OOM_KILLED : 0;
	e->pad = 0;
	submit_event(e, now);
}

/* Scheduler CPU: at every fold, on the switch path too. True if it grew. */
static __always_inline bool credit_runtime(struct task_struct *t, struct task_state *ts,
					   struct proc_state *ps)
{
	return credit(&ts->credited.runtime_ns, TT_RO(t)->se.sum_exec_runtime, &ps->cpu_ns);
}

/*
 * The rest of a thread's counters: at its end and in a refresh, never on
 * the switch path, where they would cost every fold six more atomics.
 */
static __always_inline bool credit_thread_counters(struct task_struct *t, struct task_state *ts,
						   struct proc_state *ps)
{
	struct task_struct *ro = TT_RO(t);
	bool grew = credit(&ts->credited.utime, ro->utime, &ps->utime_ns);

	grew |= credit(&ts->credited.stime, ro->stime, &ps->stime_ns);
	grew |= credit(&ts->credited.minflt, ro->min_flt, &ps->minflt);
	grew |= credit(&ts->credited.majflt, ro->maj_flt, &ps->majflt);
	grew |= credit(&ts->credited.nvcsw, ro->nvcsw, &ps->nvcsw);
	grew |= credit(&ts->credited.nivcsw, ro->nivcsw, &ps->nivcsw);
	return grew;
}

/* The thread will never run again: fold its counters into the process. */
/* What handle_exit() keeps in the process state, from a sole thread's task storage. */
static __always_inline void apply_sole_exit(struct task_struct *t, struct task_state *ts,
					    struct proc_state *ps, __u64 now)
{
	ps->wait_status = ts->exit_wait_status;
	if (ts->exit_mem_source == TT_EXIT_MEM_AT_EXIT) {
		__u64 rss = (__u64)ts->exit_file_pages + ts->exit_anon_pages + ts->exit_shmem_pages;

		ps->exit_rss_pages = rss;
		ps->exit_rss_part_pages[TT_MM_FILEPAGES] = ts->exit_file_pages;
		ps->exit_rss_part_pages[TT_MM_ANONPAGES] = ts->exit_anon_pages;
		ps->exit_rss_part_pages[TT_MM_SHMEMPAGES] = ts->exit_shmem_pages;
		ps->exit_peak_pages = ts->exit_peak_pages;
		ps->mem_source = TT_EXIT_MEM_AT_EXIT;
		integrate_rss_pages(ps, rss, ts->exit_hiwater_pages, now);
	} else if (ps->rss_last_ts_ns) {
		/* As handle_exit() does before 6.16: do_exit() set maxrss before the tracepoint. */
		ps->exit_rss_pages = ps->rss_last_pages;
		ps->exit_peak_pages = TT_RO(t)->signal->maxrss;
		ps->mem_source = TT_EXIT_MEM_LAST_SAMPLE;
	} else {
		ps->mem_source = TT_EXIT_MEM_NONE;
	}
}

static __always_inline void finish_thread(struct task_struct *t, struct task_state *ts,
					  struct proc_state *ps, __u64 now)
{
	credit_thread_counters(t, ts, ps);

	if (ts->flags & TS_SOLE_EXIT) {
		/* The only thread there was: the process is gone. */
		apply_sole_exit(t, ts, ps, now);
	} else {
		/* Last exiting thread out, after the group died: the process is gone. */
		if (__sync_fetch_and_add(&ps->exiting_threads, -1) != 1)
			return;
		if (!(ps->flags & PS_GROUP_DEAD))
			return;
	}
	if (__sync_fetch_and_or(&ps->flags, PS_EXIT_EMITTED) & PS_EXIT_EMITTED)
		return;
	emit_exit(t, ps, now);

	struct proc_key key = key_of(t);

	bpf_map_delete_elem(&procs, &key);
}

/* ---- sched_switch ---------------------------------------------------------- */

/*
 * @clock is prev's se.exec_start, which update_curr() has just set to this
 * CPU's task clock. Across CPUs these clocks differ; going backwards wraps
 * the unsigned difference, which only brings the next fold forward.
 */
static __always_inline bool fold_due(__u64 clock, __u64 folded_at_clock)
{
	return clock - folded_at_clock >= fold_interval_ns;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(handle_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	struct task_struct *ro = TT_RO(prev);
	struct bpf_local_storage *storage = ro->bpf_storage;

	/*
	 * A task that no BPF program has given storage to is untraced: one
	 * load decides that, without the helper call (and its per-CPU
	 * recursion guard) that bpf_task_storage_get() costs.
	 */
	if (!storage)
		return 0;

	/* A clock for free: see fold_due(). */
	__u64 clock = ro->se.exec_start;

	const struct task_state *found;
	int state = find_task_state(storage, &found);

	/* Another tool's storage, not ours: untraced, decided read-only. */
	if (state == TS_ABSENT)
		return 0;
	if (state == TS_FOUND && prev_state != TT_TASK_DEAD &&
	    !fold_due(clock, found->folded_at_clock))
		return 0;

	struct task_state *ts = bpf_task_storage_get(&task_states, prev, 0, 0);

	if (!ts) /* untraced: the common case on a filtered node */
		return 0;
	if (prev_state != TT_TASK_DEAD) {
		/* Not found read-only (6.1 build), or due. */
		if (!fold_due(clock, ts->folded_at_clock))
			return 0;
		ts->folded_at_clock = clock;
	}

	struct proc_state *ps = proc_of(prev);

	if (!ps)
		return 0;

	credit_runtime(prev, ts, ps);

	__u64 now = bpf_ktime_get_boot_ns();

	if (prev_state == TT_TASK_DEAD) {
		if (ts->flags & TS_EXIT_SEEN)
			finish_thread(prev, ts, ps, now);
		return 0;
	}

	struct mm_struct *mm = ro->mm;

	if (mm)
		integrate_rss(ps, mm, now);
	maybe_sample(ro, ps, now);
	return 0;
}

/* ---- Startup scan ---------------------------------------------------------- */

/*
 * Runs over every task twice after the tracepoints are attached, so that
 * nothing started in between is missed: pass 1 marks traced tasks and
 * credits each thread's runtime so far; pass 2 reports each process once,
 * with complete counters.
 */
SEC("iter/task")
int scan_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct seq_file *seq = ctx->meta->seq;
	__u64 now = bpf_ktime_get_boot_ns();

	if (!t)
		return 0;
	struct task_struct *ro = TT_RO(t);

	if (!trace_kernel_threads && is_kernel_thread(t))
		return 0;

	if (scan_pass == 1) {
		if (task_traced(t))
			return 0; /* already traced through a fork seen after attach */
		if (ro->signal->live.counter == 0)
			return 0; /* the group is already dying; its exit cannot be seen whole */
		if (filter_active && !self_or_ancestor_matches(t))
			return 0;

		struct signal_struct *sig = ro->signal;
		/* Counters of threads that exited before treetrace started. */
		struct proc_state init = {
			.flags = PS_FOUND_BY_SCAN,
			.cpu_ns = sig->sum_sched_runtime,
			.utime_ns = sig->utime,
			.stime_ns = sig->stime,
			.minflt = sig->min_flt,
			.majflt = sig->maj_flt,
			.nvcsw = sig->nvcsw,
			.nivcsw = sig->nivcsw,
		};

		copy_comm(init.comm, ro->group_leader->comm);
		struct proc_state *ps = create_proc(t, &init);
		__u64 runtime = ro->se.sum_exec_runtime;

		if (!ps || !mark_traced(t, runtime))
			return 0;
		__sync_fetch_and_add(&ps->cpu_ns, runtime);
		return 0;
	}

	/* Pass 2: one report per process, from its group leader. */
	if (ro->pid != ro->tgid)
		return 0;
	struct proc_state *ps = proc_of(t);

	/* A process forked after attach has had its fork record already. */
	if (!ps || !(ps->flags & PS_FOUND_BY_SCAN) || !task_traced(t))
		return 0;
	/* Reported once, however many scans visit it. */
	if (!(__sync_fetch_and_and(&ps->flags, ~PS_FOUND_BY_SCAN) & PS_FOUND_BY_SCAN))
		return 0;

	struct tt_existing_event *e = reserve_event(TT_EVENT_EXISTING, sizeof(*e));

	if (e) {
		fill_header(&e->hdr, TT_EVENT_EXISTING, t, now);
		e->nr_threads = ro->signal->nr_threads;
		e->is_kernel_thread = is_kernel_thread(t);
		submit_event(e, now);
	}
	struct mm_struct *mm = ro->mm;

	if (mm)
		integrate_rss(ps, mm, now);
	ps->last_sample_ns = now;
	emit_sample(t, ps, now);

	/* One byte per process makes read() return in page-sized chunks, so
	 * userspace can drain the ring buffer between them. */
	bpf_seq_write(seq, "", 1);
	return 0;
}

/*
 * The refresh that makes live state current, and OOM kills: programs of
 * their own, in their own files, over the state defined above.
 */
#include "refresh.bpf.h"
#include "oom_kill.bpf.h"
