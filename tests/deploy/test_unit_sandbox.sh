#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# What the systemd unit's sandbox forbids, treetrace does not do. systemd
# is not PID 1 where the tests run, so the unit cannot be started; instead
# treetrace runs as the unit runs it (uid 65534, the unit's capabilities,
# no_new_privs, its ExecStart arguments on another port) under strace,
# /metrics and /healthz are fetched, and every system call it made is
# held to the unit:
#   SystemCallFilter=          every call is in the allowed set, expanded
#                              by systemd-analyze syscall-filter;
#   RestrictAddressFamilies=   every socket() is of an allowed family;
#   ProtectKernelTunables=     no /proc/kallsyms or /proc/kcore, nothing
#                              opened for writing under /sys or /proc;
#   ProtectSystem=strict, ProtectHome=yes
#                              nothing opened for writing, nothing opened
#                              under /home, /root or /run/user;
#   MemoryDenyWriteExecute=    no mapping writable and executable, none
#                              made executable later;
#   TasksMax=                  fewer threads started than it allows.
#
#   tests/deploy/test_unit_sandbox.sh TREETRACE_BINARY
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
. "$(dirname "$0")/lib.sh"

bin=${1:?usage: $0 TREETRACE_BINARY}
[ -x "$bin" ] || fail "no executable at $bin"
require_root
for tool in strace systemd-analyze setpriv python3; do
	command -v $tool >/dev/null || skip "$tool is not installed (scripts/setup-deps.sh installs it)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tt-deploy-sandbox.XXXXXX")
trap 'rm -rf "$work"' EXIT
setting() { sed -n "s/^$1=//p" "$TT_UNIT" | tail -1; }

# The unit's ExecStart, on a free port.
read -r -a exec_start <<<"$(setting ExecStart)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
args=()
for ((i = 1; i < ${#exec_start[@]}; i++)); do
	a=${exec_start[i]}
	[ "${exec_start[i - 1]}" = --listen ] && a=127.0.0.1:$port
	args+=("$a")
done
mapfile -t caps < <(unit_caps)

strace -f -qq -s 256 -o "$work/trace" \
	setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs \
	--inh-caps="$(cap_list "${caps[@]}")" --ambient-caps="$(cap_list "${caps[@]}")" \
	--bounding-set="$(cap_list "${caps[@]}")" \
	"$bin" "${args[@]}" --duration 4s >"$work/out" 2>"$work/err" &
tracer=$!
fetched=0
for _ in $(seq 60); do
	if python3 - "$port" 2>/dev/null <<'EOF'; then
import sys, urllib.request
for path in ("/metrics", "/healthz"):
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{path}", timeout=2).read()
EOF
		fetched=1
		break
	fi
	sleep 0.1
done
rc=0
wait $tracer || rc=$?
[ $rc -eq 0 ] || fail "treetrace under strace exited $rc: $(cat "$work/err")"
[ $fetched = 1 ] || fail "/metrics and /healthz were not served on port $port: $(cat "$work/err")"

# treetrace's own calls: those after setpriv's execve() of it.
awk -v bin="$bin" 'found { print; next } index($0, "execve(\"" bin "\"") && / = 0$/ { found = 1 }' \
	"$work/trace" >"$work/calls"
[ -s "$work/calls" ] || fail "no execve of $bin in the strace log"

# ---- SystemCallFilter= ---------------------------------------------------------------
expand() {
	local s
	systemd-analyze syscall-filter "$1" | tail -n +2 | grep -v '#' | tr -d ' ' | grep . |
		while read -r s; do
			case $s in @*) expand "$s" ;; *) echo "$s" ;; esac
		done
}
for entry in $(setting SystemCallFilter); do
	case $entry in @*) expand "$entry" ;; *) echo "$entry" ;; esac
done | sort -u >"$work/allowed"
awk '{ s = $2; if (s ~ /^</) next; sub(/\(.*/, "", s); if (s ~ /^[a-z_0-9]+$/) print s }' "$work/calls" |
	sort -u >"$work/used"
outside=$(comm -23 "$work/used" "$work/allowed" | tr '\n' ' ')
[ -z "$outside" ] || fail "system calls outside SystemCallFilter=$(setting SystemCallFilter): $outside"
note "SystemCallFilter: all $(wc -l <"$work/used") calls made are allowed"

# ---- RestrictAddressFamilies= ----------------------------------------------------------
allowed_af=" $(setting RestrictAddressFamilies) "
while read -r af; do
	[[ $allowed_af == *" $af "* ]] || fail "a socket of family $af, outside RestrictAddressFamilies=$allowed_af"
done < <(grep -o 'socket(AF_[A-Z0-9]*' "$work/calls" | sed 's/socket(//' | sort -u)
note "RestrictAddressFamilies: sockets of $(grep -o 'socket(AF_[A-Z0-9]*' "$work/calls" | sed 's/socket(//' | sort -u | tr '\n' ' ')"

# ---- files --------------------------------------------------------------------------------
opens=$(grep -E '\bopenat\(' "$work/calls" || true)
bad=$(grep -E '"/proc/(kallsyms|kcore)"' <<<"$opens" || true)
[ -z "$bad" ] || fail "opens what ProtectKernelTunables= hides: $bad"
bad=$(grep -E 'O_(WRONLY|RDWR)|O_CREAT' <<<"$opens" || true)
[ -z "$bad" ] || fail "opens a file for writing, which ProtectSystem=strict refuses: $bad"
bad=$(grep -E '"/(home|root|run/user)(/|")' <<<"$opens" || true)
[ -z "$bad" ] || fail "opens a file under a home directory, which ProtectHome=yes hides: $bad"
note "files: $(wc -l <<<"$opens") opens, none for writing, none of a hidden path"

# ---- MemoryDenyWriteExecute=, TasksMax= -------------------------------------------------
bad=$(grep -E '\b(mmap|mprotect|pkey_mprotect)\(.*PROT_EXEC' "$work/calls" | grep -E 'PROT_WRITE|mprotect\(|MAP_SHARED' || true)
[ -z "$bad" ] || fail "a writable or later-executable mapping, which MemoryDenyWriteExecute=yes refuses: $bad"
threads=$(grep -cE '^[0-9]+ +clone3?\(' "$work/calls" || true)
[ "$threads" -lt "$(setting TasksMax)" ] || fail "$threads threads started, TasksMax=$(setting TasksMax)"
note "no writable executable mapping; $threads threads started (TasksMax=$(setting TasksMax))"
echo "PASS"
