# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Process handling, BPF program statistics and small statistics helpers
shared by the bench/run phases.

Every process bench/run starts goes through start(), which records it so
that cleanup() can end it (by its own process group id, never by name) even
when the run is interrupted.
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

_started: list[subprocess.Popen] = []
_owned_prog_ids: set[int] = set()


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def start(cmd: list[str], **kw) -> subprocess.Popen:
    """Starts cmd in its own session so that stop() can end its children too."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("start_new_session", True)
    p = subprocess.Popen(cmd, **kw)
    _started.append(p)
    return p


def stop(p: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 15.0) -> int | None:
    """Asks p to finish with sig, then kills its process group if it does not."""
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"pid {p.pid} ({p.args[0] if isinstance(p.args, list) else p.args}) did not stop: killing it")
            _kill_group(p)
            p.wait(timeout=10)
    # Children it left behind in its session (a tool's helpers, a shell's jobs).
    _kill_group(p, quiet=True)
    for stream in (p.stdin, p.stdout, p.stderr):
        if stream:
            try:
                stream.close()
            except OSError:
                pass
    if p in _started:
        _started.remove(p)
    return p.returncode


def _kill_group(p: subprocess.Popen, quiet: bool = False) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def cleanup() -> None:
    for p in list(_started):
        try:
            stop(p, signal.SIGINT, timeout=5)
        except Exception:  # noqa: BLE001 - best effort on the way out
            _kill_group(p)


def run(cmd: list[str], check: bool = True, timeout: float | None = None, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    r = subprocess.run(cmd, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {(r.stderr or '')[-2000:]}")
    return r


# ---- BPF programs ----------------------------------------------------------


def prog_ids_of(pid: int) -> set[int]:
    """Program ids whose fds (program or link) process pid holds."""
    ids: set[int] = set()
    d = f"/proc/{pid}/fdinfo"
    try:
        names = os.listdir(d)
    except OSError:
        return ids
    for fd in names:
        try:
            with open(f"{d}/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            continue
    return ids


def prog_table() -> dict[int, dict]:
    """bpftool prog show -j, by id: name, run_time_ns and run_cnt (0 when stats are off)."""
    out = run(["bpftool", "prog", "show", "-j"]).stdout
    table = {}
    for p in json.loads(out or "[]"):
        table[p["id"]] = {
            "name": p.get("name", ""),
            "type": p.get("type", ""),
            "run_time_ns": p.get("run_time_ns", 0),
            "run_cnt": p.get("run_cnt", 0),
        }
    return table


def note_owned(ids: set[int]) -> None:
    _owned_prog_ids.update(ids)


def leftover_programs(wait_s: float = 10.0) -> list[str]:
    """Programs that any tool bench/run started still has loaded. The kernel
    frees a program shortly after its last fd closes, so allow a moment."""
    deadline = time.monotonic() + wait_s
    while True:
        table = prog_table()
        left = [f"{i} {table[i]['name']}" for i in sorted(_owned_prog_ids) if i in table]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.25)


TRACING_TYPES = {"tracing", "tracepoint", "raw_tracepoint", "kprobe", "perf_event", "raw_tracepoint_writable"}


def foreign_programs() -> set[str]:
    """Tracing programs loaded on the node that no tool of bench/run owns:
    other users' tracers, which add their own cost to every measurement."""
    try:
        table = prog_table()
    except Exception:  # noqa: BLE001
        return set()
    ours = set(_owned_prog_ids)
    for p in list(_started):
        ours |= prog_ids_of(p.pid)
    ours |= _owned_prog_ids  # a tool that started and was noted meanwhile
    return {f"{v['name'] or '?'} ({v['type']}, id {i})" for i, v in table.items()
            if i not in ours and v["type"] in TRACING_TYPES}


def set_bpf_stats(on: bool) -> None:
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1" if on else "0")


def bpf_stats_enabled() -> bool:
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        return f.read().strip() == "1"


# ---- /proc -----------------------------------------------------------------

def _schedstat_s(pid: int, field: int) -> float | None:
    """Field `field` of /proc/PID/task/TID/schedstat (nanoseconds), summed
    over every live thread of pid, in seconds."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[field])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def proc_cpu_s(pid: int) -> float | None:
    """CPU time of every live thread of pid, in seconds, from schedstat
    (nanoseconds, unlike the tick-sampled utime/stime of /proc/PID/stat)."""
    return _schedstat_s(pid, 0)


def proc_runqueue_wait_s(pid: int) -> float | None:
    """Time pid's threads have spent runnable but waiting for a CPU, in seconds."""
    return _schedstat_s(pid, 1)


def proc_status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_mem_kib(pid: int) -> dict | None:
    """VmRSS and VmHWM, their anonymous/file split, and how much of the RSS is
    BPF map memory mapped into the process (the ring buffer)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k = line.split(":", 1)[0]
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(line.split()[1])
        bpf = 0
        cur_bpf = False
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):
                    cur_bpf = "anon_inode:bpf-map" in line
                elif first == "Rss:" and cur_bpf:
                    bpf += int(line.split()[1])
        out["BpfMapRss"] = bpf
    except OSError:
        return None
    return out


def forks_since_boot() -> int:
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("processes "):
                return int(line.split()[1])
    return 0


def count_processes() -> int:
    return sum(1 for d in os.listdir("/proc") if d.isdigit())


# ---- statistics --------------------------------------------------------------


@dataclass
class Dist:
    values: list[float] = field(default_factory=list)

    def add(self, v: float | None) -> None:
        if v is not None:
            self.values.append(v)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def lo(self) -> float | None:
        return min(self.values) if self.values else None

    @property
    def hi(self) -> float | None:
        return max(self.values) if self.values else None

    def to_json(self) -> dict:
        return {"values": self.values, "median": self.median, "min": self.lo, "max": self.hi}


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b
