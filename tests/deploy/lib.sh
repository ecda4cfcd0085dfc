# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# shellcheck shell=bash
# Shared by the tests in tests/deploy (sourced, bash).

TT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TT_UNIT=${TT_UNIT:-$TT_REPO/deploy/systemd/treetrace.service}

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "-- $*"; }

# ctest reports exit status 77 as skipped (SKIP_RETURN_CODE). Where the
# privileged tests are required to run (CI sets TREETRACE_REQUIRE_BPF=1),
# a reason to skip is a failure instead.
skip() {
	if [ "${TREETRACE_REQUIRE_BPF:-0}" = 1 ]; then
		fail "cannot run, and TREETRACE_REQUIRE_BPF=1: $*"
	fi
	echo "SKIP: $*"
	exit 77
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (to load BPF programs and to drop to another uid)"
	[ -r /sys/kernel/btf/vmlinux ] || skip "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
}

# The capability set, from the systemd unit's AmbientCapabilities= line:
# one lowercase name a line without "cap_" ("bpf"), as setpriv takes them.
# The unit is the one written place; test_manifests.py holds the DaemonSet
# and docs/operations.md to the same set.
unit_caps() {
	local line
	line=$(grep -E '^AmbientCapabilities=' "$TT_UNIT") || fail "no AmbientCapabilities= in $TT_UNIT"
	line=${line#AmbientCapabilities=}
	for c in $line; do
		c=${c,,}
		echo "${c#cap_}"
	done
}

# setpriv capability list: "bpf perfmon" -> "-all,+bpf,+perfmon".
cap_list() {
	local out=-all c
	for c in "$@"; do out+=",+$c"; done
	echo "$out"
}

# as_nobody "CAP..." COMMAND...: COMMAND as uid/gid 65534 holding exactly
# those capabilities (effective through the ambient set), with
# no_new_privs set, as both the DaemonSet (allowPrivilegeEscalation: false)
# and the unit (NoNewPrivileges=yes) run it.
as_nobody() {
	local caps
	# shellcheck disable=SC2086 # one capability a word
	caps=$(cap_list $1)
	shift
	setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs \
		--inh-caps="$caps" --ambient-caps="$caps" --bounding-set="$caps" "$@"
}

# The cgroup2 mount point, from /proc/self/mountinfo (hybrid layouts too).
cgroup2_mount() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
		/proc/self/mountinfo
}
