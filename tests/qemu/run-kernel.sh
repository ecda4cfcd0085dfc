#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Boots a Debian cloud kernel under QEMU software emulation (TCG) with an
# initramfs holding a static treetrace and the test workload, runs the
# checks of tests/qemu/init.sh in the guest and judges the console output
# with tests/qemu/judge.py. See docs/older-kernels.md.
#
# usage: tests/qemu/run-kernel.sh VERSION      (VERSION: 6.1 or 6.12)
#
# Environment:
#   TT_QEMU_WORK        work directory (default: <repo>/build-qemu)
#   TT_QEMU_SRC         treetrace source tree to build (default: this repo)
#   TT_QEMU_KERNEL_PKG  pin a linux-image package instead of the newest
#   TT_QEMU_TIMEOUT     seconds the guest may run (default: 300)
#   TT_QEMU_SKIP_BUILD  1: use the static binaries already in TT_QEMU_WORK
#   TT_QEMU_BUILD_ONLY  1: only build the static binaries (VERSION ignored)
#   TT_QEMU_CPU_TOL_*, TT_QEMU_RSS_TOL_*: tolerances, see judge.py
# For debugging a kernel:
#   TT_QEMU_INIT        another /init for the guest (default: init.sh here)
#   TT_QEMU_EXTRA_BINS  host programs to add, with their shared libraries
#                       (e.g. "/usr/sbin/bpftool" to dump the xlated programs)
set -euo pipefail

VERSION=${1:-}
[ "${TT_QEMU_BUILD_ONLY:-0}" = 1 ] && VERSION=${VERSION:-6.1}
case "$VERSION" in
6.1 | 6.12) ;;
*)
	echo "usage: $0 6.1|6.12" >&2
	exit 2
	;;
esac

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "${TT_QEMU_SRC:-$HERE/../..}" && pwd)
WORK=${TT_QEMU_WORK:-$SRC/build-qemu}
TIMEOUT=${TT_QEMU_TIMEOUT:-300}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

log() { echo "[qemu $VERSION +$(($(date +%s) - t0))s] $*" >&2; }
t0=$(date +%s)

# ---- Host packages (idempotent) ------------------------------------------------

# What this script needs beyond treetrace's own build dependencies
# (clang, bpftool, cmake, libbpf-dev, CLI11, spdlog, fmt), which are listed
# here too so a bare Debian 12 machine works.
PACKAGES=(qemu-system-x86 busybox-static cpio gzip file python3 util-linux
	libbpf-dev libelf-dev zlib1g-dev libzstd-dev
	clang llvm bpftool cmake make g++ pkg-config libcli11-dev libspdlog-dev libfmt-dev)

ensure_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
		apt-get update >/dev/null
		apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
	}
}

# ---- Static binaries ----------------------------------------------------------

# Debian ships spdlog and fmt as shared libraries only, so the static build
# uses both header-only, through the CMake package shims in static-shims/
# (found before the system packages via fmt_DIR/spdlog_DIR). libbpf.a is
# picked by presetting the cache entry pkg_check_modules fills, and its
# private dependencies go last on the link line.
build_static() {
	local build=$WORK/static-build
	if [ ! -f "$build/CMakeCache.txt" ] || ! grep -q "^CMAKE_HOME_DIRECTORY:INTERNAL=$SRC\$" "$build/CMakeCache.txt"; then
		rm -rf "$build"
		cmake -S "$SRC" -B "$build" -DTREETRACE_TESTS=OFF -DTREETRACE_HTTP=OFF -DCMAKE_BUILD_TYPE=Release \
			-Dfmt_DIR="$HERE/static-shims/fmt" -Dspdlog_DIR="$HERE/static-shims/spdlog" \
			-Dpkgcfg_lib_LIBBPF_bpf=/usr/lib/x86_64-linux-gnu/libbpf.a \
			-Dpkgcfg_lib_ZSTD_zstd=/usr/lib/x86_64-linux-gnu/libzstd.a \
			-DCMAKE_EXE_LINKER_FLAGS=-static \
			"-DCMAKE_CXX_STANDARD_LIBRARIES=-lelf -lz -lzstd" >"$WORK/cmake-configure.log" 2>&1 || {
			cat "$WORK/cmake-configure.log" >&2
			return 1
		}
	fi
	cmake --build "$build" -j"$(nproc)" --target treetrace >"$WORK/cmake-build.log" 2>&1 || {
		tail -50 "$WORK/cmake-build.log" >&2
		return 1
	}
	cp "$build/treetrace" "$WORK/treetrace"
	local wl=$SRC/tests/workloads/workload.cpp
	if [ ! -x "$WORK/tt_workload" ] || [ "$wl" -nt "$WORK/tt_workload" ]; then
		g++ -static -O2 -pthread -std=c++20 -o "$WORK/tt_workload" "$wl"
	fi
	if [ ! -x "$WORK/tt_proginfo" ] || [ "$HERE/proginfo.c" -nt "$WORK/tt_proginfo" ]; then
		gcc -static -O2 -o "$WORK/tt_proginfo" "$HERE/proginfo.c" -lbpf -lelf -lz -lzstd
	fi
	file "$WORK/treetrace" "$WORK/tt_workload" "$WORK/tt_proginfo" | grep -q 'dynamically linked' && {
		log "the binaries are not static"
		return 1
	}
	return 0
}

# ---- Kernel -----------------------------------------------------------------------

# The newest linux-image-VERSION*-cloud-amd64 Debian 12 offers: 6.1 from
# bookworm(-security), 6.12 from bookworm-security (6.12.*+deb12).
newest_kernel_pkg() {
	local re
	if [ "$VERSION" = 6.1 ]; then
		re='^linux-image-6\.1\.0-[0-9]+-cloud-amd64$'
	else
		re='^linux-image-6\.12\.[0-9]+\+deb[0-9]+-cloud-amd64$'
	fi
	local pkgs
	pkgs=$(apt-cache pkgnames "linux-image-$VERSION" | grep -E "$re") || return 0
	# shellcheck disable=SC2086 # one name per word
	apt-cache show --no-all-versions $pkgs 2>/dev/null |
		awk '/^Package:/ {p = $2} /^Version:/ {print $2, p}' | sort -V | tail -1 | cut -d' ' -f2
}

download_kernel() { # download_kernel PKG DIR
	rm -rf "$2"
	mkdir -p "$2/x"
	# apt's _apt user must be able to write the download directory.
	chmod 0777 "$2"
	(cd "$2" && apt-get download "$1" >/dev/null 2>&1) || return 1
	dpkg -x "$2"/*.deb "$2/x" # extracted, never installed
	cp "$2"/x/boot/vmlinuz-* "$2/vmlinuz"
	cp "$2"/x/boot/config-* "$2/config"
	rm -rf "$2/x" "$2"/*.deb
}

fetch_kernel() {
	local pkg=${TT_QEMU_KERNEL_PKG:-} tries
	for tries in 1 2; do
		# Stale package lists can name a package the archive no longer
		# has, or miss the newest: refresh them once and look again.
		[ $tries = 2 ] && apt-get update >/dev/null
		[ -n "${TT_QEMU_KERNEL_PKG:-}" ] || pkg=$(newest_kernel_pkg)
		[ -n "$pkg" ] || continue
		KERNEL_PKG=$pkg
		KERNEL=$WORK/kernels/$pkg/vmlinuz
		[ -f "$KERNEL" ] && return 0
		log "downloading $pkg"
		download_kernel "$pkg" "$WORK/kernels/$pkg" && return 0
	done
	log "cannot get a linux-image-$VERSION cloud kernel package from the apt sources${pkg:+ ($pkg)}"
	return 1
}

# ---- initramfs --------------------------------------------------------------------

make_initramfs() {
	local root=$WORK/initramfs-$VERSION
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc}
	cp /bin/busybox "$root/bin/busybox"
	local a
	for a in $("$root/bin/busybox" --list); do
		[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
	done
	cp "$WORK/treetrace" "$WORK/tt_workload" "$WORK/tt_proginfo" "$root/bin/"
	local bin lib
	for bin in ${TT_QEMU_EXTRA_BINS:-}; do
		cp "$bin" "$root/bin/"
		for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	done
	cp "${TT_QEMU_INIT:-$HERE/init.sh}" "$root/init"
	chmod 0755 "$root/init"
	INITRD=$WORK/initramfs-$VERSION.cpio.gz
	(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$INITRD"
}

# ---- Boot ---------------------------------------------------------------------------

boot() {
	CONSOLE=$WORK/console-$VERSION.log
	log "booting $KERNEL_PKG (TCG, timeout ${TIMEOUT}s)"
	local rc=0 b0
	b0=$(date +%s)
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
		-accel tcg,thread=multi -cpu max -smp 2 -m 1024 \
		-nographic -no-reboot -nic none \
		-kernel "$KERNEL" -initrd "$INITRD" \
		-append "console=ttyS0 quiet loglevel=3 panic=-1 softlockup_panic=1 mitigations=off" \
		</dev/null >"$CONSOLE" 2>&1 || rc=$?
	BOOT_SECONDS=$(($(date +%s) - b0))
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		log "the guest did not power off within ${TIMEOUT}s"
	fi
}

ensure_packages
(
	# Several run-kernel.sh in parallel share the build and downloads.
	flock 9
	if [ "${TT_QEMU_SKIP_BUILD:-0}" != 1 ]; then
		log "building static treetrace from $SRC"
		build_static
	fi
) 9>"$WORK/.lock"
[ "${TT_QEMU_BUILD_ONLY:-0}" = 1 ] && exit 0
fetch_kernel
log "kernel $KERNEL_PKG ready"
make_initramfs
boot
# A soft lockup panics the guest (softlockup_panic=1): the panic prints the
# stuck task's stack even at loglevel 3, and the run ends at once instead of
# at the timeout. One CI boot of 6.1 out of eight hung this way in the
# first case's start, and none of seven boots after it did: show the
# stack, keep that console, and boot once more.
lockups=0
while grep -q 'Kernel panic - not syncing: softlockup' "$CONSOLE" &&
	[ $lockups -lt "${TT_QEMU_LOCKUP_RETRIES:-1}" ]; do
	lockups=$((lockups + 1))
	cp "$CONSOLE" "$WORK/console-$VERSION.lockup-$lockups.log"
	log "the guest kernel panicked on a soft lockup (console kept as console-$VERSION.lockup-$lockups.log); its stack:"
	sed -n '/BUG: soft lockup/,$p' "$CONSOLE" | head -n 120 >&2
	log "booting once more after the soft lockup"
	boot
done
rc=0
HZ=$(sed -n 's/^CONFIG_HZ=//p' "$(dirname "$KERNEL")/config")
TT_QEMU_HZ=${HZ:-250} python3 "$HERE/judge.py" "$CONSOLE" "linux-$VERSION" || rc=$?
log "$KERNEL_PKG: boot+tests ${BOOT_SECONDS}s, total $(($(date +%s) - t0))s, console log $CONSOLE"
exit $rc
