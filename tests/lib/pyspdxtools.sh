#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# pyspdxtools -i FILE in the chroot tests/setup.d/spdx-tools.sh makes: parses
# the SPDX document and validates it against the SPDX 2.3 specification.
# Exit 0 when valid; its findings on stdout/stderr otherwise.
set -eu
root=${MKMESH_TOOLS_CACHE:-/var/cache/mkmesh/tools}/spdx-tools
[ -x "$root/usr/bin/pyspdxtools" ] || { echo "pyspdxtools is not set up (sh tests/setup.d/spdx-tools.sh as root)" >&2; exit 2; }
name=$(basename "$1")
case $name in *.spdx.json) ;; *) name=$name.spdx.json ;; esac # it picks the parser by suffix
dir=$(mktemp -d "$root/tmp/check.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cp "$1" "$dir/$name"
chroot "$root" pyspdxtools -i "/tmp/${dir##*/}/$name"
