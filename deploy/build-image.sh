#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Builds the treetrace container image from an already built binary.
#
#   deploy/build-image.sh [BINARY [IMAGE]]
#     BINARY  default build/treetrace (relative to the repository)
#     IMAGE   default localhost/treetrace:VERSION, VERSION from BINARY --version
#   BUILDER=docker deploy/build-image.sh ...   (default: podman)
#
# The binary links libbpf, libelf, zlib, libzstd and libmicrohttpd
# dynamically: Debian has no static libmicrohttpd whose dependencies
# (gnutls, p11-kit) link statically. So the image is FROM scratch plus the
# binary, exactly the shared libraries ldd resolves for it, and the loader.
# It prints the image name on success.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
binary=${1:-$repo/build/treetrace}
builder=${BUILDER:-podman}

die() { echo "build-image: $*" >&2; exit 1; }

[ -x "$binary" ] || die "no executable at $binary (build it first: scripts/build.sh)"
command -v "$builder" >/dev/null || die "$builder is not installed (BUILDER=docker to use docker)"
version=$("$binary" --version | awk '{print $NF; exit}')
[ -n "$version" ] || die "$binary --version printed no version"
image=${2:-localhost/treetrace:$version}

stage=$(mktemp -d "${TMPDIR:-/tmp}/treetrace-image.XXXXXX")
trap 'rm -rf "$stage"' EXIT
rootfs=$stage/rootfs
install -D -m 0755 "$binary" "$rootfs/usr/local/bin/treetrace"
# A RelWithDebInfo binary is two thirds DWARF; the symbols stay.
if command -v objcopy >/dev/null; then
	objcopy --strip-debug "$rootfs/usr/local/bin/treetrace"
fi

# Each library at the path the loader found it, so the image's loader finds
# it there with no ld.so.cache. ldd lines: "name => /path (addr)", "/path
# (addr)" for the loader, and "name (addr)" for the vDSO (no file).
if ldd_out=$(ldd "$binary" 2>&1); then
	if grep -q 'not found' <<<"$ldd_out"; then
		die "$binary needs libraries this machine lacks: $(grep 'not found' <<<"$ldd_out" | tr -s ' \t' ' ')"
	fi
	while read -r lib; do
		install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
	done < <(grep -o '/[^ ]*' <<<"$ldd_out" | sort -u)
elif ! grep -q 'not a dynamic executable' <<<"$ldd_out"; then
	die "ldd $binary failed: $ldd_out"
fi

cp "$here/Containerfile" "$stage/Containerfile"
opts=(--quiet --file "$stage/Containerfile" --build-arg "VERSION=$version" --tag "$image")
# No intermediate image per instruction left behind (podman, buildah).
case $(basename "$builder") in podman | buildah) opts+=(--layers=false) ;; esac
"$builder" build "${opts[@]}" "$stage" >/dev/null
echo "$image"
