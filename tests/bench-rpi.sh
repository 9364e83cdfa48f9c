#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# make bench, rpi part (run by tests/bench.sh):
#   1. cold rpi build (empty rootfs cache) / mmdebstrap alone for the same
#      arm64 package set under the same qemu-user emulation, both with the
#      shared apt archive cache                               target <= 1.5
#   2. bytes `mkmesh flash` writes to a card (a loop device) / the image's
#      used blocks (the bmap's mapped blocks)                target <= 1.05
# Slow: each arm64 root file system takes about 20 minutes under qemu-user.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mkmesh=$top/mkmesh
shared_cache=${MKMESH_BENCH_CACHE:-/var/cache/mkmesh}
work=$(mktemp -d /tmp/mkmesh-bench-rpi.XXXXXX)
loopdev=
cleanup() {
	[ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

echo "mkmesh bench: rpi ($(nproc) cores; arm64 under qemu-user; apt archives cached in both runs)"
if [ ! -r /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
	echo "  skipped: arm64 emulation is off (tests/setup.d/binfmt.sh as root)"
	exit 0
fi
mkdir -p "$shared_cache/apt/arm64" "$work/cache"
ln -s "$shared_cache/apt" "$work/cache/apt"
cp -r "$top/recipes" "$top/overlays" "$work/"

recipe=$top/recipes/rpi.json
pkgs=$(jq -r '[.packages[]] | join(",")' "$recipe"),$(jq -r '[.packages[]] | join(",")' "$top/recipes/layers/base.json")
# The base set on trixie, as the default tests build (the full sid set takes
# over half an hour under qemu-user on each side).
suite=trixie
mirror=$(jq -r .mirror "$recipe")
comps=$(jq -r '.components | join(",")' "$recipe")

run_timed() {
	local start end
	start=$(date +%s.%N)
	"$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	end=$(date +%s.%N)
	echo "$end - $start" | bc
}

# The same setup file and dpkg options as mkmesh passes, so both do the same work.
t_mm=$(run_timed mmdebstrap --mode=root --variant=apt --format=tar --architectures=arm64 \
	--components="$comps" --include="$pkgs" --skip=essential/unlink \
	--setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
	--setup-hook="sync-in '$shared_cache/apt/arm64' /var/cache/apt/archives/" \
	--customize-hook="sync-out /var/cache/apt/archives '$shared_cache/apt/arm64'" \
	--setup-hook='mkdir -p "$1"/etc/default' \
	--setup-hook="upload '$top/overlays/rpi/etc/default/raspi-firmware' /etc/default/raspi-firmware" \
	--dpkgopt=force-confdef --dpkgopt=force-confold \
	"$suite" "$work/mmdebstrap.tar" "$mirror")
rm -f "$work/mmdebstrap.tar"
printf '  %-48s %7.1f s\n' "mmdebstrap alone, arm64 (baseline)" "$t_mm"

t_cold=$(run_timed "$mkmesh" build rpi -q --suite trixie --without cjdns,matrix,riot,web --recipes "$work/recipes" --cache "$work/cache" \
	--out "$work/images" --image-version bench)
printf '  %-48s %7.1f s\n' "mkmesh build rpi, cold" "$t_cold"

image=$work/images/mkmesh-rpi-bench-arm64.img.zst
bmap=$work/images/mkmesh-rpi-bench-arm64.img.bmap
mapped=$(awk -F'[<> ]+' '/^ *<MappedBlocksCount>/ { print $3 * 4096 }' "$bmap")
truncate -s 4G "$work/card"
loopdev=$(losetup -f --show "$work/card")
start=$(date +%s.%N)
MKMESH_FLASH_STATS=1 "$mkmesh" flash rpi "$image" "$loopdev" --yes --force >"$work/out" 2>"$work/err" ||
	{ cat "$work/err" >&2; exit 1; }
t_flash=$(echo "$(date +%s.%N) - $start" | bc)
written=$(sed -n 's/.*bytes_written=\([0-9]*\).*/\1/p' "$work/err")
printf '  %-48s %7.1f s (%.0f MiB written)\n' "mkmesh flash to a loop device" "$t_flash" \
	"$(echo "$written / 1048576" | bc -l)"

echo
printf '  %-48s %7.2f   (target <= 1.5)\n' "rpi cold build / mmdebstrap alone" "$(echo "$t_cold / $t_mm" | bc -l)"
printf '  %-48s %7.3f   (target <= 1.05)\n' "flash bytes written / image's used blocks" \
	"$(echo "$written / $mapped" | bc -l)"
