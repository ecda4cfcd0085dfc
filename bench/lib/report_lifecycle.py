# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""The "why" of the lifecycle programs' targets in docs/benchmarks.md: what
the building blocks each program is made of cost alone, measured in the
same run by bench/floor's probes, against the budget the target leaves."""
from __future__ import annotations

LIMITS = {"fork": 10.0, "exec": 10.0, "exit": 5.0}
FILTERED_LIMIT = 2.0


def _kc(res, config, hook):
    return (res.get("kernel", {}).get("summary", {}).get(config, {}) or {}).get(hook)


def _median(d, key):
    return ((d or {}).get(key) or {}).get("median")


def _part(res, config, hook):
    """(ns, ns above the floor of its hook) of one probe, medians; None if unmeasured."""
    d = _kc(res, config, hook)
    ns, floor = _median(d, "ns"), _median(d, "floor_ns")
    if ns is None or floor is None:
        return None
    return ns, ns - floor


def _parts_text(parts, floor_ns):
    return ", ".join(f"{label} {ns:.0f} ns ({ns / floor_ns:.1f}× the floor)" for label, (ns, _) in parts)


def _over_budget(parts, floor_ns, limit):
    """Which of the steps is, by itself, at or over the program's whole budget."""
    alone = [(label, ns / floor_ns) for label, (ns, _) in parts if ns / floor_ns >= limit]
    if not alone:
        return (f"None of them alone is over the budget of {limit:.0f}×, but together, if their costs add, they "
                f"come to {sum(ns for _, (ns, _) in parts) / floor_ns:.1f}× the floor. ")
    text = ("; ".join(f"{label} alone is {r:.1f}× the floor" for label, r in alone) +
            f": over the whole budget of {limit:.0f}× by {'itself' if len(alone) == 1 else 'each'}, so no tuning "
            "of the program's own work can reach it. ")
    return text[0].upper() + text[1:]


def lifecycle_why(res: dict, notes: list[str]) -> None:
    progs = {h: _kc(res, "treetrace", h) for h in LIMITS}
    over = {h: d for h, d in progs.items() if _median(d, "ratio") is not None and _median(d, "ratio") > LIMITS[h]}
    ring = _part(res, "ringbuf_probe", "rb_nowake")
    create = _part(res, "parts_probe", "storage_create")
    insert = _part(res, "parts_probe", "hash_insert")
    delete = _part(res, "parts_probe", "hash_delete")
    clock = _part(res, "parts_probe", "clock_read")
    if over:
        head = ", ".join(f"{h} {_median(d, 'ratio'):.1f}×" for h, d in over.items())
        text = (f"**fork, exec and exit with every task traced ({head} the floor).** Each program is built of "
                "steps that cost a multiple of the floor on their own. bench/floor's probes measure them alone, in "
                "the same rounds, on the same forks and exits (§1): ")
        fork = progs.get("fork")
        fork_floor = _median(fork, "floor_ns")
        if fork and fork_floor and ring and create and insert:
            parts = [("a 128-byte ring buffer record", ring), ("creating the child's task storage", create),
                     ("inserting its process into a hash", insert)]
            text += (f"on fork, {_parts_text(parts, fork_floor)}. A traced fork needs all three (the record; "
                     "per-thread state that follows the task; per-process state found by key from every thread "
                     "and kept past the threads). " + _over_budget(parts, fork_floor, LIMITS["fork"]) +
                     f"handle_fork "
                     f"measured {_median(fork, 'ns'):.0f} ns. Reaching it needs a design without one of them at "
                     "every fork (state created at a thread's first fold instead, or per-process state kept in "
                     "the group leader's storage). ")
        exec_ = progs.get("exec")
        exec_floor = _median(exec_, "floor_ns")
        if exec_ and exec_floor and ring and clock:
            text += (f"A traced exec writes a 1,368-byte record (up to 1 KiB of argv and the file name; the probe's "
                     f"128-byte record alone is {ring[0] / exec_floor:.1f}× the exec floor), reads the clock "
                     f"({clock[0]:.0f} ns alone, {clock[0] / exec_floor:.1f}× that floor), looks its process up in "
                     "the hash and copies argv from user memory (up to the argv limit); handle_exec measured "
                     f"{_median(exec_, 'ns'):.0f} ns. ")
        exit_ = progs.get("exit")
        exit_floor = _median(exit_, "floor_ns")
        if exit_ and exit_floor:
            text += (f"handle_exit measured {_median(exit_, 'ns'):.0f} ns: it looks up the task's storage "
                     "through the helper and reads the exit status and memory counters, and no longer reads the "
                     "clock (the final switch-out's time serves" +
                     (f"; the clock alone was {clock[0]:.0f} ns" if clock else "") + "). ")
        if delete:
            text += (f"The process's hash entry is deleted at its final switch-out ({delete[0]:.0f} ns alone), "
                     "which bench/run counts in the switch program. ")
        text += ("Where each program's time goes, step by step, and what changed it: docs/lifecycle-cost.md.")
        notes.append(text)

    filt = {h: _kc(res, "treetrace_filtered", h) for h in ("fork", "exec")}
    # Not settled counts too: the slowest rounds are over the budget.
    filt_over = {h: d for h, d in filt.items()
                 if (d or {}).get("ratio", {}).get("max") is not None and d["ratio"]["max"] > FILTERED_LIMIT}
    if filt_over:
        head = ", ".join(f"{h} {_median(d, 'ratio'):.1f}× [{d['ratio']['min']:.1f}–{d['ratio']['max']:.1f}]"
                         for h, d in filt_over.items())
        text = (f"**fork and exec of an excluded task ({head} the floor).** 2× the floor leaves one floor's "
                "worth (" + ", ".join(f"{h} {_median(d, 'floor_ns'):.0f} ns" for h, d in filt_over.items()) +
                ") for all of the work. The excluded path loads the parent's task->bpf_storage (NULL for an "
                "untraced task), checks the thread and kernel-thread flags, copies the 16-byte command name "
                "through task->group_leader and compares it with each --comm pattern (two 8-byte compares for a "
                "literal name, a bpf_loop() glob match only when its literal prefix matches), then the cgroup "
                "filter's count: about a dozen dependent loads from four cache lines of two task_structs. " +
                ", ".join(f"{h}: {_median(d, 'ns') - _median(d, 'floor_ns'):.0f} ns above the floor"
                          for h, d in filt_over.items()) +
                ". A perf profile of this path (docs/lifecycle-cost.md) spreads its samples over those steps, with "
                "no single one dominant.")
        notes.append(text)
