#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Boots the rpi image's own root file system without a Pi: the kernel and
# initrd are taken from its FAT partition (as the Pi's firmware would) and
# run in qemu-system-aarch64 -M virt (TCG) with root=LABEL=RASPIROOT, the
# card a virtio disk grown to 4 GiB. The NoCloud seed (user-data, meta-data)
# is written into the FAT partition of a copy of the image, where Raspberry
# Pi Imager puts it. Over SSH: arm64, root and /boot/firmware by label,
# cloud-init done from that seed, root grown to the card, no failed units.
. "$(dirname "$0")/lib.sh"

for t in zstd mcopy qemu-system-aarch64 ssh jq; do
	command -v "$t" >/dev/null || skip "$t is missing ('scripts/deps.sh --tests')"
done
sh "$top/tests/setup.d/binfmt.sh" >/dev/null 2>&1
[ -r /proc/sys/fs/binfmt_misc/qemu-aarch64 ] ||
	skip "arm64 emulation is off (qemu-user-static in binfmt_misc; tests/setup.d/binfmt.sh as root)"

out=$work/images
# MKMESH_TEST_RPI_OUT: an image built before (see rpi-1-image.sh).
if [ -n "${MKMESH_TEST_RPI_OUT:-}" ]; then
	out=$MKMESH_TEST_RPI_OUT
else
	# The small image: the base layer on trixie (rpi-full in tests/slow has the rest).
	"$mkmesh" build rpi --suite trixie --without cjdns,matrix,riot,web --out "$out" \
		--cache "$MKMESH_TEST_CACHE" --image-version test \
		>"$work/build.out" 2>"$work/build.log" || { cat "$work/build.log"; die "mkmesh build rpi failed"; }
fi
image=$out/mkmesh-rpi-test-arm64.img.zst
manifest=$out/mkmesh-rpi-test-arm64.manifest.json

card=$work/card.img
zstd -q -d --sparse "$image" -o "$card"
export MTOOLS_SKIP_CHECK=1
fat="$card@@4M"
kpkg=$(jq -r '.packages[].name | select(test("^linux-image-[0-9].*-arm64$"))' "$manifest")
kver=${kpkg#linux-image-}
mcopy -i "$fat" "::vmlinuz-$kver" "$work/vmlinuz"
mcopy -i "$fat" "::initrd.img-$kver" "$work/initrd.img"

# The seed on the FAT partition, as Raspberry Pi Imager writes it.
ssh_key
cat >"$work/meta-data" <<EOF
instance-id: mkmesh-rpi-test
local-hostname: pi-one
EOF
cat >"$work/user-data" <<EOF
#cloud-config
ssh_authorized_keys:
  - $(cat "$work/id.pub")
EOF
# And the site file dropped there as mkmesh.json, the other way to configure a card.
echo '{"domain": "pi.example.test", "acme_email": "ops@example.test", "admin": {"user": "alice"}}' \
	>"$work/mkmesh.json"
mcopy -i "$fat" "$work/user-data" "$work/meta-data" "$work/mkmesh.json" ::/
truncate -s 4G "$card" # a bigger card: the root file system must grow

port=$(free_port)
port_pi=$port
qemu-system-aarch64 -M virt -cpu cortex-a57 -accel tcg,thread=multi -smp 2 -m 1536 \
	-display none -nodefaults -no-reboot \
	-kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
	-append "root=LABEL=RASPIROOT rw rootwait console=ttyAMA0 net.ifnames=0" \
	-drive file="$card",if=virtio,format=raw \
	-netdev user,id=n0,hostfwd=tcp:127.0.0.1:"$port"-:22 \
	-device virtio-net-pci,netdev=n0 \
	-serial file:"$work/pi.console" &
vm_pids+=($!)
start=$SECONDS
check "the Pi's root file system answers on SSH" wait_ssh pi 1500
echo "SSH after $((SECONDS - start)) s"

check "it is arm64" test "$(vm pi uname -m)" = aarch64
status=$(vm pi cloud-init status --wait --long)
echo "$status"
check "cloud-init finished" grep -q 'status: done' <<<"$status"
check "cloud-init's seed came from the FAT partition" \
	bash -c "vm_out=\$(ssh -q -i '$work/id' -p $port -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes debian@127.0.0.1 'readlink /var/lib/cloud/seed/nocloud; cat /run/cloud-init/instance-data.json'); grep -q '^/boot/firmware' <<<\"\$vm_out\" && grep -q '\"platform\": \"nocloud\"' <<<\"\$vm_out\""
check "the host name is the seed's" test "$(vm pi hostname)" = pi-one
check "/ is LABEL=RASPIROOT" test "$(vm pi findmnt -no LABEL /)" = RASPIROOT
check "/boot/firmware is the FAT partition" \
	test "$(vm pi findmnt -no FSTYPE,LABEL /boot/firmware | tr -s ' ')" = "vfat RASPIFIRM"
site=$(vm pi sudo cat /etc/mkmesh/site.json)
check "mkmesh.json from the FAT partition is now /etc/mkmesh/site.json" test "$site" = "$(cat "$work/mkmesh.json")"
check "... readable by root only" test "$(vm pi sudo stat -c %a /etc/mkmesh/site.json)" = 600
check "... and no longer on the card" vm pi sudo test ! -e /boot/firmware/mkmesh.json
# FAT frees a removed file's clusters without clearing them: the site file
# (which may hold a token) is overwritten first. The guest synced it; the
# card file is read on the host, the FAT partition only (the root file
# system has the site file, rightly).
vm pi sudo sync
read -r fat_start fat_sectors < <(sfdisk -J "$card" | jq -r '.partitiontable.partitions[0] | "\(.start) \(.size)"')
check "... and its bytes are gone from the FAT partition (overwritten before removal)" \
	bash -c "! dd if='$card' bs=512 skip=$fat_start count=$fat_sectors status=none | grep -qaF pi.example.test"
check "... and is a valid site file" vm pi sudo /usr/lib/mkmesh/site check
check "/boot/firmware is readable by root only (the seed may hold secrets)" \
	bash -c "[ \"\$0\" = 700 ] && ! ssh -q -i '$work/id' -p $port -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes debian@127.0.0.1 cat /boot/firmware/user-data" \
	"$(vm pi sudo stat -c %a /boot/firmware/user-data)"
size=$(vm pi df -B1 --output=size / | tail -n 1)
check "root file system grown to the 4 GiB card ($size bytes)" test "$size" -gt $((3 * 1024 * 1024 * 1024))
no_failed_units pi ""
check "root login over SSH is refused" \
	bash -c "! ssh -q -i '$work/id' -p $port -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes root@127.0.0.1 true"
echo "boot test took $((SECONDS - start)) s after the build"

echo "$checks checks passed"
