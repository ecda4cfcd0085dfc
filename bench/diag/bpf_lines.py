#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Diagnostic, not part of bench/run: splits one loaded BPF program's
samples in a system-wide `perf record` by the source line they fell in,
using the program's jited line info. For machines whose bpftool has
neither `prog profile` nor libbfd (no `dump jited`). Run it while the
program is still loaded:

    perf record -a -F 25000 -o perf.data -- sleep 5      # while a workload runs
    perf script -i perf.data -F ip,sym,symoff | bench/diag/bpf_lines.py handle_fork

With `perf record -g`, time in a helper the program calls counts at the
line of the call.
"""
import argparse
import bisect
import collections
import ctypes
import json
import re
import struct
import subprocess
import sys

from bpf_parts import stacks  # the same `perf script` parser

BPF_PROG_GET_FD_BY_ID = 13
BPF_OBJ_GET_INFO_BY_FD = 15
SYS_BPF = 321  # x86-64
INFO_SIZE = 232  # struct bpf_prog_info up to run_cnt and beyond; the kernel zero-fills the rest

libc = ctypes.CDLL(None, use_errno=True)


def bpf(cmd, attr: ctypes.Array) -> int:
    r = libc.syscall(SYS_BPF, cmd, attr, len(attr))
    if r < 0:
        raise OSError(ctypes.get_errno(), f"bpf({cmd})")
    return r


def prog_info(fd: int, info: ctypes.Array) -> None:
    attr = ctypes.create_string_buffer(struct.pack("IIQ", fd, len(info), ctypes.addressof(info)), 16)
    bpf(BPF_OBJ_GET_INFO_BY_FD, attr)


def line_table(prog_id: int):
    """[(jited address, xlated instruction index)], sorted, and the program's start address."""
    fd = bpf(BPF_PROG_GET_FD_BY_ID, ctypes.create_string_buffer(struct.pack("III", prog_id, 0, 0), 12))
    info = ctypes.create_string_buffer(INFO_SIZE)
    prog_info(fd, info)
    nr_ksyms, = struct.unpack_from("I", info, 104)
    nr_lines, = struct.unpack_from("I", info, 148)
    nr_jited_lines, = struct.unpack_from("I", info, 168)
    line_rec, jited_rec = struct.unpack_from("II", info, 172)
    ksyms = (ctypes.c_uint64 * max(nr_ksyms, 1))()
    lines = ctypes.create_string_buffer(nr_lines * line_rec)
    jited = (ctypes.c_uint64 * nr_jited_lines)()
    want = ctypes.create_string_buffer(INFO_SIZE)
    struct.pack_into("I", want, 104, nr_ksyms)
    struct.pack_into("Q", want, 112, ctypes.addressof(ksyms))
    struct.pack_into("I", want, 148, nr_lines)
    struct.pack_into("Q", want, 152, ctypes.addressof(lines))
    struct.pack_into("Q", want, 160, ctypes.addressof(jited))
    struct.pack_into("I", want, 168, nr_jited_lines)
    struct.pack_into("II", want, 172, line_rec, jited_rec)
    prog_info(fd, want)
    insn_offs = [struct.unpack_from("I", lines, i * line_rec)[0] for i in range(nr_lines)]
    return sorted(zip(list(jited), insn_offs)), ksyms[0]


def sources(prog_id: int) -> dict[int, str]:
    """xlated instruction index -> the source line bpftool prints before it."""
    out = subprocess.run(["bpftool", "prog", "dump", "xlated", "id", str(prog_id), "linum"],
                         capture_output=True, text=True, check=True).stdout
    result, pending = {}, None
    for line in out.splitlines():
        if line.startswith(";"):
            m = re.match(r";\s*(.*?)\s*\[file:.*line_num:(\d+)", line)
            pending = f"{m.group(2)}: {m.group(1)}" if m else line[1:].strip()
            continue
        m = re.match(r"\s*(\d+):", line)
        if m and pending:
            result[int(m.group(1))] = pending
            pending = None
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("program")
    a = ap.parse_args()
    progs = [p for p in json.loads(subprocess.check_output(["bpftool", "prog", "show", "-j"]))
             if p.get("name") == a.program]
    if not progs:
        sys.exit(f"bpf_lines: no loaded program is named {a.program}")
    prog_id = progs[-1]["id"]
    table, start = line_table(prog_id)
    src = sources(prog_id)
    pattern = re.compile(r"bpf_prog_\w+_" + re.escape(a.program) + r"\+0x([0-9a-f]+)")
    addrs = [jaddr for jaddr, _ in table]
    counts, total = collections.Counter(), 0
    # A sample's first frame in the program is where it was, or the call it was in.
    for frames in stacks(sys.stdin.read()):
        m = next((m for m in map(pattern.search, frames) if m), None)
        if not m:
            continue
        idx = bisect.bisect_right(addrs, start + int(m.group(1), 16)) - 1
        if idx < 0:
            continue
        total += 1
        counts[src.get(table[idx][1], f"insn {table[idx][1]}")] += 1
    print(f"{a.program} (id {prog_id}): {total} samples")
    for line, n in counts.most_common(15):
        print(f"  {100 * n / total:5.1f}%  {line}")


if __name__ == "__main__":
    main()
