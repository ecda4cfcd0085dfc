#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Installs treetrace's build and test dependencies from Debian packages.
# Idempotent: when everything is installed it changes nothing and is quick.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  clang clang-format-14 llvm libbpf-dev bpftool libelf-dev zlib1g-dev libzstd-dev
  libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev nlohmann-json3-dev libbenchmark-dev
  libclang-rt-14-dev
  # The /metrics endpoint's HTTP server; a real Prometheus (and promtool)
  # for the tests that scrape it.
  libmicrohttpd-dev prometheus
  # A real container for the identity tests. runc, because crun refuses
  # hybrid cgroup layouts whose cgroup2 mount holds any controller.
  podman runc
  # The deploy tests (tests/deploy): the manifests' parser, systemd-analyze
  # for the unit, strace for its sandbox.
  python3-yaml systemd strace
  # The man page's tests (tests/man): man --warnings and groff -ww.
  man-db groff-base
  # The HTML report's browser test (tests/report): headless Chromium, driven over CDP.
  chromium python3-websocket
)
# kubectl renders deploy/kubernetes there. Any package of it will do, and
# Debian's conflicts with the others (/usr/bin/kubectl), so only if none is.
command -v kubectl >/dev/null || packages+=(kubernetes-client)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "setup-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
