#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Diagnostic, not part of bench/run: splits each BPF program's samples in a
system-wide `perf record -g` by the function the program called (a helper,
or the program's own instructions), and optionally one helper's samples by
their leaf function. For machines whose bpftool has no `prog profile`.

    perf record -a -g -F 25000 -o perf.data -- sleep 5   # while a workload runs
    perf script -i perf.data -F ip,sym | bench/diag/bpf_parts.py handle_fork handle_exec handle_exit
    perf script -i perf.data -F ip,sym | bench/diag/bpf_parts.py --leaves bpf_task_storage_get_recur handle_fork
"""
import argparse
import collections
import re
import sys


def stacks(text):
    """Each sample's frames, leaf first. With `perf record -g` a sample is a
    block of frames and blocks are split by blank lines; without -g each
    line is a sample of one frame."""
    for block in text.split("\n\n") if "\n\n" in text.strip() else text.splitlines():
        frames = []
        for line in block.strip().splitlines():
            parts = line.split(None, 1)
            frames.append(parts[1].strip() if len(parts) > 1 else "?")
        if frames:
            yield frames


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leaves", metavar="HELPER", help="split this helper's samples by leaf function instead")
    ap.add_argument("programs", nargs="+")
    a = ap.parse_args()
    all_stacks = list(stacks(sys.stdin.read()))
    for prog in a.programs:
        pattern = re.compile(r"bpf_prog_\w+_" + re.escape(prog) + "$")
        parts = collections.Counter()
        total = 0
        for frames in all_stacks:
            at = next((i for i, f in enumerate(frames) if pattern.search(f)), None)
            if at is None:
                continue
            callee = "(the program's own instructions)" if at == 0 else frames[at - 1]
            if a.leaves:
                if callee != a.leaves:
                    continue
                callee = frames[0]
            total += 1
            parts[callee] += 1
        title = f"{prog} / {a.leaves}" if a.leaves else prog
        print(f"{title}: {total} samples")
        for name, n in parts.most_common(10):
            print(f"  {100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
