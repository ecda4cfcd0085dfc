# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Installs what the benchmarks need (Debian packages), mounts tracefs and
builds treetrace, the floor program, the workloads and the micro-benchmarks."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

from common import log, run

# Peers, load generators and the samplers, then what the builds need.
PACKAGES = [
    "bpftrace", "libbpf-tools", "python3-psutil", "sysstat", "linux-perf", "bpftool",
    "cmake", "make", "g++", "clang", "llvm", "pkg-config", "libbpf-dev",
    "libcli11-dev", "libfmt-dev", "libspdlog-dev", "libbenchmark-dev", "libmicrohttpd-dev",
]


def _installed(pkg: str) -> bool:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def install_packages() -> list[str]:
    """apt-get install whatever is missing; returns the packages that could not be had."""
    missing = [p for p in PACKAGES if not _installed(p)]
    if not missing:
        return []
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], env=env, capture_output=True)
    r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        # One unavailable package must not stop the others: retry one by one.
        for p in missing:
            subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", p], env=env,
                           capture_output=True)
    return [p for p in missing if not _installed(p)]


def mount_tracefs() -> str:
    """bpftrace's tracepoint: probes and execsnoop/exitsnoop need tracefs."""
    if os.path.exists("/sys/kernel/tracing/events/sched"):
        return "already mounted"
    r = subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], capture_output=True, text=True)
    if r.returncode == 0:
        return "mounted by bench/run"
    return "not available: " + r.stderr.strip()


def _newer(target: str, *sources: str) -> bool:
    if not os.path.exists(target):
        return False
    t = os.path.getmtime(target)
    return all(os.path.getmtime(s) <= t for s in sources)


def build(root: str, build_dir: str, want_micro: bool, want_report: bool = False) -> dict[str, str]:
    paths: dict[str, str] = {}
    out = os.path.join(build_dir, "bench")
    os.makedirs(out, exist_ok=True)

    cmake_args = ["cmake", "-S", root, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DTREETRACE_TESTS=OFF"]
    micro_dir = os.path.join(root, "bench", "micro", "CMakeLists.txt")
    micro = want_micro and os.path.exists(micro_dir)
    # The recording generator of the report phase needs no Google Benchmark.
    cmake_args.append(f"-DTREETRACE_BENCH_REPORT={'ON' if want_report else 'OFF'}")
    cmake_args.append(f"-DTREETRACE_BENCH={'ON' if micro else 'OFF'}")
    report_targets = ["treetrace_gen_recording"] if want_report else []
    targets = ["treetrace"] + (["treetrace_micro"] if micro else []) + report_targets
    last_err = ""
    for attempt in range(3):
        # Others may be editing the tree: a failed build is retried a little later.
        r1 = subprocess.run(cmake_args, capture_output=True, text=True)
        r2 = r1 if r1.returncode else subprocess.run(
            ["cmake", "--build", build_dir, "-j2", "--target", *targets], capture_output=True, text=True)
        if r1.returncode == 0 and r2.returncode == 0:
            break
        last_err = (r1.stdout + r1.stderr + r2.stdout + r2.stderr)[-3000:]
        if micro and "treetrace_micro" in last_err + r2.stderr:
            log("micro-benchmarks do not build; going on without them")
            micro = False
            cmake_args[-1] = "-DTREETRACE_BENCH=OFF"
            targets = ["treetrace"] + report_targets
            continue
        log(f"build failed (attempt {attempt + 1}), retrying in 30 s")
        time.sleep(30)
    else:
        raise RuntimeError("cannot build treetrace:\n" + last_err)
    paths["treetrace"] = os.path.join(build_dir, "treetrace")
    if want_report:
        paths["gen_recording"] = os.path.join(build_dir, "bench", "report", "treetrace_gen_recording")
    if micro:
        for cand in (os.path.join(build_dir, "bench", "micro", "treetrace_micro"),
                     os.path.join(build_dir, "treetrace_micro")):
            if os.path.exists(cand):
                paths["micro"] = cand

    bench = os.path.join(root, "bench")
    vmlinux = os.path.join(root, "vmlinux", "x86" if os.uname().machine == "x86_64" else "arm64")
    arch = "x86" if os.uname().machine == "x86_64" else "arm64"
    floor_src = os.path.join(bench, "floor", "floor.bpf.c")
    floor_obj = os.path.join(out, "floor.bpf.o")
    if not _newer(floor_obj, floor_src):
        run(["clang", "-g", "-O2", "-target", "bpf", "-mcpu=v3", f"-D__TARGET_ARCH_{arch}", f"-I{vmlinux}",
             "-Wall", "-Werror", "-c", floor_src, "-o", floor_obj])
    loader_src = os.path.join(bench, "floor", "floor_loader.c")
    loader = os.path.join(out, "floor_loader")
    if not _newer(loader, loader_src):
        run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", loader_src, "-o", loader, "-lbpf"])
    paths["floor_obj"], paths["floor_loader"] = floor_obj, loader

    for name in ("spawner", "cpuburn"):
        src = os.path.join(bench, "workloads", name + ".c")
        exe = os.path.join(out, name)
        if not _newer(exe, src):
            run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", src, "-o", exe])
        paths[name] = exe

    trim_src = os.path.join(bench, "diag", "malloc_trim_preload.c")
    trim = os.path.join(out, "malloc_trim_preload.so")
    if not _newer(trim, trim_src):
        run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", trim_src, "-o", trim, "-lpthread"])
    paths["trim_preload"] = trim

    wl_src = os.path.join(root, "tests", "workloads", "workload.cpp")
    wl = os.path.join(out, "tt_workload")
    if not _newer(wl, wl_src):
        run(["g++", "-O2", "-std=c++20", "-pthread", wl_src, "-o", wl])
    paths["tt_workload"] = wl

    # A uniquely named program for the startup-latency probe.
    probe = os.path.join(out, "ttbench_probe")
    if not os.path.exists(probe):
        shutil.copy2("/bin/true", probe)
    paths["probe"] = probe

    paths["bpftrace_script"] = os.path.join(bench, "peers", "bpftrace_equiv.bt")
    paths["psutil_sampler"] = os.path.join(bench, "peers", "psutil_sampler.py")
    paths["libbpf_tools"] = "/usr/sbin"
    return paths
