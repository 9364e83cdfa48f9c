#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Rebuilds that match: the droplet (base layer) built with SOURCE_DATE_EPOCH,
# then rebuilt with --from-manifest into another directory, each with a disk
# cache of its own (both disks made afresh): the same image, byte for byte.
# (A base disk cached an hour earlier once gave 102 differing bytes; that
# case is open, see issue 6's note, so it is not what this test compares.)
# A manifest that pins a version the mirror does not have stops the build
# early, naming the package; one for another target is refused.
. "$(dirname "$0")/lib.sh"

# The rootfs tarballs and apt archives are shared (content-keyed); the
# rebuild's disks are its own, so it does not copy the first build's disk.
private_cache() {
	mkdir -p "$1"
	local d
	for d in apt rootfs artifacts; do
		mkdir -p "$MKMESH_TEST_CACHE/$d"
		ln -sfn "$MKMESH_TEST_CACHE/$d" "$1/$d"
	done
}
private_cache "$work/cache1"
private_cache "$work/cache2"

first=$work/first
log=$work/build1.log
SOURCE_DATE_EPOCH=1700000000 "$mkmesh" build droplet --without cjdns,matrix,riot,web \
	--cache "$work/cache1" --out "$first" --image-version rebuild-test \
	>"$work/build1.out" 2>"$log" || { cat "$log"; die "mkmesh build droplet failed"; }
manifest=$first/mkmesh-droplet-rebuild-test-amd64.manifest.json
image=$first/mkmesh-droplet-rebuild-test-amd64.raw.gz
check "the first build wrote its manifest" test -s "$manifest"

# A manifest for another target, or another architecture, is refused at once.
"$mkmesh" build rpi --from-manifest "$manifest" --out "$work/no" >/dev/null 2>"$work/rpi.err"
rc=$?
check "a droplet manifest is refused for the rpi (exit $rc)" test $rc -eq 2
check "... saying which target it is for" \
	grep -q "manifest of a 'droplet' image, not of a 'rpi' one" "$work/rpi.err"
jq '.arch = "arm64"' "$manifest" >"$work/arm64.json"
"$mkmesh" build droplet --from-manifest "$work/arm64.json" --out "$work/no" >/dev/null 2>"$work/arch.err"
rc=$?
check "an arm64 manifest is refused for the droplet (exit $rc)" test $rc -eq 2
check "... naming the architectures" grep -q "manifest of an arm64 image; target 'droplet'.*builds amd64" "$work/arch.err"
"$mkmesh" build droplet --from-manifest "$manifest" --suite sid >/dev/null 2>"$work/suite.err"
rc=$?
check "--suite with --from-manifest is a usage error (exit $rc)" test $rc -eq 2

# A version the mirror does not have: stopped before the disk, named.
jq '(.packages[] | select(.name == "openssh-server") | .version) = "1:0.0-0mkmesh"' \
	"$manifest" >"$work/missing.json"
start=$SECONDS
"$mkmesh" build droplet --from-manifest "$work/missing.json" --cache "$work/cache2" \
	--out "$work/no" >/dev/null 2>"$work/missing.err"
rc=$?
cat "$work/missing.err"
check "a missing version fails the build (exit $rc)" test $rc -eq 1
check "... naming the package and version" grep -q "openssh-server 1:0.0-0mkmesh" "$work/missing.err"
check "... pointing at snapshot.debian.org" \
	grep -q -- "--mirror https://snapshot.debian.org/archive/debian/20231114T221320Z/" "$work/missing.err"
check "... before the disk stage ($((SECONDS - start)) s)" bash -c "! grep -q '\[3/5\] disk' '$work/missing.err'"
check "... and no image is left" test ! -e "$work/no"

# The rebuild, with a disk cache of its own.
second=$work/second
log=$work/build2.log
"$mkmesh" build droplet --from-manifest "$manifest" --cache "$work/cache2" --out "$second" \
	>"$work/build2.out" 2>"$log" || { cat "$log"; die "mkmesh build droplet --from-manifest failed"; }
cat "$log"
check "the rebuild has the same file name" test -e "$second/$(basename "$image")"
if ! cmp -s "$image" "$second/$(basename "$image")"; then
	unpack_raw "$image" "$work/1.raw"
	unpack_raw "$second/$(basename "$image")" "$work/2.raw"
	echo "differing bytes in the raw disks: $(cmp -l "$work/1.raw" "$work/2.raw" | wc -l)" >&2
	die "the rebuild's image differs from the first build's"
fi
check "the rebuild's image is the first build's, byte for byte" \
	test "$(sha256sum <"$image")" = "$(sha256sum <"$second/$(basename "$image")")"
check "the rebuild says it matches the manifest" grep -q "the image is the one .* describes" "$log"
check "so is its manifest" cmp "$manifest" "$second/$(basename "$manifest")"
echo "$checks checks passed"
