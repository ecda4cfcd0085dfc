#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""A psutil sampler, the way per-task metrics are commonly bolted on today
(e.g. to Celery workers): every INTERVAL it walks every process on the
node and reads its RSS and CPU times. For each process it keeps the
highest RSS and the last CPU time it saw.

    psutil_sampler.py [--interval 0.1] [--name COMM] OUT.jsonl

Prints "ready" once the first sweep is done. On SIGINT/SIGTERM it writes
one JSON line per process seen (only those named COMM, if given) to OUT.
"""
import argparse
import json
import signal
import time

import psutil

stop = False


def on_signal(_sig, _frame):
    global stop
    stop = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--name", default=None)
    ap.add_argument("out")
    a = ap.parse_args()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    seen = {}
    sweeps = 0
    next_t = time.monotonic()
    while not stop:
        for p in psutil.process_iter(["name", "create_time"]):
            try:
                with p.oneshot():
                    mem = p.memory_info()
                    cpu = p.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            key = (p.pid, p.info["create_time"])
            rec = seen.get(key)
            if rec is None:
                rec = seen[key] = {"pid": p.pid, "name": p.info["name"], "samples": 0, "rss_max_bytes": 0}
            rec["samples"] += 1
            rec["rss_max_bytes"] = max(rec["rss_max_bytes"], mem.rss)
            rec["cpu_s"] = cpu.user + cpu.system
        sweeps += 1
        if sweeps == 1:
            print("ready", flush=True)
        next_t += a.interval
        delay = next_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_t = time.monotonic()  # a sweep overran: do not try to catch up

    with open(a.out, "w") as f:
        for rec in seen.values():
            if a.name is None or rec["name"] == a.name:
                f.write(json.dumps(rec) + "\n")
        f.write(json.dumps({"sweeps": sweeps}) + "\n")


if __name__ == "__main__":
    main()
