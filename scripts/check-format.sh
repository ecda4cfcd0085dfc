#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Checks that every C and C++ file under version control is formatted as
# its nearest .clang-format says (LLVM style for userspace and tests, the
# kernel's style for bpf/, include/ and bench/). With --fix, reformats them.
#
# The formatter is pinned to clang-format 14, Debian 12's: another major
# version formats some constructs differently and would fail the check.
set -euo pipefail
cd "$(dirname "$0")/.."
formatter=""
for candidate in clang-format-14 clang-format; do
  if command -v "$candidate" >/dev/null && "$candidate" --version | grep -q 'version 14\.'; then
    formatter=$candidate
    break
  fi
done
if [ -z "$formatter" ]; then
  echo "check-format: clang-format 14 is needed (Debian: apt install clang-format-14)" >&2
  exit 2
fi
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cpp' ':!:vmlinux/**')
if [ "${1:-}" = "--fix" ]; then
  "$formatter" -i "${files[@]}"
  exit 0
fi
if ! "$formatter" --dry-run -Werror "${files[@]}"; then
  echo "check-format: the files above differ from .clang-format; scripts/check-format.sh --fix reformats them" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted as .clang-format says"
