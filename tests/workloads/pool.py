# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# A prefork pool with workers of known memory and CPU shapes, for the leak
# verdict and advice tests: python3 pool.py SECONDS PIDFILE
#   leak    grows 1 MiB/s, with 60 MiB spikes for 1 s every 6 s
#   spiky   100 MiB for 1.5 s every 5 s, otherwise flat; half a core
#   warmup  50 MiB in its first 5 s, then flat; half a core
#   osc     40 MiB +- 40 MiB, period 8 s
# Each line of PIDFILE is "kind pid". Big blocks are filled, so they are
# resident; MALLOC_MMAP_THRESHOLD_ should be low so frees return pages.
import math
import os
import sys
import time

SECONDS = float(sys.argv[1])
MiB = 1 << 20


def block(mib):
    return b"\x01" * (mib * MiB)


def worker(kind):
    t0 = time.time()
    held, spike, osc = [], None, []
    half_core = kind in ("spiky", "warmup")
    while True:
        t = time.time() - t0
        if t >= SECONDS:
            return
        second = int(t)
        if kind == "leak":
            while len(held) < second + 1:
                held.append(block(1))
            spike = block(60) if second % 6 == 3 else None
        elif kind == "spiky":
            spike = block(100) if (t % 5.0) < 1.5 else None
        elif kind == "warmup":
            while len(held) < min(5, second + 1):
                held.append(block(10))
        elif kind == "osc":
            want = int(40 + 40 * math.sin(2 * math.pi * t / 8.0))
            while len(osc) < want:
                osc.append(block(1))
            del osc[want:]
        # 100 ms cycles: busy for half of each when asked, else asleep.
        end = time.time() + 0.1
        if half_core:
            busy_until = time.time() + 0.05
            while time.time() < busy_until:
                pass
        time.sleep(max(0.0, end - time.time()))


def main():
    kinds = ["leak", "spiky", "warmup", "osc"]
    with open(sys.argv[2], "w") as f:
        for kind in kinds:
            pid = os.fork()
            if pid == 0:
                worker(kind)
                os._exit(0)
            f.write(f"{kind} {pid}\n")
    for _ in kinds:
        os.wait()


main()
