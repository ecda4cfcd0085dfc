// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * treetrace's live-state refresh (an iter/task program). Included once, at the end of treetrace.bpf.c, whose maps and helpers
 * it uses; not a header of its own.
 */
#ifndef TREETRACE_REFRESH_BPF_H
#define TREETRACE_REFRESH_BPF_H

/* ---- Refresh ----------------------------------------------------------------- */

/*
 * Makes the live state exact at the moment userspace shows it. Between
 * folds a thread's CPU and its process's memory reach the process state
 * only at switch-outs, so a process that worked and then went idle would
 * keep old figures until it exits. Userspace runs this iterator before it
 * shows live state: pass 1 credits every traced thread's counters (racing
 * folds are safe: see credit()), pass 2 writes one sample row per traced
 * process into the iterator's output, read synchronously by userspace,
 * so a refresh needs no ring buffer space and loses nothing.
 *
 * A thread running on another CPU at that moment has its sum_exec_runtime
 * as of that CPU's last update_curr(): at most one scheduler tick behind.
 */
SEC("iter/task")
int refresh_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;

	if (!t || !t->bpf_storage) /* never given storage: untraced */
		return 0;

	struct task_state *ts = bpf_task_storage_get(&task_states, t, 0, 0);

	if (!ts)
		return 0;
	struct proc_state *ps = proc_of(t);

	if (!ps)
		return 0;
	if (refresh_pass == 1) {
		credit_runtime(t, ts, ps);
		credit_thread_counters(t, ts, ps);
		return 0;
	}

	/*
	 * Pass 2: once per process, from the first of its threads that still
	 * holds the memory image (a group leader that exited before its
	 * threads has none). Only this iterator writes the generation, and
	 * userspace runs one refresh at a time.
	 */
	if (ps->refreshed_generation == refresh_generation || !t->mm)
		return 0;
	ps->refreshed_generation = refresh_generation;

	__u64 now = bpf_ktime_get_boot_ns();
	struct tt_sample_event row;

	integrate_rss(ps, t->mm, now);
	fill_sample(&row, t, ps, now, TT_SAMPLE_REFRESH);
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
