# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""The measurements. Each phase returns a JSON-able dict; report.py turns
them into docs/benchmarks.md. Side-by-side figures are always taken in the
same round, with the order of the conditions rotated from round to round
(A B C, B C A, C A B, ...)."""
from __future__ import annotations

import contextlib
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

from common import (Dist, count_processes, forks_since_boot, log, median, prog_ids_of, prog_table, proc_cpu_s,
                    proc_runqueue_wait_s,
                    proc_mem_kib, proc_status_kib, quantile, ratio, run, set_bpf_stats, start, stop)
from tools import RunningTool, ToolSpec, start_tool, stop_tool

SWITCH_HOOKS = {"switch", "wakeup", "wakeup_new"}


def rotate(items: list, r: int) -> list:
    r %= len(items)
    return items[r:] + items[:r]


# ---- workloads ---------------------------------------------------------------


def perf_pipe(loops: int, cpu: int | None = None) -> float:
    """perf bench sched pipe: ops/s."""
    cmd = ["perf", "bench", "sched", "pipe", "-l", str(loops)]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    out = run(cmd).stdout
    m = re.search(r"(\d+)\s+ops/sec", out)
    if not m:
        raise RuntimeError("cannot parse perf bench sched pipe output: " + out)
    return float(m.group(1))


def perf_messaging(groups: int, loops: int) -> float:
    """perf bench sched messaging: runs per second (1 / total time)."""
    out = run(["perf", "bench", "sched", "messaging", "-g", str(groups), "-l", str(loops)]).stdout
    m = re.search(r"Total time:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError("cannot parse perf bench sched messaging output: " + out)
    return 1.0 / float(m.group(1))


def spawn_storm(paths: dict, seconds: float, jobs: int = 1, fork_only: bool = False,
                count: int | None = None) -> dict:
    cmd = [paths["spawner"], "-j", str(jobs)]
    cmd += ["-n", str(count)] if count else ["-t", str(seconds)]
    if fork_only:
        cmd.append("-f")
    return json.loads(run(cmd).stdout)


def cpu_burn(paths: dict, millions: int) -> float:
    """Rounds per second of a pure CPU loop, in millions."""
    r = json.loads(run([paths["cpuburn"], str(millions)]).stdout)
    return r["rounds"] / r["seconds"] / 1e6


# ---- 1. per-event kernel cost ----------------------------------------------


def _window(before: dict, after: dict, ids) -> dict[int, tuple[int, int]]:
    out = {}
    for i in ids:
        if i in before and i in after:
            out[i] = (after[i]["run_time_ns"] - before[i]["run_time_ns"], after[i]["run_cnt"] - before[i]["run_cnt"])
    return out


def _per_hook(tool: RunningTool, sw: dict, lc: dict, sw_s: float, lc_s: float) -> dict[str, dict]:
    """ns per event and events per second for each hook of tool: switch-like
    hooks from the context-switch window, lifecycle hooks from the spawn window."""
    res: dict[str, dict] = {}
    for i, hook in tool.hooks.items():
        win, secs = (sw, sw_s) if hook in SWITCH_HOOKS else (lc, lc_s)
        if i not in win:
            continue
        ns, cnt = win[i]
        if hook in res:  # two programs on one hook: add up
            ns += res[hook]["ns"]
            cnt = max(cnt, res[hook]["cnt"])
        res[hook] = {"ns": ns, "cnt": cnt, "ns_per_event": ns / cnt if cnt else None,
                     "events_per_s": cnt / secs if secs else None}
    # execsnoop has two programs per exec (syscall enter and exit): cost per exec is their sum.
    if "exec_enter" in res and "exec_exit" in res:
        e, x = res["exec_enter"], res["exec_exit"]
        cnt = e["cnt"]
        res["exec"] = {"ns": e["ns"] + x["ns"], "cnt": cnt, "ns_per_event": (e["ns"] + x["ns"]) / cnt if cnt else None,
                       "events_per_s": e["events_per_s"], "note": "sys_enter_execve + sys_exit_execve"}
    return res


# The tracepoint each bench/floor probe runs on, whose floor it is compared with.
PROBE_FLOOR_HOOK = {"rb_wake": "fork", "rb_nowake": "fork", "storage_create": "fork", "hash_insert": "fork",
                    "hash_delete": "exit", "clock_read": "exit", "peek_fork": "fork", "peek_exit": "exit"}


def kernel_cost(cfg: dict, specs: dict[str, ToolSpec], paths: dict, logdir: str, available: list[str]) -> dict:
    tools = [k for k in ("treetrace", "treetrace_filtered", "bpftrace", "cpudist", "runqlat", "execsnoop_exitsnoop")
             if k in available]
    configs = ["floor_alone"] + tools + ["ringbuf_probe", "parts_probe", "peek_probe"]
    rounds: dict[str, list[dict]] = {c: [] for c in configs}
    set_bpf_stats(True)
    # The floor stays attached through the whole phase: every configuration
    # is measured against the floor's cost on the very same events.
    floor = start_tool(specs["floor"], logdir)
    try:
        for r in range(cfg["kc_rounds"]):
            for c in rotate(configs, r):
                log(f"kernel cost: round {r + 1}/{cfg['kc_rounds']}: {c}")
                tool = None if c == "floor_alone" else start_tool(specs[c], logdir)
                try:
                    ids = set(floor.hooks) | (set(tool.hooks) if tool else set())
                    floor.refresh_hooks()
                    if tool:
                        tool.refresh_hooks()
                    s0 = prog_table()
                    t0 = time.monotonic()
                    perf_pipe(cfg["kc_pipe_loops"], cpu=1)
                    t1 = time.monotonic()
                    s1 = prog_table()
                    spawn_storm(paths, cfg["kc_spawn_s"])
                    t2 = time.monotonic()
                    s2 = prog_table()
                finally:
                    if tool:
                        stop_tool(tool)
                sw, lc = _window(s0, s1, ids), _window(s1, s2, ids)
                entry = {"floor": _per_hook(floor, sw, lc, t1 - t0, t2 - t1)}
                if tool:
                    entry["tool"] = _per_hook(tool, sw, lc, t1 - t0, t2 - t1)
                rounds[c].append(entry)
    finally:
        stop_tool(floor)

    # Summaries: ns/event and the ratio to the floor on the same hook in the same window.
    summary: dict[str, dict] = {}
    for c in configs:
        hooks: dict[str, dict] = {}
        for entry in rounds[c]:
            src = entry["floor"] if c == "floor_alone" else entry.get("tool", {})
            for hook, v in src.items():
                if hook in ("exec_enter", "exec_exit"):
                    continue
                h = hooks.setdefault(hook, {"ns": Dist(), "ratio": Dist(), "eps": Dist(), "floor_ns": Dist(),
                                            "floor_hook": None, "note": v.get("note", "")})
                fhook = hook if hook in entry["floor"] else PROBE_FLOOR_HOOK.get(hook, "switch")
                f = entry["floor"].get(fhook, {}).get("ns_per_event")
                h["ns"].add(v["ns_per_event"])
                h["eps"].add(v["events_per_s"])
                h["floor_ns"].add(f)
                h["floor_hook"] = fhook
                h["ratio"].add(ratio(v["ns_per_event"], f))
        summary[c] = {hk: {"ns": hv["ns"].to_json(), "ratio": hv["ratio"].to_json(), "eps": hv["eps"].to_json(),
                           "floor_ns": hv["floor_ns"].to_json(), "floor_hook": hv["floor_hook"], "note": hv["note"]}
                      for hk, hv in hooks.items()}
    # The floor measured alone against the floor measured beside a tool: is
    # the concurrent floor a fair yardstick?
    return {"configs": configs, "labels": {c: (specs[c].label if c in specs else "empty tp_btf programs alone")
                                           for c in configs},
            "rounds": rounds, "summary": summary,
            "load": {"switch": f"taskset -c 1 perf bench sched pipe -l {cfg['kc_pipe_loops']}",
                     "lifecycle": f"spawner -t {cfg['kc_spawn_s']} (posix_spawn /bin/true, 1 job)"}}


# ---- 2. workload slowdown ------------------------------------------------------


def _children_cpu_s() -> float:
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def workload_slowdown(cfg: dict, specs: dict[str, ToolSpec], paths: dict, logdir: str, available: list[str]) -> dict:
    """Each workload run once per condition per round, the tool started
    fresh for that one run, so the runs of a pair are seconds apart. Two
    figures per run: throughput (wall clock), and CPU per unit of work,
    the workload's own (its rusage, which includes the BPF programs that
    run in its context) plus the tracer process's, which other tenants of
    the machine disturb much less than the wall clock."""
    set_bpf_stats(False)
    conds = ["none", "treetrace"] + (["bpftrace"] if "bpftrace" in available else [])

    def storm():
        r = spawn_storm(paths, cfg["storm_s"])
        return r["rate"], r["spawned"]

    workloads = {
        # Pinned, both ends on CPU 1: unpinned, the pair's wakeups cross CPUs
        # and their speed depends on idle-state exits, which any tracer's
        # periodic wakeup on the other CPU changes (it ran 126% "faster"
        # traced). Pinned, each switch is a same-CPU switch, as the program
        # cost is measured.
        "pipe": (f"taskset -c 1 perf bench sched pipe -l {cfg['pipe_loops']}", "ops/s",
                 lambda: (perf_pipe(cfg["pipe_loops"], cpu=1), cfg["pipe_loops"])),
        "messaging": (f"perf bench sched messaging -g {cfg['msg_groups']} -l {cfg['msg_loops']}", "runs/s",
                      lambda: (perf_messaging(cfg["msg_groups"], cfg["msg_loops"]), 1)),
        "storm": (f"spawner -t {cfg['storm_s']} (posix_spawn /bin/true)", "spawns/s", storm),
        "cpu": (f"cpuburn {cfg['cpu_millions']} (integer loop)", "M rounds/s",
                lambda: (cpu_burn(paths, cfg["cpu_millions"]), cfg["cpu_millions"])),
    }
    data = {c: {w: [] for w in workloads} for c in conds}
    for r in range(cfg["sd_rounds"]):
        log(f"slowdown: round {r + 1}/{cfg['sd_rounds']}")
        for w, (_, _, fn) in workloads.items():
            for c in rotate(conds, r):
                tool = start_tool(specs[c], logdir) if c != "none" else None
                try:
                    tcpu0 = proc_cpu_s(tool.pid) if tool else 0.0
                    c0 = _children_cpu_s()
                    rate, work = fn()
                    c1 = _children_cpu_s()
                    tcpu1 = proc_cpu_s(tool.pid) if tool else 0.0
                finally:
                    if tool:
                        stop_tool(tool)
                data[c][w].append({"rate": rate, "work": work, "cpu_s": c1 - c0,
                                   "tracer_cpu_s": (tcpu1 or 0.0) - (tcpu0 or 0.0)})
    ratios, cpu_ratios = {}, {}
    for c in conds[1:]:
        ratios[c], cpu_ratios[c] = {}, {}
        for w in workloads:
            d, e = Dist(), Dist()
            for a, b in zip(data[c][w], data["none"][w]):
                d.add(ratio(a["rate"], b["rate"]))
                if a["work"] and b["work"] and b["cpu_s"]:
                    e.add(((a["cpu_s"] + a["tracer_cpu_s"]) / a["work"]) / (b["cpu_s"] / b["work"]))
            ratios[c][w] = d.to_json()
            cpu_ratios[c][w] = e.to_json()
    return {"conds": conds, "workloads": {w: {"cmd": v[0], "unit": v[1]} for w, v in workloads.items()},
            "raw": data, "ratios": ratios, "cpu_ratios": cpu_ratios,
            "baseline": {w: Dist([x["rate"] for x in data["none"][w]]).to_json() for w in workloads}}


# ---- 3. throughput without loss -------------------------------------------------


def _count_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _summary_of(path: str) -> dict | None:
    last = None
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b'{"event":"summary"'):
                last = line
    return json.loads(last) if last else None


def _treetrace_spec(specs, extra: list[str], events: str = "all", env: dict | None = None) -> ToolSpec:
    base = specs["treetrace"]
    cmd = [base.cmds[0][0], "--format", "json", "--events", events] + extra
    return ToolSpec("treetrace_run", base.label, [cmd], base.classify, base.ready_hooks, env=env)


def _storm_under_treetrace(cfg, specs, paths, logdir, jobs: int, seconds: float, extra: list[str] | None = None,
                           fork_only: bool = False, sample_every: float | None = None, events: str = "all") -> dict:
    out = os.path.join(logdir, "treetrace-storm.jsonl")
    tool = start_tool(_treetrace_spec(specs, extra or [], events), logdir, stdout_path=out)
    samples = []
    try:
        time.sleep(1.0)  # let the startup scan's records drain
        pid = tool.pid
        cpu0, lines0, forks0 = proc_cpu_s(pid), _count_lines(out), forks_since_boot()
        t0 = time.monotonic()
        rss_idle = proc_status_kib(pid, "VmRSS")
        mem_idle = proc_mem_kib(pid)
        cmd = [paths["spawner"], "-j", str(jobs), "-t", str(seconds)] + (["-f"] if fork_only else [])
        sp = start(cmd, stdout=subprocess.PIPE, text=True)
        while sp.poll() is None:
            time.sleep(sample_every or 0.5)
            mem = proc_mem_kib(pid) or {}
            samples.append({"t": time.monotonic() - t0, "forks": forks_since_boot() - forks0,
                            "rss_kib": mem.get("VmRSS"), "hwm_kib": mem.get("VmHWM"), "anon_kib": mem.get("RssAnon"),
                            "bpf_map_kib": mem.get("BpfMapRss"), "cpu_s": (proc_cpu_s(pid) or 0) - (cpu0 or 0)})
        storm = json.loads(sp.stdout.read())
        stop(sp)
        time.sleep(0.5)  # the last exit records arrive at the final switch-out
        cpu1, lines1, forks1 = proc_cpu_s(pid), _count_lines(out), forks_since_boot()
        rss_end, hwm_end = proc_status_kib(pid, "VmRSS"), proc_status_kib(pid, "VmHWM")
        mem_end = proc_mem_kib(pid)
    finally:
        stop_tool(tool)
    summ = _summary_of(out) or {}
    os.unlink(out)
    events = lines1 - lines0
    return {"jobs": jobs, "fork_only": fork_only, "extra": extra or [], "rate": storm["rate"],
            "spawned": storm["spawned"], "seconds": storm["seconds"], "node_forks": forks1 - forks0,
            "lost": summ.get("lost"), "attempts": summ.get("attempts"), "delivered": summ.get("delivered"),
            "dropped_kernel": summ.get("dropped_kernel"), "dropped_output": summ.get("dropped_output"),
            "window_records": events, "cpu_s": (cpu1 or 0) - (cpu0 or 0),
            "us_per_record": ((cpu1 - cpu0) / events * 1e6) if events and cpu1 is not None else None,
            "cpu_s_per_1000_lifecycles": ((cpu1 - cpu0) / (forks1 - forks0) * 1000) if forks1 > forks0 else None,
            "rss_idle_kib": rss_idle, "rss_end_kib": rss_end, "hwm_end_kib": hwm_end, "mem_idle": mem_idle,
            "mem_end": mem_end, "samples": samples}


def throughput(cfg: dict, specs: dict[str, ToolSpec], paths: dict, logdir: str) -> dict:
    set_bpf_stats(False)
    levels = []
    for j in cfg["tp_levels"]:
        log(f"throughput: {j} spawner job(s) for {cfg['tp_seconds']} s")
        levels.append(_storm_under_treetrace(cfg, specs, paths, logdir, j, cfg["tp_seconds"]))
    best = max(levels, key=lambda x: x["rate"])
    zero = [lv for lv in levels if lv["lost"] == 0]
    sweep = []
    for size in cfg["rb_sweep"]:
        log(f"throughput: ring buffer {size} bytes, {best['jobs']} jobs")
        sweep.append(dict(_storm_under_treetrace(cfg, specs, paths, logdir, best["jobs"], cfg["rb_sweep_s"],
                                                 ["--ringbuf-size", str(size)]), ringbuf=size))
    sustained = None
    if cfg["sustain_s"]:
        log(f"throughput: sustained {cfg['sustain_s']} s at {best['jobs']} jobs")
        sustained = _storm_under_treetrace(cfg, specs, paths, logdir, best["jobs"], cfg["sustain_s"],
                                           sample_every=2.0)
    return {"levels": levels, "best_jobs": best["jobs"],
            "max_rate_zero_loss": max((lv["rate"] for lv in zero), default=None),
            "ringbuf_default": cfg.get("tt_ringbuf_default"), "ringbuf_sweep": sweep, "sustained": sustained}


# ---- 4. treetrace's own cost ------------------------------------------------------

HOLDER = r"""
import os, signal, sys
n = int(sys.argv[1])
for _ in range(n):
    if os.fork() == 0:
        signal.pause()
        os._exit(0)
print("ready", flush=True)
signal.pause()
"""


def own_cost(cfg: dict, specs: dict[str, ToolSpec], paths: dict, logdir: str) -> dict:
    set_bpf_stats(False)
    res: dict = {}
    # Idle on a node with ~1000 more processes, with the default ring buffer
    # and with a 1 MiB one (the ring buffer is mapped into the reader twice,
    # so its size shows in VmRSS twice over).
    log(f"own cost: idle with {cfg['idle_procs']} extra processes")
    holder = start([sys.executable, "-c", HOLDER, str(cfg["idle_procs"])], stdout=subprocess.PIPE, text=True)
    res["idle"] = {}
    try:
        holder.stdout.readline()
        nprocs = count_processes()
        small = ["--ringbuf-size", str(1 << 20)]
        trim = {"LD_PRELOAD": paths["trim_preload"]}
        for label, extra, env in (("default", [], None), ("ringbuf_1mib", small, None),
                                  ("default_trim", [], trim), ("ringbuf_1mib_trim", small, trim)):
            tool = start_tool(_treetrace_spec(specs, extra, "exec,exit", env), logdir)
            samples = []
            try:
                t0 = time.monotonic()
                waits = cfg["idle_wait"] if label == "default" else cfg["idle_variant_wait"]
                for k in range(waits):
                    time.sleep(1.0)
                    mem = proc_mem_kib(tool.pid) or {}
                    samples.append({"t": time.monotonic() - t0, "rss_kib": mem.get("VmRSS"),
                                    "hwm_kib": mem.get("VmHWM"), "anon_kib": mem.get("RssAnon"),
                                    "file_kib": mem.get("RssFile"), "bpf_map_kib": mem.get("BpfMapRss"),
                                    "cpu_s": proc_cpu_s(tool.pid)})
            finally:
                stop_tool(tool)
            res["idle"][label] = {"node_processes": nprocs, "samples": samples, "args": extra,
                                  "malloc_trim": env is not None}
    finally:
        stop(holder, signal.SIGKILL, timeout=5)

    # Many short-lived processes: is the resident memory flat?
    log(f"own cost: {cfg['long_s']} s of fork+exit lifecycles")
    res["long"] = _storm_under_treetrace(cfg, specs, paths, logdir, cfg["long_jobs"], cfg["long_s"], fork_only=True,
                                         sample_every=max(1.0, cfg["long_s"] / 40), events="exec,exit")
    return res


def _first_line_with(tool_cmd: list[str], marker: str, probe: str, logdir: str, timeout: float = 90.0) -> float | None:
    """Seconds from launching tool_cmd until it prints a line holding marker,
    while a process named marker is started every 10 ms."""
    err = open(os.path.join(logdir, "startup.stderr"), "ab")
    t0 = time.monotonic()
    p = start(tool_cmd, stdout=subprocess.PIPE, stderr=err)
    err.close()
    found = threading.Event()
    seen_at: list[float] = []

    def reader():
        for line in iter(p.stdout.readline, b""):
            if marker.encode() in line and not found.is_set():
                seen_at.append(time.monotonic())
                found.set()
        found.set()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    probes = []
    try:
        while not found.is_set() and time.monotonic() - t0 < timeout:
            probes.append(subprocess.Popen([probe], stdin=subprocess.DEVNULL))
            probes = [q for q in probes if q.poll() is None]
            time.sleep(0.01)
    finally:
        stop(p)
        for q in probes:
            q.wait()
        th.join(timeout=5)
    return seen_at[0] - t0 if seen_at else None


def _btf_load_ms(n: int = 3) -> dict | None:
    """How long libbpf takes to load and parse the kernel's BTF, as every
    CO-RE tool does at start (n times, through ctypes)."""
    import ctypes
    try:
        lib = ctypes.CDLL("libbpf.so.1")
    except OSError:
        return None
    lib.btf__load_vmlinux_btf.restype = ctypes.c_void_p
    lib.btf__free.argtypes = [ctypes.c_void_p]
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        b = lib.btf__load_vmlinux_btf()
        times.append((time.monotonic() - t0) * 1e3)
        if b:
            lib.btf__free(b)
    return Dist(times).to_json()


def _treetrace_load_ms(treetrace: str, n: int = 3) -> dict | None:
    """How long treetrace's own load step takes (kernel BTF, CO-RE
    relocations, verifier), as it reports it with -v."""
    times = []
    for _ in range(n):
        r = subprocess.run([treetrace, "-v", "--events", "none", "--duration", "10ms"], capture_output=True, text=True)
        m = re.search(r"BPF programs loaded in ([0-9.]+) ms", r.stderr)
        if m:
            times.append(float(m.group(1)))
    return Dist(times).to_json() if times else None


def startup_latency(cfg: dict, specs: dict[str, ToolSpec], paths: dict, logdir: str, available: list[str]) -> dict:
    set_bpf_stats(False)
    tools = {"treetrace": [paths["treetrace"], "--format", "json"]}
    if "bpftrace" in available:
        tools["bpftrace"] = ["bpftrace", "-B", "line", paths["bpftrace_script"]]
    data = {k: [] for k in tools}
    for r in range(cfg["st_pairs"]):
        for k in rotate(list(tools), r):
            log(f"startup: pair {r + 1}/{cfg['st_pairs']}: {k}")
            data[k].append(_first_line_with(tools[k], "ttbench_probe", paths["probe"], logdir))
    out = {"btf_load_ms": _btf_load_ms(), "treetrace_load_ms": _treetrace_load_ms(paths["treetrace"]), "raw": data, "cmds": {k: " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(v))
                                 for k, v in tools.items()}}
    if "bpftrace" in data:
        d = Dist()
        for a, b in zip(data["treetrace"], data["bpftrace"]):
            d.add(ratio(a, b))
        out["ratio"] = d.to_json()
    return out


# ---- 5. accuracy ---------------------------------------------------------------


def _parse_pidstat(path: str, name: str) -> dict[int, dict]:
    per: dict[int, dict] = {}
    cols = None
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "#":
                cols = parts[1:]
                continue
            if cols is None or len(parts) != len(cols) or parts[-1] != name:
                continue
            row = dict(zip(cols, parts))
            try:
                pid = int(row["PID"])
                rss = int(row["RSS"])
                cpu = float(row["%CPU"])
            except (KeyError, ValueError):
                continue
            rec = per.setdefault(pid, {"rss_max_kib": 0, "cpu_s": 0.0, "rows": 0})
            rec["rss_max_kib"] = max(rec["rss_max_kib"], rss)
            rec["cpu_s"] += cpu / 100.0  # one-second intervals
            rec["rows"] += 1
    return per


def _within(err: float, truth: float, rel: float, absolute: float) -> bool:
    return abs(err) <= max(rel * abs(truth), absolute)


def accuracy(cfg: dict, specs: dict[str, ToolSpec], paths: dict, logdir: str, available: list[str]) -> dict:
    set_bpf_stats(False)
    truth_path = os.path.join(logdir, "truth.jsonl")
    tt_out = os.path.join(logdir, "accuracy-treetrace.jsonl")
    ps_out = os.path.join(logdir, "accuracy-psutil.jsonl")
    pid_out = os.path.join(logdir, "accuracy-pidstat.txt")
    for p in (truth_path, tt_out, ps_out, pid_out):
        if os.path.exists(p):
            os.unlink(p)
    spike_mib, hold_ms = cfg["spike_mib"], cfg["spike_hold_ms"]

    tool = start_tool(_treetrace_spec(specs, [], "exit"), logdir, stdout_path=tt_out)
    sampler = pidstat = None
    own: dict[str, float] = {}
    try:
        if "psutil" in available:
            sampler = start([sys.executable, paths["psutil_sampler"], "--interval", "0.1", "--name", "tt_workload",
                             ps_out], stdout=subprocess.PIPE, text=True)
            sampler.stdout.readline()
        if "pidstat" in available:
            pf = open(pid_out, "w")
            pidstat = start(["pidstat", "-r", "-u", "-h", "1"], stdout=pf, env=dict(os.environ, LC_ALL="C"))
            pf.close()
            time.sleep(1.5)
        cpu0 = {"treetrace": proc_cpu_s(tool.pid)}
        if sampler:
            cpu0["psutil"] = proc_cpu_s(sampler.pid)
        if pidstat:
            cpu0["pidstat"] = proc_cpu_s(pidstat.pid)
        t0 = time.monotonic()
        rng = random.Random(4)
        env = dict(os.environ, TT_TRUTH=truth_path)
        jobs = ["spike"] * cfg["acc_spikes"] + ["short"] * cfg["acc_short_spikes"] + ["burn"] * cfg["acc_burns"]
        rng.shuffle(jobs)
        for job in jobs:
            if job == "burn":
                args = ["burn", str(rng.choice([20, 120, 400]))]
            elif job == "short":
                args = ["spike", str(cfg["short_spike_mib"]), str(cfg["short_hold_ms"])]
            else:
                args = ["spike", str(spike_mib), str(hold_ms)]
            run([paths["tt_workload"], "wait4", paths["tt_workload"]] + args, env=env)
            time.sleep(rng.uniform(0.1, 0.4))
        time.sleep(2.5)
        wall = time.monotonic() - t0
        for k, p in (("treetrace", tool.procs[0]), ("psutil", sampler), ("pidstat", pidstat)):
            if p is not None and k in cpu0:
                own[k] = ((proc_cpu_s(p.pid) or 0) - (cpu0[k] or 0)) / wall
    finally:
        if pidstat:
            stop(pidstat)
        if sampler:
            stop(sampler)
        stop_tool(tool)

    # VmHWM from the process itself, just before it exits; CPU from the
    # rusage its parent gets from wait4(), which covers the whole life.
    truth, waited = {}, {}
    with open(truth_path) as f:
        for line in f:
            t = json.loads(line)
            if t.get("kind") == "self":
                truth[t["pid"]] = t
            elif t.get("kind") == "wait4":
                waited[t["pid"]] = t
    for pid, t in truth.items():
        t["self_cpu_us"] = t["cpu_us"]
        if pid in waited:
            t["cpu_us"] = waited[pid]["cpu_us"]
            t["wait4_maxrss_kb"] = waited[pid]["maxrss_kb"]
    tt = {}
    with open(tt_out) as f:
        for line in f:
            if '"event":"exit"' in line:
                e = json.loads(line)
                if e.get("comm") == "tt_workload":
                    tt[e["pid"]] = {"rss_peak_bytes": e.get("rss_peak_bytes"), "cpu_ns": e.get("cpu_ns")}
    tools: dict[str, dict[int, dict]] = {"treetrace": {p: {"peak_b": v["rss_peak_bytes"], "cpu_s": v["cpu_ns"] / 1e9}
                                                        for p, v in tt.items()}}
    if sampler:
        ps = {}
        with open(ps_out) as f:
            for line in f:
                r = json.loads(line)
                if "pid" in r:
                    ps[r["pid"]] = {"peak_b": r["rss_max_bytes"], "cpu_s": r.get("cpu_s")}
        tools["psutil 10 Hz"] = ps
    if pidstat:
        tools["pidstat -r -u 1"] = {p: {"peak_b": v["rss_max_kib"] * 1024, "cpu_s": v["cpu_s"]}
                                    for p, v in _parse_pidstat(pid_out, "tt_workload").items()}

    # Both kinds record themselves as "spike"; the short ones peak far lower.
    for t in truth.values():
        if t["role"] == "spike" and t["vmhwm_kb"] * 1024 < spike_mib * 2**20 / 2:
            t["role"] = "short-spike"
    res = {"spike_mib": spike_mib, "hold_ms": hold_ms, "n_spikes": sum(1 for t in truth.values() if t["role"] == "spike"),
           "short_spike_mib": cfg["short_spike_mib"], "short_hold_ms": cfg["short_hold_ms"],
           "n_short_spikes": sum(1 for t in truth.values() if t["role"] == "short-spike"),
           "n_procs": len(truth), "tools": {}, "own_cpu_share": own,
           "tolerance": {"cpu": "1% or 2 ms", "rss": "1% or 256 KiB"}}
    for name, got in tools.items():
        caught = caught_short = seen = rss_ok = cpu_ok = 0
        rss_err_kib, cpu_err_ms = [], []
        for pid, t in truth.items():
            g = got.get(pid)
            true_peak = t["vmhwm_kb"] * 1024
            true_cpu = t["cpu_us"] / 1e6
            if g is None:
                continue
            seen += 1
            if g["peak_b"] is not None:
                if g["peak_b"] >= 0.9 * true_peak:
                    caught += t["role"] == "spike"
                    caught_short += t["role"] == "short-spike"
                e = g["peak_b"] - true_peak
                rss_err_kib.append(e / 1024)
                rss_ok += _within(e, true_peak, 0.01, 256 * 1024)
            if g["cpu_s"] is not None:
                e = g["cpu_s"] - true_cpu
                cpu_err_ms.append(e * 1e3)
                cpu_ok += _within(e, true_cpu, 0.01, 0.002)
        n = len(truth)
        nsp = res["n_spikes"]

        def dist(v):
            return {"median": median(v), "p10": quantile(v, 0.1), "p90": quantile(v, 0.9),
                    "min": min(v) if v else None, "max": max(v) if v else None,
                    "max_abs": max((abs(x) for x in v), default=None)}

        nss = res["n_short_spikes"]
        res["tools"][name] = {"seen": seen, "caught": caught, "caught_frac": caught / nsp if nsp else None,
                              "caught_short": caught_short, "caught_short_frac": caught_short / nss if nss else None,
                              "seen_frac": seen / n if n else None,
                              "rss_within": rss_ok, "rss_within_frac": rss_ok / n if n else None,
                              "cpu_within": cpu_ok, "cpu_within_frac": cpu_ok / n if n else None,
                              "rss_err_kib": dist(rss_err_kib), "cpu_err_ms": dist(cpu_err_ms)}
    return res


# ---- 6. live-state refresh -------------------------------------------------------

# What treetrace -v logs to stderr for each refresh of its live state (before
# every --interval snapshot and before the final report).
REFRESH_RE = re.compile(rb"refresh: (\d+) processes in ([0-9.]+) us \(iterator ([0-9.]+) us\)")
# Runs $@ after moving the shell itself into the cgroup directory given as $0,
# so the workload and everything it starts are in it from their first instruction.
IN_CGROUP = 'echo $$ > "$0/cgroup.procs" && exec "$@"'


def cgroup2_mount() -> str | None:
    """Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or
    /sys/fs/cgroup/unified on hybrid layouts), from /proc/self/mountinfo."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[:1] == ["cgroup2"]:
                return left.split()[4].replace("\\040", " ")
    return None


def count_tasks() -> int:
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                n += len(os.listdir(f"/proc/{d}/task"))
            except OSError:
                pass
    return n


def _members(cg: str) -> list[int]:
    try:
        with open(os.path.join(cg, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


@contextlib.contextmanager
def _room_for(extra_tasks: int):
    """Makes sure the node can hold extra_tasks more tasks: kernel.pid_max,
    kernel.threads-max and this process's RLIMIT_NPROC (which its children
    inherit) are raised only where they are short, and put back on the way out."""
    need = count_tasks() + extra_tasks + 4096
    changed: list[str] = []
    restore: list = []
    try:
        for key, cap in (("pid_max", 4194304), ("threads-max", None)):
            path = f"/proc/sys/kernel/{key}"
            with open(path) as f:
                cur = int(f.read())
            if cur < need:
                new = min(need, cap) if cap else need
                with open(path, "w") as f:
                    f.write(str(new))
                restore.append((path, cur))
                changed.append(f"kernel.{key} {cur} → {new}")
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        if soft != resource.RLIM_INFINITY and soft < need:
            new_hard = hard if hard == resource.RLIM_INFINITY or hard >= need else need
            resource.setrlimit(resource.RLIMIT_NPROC, (need, new_hard))
            restore.append(("nproc", (soft, hard)))
            changed.append(f"RLIMIT_NPROC {soft} → {need}")
        yield changed
    finally:
        for what, old in reversed(restore):
            try:
                if what == "nproc":
                    resource.setrlimit(resource.RLIMIT_NPROC, old)
                else:
                    with open(what, "w") as f:
                        f.write(str(old))
            except OSError as e:
                log(f"refresh: cannot put back {what}: {e}")


def _empty_cgroup(cg: str, timeout: float = 20.0) -> bool:
    """SIGKILLs whatever is left in the scratch cgroup (only processes this
    phase started are ever in it) until it is empty."""
    deadline = time.monotonic() + timeout
    while True:
        pids = _members(cg)
        if not pids:
            return True
        if time.monotonic() > deadline:
            return False
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


@contextlib.contextmanager
def _scratch_cgroup(mount: str, tag: str):
    path = os.path.join(mount, f"ttbench-refresh-{os.getpid()}-{tag}")
    if os.path.isdir(path):  # left by an earlier, killed run of this process id
        _empty_cgroup(path)
        os.rmdir(path)
    os.mkdir(path)
    try:
        yield path
    finally:
        if not _empty_cgroup(path):
            log(f"refresh: {path} still has processes: {_members(path)}")
        for _ in range(50):
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)
        else:
            log(f"refresh: cannot remove {path}")


def _start_in_cgroup(cg: str, cmd: list[str], **kw) -> subprocess.Popen:
    return start(["/bin/sh", "-c", IN_CGROUP, cg] + cmd, **kw)


def _stop_sleepers(p: subprocess.Popen, cg: str) -> None:
    """The sleepers' children first, by their pids, so that their parent
    reaps them; then the parent and its whole process group."""
    for pid in _members(cg):
        if pid != p.pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    stop(p, signal.SIGKILL, timeout=10)


class _RefreshLog:
    """The refresh lines of a treetrace -v stderr file, read as they are written."""

    def __init__(self, path: str):
        self.path, self.offset, self.partial, self.rows = path, 0, b"", []

    def poll(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        new = []
        for line in lines:
            m = REFRESH_RE.search(line)
            if m:
                new.append({"procs": int(m.group(1)), "total_us": float(m.group(2)),
                            "iter_us": float(m.group(3)), "t": time.monotonic()})
        self.rows += new
        return new


def _refresh_dists(rows: list[dict]) -> dict:
    return {"total_us": Dist([r["total_us"] for r in rows]).to_json(),
            "iter_us": Dist([r["iter_us"] for r in rows]).to_json(),
            "apply_us": Dist([r["total_us"] - r["iter_us"] for r in rows]).to_json(),
            "per_1000_us": Dist([r["total_us"] / r["procs"] * 1000 for r in rows if r["procs"]]).to_json(),
            "procs": Dist([r["procs"] for r in rows]).to_json()}


def _refresh_prog_cost(tool: RunningTool, rlog: _RefreshLog, refreshes: int, interval_ms: int) -> dict | None:
    """The iterator program's own time (bpf_stats) over a few more
    refreshes, taken after the timed ones because bpf_stats adds two clock
    reads to every BPF program run, sched_switch's included."""
    table = prog_table()
    ids = [i for i in prog_ids_of(tool.pid) if table.get(i, {}).get("name") == "refresh_tasks"]
    if not ids:
        return None
    set_bpf_stats(True)
    try:
        rlog.poll()
        mark = len(rlog.rows)
        s0, tasks0 = prog_table(), count_tasks()
        deadline = time.monotonic() + refreshes * interval_ms / 1000 * 4 + 10
        while len(rlog.rows) - mark < refreshes and time.monotonic() < deadline:
            time.sleep(interval_ms / 1000 / 2)
            rlog.poll()
        s1, tasks1 = prog_table(), count_tasks()
    finally:
        set_bpf_stats(False)
    ns = sum(s1[i]["run_time_ns"] - s0[i]["run_time_ns"] for i in ids if i in s0 and i in s1)
    cnt = sum(s1[i]["run_cnt"] - s0[i]["run_cnt"] for i in ids if i in s0 and i in s1)
    tasks = (tasks0 + tasks1) / 2
    per_visit = ns / cnt if cnt else None
    rows = rlog.rows[mark:]
    return {"ns_per_visit": per_visit, "visits": cnt, "node_tasks": tasks,
            # two passes, each visiting every task on the node
            "prog_us_per_refresh": per_visit * tasks / 1e3 if per_visit else None,  # one pass per refresh
            "iter_us": Dist([r["iter_us"] for r in rows]).to_json(), "refreshes": len(rows)}


def _refresh_run(cfg: dict, specs: dict[str, ToolSpec], paths: dict, logdir: str, cg: str, n: int,
                 measure: bool, storm: bool) -> dict:
    """n sleeping processes in the scratch cgroup cg, traced by
    treetrace -v --cgroup cg --interval; the refresh lines once all n+1 (the
    sleepers and their parent) are reported, then, if storm, a fork+exec
    storm inside the same cgroup."""
    interval = cfg["rf_interval_ms"]
    hold_s = 900  # outlives the phase; the sleepers are killed at the end
    expect = n + 1
    out: dict = {"n": n, "expected_procs": expect}
    t_fork = time.monotonic()
    sleepers = _start_in_cgroup(cg, [paths["tt_workload"], "sleepers", str(n), str(hold_s)])
    try:
        deadline = time.monotonic() + 120
        while len(_members(cg)) < expect:
            if sleepers.poll() is not None:
                raise RuntimeError(f"tt_workload sleepers {n} exited {sleepers.returncode} after "
                                   f"{len(_members(cg))} processes")
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(_members(cg))} of {expect} sleepers after 120 s")
            time.sleep(0.05)
        out["sleepers_started_s"] = time.monotonic() - t_fork
        key = f"treetrace_refresh_{n}"
        err_path = os.path.join(logdir, f"{key}.0.stderr")
        out_path = os.path.join(logdir, f"{key}.jsonl")
        for pth in (err_path, out_path):
            if os.path.exists(pth):
                os.unlink(pth)
        base = specs["treetrace"]
        cmd = [base.cmds[0][0], "-v", "--format", "json", "--events", "none", "--interval", f"{interval}ms",
               "--cgroup", cg]
        out["cmd"] = " ".join(["treetrace"] + cmd[1:-1] + ["SCRATCH_CGROUP"])
        tool = start_tool(ToolSpec(key, base.label, [cmd], base.classify, base.ready_hooks), logdir,
                          stdout_path=out_path)
        rlog = _RefreshLog(err_path)
        try:
            deadline = time.monotonic() + 60
            while not any(r["procs"] >= expect for r in rlog.rows):
                if tool.procs[0].poll() is not None:
                    raise RuntimeError(f"treetrace exited {tool.procs[0].returncode} (see {err_path})")
                if time.monotonic() > deadline:
                    seen = max((r["procs"] for r in rlog.rows), default=None)
                    raise RuntimeError(f"no refresh reported all {expect} processes within 60 s "
                                       f"(most: {seen}; see {err_path})")
                rlog.poll()
                time.sleep(0.05)
            first = next(i for i, r in enumerate(rlog.rows) if r["procs"] >= expect)
            out["before_all_seen"] = first
            out["first_full_us"] = rlog.rows[first]["total_us"]
            out["ready_after_s"] = tool.ready_after_s
            if measure:
                # Only refreshes that start from here count: the first one to
                # report them all may still be catching up with the start,
                # and those logged while start_tool() waited for treetrace
                # to settle ran beside its polling.
                got: list[dict] = []
                rlog.poll()
                cpu0, wait0, t0 = proc_cpu_s(tool.pid), proc_runqueue_wait_s(tool.pid), time.monotonic()
                mark = len(rlog.rows)
                out["node_tasks"] = count_tasks()
                deadline = t0 + cfg["rf_lines"] * interval / 1000 * 4 + 30
                while len(got) < cfg["rf_lines"]:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"only {len(got)} refresh lines in {deadline - t0:.0f} s")
                    time.sleep(interval / 1000 / 2)
                    rlog.poll()
                    got = [r for r in rlog.rows[mark:] if r["procs"] >= expect]
                cpu1, wait1, t1 = proc_cpu_s(tool.pid), proc_runqueue_wait_s(tool.pid), time.monotonic()
                got = got[:cfg["rf_lines"]]
                out.update(_refresh_dists(got))
                out["short_rows"] = sum(1 for r in rlog.rows[mark:] if r["procs"] < expect)
                out["cpu_share"] = ((cpu1 or 0) - (cpu0 or 0)) / (t1 - t0) if t1 > t0 else None
                out["runqueue_wait_share"] = ((wait1 or 0) - (wait0 or 0)) / (t1 - t0) if t1 > t0 else None
                # treetrace's CPU per --interval cycle: the refresh, the
                # snapshot and its PSS reads (--pss-budget), the output.
                out["cpu_ms_per_interval"] = (((cpu1 or 0) - (cpu0 or 0)) * 1e3 / len(rlog.rows[mark:])
                                              if rlog.rows[mark:] else None)
                if cfg.get("rf_stats_refreshes"):
                    out["prog"] = _refresh_prog_cost(tool, rlog, cfg["rf_stats_refreshes"], cfg["rf_interval_ms"])
            if storm:
                out["storm"] = _refresh_storm(cfg, paths, cg, tool, rlog, expect)
        finally:
            stop_tool(tool)
        summ = _summary_of(out_path) or {}
        out["summary"] = {k: summ.get(k) for k in ("lost", "attempts", "delivered", "dropped_kernel",
                                                   "dropped_output", "proc_table_full", "procs_untracked")}
        rlog.poll()
        out["refreshes_total"] = len(rlog.rows)
        os.unlink(out_path)
    finally:
        _stop_sleepers(sleepers, cg)
    return out


def _refresh_storm(cfg: dict, paths: dict, cg: str, tool: RunningTool, rlog: _RefreshLog, expect: int) -> dict:
    secs, jobs = cfg["rf_storm_s"], cfg["rf_storm_jobs"]
    log(f"refresh: fork+exec storm ({jobs} spawner jobs, {secs} s) beside {expect} traced processes")
    rlog.poll()
    mark = len(rlog.rows)
    cpu0, forks0, t0 = proc_cpu_s(tool.pid), forks_since_boot(), time.monotonic()
    sp = _start_in_cgroup(cg, [paths["spawner"], "-j", str(jobs), "-t", str(secs)], stdout=subprocess.PIPE,
                          text=True)
    try:
        stdout, _ = sp.communicate(timeout=secs + 60)
    finally:
        stop(sp, signal.SIGKILL, timeout=5)
    t1, forks1, cpu1 = time.monotonic(), forks_since_boot(), proc_cpu_s(tool.pid)
    rlog.poll()
    rows = rlog.rows[mark:]
    r = json.loads(stdout)
    return {"jobs": jobs, "seconds": r["seconds"], "rate": r["rate"], "spawned": r["spawned"],
            "failed": r.get("failed"), "node_forks": forks1 - forks0, "refreshes": len(rows),
            "refreshes_expected": int((t1 - t0) * 1000 / cfg["rf_interval_ms"]),
            "cpu_share": ((cpu1 or 0) - (cpu0 or 0)) / (t1 - t0) if t1 > t0 else None,
            **({"during": _refresh_dists(rows)} if rows else {})}


def refresh_cost(cfg: dict, specs: dict[str, ToolSpec], paths: dict, logdir: str) -> dict:
    """What one refresh of the live state costs at several numbers of live
    traced processes, and that refreshing beside a fork+exec storm loses
    no record."""
    set_bpf_stats(False)
    mount = cgroup2_mount()
    if not mount:
        raise RuntimeError("no cgroup2 hierarchy in /proc/self/mountinfo")
    levels, storm_n = list(cfg["rf_levels"]), cfg["rf_storm_procs"]
    helptext = run([specs["treetrace"].cmds[0][0], "--help"], check=False).stdout
    m = re.search(r"--pss-budget\s+\S*?=(\d+)", helptext)
    res: dict = {"interval_ms": cfg["rf_interval_ms"], "lines": cfg["rf_lines"], "cgroup2_mount": mount,
                 "node_tasks_before": count_tasks(), "load_before": _loadavg(), "storm_s": cfg["rf_storm_s"],
                 "pss_budget": int(m.group(1)) if m else None,
                 "levels": [], "storm": None}
    with _room_for(max(levels + [storm_n]) + 64) as changed:
        res["limits_changed"] = changed
        for n in sorted(set(levels) | {storm_n}):
            log(f"refresh: {n} sleeping processes" + (", then a storm" if n == storm_n else ""))
            with _scratch_cgroup(mount, str(n)) as cg:
                run_ = _refresh_run(cfg, specs, paths, logdir, cg, n, measure=n in levels, storm=n == storm_n)
            if n in levels:
                res["levels"].append(run_)
            if n == storm_n:
                res["storm"] = dict(run_["storm"], n=n, expected_procs=run_["expected_procs"],
                                    summary=run_["summary"], refreshes_total=run_["refreshes_total"],
                                    cmd=run_["cmd"])
    res["load_after"] = _loadavg()
    return res


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---- 7. the cost of a scrape ------------------------------------------------------

METRICS_AT_RE = re.compile(rb"metrics at http://127\.0\.0\.1:(\d+)/metrics")
TRACING_RE = re.compile(rb"tracing: (\d+) processes found running")


def _http_get(port: int, path: str = "/metrics", timeout: float = 10.0) -> tuple[float, int, bytes]:
    """GET http://127.0.0.1:port/path over a fresh connection: seconds from
    connect to the last byte, the status and the body. A raw socket, so the
    client adds as little as possible to the figure."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            chunks.append(b)
    dt = time.perf_counter() - t0
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else 0
    return dt, status, body


def _sample(body: bytes, series: str) -> float | None:
    m = re.search(rb"^" + re.escape(series.encode()) + rb" (\S+)$", body, re.M)
    return float(m.group(1)) if m else None


def _groups_in(body: bytes, prefix: str) -> int:
    """Groups of the exposition under the cgroup `prefix` with a live process."""
    pat = re.compile(rb'^treetrace_group_processes\{group="' + re.escape(prefix.encode()) + rb'/[^"]*"[^}]*\} (\d+)$',
                     re.M)
    return sum(1 for m in pat.finditer(body) if int(m.group(1)) > 0)


@contextlib.contextmanager
def _scratch_groups(mount: str, n: int):
    """A scratch cgroup v2 directory with n child directories g0000..: the
    groups. Emptied (SIGKILL of what this phase put there) and removed after."""
    parent = os.path.join(mount, f"ttbench-scrape-{os.getpid()}-{n}")
    children = [os.path.join(parent, f"g{i:04d}") for i in range(n)]
    if os.path.isdir(parent):  # left by an earlier, killed run of this process id
        for c in sorted(os.listdir(parent)):
            if os.path.isdir(os.path.join(parent, c)):
                _empty_cgroup(os.path.join(parent, c))
                os.rmdir(os.path.join(parent, c))
        os.rmdir(parent)
    os.mkdir(parent)
    try:
        for c in children:
            os.mkdir(c)
        yield parent, children
    finally:
        for c in children:
            if os.path.isdir(c):
                if not _empty_cgroup(c):
                    log(f"scrape: {c} still has processes: {_members(c)}")
                for _ in range(50):
                    try:
                        os.rmdir(c)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.1)
        try:
            os.rmdir(parent)
        except OSError as e:
            log(f"scrape: cannot remove {parent}: {e}")


def _scrape_series(port: int, pid: int, count: int, gap_s: float, lead: bool = False) -> dict:
    """count scrapes, gap_s apart (0: back to back): latency, sizes, the
    collections they caused (treetrace_collections_total, read from each
    body: the collection that answered it), and treetrace's VmRSS after each."""
    lat, size, coll, dur, rss = [], [], [], [], []
    bad = 0
    for i in range(count):
        if gap_s and (i or lead):  # lead: the first one waits too
            time.sleep(gap_s)
        dt, status, body = _http_get(port)
        rss.append(proc_status_kib(pid, "VmRSS"))
        if status != 200:
            bad += 1
            continue
        lat.append(dt * 1e3)
        size.append(len(body))
        coll.append(_sample(body, "treetrace_collections_total"))
        dur.append(_sample(body, "treetrace_collection_duration_seconds"))
    return {"latency_ms": Dist(lat).to_json(), "bytes": Dist(size).to_json(), "failed": bad,
            "collections": len({x for x in coll if x is not None}), "scrapes": len(lat), "rss_kib": rss,
            # the previous collection's own time, as treetrace reports it
            "collection_ms": Dist([d * 1e3 for d in dur if d is not None]).to_json()}


def _scrape_run(cfg: dict, specs: dict[str, ToolSpec], paths: dict, logdir: str, mount: str, n: int,
                trim: bool = False) -> dict:
    """n groups, scraped: spaced (a fresh collection each), at Prometheus
    intervals (past the 5 s for which PSS is reused: each re-reads it) and
    back to back. trim: the diagnostic variant with freed heap given back
    every second (bench/diag/malloc_trim_preload.c), memory figures only."""
    out: dict = {"n": n, "trim": trim}
    with _scratch_groups(mount, n) as (parent, children):
        rel = "/" + os.path.relpath(parent, mount)
        sleepers = []
        try:
            t0 = time.monotonic()
            for c in children:
                # tt_workload joins the cgroup itself before anything else ($TT_CGROUP_PROCS).
                sleepers.append(start([paths["tt_workload"], "sleep", "900000"],
                                      env=dict(os.environ, TT_CGROUP_PROCS=os.path.join(c, "cgroup.procs"))))
            deadline = time.monotonic() + 120
            while sum(1 for c in children if _members(c)) < n:
                dead = [p for p in sleepers if p.poll() is not None]
                if dead:
                    raise RuntimeError(f"{len(dead)} tt_workload sleep processes exited (first: {dead[0].returncode})")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {sum(1 for c in children if _members(c))} of {n} groups populated")
                time.sleep(0.05)
            out["groups_started_s"] = time.monotonic() - t0
            key = f"treetrace_scrape_{n}" + ("_trim" if trim else "")
            err_path = os.path.join(logdir, f"{key}.0.stderr")
            if os.path.exists(err_path):
                os.unlink(err_path)
            base = specs["treetrace"]
            cmd = [base.cmds[0][0], "-v", "--listen", "127.0.0.1:0", "--events", "none", "--group-by", "cgroup",
                   "--cgroup", parent]
            out["cmd"] = " ".join(["treetrace"] + cmd[1:-1] + ["SCRATCH_CGROUP"])
            env = {"LD_PRELOAD": paths["trim_preload"]} if trim else None
            tool = start_tool(ToolSpec(key, base.label, [cmd], base.classify, base.ready_hooks, env=env), logdir)
            try:
                with open(err_path, "rb") as f:
                    err = f.read()
                m = METRICS_AT_RE.search(err)
                if not m:
                    raise RuntimeError(f"no 'metrics at' line in {err_path}")
                port = int(m.group(1))
                t = TRACING_RE.search(err)
                out["found_at_start"] = int(t.group(1)) if t else None
                pid = tool.pid
                # Before any scrape: treetrace has every process since its
                # startup scan, and has never built an exposition.
                out["mem_before"] = proc_mem_kib(pid)
                first_ms, status, body = _http_get(port)
                out["first_scrape_ms"] = first_ms * 1e3
                seen = _groups_in(body, rel)
                deadline = time.monotonic() + 60
                while seen < n and time.monotonic() < deadline:
                    time.sleep(0.2)
                    _, status, body = _http_get(port)
                    seen = _groups_in(body, rel)
                out["groups_seen"] = seen
                if seen < n:
                    raise RuntimeError(f"only {seen} of {n} groups in the exposition after 60 s")
                out["mem_after_first"] = proc_mem_kib(pid)
                time.sleep(0.2)
                cpu0 = proc_cpu_s(pid)
                out["spaced"] = _scrape_series(port, pid, cfg["sc_scrapes"], cfg["sc_gap_ms"] / 1e3)
                cpu1 = proc_cpu_s(pid)
                out["cpu_ms_per_spaced_scrape"] = (((cpu1 or 0) - (cpu0 or 0)) * 1e3 / out["spaced"]["scrapes"]
                                                   if out["spaced"]["scrapes"] else None)
                time.sleep(0.2)
                out["back_to_back"] = _scrape_series(port, pid, cfg["sc_scrapes"], 0)
                out["mem_after"] = proc_mem_kib(pid)
                if cfg["sc_pss_scrapes"] and not trim:
                    cpu0 = proc_cpu_s(pid)
                    out["pss_interval"] = _scrape_series(port, pid, cfg["sc_pss_scrapes"], cfg["sc_pss_gap_s"],
                                                          lead=True)
                    cpu1 = proc_cpu_s(pid)
                    out["cpu_ms_per_pss_scrape"] = (((cpu1 or 0) - (cpu0 or 0)) * 1e3 / out["pss_interval"]["scrapes"]
                                                    if out["pss_interval"]["scrapes"] else None)
                    out["mem_after_pss"] = proc_mem_kib(pid)
                out["node_tasks"] = count_tasks()
            finally:
                stop_tool(tool)
        finally:
            for p in sleepers:
                stop(p, signal.SIGKILL, timeout=5)
    return out


def scrape_cost(cfg: dict, specs: dict[str, ToolSpec], paths: dict, logdir: str) -> dict:
    """What a GET /metrics costs at 10, 100 and 1000 groups: latency, size of
    the exposition, and the memory the scrapes add to treetrace."""
    set_bpf_stats(False)
    mount = cgroup2_mount()
    if not mount:
        raise RuntimeError("no cgroup2 hierarchy in /proc/self/mountinfo")
    levels = list(cfg["sc_levels"])
    res: dict = {"scrapes": cfg["sc_scrapes"], "gap_ms": cfg["sc_gap_ms"], "cgroup2_mount": mount,
                 "load_before": _loadavg(), "levels": []}
    with _room_for(max(levels) + 64) as changed:
        res["limits_changed"] = changed
        for n in levels:
            log(f"scrape: {n} groups")
            res["levels"].append(_scrape_run(cfg, specs, paths, logdir, mount, n))
        if cfg["sc_trim_variant"] and paths.get("trim_preload"):
            log(f"scrape: {max(levels)} groups, freed heap trimmed every second")
            res["trim"] = _scrape_run(cfg, specs, paths, logdir, mount, max(levels), trim=True)
    res["pss_gap_s"] = cfg["sc_pss_gap_s"]
    res["pss_scrapes"] = cfg["sc_pss_scrapes"]
    res["load_after"] = _loadavg()
    return res


# ---- micro-benchmarks ------------------------------------------------------------


def micro(paths: dict, quick: bool) -> dict | None:
    exe = paths.get("micro")
    if not exe:
        return None
    args = [exe, "--benchmark_format=json", "--benchmark_repetitions=" + ("2" if quick else "5"),
            "--benchmark_report_aggregates_only=true", "--benchmark_min_time=" + ("0.05" if quick else "0.3")]
    out = run(args, timeout=600).stdout
    data = json.loads(out)
    res = {}
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        agg = b.get("aggregate_name")
        if agg in ("median", "min", "max", "stddev", "cv"):
            res.setdefault(name, {})[agg] = b.get("real_time")
            res[name]["unit"] = b.get("time_unit")
            if "items_per_second" in b and agg == "median":
                res[name]["items_per_second"] = b["items_per_second"]
    return {"benchmarks": res, "context": data.get("context", {})}


# ---- replay and the HTML report ----------------------------------------------------


def _gen_recording(paths: dict, out: str, workers: int, duration_s: int) -> dict:
    """Writes a synthetic recording with bench/report/gen_recording.cpp (a
    prefork pool through RecorderSink, fixed seed); its JSON line."""
    r = run([paths["gen_recording"], "-o", out, "--workers", str(workers), "--duration", str(duration_s)],
            timeout=900)
    info = json.loads(r.stdout.strip().splitlines()[-1])
    info["path"] = out
    return info


def _timed_report(treetrace: str, recording: str, fmt: str, out: str, logdir: str) -> dict:
    """One `treetrace report` run: wall time, CPU time and peak RSS of the process."""
    cmd = [treetrace, "report", recording, "--format", fmt, "-o", out]
    errlog = os.path.join(logdir, f"report-{fmt}.stderr")
    with open(errlog, "w") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        with open(errlog) as e:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {e.read()[-2000:]}")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kib": ru.ru_maxrss}


def _records_read(treetrace: str, recording: str) -> int:
    """What `treetrace report` counts as records (meta.records of its JSON)."""
    out = run([treetrace, "report", recording, "--format", "json"], timeout=600).stdout
    return int(json.loads(out)["meta"]["records"])


def report_replay(cfg: dict, paths: dict, logdir: str) -> dict:
    """Replay speed of `treetrace report` and the cost of its HTML report,
    on recordings written by bench/report/gen_recording (no BPF, no root
    needed). Both runs of a round are made back to back, their order
    rotated from round to round; the files are read once before, so every
    timed run reads them from the page cache."""
    tt = paths["treetrace"]
    work = os.path.join(os.path.dirname(logdir), "report-data")
    os.makedirs(work, exist_ok=True)
    log(f"report: generating a {cfg['rp_hour_s']} s recording of {cfg['rp_hour_workers']} workers")
    hour = _gen_recording(paths, os.path.join(work, "pool-hour.ttrec"), cfg["rp_hour_workers"], cfg["rp_hour_s"])
    log(f"report: generating a {cfg['rp_big_s']} s recording of {cfg['rp_big_workers']} workers")
    big = _gen_recording(paths, os.path.join(work, "pool-big.ttrec"), cfg["rp_big_workers"], cfg["rp_big_s"])
    for rec in (hour, big):
        rec["records_read"] = _records_read(tt, rec["path"])
        if rec["records_read"] != rec["records"]:
            raise RuntimeError(f"{rec['path']}: the generator wrote {rec['records']} records, "
                               f"treetrace report read {rec['records_read']}")
    html_out = os.path.join(work, "pool-hour.html")
    jobs = {
        "replay": lambda: _timed_report(tt, big["path"], "json", "/dev/null", logdir),
        "html": lambda: _timed_report(tt, hour["path"], "html", html_out, logdir),
    }
    for job in jobs.values():  # warm-up: the page cache, and the first run's page faults
        job()
    runs: dict[str, list[dict]] = {k: [] for k in jobs}
    load_before = _loadavg()
    for r in range(cfg["rp_rounds"]):
        for name in rotate(list(jobs), r):
            runs[name].append(jobs[name]())
    html_bytes = os.path.getsize(html_out)
    rec_big = big["records"]
    return {
        "rounds": cfg["rp_rounds"], "load_before": load_before, "load_after": _loadavg(),
        "hour": {k: v for k, v in hour.items() if k != "path"},
        "big": {k: v for k, v in big.items() if k != "path"},
        "replay": {
            "records_per_s": Dist([rec_big / x["wall_s"] for x in runs["replay"]]).to_json(),
            "records_per_cpu_s": Dist([rec_big / x["cpu_s"] for x in runs["replay"] if x["cpu_s"] > 0]).to_json(),
            "wall_s": Dist([x["wall_s"] for x in runs["replay"]]).to_json(),
            "cpu_s": Dist([x["cpu_s"] for x in runs["replay"]]).to_json(),
            "maxrss_kib": max(x["maxrss_kib"] for x in runs["replay"]),
        },
        "html": {
            "wall_s": Dist([x["wall_s"] for x in runs["html"]]).to_json(),
            "cpu_s": Dist([x["cpu_s"] for x in runs["html"]]).to_json(),
            "maxrss_kib": max(x["maxrss_kib"] for x in runs["html"]),
            "bytes": html_bytes,
        },
    }
