#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Diagnostic, not part of bench/run: how long treetrace's load step takes
(`treetrace -v` reports it: kernel BTF, relocations, verifier) in each mode
that changes which programs' paths the verifier has to walk, for one or more
builds side by side. Rounds interleave the builds, so both see the same
machine. Run as root:

    bench/diag/load_time.py [--rounds N] NAME=PATH [NAME=PATH ...]

e.g. bench/diag/load_time.py before=/tmp/old/treetrace after=build/treetrace
Prints a Markdown table of the median [min-max] load time in ms.
"""
import argparse
import re
import statistics
import subprocess
import sys

MODES = {
    "node-wide": [],
    "`-- /bin/true`": ["--", "/bin/true"],
    "`--comm 'foo*' -- /bin/true`": ["--comm", "foo*", "--", "/bin/true"],
    "`--cgroup / -- /bin/true`": ["--cgroup", "/", "--", "/bin/true"],
}


def load_ms(binary, args):
    p = subprocess.run(["timeout", "-s", "INT", "3", binary, "-v", "--format", "json", "--events", "exec"] + args,
                       capture_output=True, text=True)
    m = re.search(r"loaded in ([0-9.]+) ms", p.stderr)
    if not m:
        sys.exit(f"load_time: {binary} {' '.join(args)} did not report its load step: {p.stderr.strip()[-200:]}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("builds", nargs="+", metavar="NAME=PATH")
    a = ap.parse_args()
    builds = []
    for b in a.builds:
        name, sep, path = b.partition("=")
        if not sep:
            sys.exit(f"load_time: expected NAME=PATH, got {b!r}")
        builds.append((name, path))
    got = {}
    for _ in range(a.rounds):
        for mode, args in MODES.items():
            for name, path in builds:
                got.setdefault((mode, name), []).append(load_ms(path, args))
    print("| Mode | " + " | ".join(f"{n}: load step, ms" for n, _ in builds) + " |")
    print("|---|" + "---|" * len(builds))
    for mode in MODES:
        cells = []
        for name, _ in builds:
            v = got[(mode, name)]
            cells.append(f"{statistics.median(v):.0f} [{min(v):.0f}–{max(v):.0f}]")
        print(f"| {mode} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
