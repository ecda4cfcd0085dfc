#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Runs the older-kernel tests (tests/qemu/run-kernel.sh) on every kernel
# treetrace supports below the build machine's: Debian 12's 6.1 and the
# 6.12 long-term kernel. Builds the static binaries once, boots the kernels
# one after the other (two guests at once would share 2 cores), and exits
# non-zero if any kernel failed. See docs/older-kernels.md.
#
# usage: tests/qemu/run-all.sh [VERSION...]     (default: 6.1 6.12)
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(6.1 6.12)

start=$(date +%s)
failed=()
passed=()
echo "== static treetrace and workload for the guests"
if ! TT_QEMU_BUILD_ONLY=1 "$HERE/run-kernel.sh"; then
	echo "kernels: 0 passed, ${#VERSIONS[@]} failed (static build failed)"
	exit 1
fi
# A guest kernel that dies in its own early boot under software emulation
# (seen: an int3 Oops in sched_clock_cpu during initcalls on 6.12) never
# reaches /init, so nothing of treetrace ran: boot it again, at most twice.
# A failure after /init started is treetrace's and is never retried.
reached_init() { grep -q '^TT|' "${TT_QEMU_WORK:-$HERE/../../build-qemu}/console-$1.log" 2>/dev/null; }
for v in "${VERSIONS[@]}"; do
	echo "== treetrace on Linux $v (QEMU, software emulation)"
	ok=0
	for attempt in 1 2 3; do
		if TT_QEMU_SKIP_BUILD=1 "$HERE/run-kernel.sh" "$v"; then ok=1; break; fi
		reached_init "$v" && break
		echo "== Linux $v died before /init (attempt $attempt): booting it again"
	done
	if [ $ok -eq 1 ]; then passed+=("$v"); else failed+=("$v"); fi
done
echo "== older kernels: passed: ${passed[*]:-none}; failed: ${failed[*]:-none}; $(($(date +%s) - start)) s in all"
echo "kernels: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
