#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Regenerates the pinned vmlinux/<arch>/vmlinux.h from a kernel's BTF.
# The pinned header makes builds reproducible on machines without BTF;
# CO-RE relocations adapt the programs to the running kernel at load time.
#
#   scripts/gen-vmlinux.sh [BTF_FILE]   (default: /sys/kernel/btf/vmlinux)
set -euo pipefail
btf=${1:-/sys/kernel/btf/vmlinux}
case "$(uname -m)" in
  x86_64) arch=x86 ;;
  aarch64) arch=arm64 ;;
  *) echo "gen-vmlinux: unsupported arch $(uname -m)" >&2; exit 1 ;;
esac
[ -r "$btf" ] || { echo "gen-vmlinux: cannot read BTF at $btf" >&2; exit 1; }
command -v bpftool >/dev/null || PATH=$PATH:/usr/sbin
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/vmlinux/$arch/vmlinux.h
mkdir -p "$(dirname "$out")"
bpftool btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out from $btf ($(uname -r))"
