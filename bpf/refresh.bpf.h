// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * treetrace's live-state refresh (an iter/task program). Included once, at the end of
 * treetrace.bpf.c, whose maps and helpers it uses; not a header of its own.
 */
#ifndef TREETRACE_REFRESH_BPF_H
#define TREETRACE_REFRESH_BPF_H

/* ---- Refresh ----------------------------------------------------------------- */

/*
 * The header of a refresh row, with direct loads from the iterator's
 * BTF-typed task instead of the probe reads fill_header() makes: this runs
 * once per traced thread on the node at every refresh. The namespace pid
 * is left as the host pid: the rows only update the aggregator and are
 * never printed.
 */
static __always_inline void fill_refresh_header(struct tt_event_header *h, struct task_struct *t,
						__u64 now)
{
	t = TT_RO(t);
	struct task_struct *leader = t->group_leader;

	h->kind = TT_EVENT_SAMPLE;
	h->ts_ns = now;
	h->pid = t->tgid;
	h->ns_pid = t->tgid;
	h->start_ns = leader->start_boottime;
	h->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
	h->ppid = t->real_parent->tgid;
	copy_comm(h->comm, leader->comm);
}

/*
 * Makes the live state exact at the moment userspace shows it. Between
 * folds a thread's CPU and its process's memory reach the process state
 * only at switch-outs, so a process that worked and then went idle would
 * keep old figures until it exits. Userspace runs this iterator before it
 * shows live state. In one pass over the node's tasks it credits every
 * traced thread's counters to its process (racing folds are safe: see
 * credit()) and writes a sample row of the process into the iterator's
 * output, read synchronously by userspace, so a refresh needs no ring
 * buffer space and loses nothing.
 *
 * A process gets a row at the first of its threads visited, and again at
 * any later thread whose counters grew, so the last row of a process in
 * a pass covers every thread; userspace applies rows in order and
 * cumulative figures only move forward. A single-threaded process, the
 * common case in a worker pool, costs one row. Rows come from threads that
 * hold the memory image (a group leader that exited before its threads has
 * none); a thread in its exit path with no image adds its last CPU at its
 * exit record.
 *
 * A thread running on another CPU at that moment has its sum_exec_runtime
 * as of that CPU's last update_curr(): at most one scheduler tick behind.
 */
SEC("iter/task")
int refresh_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;

	if (!t || !TT_RO(t)->bpf_storage) /* never given storage: untraced */
		return 0;

	struct task_state *ts = bpf_task_storage_get(&task_states, t, 0, 0);

	if (!ts)
		return 0;
	struct proc_state *ps = proc_of(t);

	if (!ps)
		return 0;
	bool grew = credit_runtime(t, ts, ps);

	grew |= credit_thread_counters(t, ts, ps);
	/* Only this iterator writes the generation; userspace runs one refresh at a time. */
	struct mm_struct *mm = TT_RO(t)->mm;

	if ((ps->refreshed_generation == refresh_generation && !grew) || !mm)
		return 0;
	ps->refreshed_generation = refresh_generation;

	__u64 now = bpf_ktime_get_boot_ns();
	struct tt_sample_event row;

	integrate_rss(ps, mm, now);
	fill_refresh_header(&row.hdr, t, now);
	fill_sample_body(&row, t, ps, TT_SAMPLE_REFRESH);
	/*
	 * The iterator's buffer is 8 pages, and a read() ends at the first row
	 * that brings it to the size userspace asked for (16 KiB), so the
	 * buffer never overflows and no row is dropped and shown again; a row
	 * that goes past the asked size is handed over by the next read().
	 */
	bpf_seq_write(ctx->meta->seq, &row, sizeof(row));
	return 0;
}

#endif /* TREETRACE_REFRESH_BPF_H */
