#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A real cjdroute for the tests that run it on this host (not the image's:
# mkmesh builds that one itself). Built once, natively, from cjdns' v21.1
# source in $MKMESH_SHARED_DIR/upstream (see its README), into
#
#   ${MKMESH_TEST_CACHE:-/var/cache/mkmesh}/test-cjdroute-v21.1/<sha256 of the tarball>/cjdroute
#
# built in a temporary directory beside it and renamed when complete, under a
# lock, so a killed or concurrent build leaves nothing half-made. Prints the
# path of cjdroute on stdout. Exit 0: built or cached; 77: the source is not
# there (the reason on stderr); 1: the build failed (the log is kept).
#
#   tests/lib/host-cjdroute.sh            # path of cjdroute (builds it when needed)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
shared=${MKMESH_SHARED_DIR:-$top/../shared}
src=$shared/upstream/cjdns-cjdns-v21.1.tar.gz
cache=${MKMESH_TEST_CACHE:-/var/cache/mkmesh}/test-cjdroute-v21.1

if [ ! -r "$src" ]; then
	echo "host-cjdroute: no cjdns source $src (set MKMESH_SHARED_DIR to the folder holding upstream/)" >&2
	exit 77
fi
sum=$(sha256sum "$src" | cut -d' ' -f1)
out=$cache/$sum
if [ -x "$out/cjdroute" ]; then
	echo "$out/cjdroute"
	exit 0
fi
for tool in gcc make node python3; do
	if ! command -v $tool >/dev/null; then
		echo "host-cjdroute: $tool is missing (apt-get install build-essential nodejs python3)" >&2
		exit 77
	fi
done
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -x "$out/cjdroute" ]; then # built by another run while we waited
	echo "$out/cjdroute"
	exit 0
fi
tmp=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log=$cache/build-$sum.log
echo "host-cjdroute: building cjdroute from $src (1 to 3 minutes; log: $log)" >&2
tar -xzf "$src" -C "$tmp"
dir=$tmp/cjdns-cjdns-v21.1
# libuv's bundled gyp uses collections.MutableSet, gone since Python 3.10.
common=$dir/node_build/dependencies/libuv/build/gyp/pylib/gyp/common.py
sed -i -e 's/^import collections$/import collections\nimport collections.abc/' \
	-e 's/collections\.MutableSet/collections.abc.MutableSet/' "$common"
# The time of the tag's commit (git archive gives every file that mtime).
epoch=$(stat -c %Y "$dir/README.md")
if ! (cd "$dir" && env SOURCE_DATE_EPOCH="$epoch" CFLAGS="-Wno-error -march=x86-64 -mtune=generic" \
	CJDNS_NACL_PLAN=amd64_plan.json ./do) >"$log" 2>&1 || [ ! -x "$dir/cjdroute" ]; then
	echo "host-cjdroute: the build failed; the last lines of $log:" >&2
	tail -n 20 "$log" >&2
	exit 1
fi
mkdir "$tmp/out"
cp "$dir/cjdroute" "$tmp/out/cjdroute"
"$tmp/out/cjdroute" --genconf >/dev/null 2>&1 || {
	echo "host-cjdroute: the built cjdroute does not run --genconf (log: $log)" >&2
	exit 1
}
mv "$tmp/out" "$out"
echo "$out/cjdroute"
