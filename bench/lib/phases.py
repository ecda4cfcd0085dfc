"""The measurements. Each phase returns a JSON-able dict; report.py turns
them into docs/benchmarks.md. Side-by-side figures are always taken in the
same round, with the order of the conditions rotated from round to round
(A B C, B C A, C A B, ...)."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

from common import (Dist, count_processes, forks_since_boot, log, median, prog_table, proc_cpu_s, proc_mem_kib,
                    proc_status_kib, quantile, ratio, run, set_bpf_stats, start, stop)
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


def kernel_cost(cfg: dict, specs: dict[str, ToolSpec], paths: dict, logdir: str, available: list[str]) -> dict:
    configs = ["floor_alone"] + [k for k in ("treetrace", "treetrace_filtered", "bpftrace", "cpudist", "runqlat",
                                             "execsnoop_exitsnoop") if k in available] + ["ringbuf_probe"]
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
                fhook = hook if hook in entry["floor"] else ("fork" if hook.startswith("rb_") else "switch")
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
        "pipe": (f"perf bench sched pipe -l {cfg['pipe_loops']}", "ops/s",
                 lambda: (perf_pipe(cfg["pipe_loops"]), cfg["pipe_loops"])),
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
