#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# deploy/build-image.sh makes a FROM scratch image holding the binary, the
# libraries it links and the loader, and nothing else; the image runs
# --version and --help; and, run the way the DaemonSet runs it (host PID
# namespace, uid 0 with only the unit's capabilities, no_new_privs,
# read-only root, the three read-only host mounts), it loads its programs,
# sees the host's processes and serves /metrics.
#
#   tests/deploy/test_image.sh TREETRACE_BINARY
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
. "$(dirname "$0")/lib.sh"

bin=${1:?usage: $0 TREETRACE_BINARY}
[ -x "$bin" ] || fail "no executable at $bin"
require_root
command -v podman >/dev/null || skip "podman is not installed (scripts/setup-deps.sh installs it)"

image=localhost/treetrace-deploy-test:$$
work=$(mktemp -d "${TMPDIR:-/tmp}/tt-deploy-image.XXXXXX")
cid=""
cleanup() {
	if [ -n "$cid" ]; then podman rm -f "$cid" >/dev/null 2>&1 || true; fi
	podman rmi -f "$image" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# crun refuses this host's hybrid cgroup layout; runc does not. Without
# CAP_SYS_RESOURCE in the caller podman's default rlimits (nofile 1048576)
# cannot be set, so small ones are asked for.
run=(podman)
if command -v runc >/dev/null; then run+=(--runtime "$(command -v runc)"); fi
run+=(run --rm --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

# ---- the image ----------------------------------------------------------------------------
built=$("$TT_REPO/deploy/build-image.sh" "$bin" "$image") || fail "build-image.sh failed"
[ "$built" = "$image" ] || fail "build-image.sh printed '$built', not $image"
cid=$(podman create "$image")
podman export "$cid" | tar -t | grep -v '/$' | sed 's|^\./||' | sort >"$work/files"
podman rm -f "$cid" >/dev/null
cid=""
{
	echo usr/local/bin/treetrace
	ldd "$bin" | grep -o '/[^ ]*' | sed 's|^/||'
} | sort -u >"$work/expected"
diff -u "$work/expected" "$work/files" >"$work/diff" ||
	fail "the image holds other files than the binary, its libraries and the loader: $(cat "$work/diff")"
note "image $image: $(wc -l <"$work/files") files, the binary and exactly the libraries ldd names"

# ---- --version and --help ---------------------------------------------------------------
want=$("$bin" --version)
got=$("${run[@]}" --network none "$image" --version) || fail "podman run $image --version failed"
[ "$got" = "$want" ] || fail "the image says '$got', the binary '$want'"
"${run[@]}" --network none "$image" --help >"$work/help" || fail "podman run $image --help failed"
grep -q -- '--listen' "$work/help" || fail "--help in the image does not list --listen: $(head -5 "$work/help")"
note "--version: '$got'; --help lists --listen"

# ---- as the DaemonSet runs it -----------------------------------------------------------
mapfile -t caps < <(unit_caps)
cap_args=(--cap-drop ALL)
for c in "${caps[@]}"; do cap_args+=(--cap-add "CAP_${c^^}"); done
mkdir -p "$work/pods"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# --network host only so that this test can scrape it; in Kubernetes the
# pod listens on its own IP.
agent=("${run[@]}" --network host --pid host --user 0 "${cap_args[@]}" --read-only
	--security-opt no-new-privileges --security-opt seccomp=unconfined
	-v /sys/kernel/btf:/sys/kernel/btf:ro -v /sys/fs/cgroup:/sys/fs/cgroup:ro -v "$work/pods:/var/log/pods:ro"
	"$image")
"${agent[@]}" --listen "127.0.0.1:$port" --group-by pod --events none --duration 6s >"$work/out" 2>"$work/err" &
agent_pid=$!
scraped=""
for _ in $(seq 50); do
	if python3 - "$port" >"$work/metrics" 2>/dev/null <<'EOF'; then
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=2) as r:
    sys.stdout.write(r.read().decode())
EOF
		scraped=1
		break
	fi
	kill -0 $agent_pid 2>/dev/null || break
	sleep 0.1
done
rc=0
wait $agent_pid || rc=$?
[ -n "$scraped" ] || fail "no /metrics from the container (exit $rc): $(cat "$work/err")"
[ $rc -eq 0 ] || fail "the container exited $rc: $(cat "$work/err")"
version=$(awk '{print $NF; exit}' <<<"$want")
grep -q "^treetrace_build_info{version=\"$version\"} 1" "$work/metrics" ||
	fail "no treetrace_build_info{version=\"$version\"} in /metrics: $(head -c 2000 "$work/metrics")"
tracked=$(awk '$1 == "treetrace_tracked_processes" {print $2}' "$work/metrics")
if ! [[ ${tracked:-0} =~ ^[0-9]+$ ]] || [ "$tracked" -le 1 ]; then
	fail "the container tracks '$tracked' processes: not the host's (is --pid host in effect?)"
fi
grep -q '^treetrace_group_cpu_seconds_total{' "$work/metrics" || fail "no group series in /metrics"
note "in the container with ${caps[*]} only: /metrics served, $tracked host processes tracked, exit 0"

# Why the DaemonSet has seccompProfile: Unconfined. Reported, not judged: a
# runtime whose default profile allows bpf() to CAP_BPF passes here.
rc=0
"${run[@]}" --network none --pid host --user 0 "${cap_args[@]}" --read-only --security-opt no-new-privileges \
	-v /sys/kernel/btf:/sys/kernel/btf:ro "$image" --events none --duration 1s >/dev/null 2>"$work/err" || rc=$?
if [ $rc -eq 0 ]; then
	note "podman's default seccomp profile allows bpf() with CAP_BPF here"
else
	note "podman's default seccomp profile: exit $rc, $(head -1 "$work/err")"
fi
echo "PASS"
