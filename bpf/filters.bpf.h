// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * treetrace's filters: --comm patterns, --cgroup subtrees and the walk up a
 * task's ancestors that the startup scan and a racing fork need. Included
 * once, by treetrace.bpf.c, after the read-only task-storage lookups it
 * uses (ancestor_traced()); the filter settings are that file's read-only
 * globals. Not a header of its own.
 */
#ifndef TREETRACE_FILTERS_BPF_H
#define TREETRACE_FILTERS_BPF_H

/* ---- Filters ------------------------------------------------------------- */

struct glob_state {
	const volatile char *pattern;
	const char *comm;
	int p, s, star, mark;
	bool matched;
};

/*
 * One step of glob matching with backtracking to the last '*'; the same
 * algorithm as comm_glob_match() in userspace/util/comm_pattern.cpp, which
 * the unit tests pin down.
 */
static long glob_step(__u32 index, struct glob_state *g)
{
	char pc = g->p < TT_COMM_PATTERN_LEN ? g->pattern[g->p & (TT_COMM_PATTERN_LEN - 1)] : 0;
	char sc = g->s < TT_COMM_LEN ? g->comm[g->s & (TT_COMM_LEN - 1)] : 0;

	if (sc == 0) {
		/* comm consumed: only trailing stars may remain */
		if (pc == '*') {
			g->p++;
			return 0;
		}
		g->matched = pc == 0;
		return 1;
	}
	if (pc == '?' || (pc != 0 && pc != '*' && pc == sc)) {
		g->p++;
		g->s++;
		return 0;
	}
	if (pc == '*') {
		g->star = g->p++;
		g->mark = g->s;
		return 0;
	}
	if (g->star >= 0) {
		g->p = g->star + 1;
		g->s = ++g->mark;
		return 0;
	}
	g->matched = false;
	return 1;
}

/*
 * Always 0, but the verifier cannot know it: writable .bss is not tracked.
 *
 * Before 6.7 (commit ab5cfac139ab, "bpf: verify callbacks as if they are
 * called unknown number of times") the verifier checked a bpf_loop()
 * callback once, in the state of the first iteration only. With the glob
 * state starting from constants (p == s == 0, star == -1) and the
 * pattern's first byte a known rodata constant, it saw no path to the '*'
 * and backtracking branches and none that sets g.matched, and removed
 * them as dead code: on 6.1 the program loaded, but --comm never matched.
 * Starting from values it cannot know makes it check every branch.
 */
volatile __u32 verifier_opaque_zero = 0;

struct tt_comm {
	union {
		char c[TT_COMM_LEN];
		__u64 w[2];
	};
};

/*
 * Most names fail on their first bytes: two masked compares decide those,
 * and exact names altogether, without the glob loop.
 */
static __always_inline bool comm_prefix_differs(const struct tt_comm *comm, __u32 i)
{
	return ((comm->w[0] ^ comm_prefix_words[i][0]) & comm_prefix_masks[i][0]) ||
	       ((comm->w[1] ^ comm_prefix_words[i][1]) & comm_prefix_masks[i][1]);
}

/*
 * Global, not static: the verifier checks it once per program, on its own,
 * instead of at every call site. Since 6.7 it checks a bpf_loop() callback
 * until its states converge, about 10k instructions per pattern; inlined
 * into each step of the 32-deep ancestor walk, four patterns took
 * handle_fork to 776k instructions on 6.12 and past the 1M limit on 6.18
 * (E2BIG at load).
 */
__noinline int comm_glob_matches(const struct tt_comm *comm, __u32 candidates)
{
	int zero = verifier_opaque_zero;

	if (!comm)
		return 0;
	for (__u32 i = 0; i < TT_MAX_COMM_PATTERNS; i++) {
		if (!(candidates & (1u << i)))
			continue;

		struct glob_state g = {
			.pattern = comm_patterns[i],
			.comm = comm->c,
			.p = zero,
			.s = zero,
			.star = zero - 1,
			.mark = zero,
			.matched = zero,
		};

		/* Worst case is (pattern + 1) * (comm + 1) steps. */
		bpf_loop((TT_COMM_PATTERN_LEN + 1) * (TT_COMM_LEN + 1), glob_step, &g, 0);
		if (g.matched)
			return 1;
	}
	return 0;
}

/*
 * Does the name match a --comm pattern? Most names fail on their first
 * bytes, so the masked compares run here, inlined, and settle exact names
 * too; only the patterns whose literal prefix the name has go to the glob
 * loop. Calling into the glob function for every name cost about a sixth
 * of an excluded fork's perf samples and a fifth of an exec's
 * (docs/lifecycle-cost.md).
 */
static __always_inline bool comm_matches(const struct tt_comm *comm)
{
	__u32 candidates = 0;

	for (__u32 i = 0; i < TT_MAX_COMM_PATTERNS; i++) {
		if (i >= comm_pattern_count)
			break;
		if (comm_prefix_differs(comm, i))
			continue;
		if (comm_pattern_exact[i])
			return true;
		candidates |= 1u << i;
	}
	return candidates && comm_glob_matches(comm, candidates);
}

static __always_inline bool cgroup_matches(struct task_struct *t)
{
	struct cgroup *cgrp = TT_RO(t)->cgroups->dfl_cgrp;
	__u32 level = cgrp->level;

	for (__u32 i = 0; i < TT_MAX_CGROUP_FILTERS; i++) {
		if (i >= cgroup_filter_count)
			break;
		if (cgroup_filter_levels[i] > level)
			continue;
		if (cgroup_ancestor_id(cgrp, cgroup_filter_levels[i]) == cgroup_filter_ids[i])
			return true;
	}
	return false;
}

static __always_inline bool is_kernel_thread(struct task_struct *t)
{
	return TT_RO(t)->flags & TT_PF_KTHREAD;
}

/*
 * Does this process match a filter by itself (not through an ancestor)?
 * @leader_comm is the process's name when the caller has it at hand (@t is
 * its group leader: a new process at fork, the one thread left at exec),
 * which saves the load of group_leader; NULL otherwise.
 */
static __always_inline bool matches_filters(struct task_struct *t, const char *leader_comm)
{
	if (!filter_active)
		return true;
	if (pid_filter_active) {
		__u32 tgid = TT_RO(t)->tgid;

		if (bpf_map_lookup_elem(&pid_filter, &tgid))
			return true;
	}
	if (comm_pattern_count) {
		struct tt_comm comm;

		copy_comm(comm.c, leader_comm ?: TT_RO(t)->group_leader->comm);
		if (comm_matches(&comm))
			return true;
	}
	if (cgroup_filter_count && cgroup_matches(t))
		return true;
	return false;
}

/* include/uapi/asm-generic/errno-base.h */
#define TT_EEXIST 17

#define MAX_ANCESTOR_WALK 32

/*
 * Membership is inherited. Used only where inheritance cannot be seen from
 * task storage: processes found by the startup scan, and forks racing it.
 * Read-only all the way up (task_traced()), so the walk needs no trusted
 * pointer.
 *
 * One step of the walk is a bpf_loop() callback rather than an unrolled
 * loop: unrolled, each of the 32 steps held the storage walk and the
 * filters, and with any filter on, verifying handle_fork and scan_tasks
 * took 70 ms each on 6.18, over half of treetrace's start.
 */
struct ancestor_walk {
	struct task_struct *task;
	int matched;
};

static long ancestor_step(__u32 index, struct ancestor_walk *w)
{
	struct task_struct *t = TT_RO(w->task);

	if (!t)
		return 1;
	if (ancestor_traced(t) || matches_filters(t, NULL)) {
		w->matched = 1;
		return 1;
	}
	struct task_struct *parent = t->real_parent;

	if (!parent || parent == t || t->pid <= 1)
		return 1;
	w->task = parent;
	return 0;
}

static __always_inline bool self_or_ancestor_matches(struct task_struct *t)
{
	/*
	 * Starts from a value the verifier cannot know, so that before 6.7
	 * (commit ab5cfac139ab), which checks the callback once in the first
	 * iteration's state, the path that sets it is not judged dead.
	 */
	struct ancestor_walk w = {.task = t, .matched = verifier_opaque_zero};

	bpf_loop(MAX_ANCESTOR_WALK, ancestor_step, &w, 0);
	return w.matched;
}

#endif /* TREETRACE_FILTERS_BPF_H */
