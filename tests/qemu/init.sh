#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# /init of the test initramfs that tests/qemu/run-kernel.sh boots (busybox sh).
#
# Runs treetrace on the workloads and prints everything on the serial
# console as tagged lines, which tests/qemu/judge.py checks on the host:
#   TT|<case>|begin|<command>
#   TT|<case>|out|<treetrace stdout line>     (JSON Lines)
#   TT|<case>|err|<treetrace stderr line>
#   TT|<case>|truth|<workload's own account>  ($TT_TRUTH, JSON Lines)
#   TT|<case>|time|<start> <end>              (seconds since boot)
#   TT|<case>|end|rc=<treetrace exit status>
# then TT|info|..., TT|dmesg|..., and TT-DONE before powering off.
export PATH=/bin
export HOME=/
set -f # no globbing: filter patterns are passed through as they are

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
# Keep kernel messages off the console so they cannot split our lines;
# the interesting ones are dumped from dmesg at the end.
echo 1 >/proc/sys/kernel/printk
hostname tt-guest

CASE_TIMEOUT=120

tag() { # tag CASE STREAM < lines
	while IFS= read -r line || [ -n "$line" ]; do
		echo "TT|$1|$2|$line"
	done
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

emit_case() { # emit_case CASE RC
	echo "TT|$1|time|$t0 $(uptime_s)"
	tag "$1" out </tmp/out
	tag "$1" err </tmp/err
	[ -f /tmp/truth ] && tag "$1" truth </tmp/truth
	echo "TT|$1|end|rc=$2"
}

# run_case CASE COMMAND...: treetrace runs COMMAND and reports its tree.
# $TT_ARGS adds options; $TT_EVENTS replaces the printed events.
run_case() {
	name=$1
	shift
	rm -f /tmp/out /tmp/err /tmp/truth
	echo "TT|$name|begin|$TT_ARGS $*"
	t0=$(uptime_s)
	# shellcheck disable=SC2086
	TT_TRUTH=/tmp/truth timeout -s KILL $CASE_TIMEOUT \
		treetrace -v --format json --events "${TT_EVENTS:-fork,exec,exit}" $TT_ARGS -- "$@" >/tmp/out 2>/tmp/err
	emit_case "$name" $?
}

# node_case CASE 'FILTER ARGS' COMMAND...: treetrace runs in node mode with
# a filter while COMMAND runs beside it (not as its child).
node_case() {
	name=$1
	filter=$2
	shift 2
	rm -f /tmp/out /tmp/err /tmp/truth
	echo "TT|$name|begin|treetrace $filter & $*"
	t0=$(uptime_s)
	# shellcheck disable=SC2086
	timeout -s KILL $CASE_TIMEOUT treetrace -v --format json --events fork,exec,exit $filter \
		>/tmp/out 2>/tmp/err &
	tt=$!
	i=0
	while ! grep -q 'tracing:' /tmp/err 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 $tt 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "TT|$name|time_to_attach|$t0 $(uptime_s)"
	# Verifier cost of the programs as loaded with this filter.
	tt_proginfo | tag "$name" prog
	TT_TRUTH=/tmp/truth "$@" </dev/null >/dev/null 2>&1
	sleep 1 # let the exit records reach userspace
	kill -INT $tt 2>/dev/null
	wait $tt
	emit_case "$name" $?
}

W=/bin/tt_workload

echo "TT|info|init_at|$(uptime_s)"
echo "TT|info|uname|$(uname -r)"
echo "TT|info|btf|$(ls -l /sys/kernel/btf/vmlinux 2>&1)"
echo "TT|info|nproc|$(nproc)"
echo "TT|info|thp|$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>&1)"

# CPU of one process, exec'd from a fork, against its parent's wait4().
run_case burn $W wait4 $W burn 300
# Peak RSS of a 64 MiB spike that is freed before exit, against VmHWM.
run_case spike $W wait4 $W spike 64 150
# The leader exits first, another thread burns: one exit record, all CPU.
run_case threads $W wait4 $W threads 300
# Killed by a signal.
run_case sigkill $W wait4 $W signal 9
run_case sigterm $W wait4 $W signal 15
# Exit status.
run_case exit7 $W wait4 $W exit 7
# fork() without exec: workers are copies of the master.
run_case prefork $W prefork 3 150
# Live state: the child burns 400 ms of CPU, then sleeps 2.5 s. The
# snapshots taken while it sleeps must show its CPU as of that moment
# (the refresh before each snapshot), not as of its last sample.
TT_ARGS="--interval 500ms" run_case live $W wait4 $W burn-sleep 400 2500 1
# OOM kill: a child of the workload allocates past a 32 MiB memory.max.
if echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null && mkdir -p /sys/fs/cgroup/ttoom; then
	echo $((32 << 20)) >/sys/fs/cgroup/ttoom/memory.max
	echo 0 >/sys/fs/cgroup/ttoom/memory.swap.max 2>/dev/null
	export TT_CHILD_CGROUP_PROCS=/sys/fs/cgroup/ttoom/cgroup.procs
	TT_EVENTS=fork,exec,exit,oom_kill run_case oom $W oom-child 256
	unset TT_CHILD_CGROUP_PROCS
else
	echo "TT|info|oom|no memory controller on cgroup2"
fi
# Filters (node mode). --comm exercises the bpf_loop glob matcher: "?",
# "*" and backtracking ("tt_?il*ed" first tries "*e" at "filte"), after
# three patterns that match nothing here, so the verifier checks the matcher
# for several patterns. --cgroup exercises the cgroup ancestor walk.
ln -s tt_workload /bin/tt_filtered 2>/dev/null
node_case comm "--comm nomatch --comm no?match* --comm *nomatch --comm tt_?il*ed" \
	$W wait4 /bin/tt_filtered burn 150
mkdir -p /sys/fs/cgroup/ttcg
node_case cgroup "--cgroup /sys/fs/cgroup/ttcg" \
	sh -c "echo \$\$ >/sys/fs/cgroup/ttcg/cgroup.procs && exec $W wait4 $W burn 150"

echo "TT|info|tests_done_at|$(uptime_s)"
dmesg | grep -iE 'bpf|warning|bug:|oops|call trace|segfault|stall|clocksource|treetrace|invoked oom-killer' | tag dmesg line
echo "TT-DONE"
sync
poweroff -f
