// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor for bench/run's per-event kernel cost: empty tp_btf programs on
 * the tracepoints treetrace uses. Whatever run_time_ns/run_cnt these report
 * is the cost of entering and leaving a BPF program on that hook (with
 * kernel.bpf_stats_enabled on, which adds two sched_clock() reads), not of
 * any work a tracer does there.
 *
 * ringbuf_wake and ringbuf_nowake are not floors but a probe of one cost
 * inside a tracer's fork program: each reserves and submits a 128-byte
 * record on every fork, one with flags 0 (the kernel wakes the reader
 * whenever it has caught up) and one with BPF_RB_NO_WAKEUP. The loader
 * drains both rings; the difference is the price of the wakeup.
 *
 * The parts_* programs probe the other building blocks of a traced
 * process's lifecycle, each alone, with treetrace's sizes: creating a
 * task's storage and inserting a process into a hash at fork, deleting it
 * and reading CLOCK_BOOTTIME at exit; and the first step of every
 * lifecycle program, one load of a task's bpf_storage pointer (the
 * parent's at fork, the exiting task's at exit), which is all an untraced
 * task costs at exit. What they cost bounds from below what any program
 * built of them can cost. The loads run in a run of their own (bench/lib/
 * tools.py): beside the storage probe every task would have storage, and
 * the load would find it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} rb_wake SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} rb_nowake SEC(".maps");

struct probe_record {
	__u64 words[16];
};

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(floor_fork, struct task_struct *parent, struct task_struct *child)
{
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_exit, struct task_struct *p)
{
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ringbuf_wake, struct task_struct *parent, struct task_struct *child)
{
	struct probe_record *r = bpf_ringbuf_reserve(&rb_wake, sizeof(*r), 0);

	if (r) {
		r->words[0] = child->pid;
		bpf_ringbuf_submit(r, 0);
	}
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ringbuf_nowake, struct task_struct *parent, struct task_struct *child)
{
	struct probe_record *r = bpf_ringbuf_reserve(&rb_nowake, sizeof(*r), 0);

	if (r) {
		r->words[0] = child->pid;
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	}
	return 0;
}

/* treetrace's task_state is 96 bytes, its proc_key 16 and its proc_state 200. */
struct probe_task_value {
	__u64 words[12];
};

struct probe_proc_key {
	__u32 tgid;
	__u32 pad;
	__u64 start_ns;
};

struct probe_proc_value {
	__u64 words[25];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct probe_task_value);
} probe_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 131072);
	__type(key, struct probe_proc_key);
	__type(value, struct probe_proc_value);
} probe_procs SEC(".maps");

/*
 * Keeps a value alive without storing it: a store to a global would be a
 * cache line that every CPU's probe writes, and priced as part of the step.
 */
#define PROBE_USE(v) asm volatile("" ::"r"(v))

SEC("tp_btf/sched_process_fork")
int BPF_PROG(parts_storage_create, struct task_struct *parent, struct task_struct *child)
{
	struct probe_task_value *v =
		bpf_task_storage_get(&probe_tasks, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	PROBE_USE(v);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(parts_hash_insert, struct task_struct *parent, struct task_struct *child)
{
	struct probe_proc_key key = {.tgid = child->tgid, .start_ns = child->start_boottime};
	struct probe_proc_value value = {};

	if (child->pid != child->tgid)
		return 0;
	bpf_map_update_elem(&probe_procs, &key, &value, BPF_NOEXIST);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(parts_hash_delete, struct task_struct *p)
{
	struct probe_proc_key key = {.tgid = p->tgid, .start_ns = p->start_boottime};

	if (p->pid != p->tgid)
		return 0;
	bpf_map_delete_elem(&probe_procs, &key);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(parts_clock_read, struct task_struct *p)
{
	__u64 now = bpf_ktime_get_boot_ns();

	PROBE_USE(now);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(parts_peek_fork, struct task_struct *parent, struct task_struct *child)
{
	void *storage = parent->bpf_storage;

	PROBE_USE(storage);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(parts_peek_exit, struct task_struct *p)
{
	void *storage = p->bpf_storage;

	PROBE_USE(storage);
	return 0;
}
