#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Set-up for `make image` and `make test`: installs the Debian packages mkmesh
# needs when run as root, or prints the exact command to run. With --tests it
# also installs what the tests need and runs tests/setup.d/*.sh.
set -eu

build_pkgs="gcc make pkg-config git ca-certificates
  libarchive-dev libguestfs-dev libcurl4-openssl-dev libjansson-dev libzstd-dev
  libssl-dev zlib1g-dev libext2fs-dev
  mmdebstrap uidmap libguestfs0 supermin linux-image-amd64
  gpgv gnupg debian-archive-keyring
  e2fsprogs dosfstools fdisk minisign"
test_pkgs="qemu-system-x86 qemu-utils genisoimage openssh-client
  curl jq zstd bc python3
  qemu-user-static binfmt-support qemu-system-arm mtools bmap-tools xz-utils"

pkgs=$build_pkgs
[ "${1:-}" = "--tests" ] && pkgs="$pkgs $test_pkgs"

missing=
for p in $pkgs; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done

# Node.js may come from elsewhere than Debian (its npm conflicts with
# Debian's); only install Debian's when there is no node or npm at all.
if [ "${1:-}" = "--tests" ] && ! { command -v node && command -v npm; } >/dev/null; then
	missing="$missing nodejs npm"
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

if [ "${1:-}" = "--tests" ]; then
	for s in "$(dirname "$0")"/../tests/setup.d/*.sh; do
		[ -e "$s" ] || continue
		sh "$s"
	done
fi
exit 0
