#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# arm64 emulation for the rpi tests: qemu-user-static registered in
# binfmt_misc. binfmt_misc is not mounted at boot on the build machines;
# mounting it and enabling the handler needs root (CI runs as root).
set -eu
entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
if [ -r "$entry" ] && head -n 1 "$entry" | grep -qx enabled; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "mkmesh: aarch64 emulation is off; as root run:" >&2
	echo "  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc" >&2
	echo "  update-binfmts --enable qemu-aarch64" >&2
	exit 0 # the rpi tests skip and say so
fi
if ! command -v update-binfmts >/dev/null || [ ! -e /usr/bin/qemu-aarch64-static ]; then
	echo "mkmesh: qemu-user-static and binfmt-support are missing; 'scripts/deps.sh --tests' installs them" >&2
	exit 1
fi
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
	echo "mkmesh: mounting binfmt_misc for arm64 emulation" >&2
	mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
echo "mkmesh: enabling qemu-aarch64 in binfmt_misc" >&2
update-binfmts --enable qemu-aarch64
head -n 1 "$entry" | grep -qx enabled
