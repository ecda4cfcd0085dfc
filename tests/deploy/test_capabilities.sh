#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# The capability set of the DaemonSet and the systemd unit is enough, and
# each capability in it is needed:
#   1. as uid 65534 with exactly the set (and no_new_privs), treetrace loads
#      its programs and reports a command's exit;
#   2. it names the cgroup of a root process in a cgroup it did not make,
#      and reads that process's PSS where the kernel allows it with the set
#      (CAP_PERFMON, since the mm_access() change), or reports PSS as absent
#      with one warning where the kernel does not, and reads it once
#      CAP_SYS_PTRACE is added;
#   3. without any one capability of the set it stops with one line naming
#      what is missing and a non-zero status.
#
#   tests/deploy/test_capabilities.sh TREETRACE_BINARY
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
. "$(dirname "$0")/lib.sh"

bin=${1:?usage: $0 TREETRACE_BINARY}
[ -x "$bin" ] || fail "no executable at $bin"
require_root
command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"

mapfile -t caps < <(unit_caps)
[ ${#caps[@]} -gt 0 ] || fail "the unit names no capabilities"
note "the set: ${caps[*]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/tt-deploy-caps.XXXXXX")
chmod 0755 "$work"
sleeper=""
cg=""
cleanup() {
	if [ -n "$sleeper" ]; then
		kill "$sleeper" 2>/dev/null || true
		wait "$sleeper" 2>/dev/null || true
	fi
	if [ -n "$cg" ]; then rmdir "$cg" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# ---- 1. the set traces a command ----------------------------------------------------
rc=0
as_nobody "${caps[*]}" "$bin" --duration 2s --events exit --format json -- /bin/true \
	>"$work/out" 2>"$work/err" || rc=$?
[ $rc -eq 0 ] || fail "with ${caps[*]} treetrace exited $rc: $(cat "$work/err")"
grep -q '"event":"exit".*"comm":"true"' "$work/out" ||
	fail "with ${caps[*]} no exit record of true: $(head -c 2000 "$work/out")"
note "1. with exactly the set, as uid 65534: loaded, the exit of /bin/true reported"

# ---- 2. a root process's cgroup and PSS -----------------------------------------------
mount=$(cgroup2_mount)
[ -n "$mount" ] || skip "no cgroup2 mount"
cg=$mount/tt-deploy-caps-$$
mkdir "$cg"
# A root process with every capability, in a cgroup of its own.
sh -c "echo \$\$ >'$cg/cgroup.procs' && exec sleep 60" &
sleeper=$!
for _ in $(seq 50); do
	grep -q "^0::/tt-deploy-caps-$$\$" "/proc/$sleeper/cgroup" 2>/dev/null && break
	sleep 0.1
done
grep -q "^0::/tt-deploy-caps-$$\$" "/proc/$sleeper/cgroup" || fail "the sleeper did not move into $cg"

# group_pss CAPS: runs treetrace on the sleeper; prints its group's
# pss_bytes (a number or null); the stderr is left in $work/err.
group_pss() {
	as_nobody "$1" "$bin" --pid "$sleeper" --group-by cgroup --interval 1s --duration 2500ms \
		--events none --format json --verbose >"$work/out" 2>"$work/err" ||
		fail "with $1 treetrace on pid $sleeper exited non-zero: $(cat "$work/err")"
	local row
	row=$(grep "\"group\":\"/tt-deploy-caps-$$\"" "$work/out" | tail -1) ||
		fail "with $1 no group row for the cgroup /tt-deploy-caps-$$: $(head -c 2000 "$work/out")"
	grep -o '"pss_bytes":[a-z0-9]*' <<<"$row" | cut -d: -f2
}

pss=$(group_pss "${caps[*]}")
if as_nobody "${caps[*]}" cat "/proc/$sleeper/smaps_rollup" >/dev/null 2>&1; then
	# This kernel lets CAP_PERFMON read other users' smaps_rollup.
	[[ $pss =~ ^[1-9][0-9]*$ ]] || fail "the set can read the root process's smaps_rollup, but PSS is '$pss'"
	if grep -q 'PSS not reported' "$work/err"; then fail "PSS warning though PSS was read: $(cat "$work/err")"; fi
	note "2. cgroup named; PSS of a root process read with the set alone ($pss bytes): this kernel allows it to CAP_PERFMON"
else
	[ "$pss" = null ] || fail "the set cannot read the root process's smaps_rollup, yet PSS is '$pss'"
	[ "$(grep -c 'PSS not reported' "$work/err")" -eq 1 ] ||
		fail "PSS absent without exactly one warning: $(cat "$work/err")"
	pss=$(group_pss "${caps[*]} sys_ptrace")
	[[ $pss =~ ^[1-9][0-9]*$ ]] || fail "with CAP_SYS_PTRACE added PSS is still '$pss'"
	note "2. cgroup named; this kernel needs CAP_SYS_PTRACE for other users' PSS: absent with one warning without it, $pss bytes with it"
fi

# ---- 3. each capability is needed ------------------------------------------------------
for missing in "${caps[@]}"; do
	rest=()
	for c in "${caps[@]}"; do [ "$c" = "$missing" ] || rest+=("$c"); done
	rc=0
	as_nobody "${rest[*]}" "$bin" --events exit -- /bin/true >"$work/out" 2>&1 || rc=$?
	[ $rc -ne 0 ] || fail "without $missing treetrace still succeeded"
	lines=$(wc -l <"$work/out")
	[ "$lines" -eq 1 ] || fail "without $missing: $lines lines of output, not one: $(cat "$work/out")"
	grep -qi "CAP_$missing" "$work/out" || fail "without $missing the error does not name CAP_${missing^^}: $(cat "$work/out")"
	note "3. without CAP_${missing^^}: exit $rc, '$(cat "$work/out")'"
done
echo "PASS"
