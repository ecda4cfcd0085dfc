// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * treetrace's OOM-kill record (oom:mark_victim). Included once, at the end of treetrace.bpf.c,
 * whose maps and helpers it uses; not a header of its own.
 */
#ifndef TREETRACE_OOM_KILL_BPF_H
#define TREETRACE_OOM_KILL_BPF_H

/* ---- OOM kills -------------------------------------------------------------- */

/* include/linux/signal.h: SIGKILL's number, the same on every architecture. */
#define TT_SIGKILL 9
/* page_counter's limit when none is set is PAGE_COUNTER_MAX, near LONG_MAX / PAGE_SIZE. */
#define TT_NO_LIMIT_PAGES (1ULL << 48)
/*
 * How far below its limit a memory cgroup may be and still be the one
 * that ran out: try_charge() gives up when a charge of up to
 * MEMCG_CHARGE_BATCH (64) pages would pass the limit, and the failed
 * reclaim before the kill leaves usage about there.
 */
#define TT_MEMCG_OOM_MARGIN_PAGES 512
#define TT_MAX_MEMCG_DEPTH 16

/*
 * The memory cgroup whose limit made the killer run: the nearest one,
 * from the victim up, with a limit and usage at it. The killer only runs
 * for a cgroup whose charge failed at its limit (oc->memcg, which the
 * tracepoint does not carry, and which fentry on oom_kill_process() would
 * need trampolines that not every node allows); the victim is always inside
 * that cgroup. None found: the node itself (or a cpuset or mempolicy) ran
 * out.
 */
static __always_inline void find_oom_memcg(struct task_struct *victim, struct tt_oom_kill_event *e)
{
	int memory_id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_subsys_state *css = NULL;

	bpf_core_read(&css, sizeof(css), &TT_RO(victim)->cgroups->subsys[memory_id & 15]);
	for (int depth = 0; depth < TT_MAX_MEMCG_DEPTH && css; depth++) {
		/* css is the first member of struct mem_cgroup. */
		struct mem_cgroup *memcg =
			(void *)css - bpf_core_field_offset(struct mem_cgroup, css);
		__u64 limit = BPF_CORE_READ(memcg, memory.max);
		__u64 usage = BPF_CORE_READ(memcg, memory.usage.counter);

		if (limit < TT_NO_LIMIT_PAGES && usage + TT_MEMCG_OOM_MARGIN_PAGES >= limit) {
			e->constraint = TT_OOM_CONSTRAINT_MEMCG;
			e->memcg_id = BPF_CORE_READ(css, cgroup, kn, id);
			e->memcg_hierarchy_id = BPF_CORE_READ(css, cgroup, root, hierarchy_id);
			e->memcg_limit_bytes = pages_to_bytes(limit);
			e->memcg_usage_bytes = pages_to_bytes(usage);
			return;
		}
		css = BPF_CORE_READ(css, parent);
	}
	e->constraint = TT_OOM_CONSTRAINT_NONE;
}

/*
 * mark_victim fires in mark_oom_victim() from three places: the kill
 * itself (__oom_kill_process(), just after it queued SIGKILL for the
 * victim), and twice for a task the killer finds already exiting, which
 * it gives memory reserves without killing (task_will_free_mem()). The
 * kill leaves the group exiting by SIGKILL with no thread yet in do_exit();
 * a task already exiting has PF_EXITING set or exits with its own status.
 */
static __always_inline bool newly_killed(struct task_struct *victim)
{
	struct signal_struct *sig = BPF_CORE_READ(victim, signal);

	if (BPF_CORE_READ(victim, flags) & TT_PF_EXITING)
		return false;
	return (BPF_CORE_READ(sig, flags) & TT_SIGNAL_GROUP_EXIT) &&
	       BPF_CORE_READ(sig, group_exit_code) == TT_SIGKILL;
}

/*
 * Commit 72ba14deb40a ("mm: oom: add tracepoint for oom victims", 6.8,
 * backported to 6.1-stable) changed the tracepoint's prototype from
 * (int pid) to (struct task_struct *task, uid_t uid) and added the memory
 * fields to its record; the record's total_vm field tells the two apart
 * at load time, and the verifier drops the other branch.
 */
SEC("tp_btf/mark_victim")
int handle_mark_victim(unsigned long long *ctx)
{
	__u64 now = bpf_ktime_get_boot_ns();
	struct tt_oom_kill_event *e;

	if (bpf_core_field_exists(struct trace_event_raw_mark_victim, total_vm)) {
		struct task_struct *victim = (struct task_struct *)ctx[0];
		struct task_state *ts = bpf_task_storage_get(&task_states, victim, 0, 0);
		struct proc_state *ps = ts ? proc_of(victim) : NULL;

		if (!newly_killed(victim)) {
			count(TT_CNT_OOM_NOT_KILLED);
			return 0;
		}
		if (!ps) {
			count(TT_CNT_OOM_UNTRACED);
			return 0;
		}
		/* One kill per process, whichever of its threads is marked. */
		if (__sync_fetch_and_or(&ps->flags, PS_OOM_KILLED) & PS_OOM_KILLED)
			return 0;
		e = reserve_event(TT_EVENT_OOM_KILL, sizeof(*e));
		if (!e)
			return 0;
		__builtin_memset(e, 0, sizeof(*e));
		fill_header(&e->hdr, TT_EVENT_OOM_KILL, victim, now);
		struct mm_struct *mm = TT_RO(victim)->mm;

		if (mm) {
			__u64 file = mm_counter(mm, TT_MM_FILEPAGES);
			__u64 anon = mm_counter(mm, TT_MM_ANONPAGES);
			__u64 shmem = mm_counter(mm, TT_MM_SHMEMPAGES);

			e->rss_file_bytes = pages_to_bytes(file);
			e->rss_anon_bytes = pages_to_bytes(anon);
			e->rss_shmem_bytes = pages_to_bytes(shmem);
			e->rss_peak_bytes = pages_to_bytes(peak_pages(mm, file + anon + shmem));
		}
		find_oom_memcg(victim, e);
		e->flags = TT_OOM_CONTEXT_KNOWN;
	} else {
		/* Only a thread id: userspace finds the process it belongs to. */
		e = reserve_event(TT_EVENT_OOM_KILL, sizeof(*e));
		if (!e)
			return 0;
		__builtin_memset(e, 0, sizeof(*e));
		e->hdr.kind = TT_EVENT_OOM_KILL;
		e->hdr.ts_ns = now;
		e->hdr.pid = (__u32)ctx[0];
		e->flags = TT_OOM_VICTIM_PID_ONLY;
	}
	e->trigger_pid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	submit_event(e, now);
	return 0;
}

#endif /* TREETRACE_OOM_KILL_BPF_H */
