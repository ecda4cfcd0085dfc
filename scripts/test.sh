#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Sets up, builds and runs the whole test suite: unit tests (no root) and
# integration tests (real BPF: needs root, or CAP_BPF + CAP_PERFMON; they
# skip without, unless TREETRACE_REQUIRE_BPF=1 makes that a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
