#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Rebuilds that match: the droplet (base layer) built with SOURCE_DATE_EPOCH,
# then rebuilt with --from-manifest into another directory on a disk cache
# of its own (its disk made afresh), and once more on that cache (its disk
# from the cache, minutes old): the same image, byte for byte, each time. On a difference, diff-disks.sh says where, in file
# system terms. A manifest that pins a version the mirror does not have
# stops the build early, naming the package; one for another target is
# refused.
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

# A manifest is outside input: hostile values in the fields that reach
# apt, hooks, file names, URLs and sources.list are refused when it is
# loaded (before any work), naming the file and the JSON path; nothing runs.
# hostile NAME JQ-FILTER EXPECTED-MESSAGE
hostile() {
	local f=$work/hostile-$1.json
	jq "$2" "$manifest" >"$f"
	rm -f "$work/pwned"
	(cd "$work" && "$mkmesh" build droplet --recipes "$top/recipes" --from-manifest "$f" \
		--cache "$work/cache-hostile" --out "$work/no" >/dev/null 2>"$f.err")
	local rc=$?
	check "hostile $1: refused (exit $rc)" test $rc -eq 2
	check "hostile $1: the error names the file and the field" \
		bash -c "grep -qF '$f: $3' '$f.err' || { cat '$f.err'; false; }"
	check "hostile $1: nothing ran, nothing was made" \
		bash -c "[ ! -e '$work/pwned' ] && [ ! -e '$work/no' ] && [ ! -e '$work/cache-hostile/rootfs' ]"
}
i=$(jq '[.packages[].name] | index("openssh-server")' "$manifest")
hostile version '(.packages[] | select(.name == "openssh-server") | .version) = "1:9.2$(touch${IFS}pwned)"' \
	"packages[$i].version: not a Debian version"
hostile backtick '(.packages[] | select(.name == "openssh-server") | .name) = "openssh-server`touch${IFS}pwned`"' \
	"packages[$i].name: not a Debian package name"
hostile nel '(.packages[] | select(.name == "openssh-server") | .version) = "1:9.2\u0085Pin: x"' \
	"packages[$i].version: not a Debian version"
hostile suite '.suite = "../../x"' "suite: not a Debian suite"
hostile mirror '.mirror = "http://deb.debian.org/debian\ndeb http://evil.example/ x main"' \
	"mirror: not an http:// or https:// URL"
hostile image-version '.version = "1\nabc  evil"' "version: not an image version"

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

# same_image NAME DIR: the image in DIR is the first build's, or where not.
same_image() {
	local other=$2/$(basename "$image")
	check "the $1 has the same file name" test -e "$other"
	if ! cmp -s "$image" "$other"; then
		unpack_raw "$image" "$work/1.raw"
		unpack_raw "$other" "$work/2.raw"
		bash "$top/tests/lib/diff-disks.sh" "$work/1.raw" "$work/2.raw" >&2
		die "the $1's image differs from the first build's"
	fi
	check "the $1's image is the first build's, byte for byte" \
		test "$(sha256sum <"$image")" = "$(sha256sum <"$other")"
	check "... and so is its manifest" cmp "$manifest" "$2/$(basename "$manifest")"
}

# The rebuild, with a disk cache of its own: its disks are made afresh.
second=$work/second
log=$work/build2.log
"$mkmesh" build droplet --from-manifest "$manifest" --cache "$work/cache2" --out "$second" \
	>"$work/build2.out" 2>"$log" || { cat "$log"; die "mkmesh build droplet --from-manifest failed"; }
cat "$log"
check "the rebuild made its disk afresh" grep -q "installing grub-pc" "$log"
check "the rebuild says it matches the manifest" grep -q "the image is the one .* describes" "$log"
same_image rebuild "$second"

# Again on the rebuild's cache (the first build's rootfs, and so its disk,
# are keyed by the recipe, not the manifest's pins): the disk with the
# packages comes from there, and the layers' files replace some of its files.
third=$work/third
log=$work/build3.log
"$mkmesh" build droplet --from-manifest "$manifest" --cache "$work/cache2" --out "$third" \
	>"$work/build3.out" 2>"$log" || { cat "$log"; die "mkmesh build droplet --from-manifest failed"; }
cat "$log"
check "the third build took its disk from the cache" \
	grep -q "the disk with the packages comes from the cache" "$log"
check "... where the layers' files replace some" grep -q "[1-9][0-9]* of the cached disk's files are replaced" "$log"
same_image "third build" "$third"
echo "$checks checks passed"
