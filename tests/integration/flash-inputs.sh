#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `mkmesh flash` with an image and a block map from outside (seconds, no
# root, no card): what is wrong with them is refused before any device is
# looked at, naming the file. The "device" is a regular file, which flash
# would refuse later ("not a block device"), so a refusal that names the
# map or the image shows the map and image were checked first. Every run is
# under `timeout 20` and a 2 GiB address-space limit.
# MKMESH_TEST_BIN runs another mkmesh binary (e.g. an older build) instead.
. "$(dirname "$0")/lib.sh"
mkmesh=${MKMESH_TEST_BIN:-$mkmesh}

for t in sha256sum timeout mkfifo; do
	command -v "$t" >/dev/null || skip "$t is missing ('scripts/deps.sh --tests')"
done
[ -x "$mkmesh" ] || die "'$mkmesh' is not built; run 'make mkmesh'"

# An 8 KiB raw image and its map: two blocks of 4096 bytes, each with its sha256.
img=$work/t.img
head -c 8192 /dev/urandom >"$img"
s0=$(head -c 4096 "$img" | sha256sum | cut -d' ' -f1)
s1=$(tail -c 4096 "$img" | sha256sum | cut -d' ' -f1)
bmap() { # IMAGE_SIZE BLOCK_SIZE COUNT RANGES
	printf '<?xml version="1.0" ?>\n<bmap version="2.0">\n<ImageSize> %s </ImageSize>\n<BlockSize> %s </BlockSize>\n<BlocksCount> %s </BlocksCount>\n<ChecksumType> sha256 </ChecksumType>\n<BlockMap>\n%s\n</BlockMap>\n</bmap>\n' "$@"
}
good_ranges="<Range chksum=\"$s0\"> 0 </Range><Range chksum=\"$s1\"> 1 </Range>"
bmap 8192 4096 2 "$good_ranges" >"$work/good.bmap"
: >"$work/card"

# refused IMAGE BMAP PATTERN: flash exits 1 and says PATTERN.
refused() {
	local rc=0
	(ulimit -v 2097152; exec timeout 20 "$mkmesh" flash rpi "$1" "$work/card" --yes --bmap "$2") \
		>"$work/f.out" 2>"$work/f.err" </dev/null || rc=$?
	cat "$work/f.err"
	if [ "$rc" != 1 ]; then
		echo "flash exited $rc, not 1$([ "$rc" = 124 ] && echo ' (timed out: it hung)')" >&2
		return 1
	fi
	grep -q -- "$3" "$work/f.err" || { echo "no message matching '$3'" >&2; return 1; }
}

check "a good image and map get as far as the device" \
	refused "$img" "$work/good.bmap" "is not a block device"

bmap 8192 256 32 "<Range chksum=\"$s0\"> 0 </Range>" >"$work/bs256.bmap"
check "BlockSize 256: refused as a bad map, not written as a 'worn card'" \
	refused "$img" "$work/bs256.bmap" "bs256.bmap': <BlockSize> 256 is not a power of two from 512"

bmap 8192 4096 2 "<Range> 0-1 </Range>" >"$work/nosum.bmap"
check "a map without sha256s: refused (it could not be checked)" \
	refused "$img" "$work/nosum.bmap" "nosum.bmap': range 1 has no sha256"

bmap 8192 4096 2 "<Range chksum=\"$s0\"> 0-2 </Range>" >"$work/outside.bmap"
check "a range out of the image: refused" \
	refused "$img" "$work/outside.bmap" "outside.bmap': range 1 (0-2) is not an ascending range of blocks inside"

bmap 12288 4096 3 "$good_ranges" >"$work/bigger.bmap"
check "a raw image of another size than its map: refused" \
	refused "$img" "$work/bigger.bmap" "has 8192 bytes, its block map .*bigger.bmap' says 12288"

check "a map that is /dev/zero: refused quickly" \
	refused "$img" /dev/zero "cannot read the block map '/dev/zero': not a regular file"
mkfifo "$work/fifo.bmap"
check "a map that is a FIFO: refused, not a hang" \
	refused "$img" "$work/fifo.bmap" "fifo.bmap': not a regular file"
head -c 17M /dev/zero >"$work/huge.bmap"
check "a map of 17 MiB: refused, saying the bound" \
	refused "$img" "$work/huge.bmap" "larger than 16 MiB"
mkfifo "$work/fifo.img"
check "an image that is a FIFO: refused, not a hang" \
	refused "$work/fifo.img" "$work/good.bmap" "cannot read the image '.*fifo.img': not a regular file"
check "nothing was written to the 'device'" test ! -s "$work/card"

echo "$checks checks passed"
