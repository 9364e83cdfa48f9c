#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# build-cjdns.sh ARCH OUTDIR: builds cjdroute from cjdns' pinned upstream
# source tag for ARCH (amd64 or arm64), for the cjdns layer's artifacts.
#
# FOR RELEASE CI, WITH INTERNET ACCESS. It cannot run on the mkmesh test
# machines, which reach only the Debian archive (the source tarball is on
# GitHub, and cjdns' build downloads Rust crates). cjdns publishes no
# binaries, so this is where the layer's cjdroute comes from: upload
# OUTDIR/cjdroute-<tag>-<arch> to the URL in recipes/layers/cjdns.json and
# put the sha256 printed at the end there.
#
# How: the build runs in a Debian chroot of the image's suite (so cjdroute
# links against the same glibc as the image) made by mmdebstrap with cargo,
# rustc, nodejs and a C toolchain, as upstream's ./do needs. For arm64 on an
# amd64 host the chroot is arm64 and runs under qemu-user (binfmt_misc with
# qemu-user-static; slow, about an hour); on an arm64 runner it is native.
# Needs root (or run mmdebstrap's unshare mode by hand).
set -euo pipefail

TAG=cjdns-v22.1
# sha256 of https://github.com/cjdelisle/cjdns/archive/refs/tags/cjdns-v22.1.tar.gz
# (as pinned by Homebrew's cjdns formula; check it again when changing TAG).
SRC_SHA256=3fcd4dcbfbf8d34457c6b22c1024edb8be4a771eea34391a7e7437af72f52083
SUITE=${SUITE:-trixie}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

arch=${1:?usage: build-cjdns.sh amd64|arm64 OUTDIR}
out=${2:?usage: build-cjdns.sh amd64|arm64 OUTDIR}
case $arch in amd64 | arm64) ;; *) echo "build-cjdns: unknown arch '$arch' (amd64 or arm64)" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "build-cjdns: run as root (mmdebstrap, chroot)" >&2; exit 1; }
host=$(dpkg --print-architecture)
if [ "$arch" != "$host" ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
	echo "build-cjdns: building $arch on $host needs qemu-user: apt-get install qemu-user-static binfmt-support;" \
		"mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable" >&2
	exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/build-cjdns.XXXXXX)
trap 'umount -R "$work/root/proc" "$work/root/dev" 2>/dev/null || true; rm -rf "$work"' EXIT

curl -fsSL -o "$work/src.tar.gz" "https://github.com/cjdelisle/cjdns/archive/refs/tags/$TAG.tar.gz"
echo "$SRC_SHA256  $work/src.tar.gz" | sha256sum -c --quiet - ||
	{ echo "build-cjdns: $TAG source does not match its pinned sha256" >&2; exit 1; }

mmdebstrap --variant=apt --arch="$arch" \
	--include=build-essential,python3,nodejs,cargo,rustc,pkg-config,ca-certificates,git \
	"$SUITE" "$work/root" "$MIRROR"
mkdir -p "$work/root/build"
tar -C "$work/root/build" --strip-components=1 -xzf "$work/src.tar.gz"
mount -t proc proc "$work/root/proc"
mount --rbind /dev "$work/root/dev"
cp /etc/resolv.conf "$work/root/etc/resolv.conf"
# Upstream's build: ./do (node drives cargo and the C compiler).
chroot "$work/root" /bin/sh -ec 'cd /build && ./do'
chroot "$work/root" /build/cjdroute --genconf | chroot "$work/root" /build/cjdroute --cleanconf >/dev/null ||
	{ echo "build-cjdns: the built cjdroute cannot make a config" >&2; exit 1; }
install -m 0755 "$work/root/build/cjdroute" "$out/cjdroute-$TAG-$arch"
(cd "$out" && sha256sum "cjdroute-$TAG-$arch")
