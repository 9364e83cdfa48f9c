#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# mkmesh flash on loop devices, with an image made here (no arm64 build
# needed) and its block map made by bmaptool, so the two tools are checked
# against each other. A good write reads back identical and writes only the
# mapped blocks; every refusal is hit (regular file, partition, mounted,
# the disk the system runs from, too small, not removable, no --yes); a
# device that fails in the middle of the write (device-mapper 'error'
# target) and an image that does not match its map end with a clear error.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "flash tests need root for loop devices"
for t in losetup partx sfdisk mkfs.vfat mcopy mkfs.ext4 bmaptool zstd xz unshare; do
	command -v "$t" >/dev/null || skip "$t is missing ('scripts/deps.sh --tests')"
done
[ -e /dev/loop-control ] || skip "no loop devices here"

loops=() mounts=()
flash_cleanup() {
	local m l d
	for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null; done
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
}
trap 'flash_cleanup; cleanup' EXIT

# loop FILE [-P]: attaches FILE as $loopdev (with its partitions for -P;
# without udev here, partx makes the kernel add them).
loop() {
	loopdev=$(losetup -f --show "${@:2}" "$1") || die "losetup $1"
	loops+=("$loopdev")
	if [ "${2:-}" = -P ]; then
		[ -e "${loopdev}p1" ] || partx -a "$loopdev" 2>/dev/null
		local i
		for i in 1 2 3 4 5; do [ -b "${loopdev}p1" ] && break; sleep 0.2; done
		[ -b "${loopdev}p1" ] || die "no partition devices for $loopdev"
	fi
}

# A 64 MiB image: MBR, FAT p1 and ext4 p2 with some files, holes between.
img=$work/test.img
truncate -s 64M "$img"
printf 'label: dos\nstart=2048, size=30720, type=c\nstart=32768, type=83\n' | sfdisk -q "$img"
# Built without mounting (this kernel may lack vfat): mtools for the FAT,
# mke2fs -d for the ext4.
mkfs.vfat --offset 2048 -n RASPIFIRM "$img" 30720 >/dev/null 2>&1
head -c 3000000 /dev/urandom >"$work/kernel"
echo hello >"$work/config.txt"
mcopy -i "$img@@1M" "$work/kernel" "$work/config.txt" ::/
mkdir -p "$work/rootdir"
head -c 5000000 /dev/urandom >"$work/rootdir/data"
truncate -s 48M "$work/p2.img"
mkfs.ext4 -q -L RASPIROOT -d "$work/rootdir" "$work/p2.img"
dd if="$work/p2.img" of="$img" bs=1M seek=16 conv=notrunc,sparse status=none
mkdir -p "$work/m1" "$work/m2"
fstrim_like() { fallocate --dig-holes "$1"; } # zeros become holes, as after fstrim
fstrim_like "$img"
bmaptool -q create "$img" -o "$work/test.img.bmap"
zstd -q -T0 "$img" -o "$work/test.img.zst"
xz -T0 -c "$img" >"$work/test.img.xz"
gzip -c "$img" >"$work/test.img.gz"
size=$(stat -c %s "$img")
mapped=$(awk -F'[<> ]+' '/^ *<MappedBlocksCount>/ { print $3 * 4096 }' "$work/test.img.bmap")

flash() { "$mkmesh" flash rpi "$@"; }

# refused: FILE must hold the message, the exit code must be 1
refused() { # refused WHAT PATTERN -- ARGS...
	local what=$1 pattern=$2
	shift 3
	local rc=0
	flash "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
	check "refused: $what (exit $rc: $(head -c 300 "$work/err"))" \
		bash -c "[ $rc -eq 1 ] && grep -qz -- '$pattern' '$work/err'"
}

# --- good writes ---
for fmt in zst xz gz; do
	truncate -s 0 "$work/card" && truncate -s 128M "$work/card"
	loop "$work/card"
card=$loopdev
	MKMESH_FLASH_STATS=1 flash "$work/test.img.$fmt" "$card" --yes --force >"$work/out" 2>"$work/err" ||
		{ cat "$work/err"; die "flash of .img.$fmt failed"; }
	check "flash .img.$fmt: the card reads back identical to the image" cmp -n "$size" "$img" "$card"
	check "flash .img.$fmt: says what it did" grep -q "read back and checked" "$work/out"
	written=$(sed -n 's/.*bytes_written=\([0-9]*\).*/\1/p' "$work/err")
	check "flash .img.$fmt: wrote the mapped blocks and the card's last MiB ($written bytes for $mapped mapped)" \
		test "$written" -eq $((mapped + 1048576))
	losetup -d "$card"
done
cat "$work/out"

# Only the mapped blocks: an old card's contents stay where the image has holes.
tr '\0' '\252' </dev/zero | head -c 128M >"$work/card"
loop "$work/card"
card=$loopdev
flash "$work/test.img.zst" "$card" --yes --force >/dev/null 2>"$work/err" || { cat "$work/err"; die "flash"; }
hole=$(python3 - "$work/test.img.bmap" <<-'EOF'
	import re, sys
	text = open(sys.argv[1]).read()
	prev = -1
	for m in re.finditer(r'> (\d+)(?:-(\d+))? </Range>', text):
	    first = int(m.group(1))
	    if first > prev + 1:
	        print(prev + 1)
	        break
	    prev = int(m.group(2) or first)
	EOF
)
check "an unmapped block (block $hole) was not written" \
	test "$(dd if="$card" bs=4096 skip="$hole" count=1 status=none | tr -d '\252' | wc -c)" -eq 0
check "a mapped block was written" cmp -n 4096 "$img" "$card"
losetup -d "$card"

# --- refusals ---
truncate -s 128M "$work/plain"
refused "a regular file" "is not a block device" -- "$work/test.img.zst" "$work/plain" --yes --force

loop "$img" -P
pdev=$loopdev
refused "a partition" "is a partition; give the whole card: /dev/$(basename "$pdev")" -- \
	"$work/test.img.zst" "${pdev}p1" --yes --force
mount "${pdev}p2" "$work/m1" && mounts+=("$work/m1")
refused "a card with a mounted partition" "is mounted" -- "$work/test.img.zst" "$pdev" --yes --force
umount "$work/m1"

# The disk the system runs from: in a private mount namespace, / is the
# ext4 partition of this loop device (chroot), with the host's programs.
mount "${pdev}p2" "$work/m2" && mounts+=("$work/m2")
mkdir -p "$work/m2/usr" "$work/m2/proc" "$work/m2/sys" "$work/m2/dev" "$work/m2/img"
for l in bin lib lib64 sbin; do [ -L "/$l" ] && ln -sfn "usr/$l" "$work/m2/$l"; done
umount "$work/m2"
cp "$mkmesh" "$work/mkmesh"
rc=0
unshare --mount --propagation private bash -c "
	mount '${pdev}p2' '$work/m2' && mount --rbind /usr '$work/m2/usr' &&
	mount -t proc proc '$work/m2/proc' && mount --rbind /sys '$work/m2/sys' &&
	mount --rbind /dev '$work/m2/dev' && mount --bind '$work' '$work/m2/img' &&
	chroot '$work/m2' /img/mkmesh flash rpi /img/test.img.zst '$pdev' --yes --force" \
	</dev/null >/dev/null 2>"$work/err" || rc=$?
check "refused: the disk the system runs from (exit $rc: $(head -c 300 "$work/err"))" \
	bash -c "[ $rc -eq 1 ] && grep -q 'is the disk this system runs from' '$work/err'"
losetup -d "$pdev"

truncate -s 32M "$work/small"
loop "$work/small"
small=$loopdev
refused "a card smaller than the image" "holds 32.0 MiB, the image needs 64.0 MiB" -- \
	"$work/test.img.zst" "$small" --yes --force

truncate -s 0 "$work/card" && truncate -s 128M "$work/card"
loop "$work/card"
card=$loopdev
refused "a disk that is not removable, without --force" "is not a removable disk" -- \
	"$work/test.img.zst" "$card" --yes
refused "no --yes and stdin is not a terminal" "add --yes" -- "$work/test.img.zst" "$card" --force
check "nothing was written by the refused runs" \
	test "$(head -c 1048576 "$card" | tr -d '\0' | wc -c)" -eq 0

# --- failures while writing ---
# A card that takes the first 4 MiB and then fails every write, as a
# worn-out or fake card does: a loop device on a sparse 128 MiB file in a
# 4 MiB tmpfs (the kernel here has no device-mapper for an 'error' target).
mkdir -p "$work/tiny"
mount -t tmpfs -o size=4M tmpfs "$work/tiny" && mounts+=("$work/tiny") || die "mount tmpfs"
truncate -s 128M "$work/tiny/card"
loop "$work/tiny/card"
refused "a card that fails mid-write gives a clear error" "failed at byte .*The card is incomplete" -- \
	"$work/test.img.zst" "$loopdev" --yes --force
losetup -d "$loopdev"

# An image that is not the one its map describes.
cp "$img" "$work/other.img"
printf 'not the same' | dd of="$work/other.img" bs=1 seek=1024 conv=notrunc status=none
zstd -q "$work/other.img" -o "$work/other.img.zst"
refused "an image that does not match its block map" "does not match its block map" -- \
	"$work/other.img.zst" "$card" --yes --force --bmap "$work/test.img.bmap"
head -c 1000000 "$work/test.img.zst" >"$work/cut.img.zst"
refused "a truncated download" "ends before the block map does\|damaged" -- \
	"$work/cut.img.zst" "$card" --yes --force --bmap "$work/test.img.bmap"
refused "a missing block map" "cannot read the block map" -- "$work/test.img.gz" "$card" --yes --force \
	--bmap "$work/nope.bmap"

echo "$checks checks passed"
