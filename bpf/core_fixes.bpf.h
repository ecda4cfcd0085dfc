// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every kernel-version difference treetrace depends on, in one place.
 * Each helper picks the layout of the running kernel with a CO-RE check
 * and names the change it handles. vmlinux.h is pinned from 6.18, so the
 * older layouts are declared here as ___flavor structs.
 */
#ifndef TREETRACE_CORE_FIXES_BPF_H
#define TREETRACE_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/* include/linux/sched.h; the value has been stable since Linux 4.14. */
#define TT_TASK_DEAD 0x00000080
/* include/linux/sched.h */
#define TT_PF_KTHREAD 0x00200000
/* include/linux/sched.h: the task is in do_exit(); stable since 2.6. */
#define TT_PF_EXITING 0x00000004
/* include/linux/sched/signal.h: the group is exiting via exit_group() or a fatal signal. */
#define TT_SIGNAL_GROUP_EXIT 0x00000004

/*
 * TT_RO(p): the pointer to load fields through; helpers that need a trusted
 * pointer (task storage) get the original.
 *
 * Since 6.4 (commit 6fcd486b3a0a, "bpf: Refactor RCU enforcement in the
 * verifier"; 6.2 has no such check) the verifier, for each load of a
 * pointer field through a trusted or RCU pointer (a tracepoint's task, the
 * iterator's task, t->group_leader), looks up types named like
 * task_struct__safe_trusted, __safe_trusted_or_null, __safe_rcu and
 * __safe_rcu_or_null by a linear search of the kernel's BTF
 * (btf_nested_type_is_trusted()), at every verified visit of the load: on
 * 6.18 that was a third of treetrace's start. A load through the untrusted
 * pointer bpf_rdonly_cast() returns (6.2, commit a35b9af4ec2c, "bpf: Add a
 * kfunc for generic type cast"; the verifier turns the call into a register
 * move) is the same fault-safe load at run time, and the verifier walks no
 * names for it. 6.1 has neither the kfunc nor the search: the object built
 * with TT_TRUSTED_LOADS (bpf/treetrace.bpf.c is built twice, and
 * userspace/loader/tracer.cpp picks by kernel release) loads through the
 * pointers as they are.
 */
#ifdef TT_TRUSTED_LOADS
#define TT_RO(p) (p)
#else
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define TT_RO(p) ((typeof(p))bpf_rdonly_cast((p), bpf_core_type_id_kernel(typeof(*(p)))))
#endif

/*
 * Before 6.2, mm->rss_stat was a struct of atomic_long_t counters.
 * 6.2 (commit f1a7941243c1, "mm: convert mm's rss stats into
 * percpu_counter") turned it into an array of percpu_counter and removed
 * struct mm_rss_stat.
 */
struct mm_rss_stat___pre62 {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___pre62 {
	struct mm_rss_stat___pre62 rss_stat;
} __attribute__((preserve_access_index));

/* enum mm_counter_type; the order has been stable since 4.5 added MM_SHMEMPAGES. */
enum {
	TT_MM_FILEPAGES = 0,
	TT_MM_ANONPAGES = 1,
	TT_MM_SWAPENTS = 2,
	TT_MM_SHMEMPAGES = 3,
	TT_NR_MM_COUNTERS = 4,
};

/*
 * One RSS counter, read as the kernel itself reads it for the hiwater mark
 * and, before 6.16, for /proc/PID/status (get_mm_counter()). Since 6.2 the
 * counters are percpu_counters and this global count lags the exact sum by
 * at most percpu_counter_batch pages per CPU (max(32, 2 * nr_cpus)).
 * Summing the per-CPU deltas needs per-CPU offsets, which BPF can only
 * reach through percpu ksyms, and those resolve only on kernels built with
 * CONFIG_KALLSYMS_ALL; the bound is documented in docs/accounting.md.
 */
static __always_inline long mm_counter(struct mm_struct *mm, int member)
{
	long v;

	if (bpf_core_type_exists(struct mm_rss_stat___pre62)) {
		struct mm_struct___pre62 *old = (void *)mm;

		v = BPF_CORE_READ(old, rss_stat.count[member & 3].counter);
	} else {
		v = mm->rss_stat[member & 3].count; /* direct load: mm is BTF-typed */
	}
	return v < 0 ? 0 : v;
}

/*
 * cgroup ancestor at @level. 6.1 (commit 7f203bc89eb6, "cgroup: Replace
 * cgroup->ancestor_ids[] with ->ancestors[]") replaced the array of ids
 * with an array of pointers. Only the pointer layout is supported: the
 * kernels before it that have everything else treetrace needs (5.18-6.0)
 * are all end of life, and clang hoists the dead flavor's relocation into
 * the live path, which the verifier rejects.
 */
static __always_inline __u64 cgroup_ancestor_id(struct cgroup *cgrp, __u32 level)
{
	struct cgroup *ancestor = NULL;

	bpf_core_read(&ancestor, sizeof(ancestor), &cgrp->ancestors[level & 0xff]);
	return ancestor ? BPF_CORE_READ(ancestor, kn, id) : 0;
}

#endif /* TREETRACE_CORE_FIXES_BPF_H */
