#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Diagnostic, not part of bench/run: splits treetrace's own CPU samples
(`perf record -g -p PID`) under a storm by what the reader was doing: the
pipeline stage in userspace, or the kind of kernel work in its context.

    perf record -g -F 20000 -p $(pidof treetrace) -o perf.data -- sleep 8   # while a storm runs
    perf script -i perf.data -F ip,sym | bench/diag/reader_parts.py
"""
import collections
import sys

from bpf_parts import stacks  # the same `perf script -F ip,sym` parser

# First match wins; each is (label, any of these frame substrings).
KERNEL = [
    ("kernel: interrupts and softirqs taken in treetrace's context", ("handle_softirqs", "irq_exit", "sysvec_",
                                                                       "asm_common_interrupt")),
    ("kernel: write() of the output", ("ksys_write", "__x64_sys_write")),
    ("kernel: epoll_wait()", ("do_epoll", "epoll_wait")),
    ("kernel: futex (handing lines to the writer thread)", ("futex",)),
    ("kernel: page faults", ("exc_page_fault",)),
    ("kernel: other system calls", ("do_syscall_64", "entry_SYSCALL")),
]
USER = [
    ("user: output queue (lines to the writer thread)", ("OutputQueue",)),
    ("user: rendering (JSON/text)", ("EventRenderer", "JsonWriter", "json_event", "render_")),
    ("user: aggregation", ("Aggregator", "PidTable", "ReportBuilder", "Account", "remove_member")),
    ("user: decoding", ("decode_",)),
    ("user: ring buffer consume (libbpf)", ("ring_buffer__consume", "ringbuf_process_ring")),
]


def main():
    counts = collections.Counter()
    for frames in stacks(sys.stdin.read()):
        label = None
        for name, keys in KERNEL:
            if any(k in f for f in frames for k in keys):
                label = name
                break
        if label is None:
            # The innermost pipeline stage on the stack owns the sample.
            for f in frames:
                label = next((name for name, keys in USER if any(k in f for k in keys)), None)
                if label:
                    break
        counts[label or "user: other (allocator, libc, the event loop)"] += 1
    total = sum(counts.values())
    if not total:
        sys.exit("reader_parts: no samples on stdin")
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f}%  {name}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()
