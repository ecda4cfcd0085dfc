# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""The tracers bench/run compares: how to start each one, which of its BPF
programs sits on which hook, and how to tell that it is attached."""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable

from common import (bpf_stats_enabled, log, note_owned, proc_cpu_s, prog_ids_of, prog_table, set_bpf_stats,
                    start, stop)


def _by_name(mapping: dict[str, str]) -> Callable[[dict[int, str]], dict[int, str]]:
    def classify(progs: dict[int, str]) -> dict[int, str]:
        return {i: mapping[n] for i, n in progs.items() if n in mapping}
    return classify


def _bpftrace_classify(progs: dict[int, str]) -> dict[int, str]:
    # bpftrace 0.17 loads without BTF names, so the kernel keeps only 15
    # characters: exec and exit are both "sched_process_e". It loads the
    # probes in script order, so the lower id is exec.
    out = {}
    dup = sorted(i for i, n in progs.items() if n == "sched_process_e")
    for i, n in progs.items():
        if n == "sched_switch":
            out[i] = "switch"
        elif n == "sched_process_f":
            out[i] = "fork"
    if len(dup) == 2:
        out[dup[0]] = "exec"
        out[dup[1]] = "exit"
    return out


@dataclass
class ToolSpec:
    key: str
    label: str
    cmds: list[list[str]]
    classify: Callable[[dict[int, str]], dict[int, str]]
    ready_hooks: list[str]
    stdout: str | None = None  # a file for the first command's stdout; None: /dev/null
    note: str = ""
    env: dict | None = None  # extra environment variables


@dataclass
class RunningTool:
    spec: ToolSpec
    procs: list[subprocess.Popen]
    hooks: dict[int, str] = field(default_factory=dict)  # prog id -> hook
    started_at: float = 0.0
    ready_after_s: float | None = None

    @property
    def pid(self) -> int:
        return self.procs[0].pid

    def refresh_hooks(self) -> dict[int, str]:
        table = prog_table()
        ids: set[int] = set()
        for p in self.procs:
            ids |= prog_ids_of(p.pid)
        note_owned(ids)
        names = {i: table[i]["name"] for i in ids if i in table}
        self.hooks = self.spec.classify(names)
        return self.hooks


def tool_specs(paths: dict[str, str]) -> dict[str, ToolSpec]:
    tt = paths["treetrace"]
    tt_progs = _by_name({"handle_switch": "switch", "handle_fork": "fork", "handle_exec": "exec",
                         "handle_exit": "exit"})
    specs = {
        "floor": ToolSpec(
            "floor", "empty tp_btf programs (floor)",
            [[paths["floor_loader"], paths["floor_obj"], "floor_switch", "floor_fork", "floor_exec", "floor_exit"]],
            _by_name({"floor_switch": "switch", "floor_fork": "fork", "floor_exec": "exec", "floor_exit": "exit"}),
            ["switch", "fork", "exec", "exit"]),
        "ringbuf_probe": ToolSpec(
            "ringbuf_probe", "ring buffer submit probe (bench/floor, 128-byte record per fork)",
            [[paths["floor_loader"], paths["floor_obj"], "ringbuf_wake", "ringbuf_nowake"]],
            _by_name({"ringbuf_wake": "rb_wake", "ringbuf_nowake": "rb_nowake"}), ["rb_wake", "rb_nowake"]),
        "parts_probe": ToolSpec(
            "parts_probe", "building-block probes (bench/floor, each alone, treetrace's sizes)",
            [[paths["floor_loader"], paths["floor_obj"], "parts_storage_create", "parts_hash_insert",
              "parts_hash_delete", "parts_clock_read"]],
            _by_name({"parts_storage_create": "storage_create", "parts_hash_insert": "hash_insert",
                      "parts_hash_delete": "hash_delete", "parts_clock_read": "clock_read"}),
            ["storage_create", "hash_insert", "hash_delete", "clock_read"]),
        "peek_probe": ToolSpec(
            "peek_probe", "first-step probes (bench/floor: one load, no task given storage)",
            [[paths["floor_loader"], paths["floor_obj"], "parts_peek_fork", "parts_peek_exit"]],
            _by_name({"parts_peek_fork": "peek_fork", "parts_peek_exit": "peek_exit"}), ["peek_fork", "peek_exit"]),
        "treetrace": ToolSpec(
            "treetrace", "treetrace (node-wide, every task traced)",
            [[tt, "--format", "json", "--events", "exec,exit"]], tt_progs, ["switch", "fork", "exec", "exit"]),
        "treetrace_filtered": ToolSpec(
            "treetrace_filtered", "treetrace --comm nonexistent_xyz (every task filtered out)",
            [[tt, "--format", "json", "--comm", "nonexistent_xyz"]], tt_progs, ["switch", "fork", "exec", "exit"]),
        "bpftrace": ToolSpec(
            "bpftrace", "bpftrace equivalent script",
            [["bpftrace", "-B", "line", paths["bpftrace_script"]]], _bpftrace_classify,
            ["switch", "fork", "exec", "exit"]),
        "cpudist": ToolSpec(
            "cpudist", "libbpf-tools cpudist", [[paths["libbpf_tools"] + "/cpudist", "3600"]],
            _by_name({"sched_switch_btf": "switch", "sched_switch_tp": "switch"}), ["switch"]),
        "runqlat": ToolSpec(
            "runqlat", "libbpf-tools runqlat", [[paths["libbpf_tools"] + "/runqlat", "3600"]],
            _by_name({"sched_switch": "switch", "sched_wakeup": "wakeup", "sched_wakeup_new": "wakeup_new",
                      "handle_sched_switch": "switch", "handle_sched_wakeup": "wakeup",
                      "handle_sched_wakeup_new": "wakeup_new"}), ["switch"]),
        "execsnoop_exitsnoop": ToolSpec(
            "execsnoop_exitsnoop", "libbpf-tools execsnoop + exitsnoop",
            [[paths["libbpf_tools"] + "/execsnoop"], [paths["libbpf_tools"] + "/exitsnoop"]],
            _by_name({"tracepoint__syscalls__sys_enter_execve": "exec_enter",
                      "tracepoint__syscalls__sys_exit_execve": "exec_exit",
                      "sched_process_exit": "exit"}), ["exec_enter", "exit"]),
    }
    return specs


def start_tool(spec: ToolSpec, logdir: str, timeout: float = 60.0, stdout_path: str | None = None) -> RunningTool:
    """Starts every process of spec and waits until each hook in
    spec.ready_hooks has run at least once (by bpf_stats), poking the
    lifecycle hooks with /bin/true meanwhile. Stats are switched on for the
    wait and restored after."""
    os.makedirs(logdir, exist_ok=True)
    procs = []
    t0 = time.monotonic()
    for n, cmd in enumerate(spec.cmds):
        err = open(os.path.join(logdir, f"{spec.key}.{n}.stderr"), "ab")
        out_path = stdout_path if (n == 0 and stdout_path) else os.devnull
        out = open(out_path, "wb")
        # stdin is a pipe we hold: the floor loader exits when it closes,
        # so even a killed bench/run leaves no program behind.
        env = dict(os.environ, **spec.env) if spec.env else None
        procs.append(start(cmd, stdout=out, stderr=err, stdin=subprocess.PIPE, env=env))
        out.close()
        err.close()
    tool = RunningTool(spec, procs, started_at=t0)
    was_on = bpf_stats_enabled()
    if not was_on:
        set_bpf_stats(True)
    try:
        deadline = t0 + timeout
        while True:
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{spec.key}: {p.args[0]} exited {p.returncode} while starting "
                                       f"(see {logdir}/{spec.key}.*.stderr)")
            hooks = tool.refresh_hooks()
            if hooks:
                table = prog_table()
                fired = {h for i, h in hooks.items() if i in table and table[i]["run_cnt"] > 0}
                if all(h in fired for h in spec.ready_hooks):
                    break
            if time.monotonic() > deadline:
                stop_tool(tool)
                raise RuntimeError(f"{spec.key}: not attached after {timeout:.0f} s (hooks seen: {hooks})")
            subprocess.run(["/bin/true"])
            time.sleep(0.05)
    finally:
        if not was_on:
            set_bpf_stats(False)
    # A tracer's work right after attaching (treetrace's startup scan and
    # its first records) is not what a workload should be measured against:
    # wait until the tool is idle, using less than 4% of a CPU.
    settle_deadline = time.monotonic() + 5.0
    prev = sum(proc_cpu_s(p.pid) or 0.0 for p in procs)
    while time.monotonic() < settle_deadline:
        time.sleep(0.25)
        cur = sum(proc_cpu_s(p.pid) or 0.0 for p in procs)
        if cur - prev < 0.01:
            break
        prev = cur
    tool.ready_after_s = time.monotonic() - t0
    return tool


def stop_tool(tool: RunningTool) -> list[int | None]:
    codes = []
    for p in tool.procs:
        codes.append(stop(p))
    return codes


def check_tool_usable(spec: ToolSpec, logdir: str) -> str | None:
    """None if the tool starts and attaches here; else why not."""
    try:
        t = start_tool(spec, logdir, timeout=45)
    except Exception as e:  # noqa: BLE001
        log(f"{spec.key} is not usable here: {e}")
        return str(e)
    stop_tool(t)
    return None
