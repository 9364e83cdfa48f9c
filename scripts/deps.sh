#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Set-up for `make image` and `make test`: installs the Debian packages mkmesh
# needs when run as root, or prints the exact command to run. With --tests it
# also installs what the tests need and runs tests/setup.d/*.sh; with --fuzz,
# what `make fuzz` needs (clang and its libFuzzer and sanitizer runtimes).
# Every package is named here, one by one: we install with
# --no-install-recommends, so nothing may come only as a Recommends
# (arch-test is one of mmdebstrap's), and nothing may be assumed to be on a
# machine already. `make test-fresh` checks this list in a fresh root.
set -eu

build_pkgs="gcc make pkg-config git ca-certificates
  libarchive-dev libguestfs-dev libcurl4-openssl-dev libjansson-dev libzstd-dev
  libssl-dev zlib1g-dev libext2fs-dev
  mmdebstrap arch-test uidmap libguestfs0 supermin linux-image-amd64
  gpgv gnupg debian-archive-keyring
  e2fsprogs dosfstools fdisk minisign jq zstd"
test_pkgs="qemu-system-x86 qemu-utils genisoimage openssh-client
  curl jq zstd bc python3 file openssl
  qemu-user-static binfmt-support qemu-system-arm mtools bmap-tools xz-utils
  nftables iproute2 util-linux dash iputils-ping
  chromium"
# chromium: the headless browser that services-boot signs in to Element with
# (driven by puppeteer-core from tests/node; its fonts come with fontconfig's
# Depends, fonts-dejavu-core).
# The replay of the fuzz corpora in `make test` uses gcc's sanitizers:
# libasan8 and libubsan1 are Depends of gcc (through libgcc-12-dev).
# libFuzzer (libclang_rt.fuzzer) is only a Recommends of clang's packages.
fuzz_pkgs="clang libclang-rt-14-dev"

mode=${1:-}
case $mode in
'' | --tests | --fuzz) ;;
*) echo "usage: scripts/deps.sh [--tests | --fuzz]" >&2; exit 2 ;;
esac
pkgs=$build_pkgs
[ "$mode" = --tests ] && pkgs="$pkgs $test_pkgs"
[ "$mode" = --fuzz ] && pkgs="$pkgs $fuzz_pkgs"

missing=
for p in $pkgs; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done

# Node.js may come from elsewhere than Debian (its npm conflicts with
# Debian's); only install Debian's when there is no node or npm at all. The
# npm packages the tests use are pinned (tests/*/package-lock.json) to
# versions that run on Debian bookworm's Node.js 18; older ones cannot.
node_min=18
if [ "$mode" = --tests ]; then
	if ! { command -v node && command -v npm; } >/dev/null; then
		missing="$missing nodejs npm"
	else
		v=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
		if [ "$v" -lt "$node_min" ]; then
			echo "mkmesh: the tests need Node.js $node_min or newer; '$(command -v node)' is $(node --version 2>/dev/null)." >&2
			echo "  Remove it (Debian bookworm's nodejs is 18), or put a newer node first in PATH." >&2
			exit 1
		fi
	fi
fi

if [ -n "$missing" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "mkmesh: installing:$missing" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >&2
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $missing >&2
	else
		echo "mkmesh: missing packages; run as root:" >&2
		echo "  apt-get install --no-install-recommends$missing" >&2
		exit 1
	fi
fi

if [ "$mode" = --tests ]; then
	for s in "$(dirname "$0")"/../tests/setup.d/*.sh; do
		[ -e "$s" ] || continue
		sh "$s"
	done
fi
exit 0
