#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Boots a kernel as tests/qemu/run-kernel.sh does, but runs one command in
# the guest instead of the checks of init.sh, and prints its output: for
# debugging a kernel, e.g. reading the verifier's log on 6.1:
#
#   tests/qemu/run-command.sh 6.1 treetrace -vv -- /bin/true
#
# The command runs as root in the same initramfs (busybox, treetrace,
# tt_workload, tt_proginfo in /bin), with /proc, /sys, cgroup2, bpffs and
# debugfs mounted. Its stdout and stderr go to this script's stdout, then a
# line "rc=<status>". The environment of run-kernel.sh applies (TT_QEMU_WORK,
# TT_QEMU_SKIP_BUILD, TT_QEMU_EXTRA_BINS, TT_QEMU_TIMEOUT, ...).
set -euo pipefail

VERSION=${1:-}
shift || true
if [ -z "$VERSION" ] || [ $# -eq 0 ]; then
	echo "usage: $0 6.1|6.12 COMMAND [ARG...]" >&2
	exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "${TT_QEMU_SRC:-$HERE/../..}" && pwd)
WORK=${TT_QEMU_WORK:-$SRC/build-qemu}
mkdir -p "$WORK"

init=$(mktemp "$WORK/command-init.XXXXXX")
trap 'rm -f "$init"' EXIT
{
	cat <<'EOF'
#!/bin/sh
export PATH=/bin HOME=/
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
echo 1 >/proc/sys/kernel/printk
echo "TT|info|uname|$(uname -r)"
EOF
	# The command, quoted for sh.
	printf '('
	printf ' %q' "$@"
	printf ' ) </dev/null >/tmp/out 2>&1\n'
	cat <<'EOF'
rc=$?
while IFS= read -r line || [ -n "$line" ]; do echo "TT|cmd|out|$line"; done </tmp/out
echo "TT|cmd|end|rc=$rc"
echo "TT-DONE"
sync
poweroff -f
EOF
} >"$init"

# run-kernel.sh judges the console as for init.sh, which fails here: only
# the console log matters.
TT_QEMU_INIT=$init "$HERE/run-kernel.sh" "$VERSION" >/dev/null || true
console=$WORK/console-$VERSION.log
grep -a '^TT|info|uname|' "$console" || true
grep -a '^TT|cmd|' "$console" | sed -e 's/^TT|cmd|out|//' -e 's/^TT|cmd|end|/\n/' | tr -d '\r'
grep -aq '^TT|cmd|end|rc=0' "$console"
