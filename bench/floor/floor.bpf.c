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
