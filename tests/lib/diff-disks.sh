#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-disks.sh A.raw B.raw: where two raw disks that should be the same
# differ, said in file system terms, so a failed rebuild comparison tells
# what to look at: for each differing 4 KiB block, the MBR partition it is
# in and, on an ext4 partition, what the block holds (superblock, group
# descriptors, bitmaps, an inode table with the inode numbers and fields
# that differ, or a file's data with its path), from A's metadata.
set -u
a=$1 b=$2
max=${MKMESH_DIFF_MAX:-40}

# Partition table: "index start_byte end_byte type" (MBR, up to 4).
parts=$(sfdisk -J "$a" 2>/dev/null | jq -r '.partitiontable.sectorsize as $s
	| .partitiontable.partitions | to_entries[]
	| "\(.key + 1) \(.value.start * ($s // 512)) \((.value.start + .value.size) * ($s // 512)) \(.value.type)"')

# Differing byte offsets (1-based, from cmp), then grouped into 4 KiB
# blocks: "block count first-offset".
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmp -l "$a" "$b" | awk '{ print $1 }' >"$tmp/bytes"
awk '{ b = int(($1 - 1) / 4096); n[b]++; if (!(b in first)) { first[b] = $1 - 1; order[++k] = b } }
	END { for (i = 1; i <= k; i++) print order[i], n[order[i]], first[order[i]] }' "$tmp/bytes" >"$tmp/blocks"
echo "$(wc -l <"$tmp/bytes") differing bytes in $(wc -l <"$tmp/blocks") blocks of 4 KiB"

# Inode fields by byte offset in an ext4 inode (struct ext2_inode_large).
field() {
	local o=$1
	awk -v o="$o" 'BEGIN {
		split("0 mode 2 uid 4 size 8 atime 12 ctime 16 mtime 20 dtime 24 gid 26 links 28 blocks 32 flags 36 version 40 block/extents 100 generation 104 file_acl 108 size_high 112 faddr 116 blocks_hi/osd2 128 extra_isize 130 checksum_hi 132 ctime_extra 136 mtime_extra 140 atime_extra 144 crtime 148 crtime_extra 152 version_hi 156 projid 160 inline-xattrs", f, " ")
		name = "?"; for (i = 1; i < length(f); i += 2) if (o >= f[i]) name = f[i + 1]
		if (o >= 116 && o < 128) name = (o >= 124 ? "checksum_lo" : "osd2")
		print name }'
}

shown=0
while read -r blk count first; do
	shown=$((shown + 1))
	[ "$shown" -le "$max" ] || { echo "... (more blocks; MKMESH_DIFF_MAX=$max)"; break; }
	where="outside any partition"
	while read -r idx start end type; do
		[ -n "$idx" ] || continue
		if [ "$first" -ge "$start" ] && [ "$first" -lt "$end" ]; then
			where="partition $idx (type $type)"
			poff=$start
			pidx=$idx
			break
		fi
	done <<<"$parts"
	line="byte $first (+$count bytes in its 4 KiB): $where"
	if [ "$where" = "outside any partition" ] || ! dd if="$a" bs=512 skip=$((poff / 512 + 2)) count=1 status=none \
		| od -An -tx1 -j56 -N2 | grep -q "53 ef"; then
		echo "$line"
		continue
	fi
	fsblk=$(((first - poff) / 4096))
	dev="$a?offset=$poff"
	# Read once per partition: the layout and the header.
	[ -s "$tmp/dumpe2fs.$pidx" ] || dumpe2fs "$dev" >"$tmp/dumpe2fs.$pidx" 2>/dev/null
	what=$(
		awk -v b="$fsblk" '
		/^Group [0-9]+:/ { g = $2 + 0 }
		function inr(r, lo, hi) { split(r, x, "-"); lo = x[1] + 0; hi = (x[2] == "" ? lo : x[2] + 0); return b >= lo && b <= hi }
		/superblock at/ { if (match($0, /superblock at [0-9]+/)) { s = substr($0, RSTART + 14, RLENGTH - 14) + 0; if (b == s) { print "superblock (group " g ")"; exit } } }
		/Group descriptors at/ { if (match($0, /at [0-9]+-[0-9]+/) && inr(substr($0, RSTART + 3, RLENGTH - 3))) { print "group descriptors"; exit } }
		/Block bitmap at/ { if (match($0, /at [0-9]+/) && b == substr($0, RSTART + 3, RLENGTH - 3) + 0) { print "block bitmap of group " g; exit } }
		/Inode bitmap at/ { if (match($0, /at [0-9]+/) && b == substr($0, RSTART + 3, RLENGTH - 3) + 0) { print "inode bitmap of group " g; exit } }
		/Inode table at/ { if (match($0, /at [0-9]+-[0-9]+/)) { r = substr($0, RSTART + 3, RLENGTH - 3); if (inr(r)) { split(r, x, "-"); print "itable " g " " x[1]; exit } } }' "$tmp/dumpe2fs.$pidx")
	case $what in
	itable*)
		set -- $what
		isz=$(awk -F: '/^Inode size/ { print $2 + 0; exit }' "$tmp/dumpe2fs.$pidx")
		ipg=$(awk -F: '/^Inodes per group/ { print $2 + 0; exit }' "$tmp/dumpe2fs.$pidx")
		echo "$line, inode table of group $2:"
		awk -v s=$((blk * 4096)) '$1 - 1 >= s && $1 - 1 < s + 4096 { print $1 - 1 - s }' "$tmp/bytes" |
			while read -r o; do
				ino=$(($2 * ipg + ((fsblk - $3) * 4096 + o) / isz + 1))
				echo "$ino $(field $((o % isz)))"
			done | sort -u | awk '{ f[$1] = f[$1] " " $2 } END { for (i in f) print i, f[i] }' | sort -n |
			while read -r ino fields; do
				echo "    inode $ino ($(debugfs -R "ncheck $ino" "$dev" 2>/dev/null | awk 'NR == 2 { print $2 }')):$fields"
			done
		;;
	"")
		ino=$(debugfs -R "icheck $fsblk" "$dev" 2>/dev/null | awk 'NR == 2 { print $2 }')
		if [ -n "$ino" ] && [ "$ino" != "<block" ]; then
			echo "$line, block $fsblk of inode $ino ($(debugfs -R "ncheck $ino" "$dev" 2>/dev/null | awk 'NR == 2 { print $2 }'))"
		else
			echo "$line, block $fsblk (free in A)"
		fi
		;;
	*) echo "$line, $what" ;;
	esac
done <"$tmp/blocks"
