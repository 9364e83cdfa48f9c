#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# pyspdxtools, the SPDX project's own validator (tools-python), for the SBOM
# checks in tests/integration/release.sh. Debian packages it only in sid
# (python3-spdx-tools), and its dependencies are newer than bookworm's, so it
# lives in a small sid chroot made by mmdebstrap (apt checks the archive's
# signatures), kept outside the repository so the next run reuses it:
#   $MKMESH_TOOLS_CACHE (default /var/cache/mkmesh/tools)/spdx-tools
# tests/lib/pyspdxtools.sh runs it. Needs root (CI runs as root).
set -eu
cache=${MKMESH_TOOLS_CACHE:-/var/cache/mkmesh/tools}
root=$cache/spdx-tools
[ -x "$root/usr/bin/pyspdxtools" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "mkmesh: pyspdxtools is not set up; as root run: sh $0" >&2
	exit 0 # the SBOM check then fails and says so
fi
command -v mmdebstrap >/dev/null || { echo "mkmesh: mmdebstrap is missing ('scripts/deps.sh')" >&2; exit 1; }
echo "mkmesh: making a sid chroot with python3-spdx-tools in $root (once, ~1 min)" >&2
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/spdx-tools.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The mirror here can be weeks behind the clock: its InRelease has "expired"
# (signatures are still checked).
mmdebstrap --quiet --variant=essential --include=python3-spdx-tools \
	--aptopt='Acquire::Check-Valid-Until "false"' \
	sid "$tmp/root" http://deb.debian.org/debian
chroot "$tmp/root" pyspdxtools --help >/dev/null
rm -rf "$root"
mv "$tmp/root" "$root"
