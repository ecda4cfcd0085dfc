#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Checks the serial console log of a tests/qemu boot (see init.sh).

usage: judge.py CONSOLE_LOG LABEL

Prints one PASS/FAIL line per check and a closing 'N passed, N failed'
line; exits non-zero when any check failed or the guest did not finish.

Tolerances (environment, defaults as stated in docs/older-kernels.md):
  TT_QEMU_CPU_TOL_PCT   relative CPU tolerance, percent      (1)
  TT_QEMU_CPU_TOL_MS    absolute CPU tolerance floor, ms     (2)
  TT_QEMU_RSS_TOL_PCT   relative peak RSS tolerance, percent (1)
  TT_QEMU_RSS_TOL_KIB   absolute peak RSS floor, KiB         (256)
  TT_QEMU_CPU_TICKS     extra allowance, in scheduler ticks, for treetrace
                        above the kernel's wait4() figure     (2)
  TT_QEMU_HZ            the guest kernel's CONFIG_HZ          (250)

Why the extra allowance in one direction: wait4() sums a zombie's (and an
already released thread's) se.sum_exec_runtime as last updated, without
update_curr(), so when the parent reaps on another CPU before the child's
final switch-out, the kernel's own figure misses what the child ran since
its last scheduler tick. treetrace reads sum_exec_runtime at the final
switch-out, after the last update_curr(). On hardware that is microseconds;
under TCG the exit path is slow and timer ticks arrive late, so it reaches
a few milliseconds.
"""
import json
import os
import sys
from collections import defaultdict

CPU_REL = float(os.environ.get("TT_QEMU_CPU_TOL_PCT", "1")) / 100
CPU_ABS_US = float(os.environ.get("TT_QEMU_CPU_TOL_MS", "2")) * 1000
RSS_REL = float(os.environ.get("TT_QEMU_RSS_TOL_PCT", "1")) / 100
RSS_ABS = float(os.environ.get("TT_QEMU_RSS_TOL_KIB", "256")) * 1024
TICK_US = 1e6 / float(os.environ.get("TT_QEMU_HZ", "250"))
CPU_SLACK_US = float(os.environ.get("TT_QEMU_CPU_TICKS", "2")) * TICK_US


class Case:
    def __init__(self, name):
        self.name = name
        self.command = ""
        self.events = []
        self.err = []
        self.truth = []
        self.rc = None
        self.bad_lines = []
        self.seconds = None
        self.attach_seconds = None
        self.progs = []

    def of(self, kind):
        return [e for e in self.events if e.get("event") == kind]

    def exits(self, pid):
        return [e for e in self.of("exit") if e.get("pid") == pid]

    def truth_of(self, kind, role=None):
        return [t for t in self.truth if t.get("kind") == kind and (role is None or t.get("role") == role)]


def parse(path):
    cases = {}
    info = {}
    dmesg = []
    done = False
    with open(path, "r", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            # Kernel messages can still share a line with ours: find the tag.
            at = line.find("TT|")
            if "TT-DONE" in line:
                done = True
            if at < 0:
                continue
            parts = line[at:].split("|", 3)
            if len(parts) < 4:
                continue
            _, name, stream, text = parts
            if name == "info":
                info[stream] = text
                continue
            if name == "dmesg":
                dmesg.append(text)
                continue
            c = cases.setdefault(name, Case(name))
            if stream == "begin":
                c.command = text
            elif stream == "end":
                c.rc = int(text.split("=", 1)[1]) if text.startswith("rc=") else None
            elif stream in ("out", "truth"):
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError:
                    c.bad_lines.append(text)
                    continue
                (c.events if stream == "out" else c.truth).append(obj)
            elif stream == "err":
                c.err.append(text)
            elif stream == "prog":
                c.progs.append(text)
            elif stream == "time_to_attach":
                try:
                    start, end = (float(x) for x in text.split())
                    c.attach_seconds = end - start
                except ValueError:
                    pass
            elif stream == "time":
                try:
                    start, end = (float(x) for x in text.split())
                    c.seconds = end - start
                except ValueError:
                    pass
    return cases, info, dmesg, done


class Judge:
    def __init__(self, label):
        self.label = label
        self.passed = 0
        self.failed = 0
        self.vmhwm_exact = True

    def check(self, case, what, ok, detail=""):
        word = "PASS" if ok else "FAIL"
        print(f"{word} {self.label} {case}: {what}" + (f" ({detail})" if detail else ""))
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok

    def cpu(self, case, what, tt_ns, truth_us, exact=True):
        """exact: truth is wait4()'s figure; else getrusage(RUSAGE_SELF)
        shortly before exit, a lower bound (the exit path runs after it)."""
        tol = max(CPU_REL * truth_us, CPU_ABS_US)
        diff = tt_ns / 1000 - truth_us
        if not exact:
            return self.check(case, f"{what} cpu at least what it measured itself", diff >= -tol,
                              f"treetrace {tt_ns / 1e6:.3f} ms, getrusage before exit {truth_us / 1e3:.3f} ms, "
                              f"diff {diff / 1e3:+.3f} ms, allowed >= -{tol / 1e3:.3f} ms")
        high = tol + CPU_SLACK_US
        return self.check(case, f"{what} cpu", -tol <= diff <= high,
                          f"treetrace {tt_ns / 1e6:.3f} ms, wait4 {truth_us / 1e3:.3f} ms, "
                          f"diff {diff / 1e3:+.3f} ms, allowed [-{tol / 1e3:.3f}, +{high / 1e3:.3f}] ms")

    def peak(self, case, what, tt_bytes, truth_kb, source):
        truth = truth_kb * 1024
        tol = max(RSS_REL * truth, RSS_ABS)
        diff = tt_bytes - truth
        return self.check(case, f"{what} peak RSS vs {source}", abs(diff) <= tol,
                          f"treetrace {tt_bytes / 1024:.0f} KiB, {source} {truth_kb} KiB, "
                          f"diff {diff / 1024:+.0f} KiB, tolerance {tol / 1024:.0f} KiB")

    def one_exit(self, c, pid, what):
        ex = c.exits(pid)
        self.check(c.name, f"one exit record for {what} (pid {pid})", len(ex) == 1, f"{len(ex)} found")
        return ex[0] if ex else None


def wait4_child(j, c):
    """The wait4 truth record of a case, and treetrace's exit record for it."""
    w = c.truth_of("wait4")
    if not j.check(c.name, "workload recorded its wait4() rusage", len(w) == 1, f"{len(w)} records"):
        return None, None
    w = w[0]
    return w, j.one_exit(c, w["pid"], "the waited-for child")


def status_matches(j, c, ex, status):
    if status & 0x7F:
        j.check(c.name, "termination signal", ex.get("signal") == status & 0x7F,
                f"treetrace signal={ex.get('signal')}, wait4 status={status:#x}")
    else:
        j.check(c.name, "exit code", ex.get("exit_code") == (status >> 8) & 0xFF and not ex.get("signal"),
                f"treetrace exit_code={ex.get('exit_code')} signal={ex.get('signal')}, wait4 status={status:#x}")


def judge_common(j, c):
    j.check(c.name, "treetrace output is JSON Lines", not c.bad_lines,
            f"{len(c.bad_lines)} undecodable lines" + (f", first: {c.bad_lines[0][:200]}" if c.bad_lines else ""))
    errors = [l for l in c.err if "error" in l.lower() or "rejected" in l.lower()]
    j.check(c.name, "treetrace loaded and attached", any("tracing:" in l for l in c.err) and not errors,
            errors[0][:300] if errors else "")
    s = c.of("summary")
    if j.check(c.name, "summary record", len(s) == 1, f"{len(s)} found"):
        s = s[0]
        j.check(c.name, "no lost records", s.get("lost") == 0 and s.get("attempts") == s.get("delivered"),
                f"lost={s.get('lost')} attempts={s.get('attempts')} delivered={s.get('delivered')}")


def judge_case(j, c):
    judge_common(j, c)
    n = c.name
    if n in ("burn", "spike", "threads", "sigkill", "sigterm", "exit7", "comm", "cgroup"):
        w, ex = wait4_child(j, c)
        if not ex:
            return
        j.cpu(n, "child", ex["cpu_ns"], w["cpu_us"])
        status_matches(j, c, ex, w["status"])
        selfs = [t for t in c.truth_of("self") if t["pid"] == w["pid"]]
        if n in ("burn", "spike"):
            j.peak(n, "child", ex["rss_peak_bytes"], w["maxrss_kb"], "wait4 ru_maxrss")
            if selfs and j.vmhwm_exact:
                j.peak(n, "child", ex["rss_peak_bytes"], selfs[0]["vmhwm_kb"], "VmHWM")
            elif selfs:
                # Before 6.2, /proc/PID/status misses the per-thread RSS
                # caches (SPLIT_RSS_COUNTING, synced every 64 faults), so
                # VmHWM can only undercount: a lower bound.
                vm = selfs[0]["vmhwm_kb"] * 1024
                tol = max(RSS_REL * vm, RSS_ABS)
                j.check(n, "child peak RSS vs VmHWM (a lower bound before 6.2)",
                        ex["rss_peak_bytes"] >= vm - tol,
                        f"treetrace {ex['rss_peak_bytes'] >> 10} KiB, VmHWM {vm >> 10} KiB")
        if n == "spike":
            j.check(n, "peak covers the 64 MiB spike", ex["rss_peak_bytes"] >= 64 << 20,
                    f"{ex['rss_peak_bytes'] >> 10} KiB")
        if n == "threads":
            j.check(n, "exit record carries the thread's 300 ms", ex["cpu_ns"] >= 0.3e9 * (1 - CPU_REL),
                    f"{ex['cpu_ns'] / 1e6:.3f} ms")
        if n == "comm":
            j.check(n, "comm of the matched process", ex.get("comm") == "tt_filtered", ex.get("comm", ""))
            parent = ex.get("ppid")
            j.check(n, "the unmatched parent is not traced", not c.exits(parent),
                    f"{len(c.exits(parent))} exit records for pid {parent}")
        if n == "cgroup":
            parent = ex.get("ppid")
            j.check(n, "the process moved into the cgroup is traced", len(c.exits(parent)) == 1,
                    f"{len(c.exits(parent))} exit records for pid {parent}")
        if n not in ("comm", "cgroup"):
            j.check(n, "tree record", len(c.of("tree")) >= 1)
    elif n == "prefork":
        workers = c.truth_of("self", "worker")
        master = c.truth_of("self", "master")
        j.check(n, "workload recorded 3 workers and the master", len(workers) == 3 and len(master) == 1,
                f"{len(workers)} workers, {len(master)} masters")
        forked = {e.get("child_pid") for e in c.of("fork")}
        execd = {e.get("pid") for e in c.of("exec")}
        reaped = {t["pid"]: t for t in c.truth_of("wait4")}
        for t in workers:
            pid = t["pid"]
            j.check(n, f"fork record for worker {pid}", pid in forked)
            j.check(n, f"no exec for worker {pid}", pid not in execd)
            ex = j.one_exit(c, pid, "worker")
            if not ex:
                continue
            if pid in reaped:  # the master's wait4()
                j.cpu(n, f"worker {pid}", ex["cpu_ns"], reaped[pid]["cpu_us"])
                status_matches(j, c, ex, reaped[pid]["status"])
            else:
                j.cpu(n, f"worker {pid}", ex["cpu_ns"], t["cpu_us"], exact=False)
                j.check(n, f"worker {pid} exit code", ex.get("exit_code") == 0 and not ex.get("signal"))
        for t in master:
            ex = j.one_exit(c, t["pid"], "master")
            if ex:
                j.cpu(n, "master", ex["cpu_ns"], t["cpu_us"], exact=False)


def judge_live(j, c):
    """Snapshots while the child sleeps show the 400 ms it burned before."""
    n = c.name
    w, ex = wait4_child(j, c)
    if not ex:
        return
    j.cpu(n, "child", ex["cpu_ns"], w["cpu_us"])
    parent = c.exits(ex.get("ppid"))
    parent_cpu = parent[0]["cpu_ns"] if parent else 0
    snaps = [t for t in c.of("tree") if not t.get("final") and t["ts_ns"] < ex["ts_ns"]]
    if not j.check(n, "snapshots while the child ran", len(snaps) >= 2, f"{len(snaps)} found"):
        return
    # The child records its own CPU clock when the burst ends. A snapshot
    # taken after that and before the exit must show at least that much, and
    # no more than the whole tree used by its end. (Waking up and exiting
    # costs the child CPU too, several ms under emulation on a cold cache,
    # so its exit figure is not the lower bound.)
    bursts = [t for t in c.truth_of("burst") if t["pid"] == ex["pid"]]
    if not j.check(n, "workload recorded the end of its burst", len(bursts) == 1, f"{len(bursts)} records"):
        return
    burst = bursts[0]
    during_sleep = [t for t in snaps if t["ts_ns"] > burst["boottime_ns"]]
    if not j.check(n, "snapshots during the sleep", len(during_sleep) >= 1, f"{len(during_sleep)} found"):
        return
    last = during_sleep[-1]
    tol = max(CPU_REL * burst["cpu_ns"], CPU_ABS_US * 1000)
    j.check(n, "the last snapshot before the exit shows the CPU burned before the sleep",
            burst["cpu_ns"] - tol <= last["cpu_ns"] <= ex["cpu_ns"] + parent_cpu + tol,
            f"snapshot {last['cpu_ns'] / 1e6:.3f} ms, burst's end {burst['cpu_ns'] / 1e6:.3f} ms, "
            f"child's exit {ex['cpu_ns'] / 1e6:.3f} ms, parent's exit {parent_cpu / 1e6:.3f} ms")
    cpu = [t["cpu_ns"] for t in snaps]
    j.check(n, "snapshot CPU never decreases", all(a <= b for a, b in zip(cpu, cpu[1:])), str(cpu))
    j.check(n, "pss never above rss", all(t.get("pss_bytes") is None or t["pss_bytes"] <= t["rss_bytes"]
                                          for t in snaps))


def judge_oom(j, c):
    n = c.name
    truth = c.truth_of("oom-child")
    if not j.check(n, "workload recorded its OOM child", len(truth) == 1, f"{len(truth)} records"):
        return
    pid = truth[0]["pid"]
    j.check(n, "the child was killed by SIGKILL", truth[0]["signal"] == 9, str(truth[0]))
    kills = c.of("oom_kill")
    if not j.check(n, "one oom_kill record", len(kills) == 1, f"{len(kills)} found"):
        return
    k = kills[0]
    j.check(n, "oom_kill names the child", k.get("pid") == pid, f"record pid {k.get('pid')}, child {pid}")
    j.check(n, "caused by its memory cgroup's limit",
            k.get("constraint") == "memcg" and k.get("memcg") == "/ttoom" and k.get("memcg_hierarchy") == "v2"
            and k.get("memcg_limit_bytes") == 32 << 20,
            f"constraint={k.get('constraint')} memcg={k.get('memcg')} limit={k.get('memcg_limit_bytes')}")
    j.check(n, "anon RSS at the kill is near the limit",
            (16 << 20) <= k.get("rss_anon_bytes", 0) <= (32 << 20) + (truth[0].get("parent_rss_anon_kb", 0) << 10),
            f"{k.get('rss_anon_bytes', 0) >> 10} KiB")
    ex = j.one_exit(c, pid, "the OOM child")
    if ex:
        j.check(n, "its exit record says oom_killed, signal 9", ex.get("oom_killed") is True and ex.get("signal") == 9)
    s = c.of("summary")
    if s:
        j.check(n, "summary counts the kill and names the victim",
                s[0].get("oom_kills") == 1 and [v.get("pid") for v in s[0].get("oom_victims", [])] == [pid])


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    cases, info, dmesg, done = parse(sys.argv[1])
    j = Judge(sys.argv[2])
    kernel = info.get("uname", "?")
    try:
        major, minor = (int(x) for x in kernel.split(".")[:2])
        # 6.2 made the RSS counters percpu_counters: no more per-thread caches.
        j.vmhwm_exact = (major, minor) >= (6, 2)
    except ValueError:
        j.vmhwm_exact = True
    j.check("boot", f"guest kernel {kernel} ran /init to the end", done)
    for name in ("burn", "spike", "threads", "sigkill", "sigterm", "exit7", "prefork", "live", "oom", "comm",
                 "cgroup"):
        c = cases.get(name)
        if not j.check(name, "case ran", c is not None and c.rc is not None,
                       "missing from the console log" if c is None else f"rc={c.rc}"):
            continue
        if name == "live":
            judge_common(j, c)
            judge_live(j, c)
        elif name == "oom":
            judge_common(j, c)
            judge_oom(j, c)
        else:
            judge_case(j, c)
    # What the kernel offered, for the record.
    sources = defaultdict(int)
    for c in cases.values():
        for e in c.of("exit"):
            sources[e.get("mem_source")] += 1
    group_dead = next((l for c in cases.values() for l in c.err if "group_dead" in l), "")
    print(f"INFO {j.label}: kernel {kernel}; {group_dead.strip()}; exit mem_source counts {dict(sources)}")
    bad = [l for l in dmesg if any(k in l for k in ("BUG:", "Oops", "WARNING:", "Call Trace", "segfault"))]
    # The OOM case's kill makes the kernel print its OOM report, which has
    # a call trace of its own: one per "invoked oom-killer" line is expected.
    oom_reports = sum("invoked oom-killer" in l for l in dmesg)
    traces = [l for l in bad if "Call Trace" in l]
    if 0 < len(traces) <= oom_reports:
        bad = [l for l in bad if "Call Trace" not in l]
    times = ", ".join(f"{c.name} {c.seconds:.1f}" for c in cases.values() if c.seconds is not None)
    print(f"INFO {j.label}: guest uptime at /init {info.get('init_at', '?')} s, after the tests "
          f"{info.get('tests_done_at', '?')} s; per case (s): {times}")
    for c in cases.values():
        if c.attach_seconds is not None:
            print(f"INFO {j.label} {c.name}: attached after {c.attach_seconds:.1f} s; verifier: "
                  + ", ".join(p.replace(" verified_insns=", " ").split(" xlated")[0] for p in c.progs
                              if p.split(" ")[0] in ("handle_fork", "handle_exec", "handle_exit",
                                                     "handle_switch", "scan_tasks", "refresh_tasks",
                                                     "handle_mark_victim")))
    for l in bad[:20]:
        print(f"INFO {j.label}: dmesg: {l}")
    j.check("boot", "no kernel BUG/Oops/WARNING in dmesg", not bad, f"{len(bad)} lines")
    print(f"{j.label}: {j.passed} passed, {j.failed} failed")
    return 0 if j.failed == 0 and done else 1


if __name__ == "__main__":
    sys.exit(main())
