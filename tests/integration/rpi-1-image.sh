#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the rpi image (arm64, base layer; the rootfs comes from the shared
# cache after the first, slow run under qemu-user) and checks it without a
# Pi: the partition table against a golden sfdisk dump, the FAT partition's
# files (config.txt, cmdline.txt with root=LABEL=RASPIROOT, the installed
# kernel package's kernel and initrd, the Pi 3 and Pi 4 device trees), the
# root file system's settings, and the block map: bmaptool can use it, it
# covers every block that holds data, and no block the file systems call free.
. "$(dirname "$0")/lib.sh"

for t in zstd mtype mdir sfdisk debugfs dumpe2fs bmaptool python3 jq; do
	command -v "$t" >/dev/null || skip "$t is missing ('scripts/deps.sh --tests')"
done
sh "$top/tests/setup.d/binfmt.sh" >/dev/null 2>&1
[ -r /proc/sys/fs/binfmt_misc/qemu-aarch64 ] ||
	skip "arm64 emulation is off (qemu-user-static in binfmt_misc; tests/setup.d/binfmt.sh as root)"

# Without arch-test (mmdebstrap needs it for a foreign architecture; it is
# only a Recommends) the build stops before mmdebstrap and names the fix.
nopath=$work/path-without-arch-test
mkdir -p "$nopath"
for f in /usr/local/sbin/* /usr/local/bin/* /usr/sbin/* /usr/bin/* /sbin/* /bin/*; do
	b=${f##*/}
	[ "$b" = arch-test ] || [ -e "$nopath/$b" ] || ln -s "$f" "$nopath/$b"
done
PATH=$nopath "$mkmesh" build rpi --suite trixie --without cjdns,matrix,riot,web \
	--out "$work/images-noat" --cache "$work/cache-noat" --image-version test \
	>/dev/null 2>"$work/noat.log"
rc=$?
check "without arch-test the build fails (exit $rc)" test "$rc" -eq 1
check "the error names arch-test and the command" \
	bash -c "grep -q \"needs 'arch-test', which is not installed\" '$work/noat.log' && grep -q 'apt-get install arch-test' '$work/noat.log' || { cat '$work/noat.log'; false; }"
check "mmdebstrap did not start" test ! -e "$work/cache-noat/logs/rpi-rootfs.log"
check "nothing is left under the output directory" test -z "$(ls -A "$work/images-noat" 2>/dev/null)"

out=$work/images
log=$work/build.log
start=$SECONDS
# MKMESH_TEST_RPI_OUT: a directory with an image this test built before
# (for working on the checks); normally the test builds its own.
if [ -n "${MKMESH_TEST_RPI_OUT:-}" ]; then
	out=$MKMESH_TEST_RPI_OUT
	printf '%s\n' "$out"/mkmesh-rpi-test-arm64.{img.zst,manifest.json,img.bmap,spdx.json} >"$work/build.out"
	: >"$log"
else
	# The small image: the base layer on trixie (rpi-full in tests/slow has the rest).
	"$mkmesh" build rpi --suite trixie --without cjdns,matrix,riot,web --out "$out" \
		--cache "$MKMESH_TEST_CACHE" --image-version test \
		>"$work/build.out" 2>"$log" || { cat "$log"; die "mkmesh build rpi failed"; }
fi
cat "$log"
echo "build took $((SECONDS - start)) s"
image=$out/mkmesh-rpi-test-arm64.img.zst
manifest=$out/mkmesh-rpi-test-arm64.manifest.json
bmap=$out/mkmesh-rpi-test-arm64.img.bmap
sbom=$out/mkmesh-rpi-test-arm64.spdx.json

check "build prints the image, manifest, bmap and SBOM paths" \
	diff <(printf '%s\n%s\n%s\n%s\n' "$image" "$manifest" "$bmap" "$sbom") "$work/build.out"
check "SHA256SUMS covers image, manifest, bmap and SBOM" \
	bash -c "cd '$out' && sha256sum --quiet -c SHA256SUMS && [ \$(wc -l <SHA256SUMS) -eq 4 ]"
check "the image is zstd" zstd -q -t "$image"
check "manifest says arm64" test "$(jq -r .arch "$manifest")" = arm64

raw=$work/disk.img
zstd -q -d --sparse "$image" -o "$raw"
sfdisk --dump "$raw" | sed "s|$raw|IMAGE|" >"$work/sfdisk.dump"
check "partition table matches tests/golden/rpi-sfdisk.dump" \
	diff -u "$top/tests/golden/rpi-sfdisk.dump" "$work/sfdisk.dump"

# The firmware partition, read with mtools at its offset.
fat="$raw@@4M"
export MTOOLS_SKIP_CHECK=1
dd if="$raw" of="$work/p1head" bs=1M skip=4 count=1 status=none
check "p1 is FAT32 labelled RASPIFIRM" \
	bash -c "file -s '$work/p1head' | grep -q 'FAT (32 bit).*label: \"RASPIFIRM'"
kpkg=$(jq -r '.packages[].name | select(test("^linux-image-[0-9].*-arm64$"))' "$manifest")
kver=${kpkg#linux-image-}
check "the manifest names the installed kernel package ($kpkg)" test -n "$kver"
mdir -b -i "$fat" :: >"$work/fat.ls"
for f in config.txt cmdline.txt "vmlinuz-$kver" "initrd.img-$kver" bcm2837-rpi-3-b.dtb \
	bcm2711-rpi-4-b.dtb bootcode.bin start4.elf fixup4.dat; do
	check "FAT has $f" grep -qx "::/$f" "$work/fat.ls"
done
mtype -i "$fat" ::cmdline.txt >"$work/cmdline.txt"
mtype -i "$fat" ::config.txt >"$work/config.txt"
cat "$work/cmdline.txt"
check "cmdline.txt: root=LABEL=RASPIROOT" grep -q ' root=LABEL=RASPIROOT ' "$work/cmdline.txt"
check "cmdline.txt: serial console of the Pi 3/4 (ttyS1)" grep -q 'console=ttyS1,115200' "$work/cmdline.txt"
check "config.txt: 64-bit" grep -qx 'arm_64bit=1' "$work/config.txt"
check "config.txt: boots vmlinuz-$kver" grep -qx "kernel=vmlinuz-$kver" "$work/config.txt"
check "config.txt: with initrd.img-$kver" grep -qx "initramfs initrd.img-$kver" "$work/config.txt"

# The root file system (p2 from 512 MiB), read with debugfs.
dd if="$raw" of="$work/p2" bs=1M skip=512 conv=sparse status=none
rootcat() { debugfs -R "cat $1" "$work/p2" 2>/dev/null; }
check "p2 is ext4 labelled RASPIROOT" \
	bash -c "dumpe2fs -h '$work/p2' 2>/dev/null | grep -q '^Filesystem volume name: *RASPIROOT$'"
for f in "vmlinuz-$kver" "initrd.img-$kver"; do
	mcopy -i "$fat" "::$f" "$work/fat-$f"
	rootcat "/boot/$f" >"$work/root-$f"
	check "FAT's $f is the installed one (/boot/$f)" cmp "$work/fat-$f" "$work/root-$f"
done
for dtb in bcm2837-rpi-3-b.dtb bcm2711-rpi-4-b.dtb; do
	mcopy -i "$fat" "::$dtb" "$work/fat-$dtb"
	rootcat "/usr/lib/linux-image-$kver/broadcom/$dtb" >"$work/root-$dtb"
	check "FAT's $dtb is the kernel package's" cmp "$work/fat-$dtb" "$work/root-$dtb"
done
rootcat /etc/fstab >"$work/fstab"
check "fstab: / by LABEL=RASPIROOT" grep -q '^LABEL=RASPIROOT / ext4 ' "$work/fstab"
check "fstab: /boot/firmware by LABEL=RASPIFIRM, root only" \
	grep -q '^LABEL=RASPIFIRM /boot/firmware vfat rw,umask=0077 ' "$work/fstab"
check "raspi-firmware settings: ROOTPART=LABEL=RASPIROOT" \
	bash -c "debugfs -R 'cat /etc/default/raspi-firmware' '$work/p2' 2>/dev/null | grep -qx 'ROOTPART=LABEL=RASPIROOT'"
check "cloud-init: NoCloud only (seed on the FAT partition)" \
	bash -c "debugfs -R 'cat /etc/cloud/cloud.cfg.d/91-mkmesh-rpi.cfg' '$work/p2' 2>/dev/null | grep -q 'datasource_list: \[ NoCloud, None \]'"
check "cloud-init: growpart grows / on first boot" \
	bash -c "debugfs -R 'cat /etc/cloud/cloud.cfg.d/90-mkmesh.cfg' '$work/p2' 2>/dev/null | grep -q 'growpart'"

# The block map. bmaptool copy onto an empty file verifies every range's
# sha256, and the copy equals the image only if every block with data is
# in the map.
bmaptool -q copy --bmap "$bmap" "$image" "$work/copy.img" 2>"$work/bmaptool.err" ||
	{ cat "$work/bmaptool.err"; die "bmaptool copy with our bmap failed"; }
check "bmaptool copy with our bmap gives the image, byte for byte (all data blocks mapped)" \
	cmp "$raw" "$work/copy.img"
rm -f "$work/copy.img"
# No mapped block in p2 is one that ext4 calls free.
dumpe2fs "$work/p2" 2>/dev/null >"$work/dumpe2fs"
python3 - "$bmap" "$work/dumpe2fs" >"$work/bmap-check" <<'EOF'
import re, sys
bmap, dump = open(sys.argv[1]).read(), open(sys.argv[2]).read()
ranges = [(int(a), int(b or a)) for a, b in re.findall(r'> (\d+)(?:-(\d+))? </Range>', bmap)]
p2 = 512 * 256  # p2's first 4 KiB block in the image
free = []
for m in re.finditer(r'^  Free blocks: (.*)$', dump, re.M):
    for part in filter(None, (x.strip() for x in m.group(1).split(','))):
        a, _, b = part.partition('-')
        free.append((int(a), int(b or a)))
free.sort()
bad = 0
mapped_p2 = 0
import bisect
starts = [f[0] for f in free]
for a, b in ranges:
    a, b = max(a, p2) - p2, b - p2
    if b < a:
        continue
    mapped_p2 += b - a + 1
    i = bisect.bisect_right(starts, b) - 1
    while i >= 0 and free[i][1] >= a:
        lo, hi = max(a, free[i][0]), min(b, free[i][1])
        if lo <= hi:
            bad += hi - lo + 1
        i -= 1
total = int(re.search(r'^Block count: *(\d+)', dump, re.M).group(1))
nfree = int(re.search(r'^Free blocks: *(\d+)', dump, re.M).group(1))
print(bad, mapped_p2, total - nfree)
EOF
read -r bad mapped_p2 used_p2 <"$work/bmap-check"
check "no free ext4 block is in the map ($bad of $mapped_p2 mapped; ext4 uses $used_p2)" test "$bad" -eq 0
mapped=$(awk -F'[<> ]+' '/^ *<MappedBlocksCount>/ { print $3 }' "$bmap")
check "the map holds $((mapped * 4 / 1024)) MiB of a 2 GiB image" test "$mapped" -lt $((1536 * 256))

echo "$checks checks passed"
