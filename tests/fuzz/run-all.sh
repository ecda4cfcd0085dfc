#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Runs every libFuzzer harness for SECONDS each, starting from its seed
# corpus, and fails if any of them finds a crash, leak, timeout or
# sanitizer report.
#
#   tests/fuzz/run-all.sh SECONDS BUILD_DIR
#
# BUILD_DIR is a build configured with -DTREETRACE_FUZZ=ON and clang++
# (harnesses in BUILD_DIR/tests/fuzz or BUILD_DIR itself). The seed corpus
# is copied to a temporary directory, so the repository is never modified;
# that directory is kept when something fails, to hold the reproducers.
set -euo pipefail

if [[ $# -ne 2 || ! $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 SECONDS BUILD_DIR" >&2
  exit 2
fi
seconds=$1
build_dir=$2
src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
harnesses=(fuzz_proc_parse fuzz_json_writer fuzz_comm_pattern fuzz_mountinfo fuzz_cgroup_identity fuzz_decode fuzz_exposition fuzz_recording)

work=$(mktemp -d "${TMPDIR:-/tmp}/treetrace-fuzz.XXXXXX")
failed=()
for name in "${harnesses[@]}"; do
  bin=""
  for candidate in "$build_dir/tests/fuzz/$name" "$build_dir/$name"; do
    if [[ -x $candidate ]]; then
      bin=$candidate
      break
    fi
  done
  if [[ -z $bin ]]; then
    echo "error: $name not found under $build_dir (configure with -DTREETRACE_FUZZ=ON)" >&2
    failed+=("$name (not built)")
    continue
  fi

  corpus="$work/$name/corpus"
  artifacts="$work/$name/artifacts"
  mkdir -p "$corpus" "$artifacts"
  cp -r "$src_dir/corpus/$name/." "$corpus/"

  echo "== $name: ${seconds}s"
  if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$corpus" >"$work/$name/log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "$work/$name/log" || true
  else
    echo "FAILED: $name; log and reproducers in $work/$name" >&2
    tail -n 40 "$work/$name/log" >&2
    failed+=("$name")
  fi
done

if [[ ${#failed[@]} -ne 0 ]]; then
  echo "fuzzing failed: ${failed[*]}" >&2
  exit 1
fi
rm -rf "$work"
echo "all ${#harnesses[@]} harnesses ran ${seconds}s without findings"
