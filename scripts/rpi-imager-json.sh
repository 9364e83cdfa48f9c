#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# rpi-imager-json.sh DIR VERSION: DIR/rpi-imager.json, Raspberry Pi
# Imager's repository format (os_list: one entry, the rpi image of DIR), and
# DIR/mkmesh-icon.svg, its icon. A user gives Imager its URL ("Use custom"
# repository, or 'rpi-imager --repo URL') and gets mkmesh in the list, with
# Imager's settings dialog writing the cloud-init seed the image reads
# (init_format "cloudinit"). Called by scripts/release.sh; 'mkmesh verify
# DIR' checks the result against the image.
#
# Environment:
#   MKMESH_RELEASE_URL  where the release's files will be downloaded from
#                       (https://.../release-VERSION/); without it the URLs
#                       are bare file names, which Imager cannot download
#                       from a --repo URL: set it for a published release
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
die() {
	echo "mkmesh: rpi-imager.json: $*" >&2
	exit 1
}
[ $# = 2 ] || die "usage: scripts/rpi-imager-json.sh DIR VERSION"
dir=$1 version=$2
for t in jq zstd sha256sum; do
	command -v "$t" >/dev/null || die "$t is missing; run 'make deps' as root, or 'apt-get install jq zstd'"
done
stem=mkmesh-rpi-$version-arm64
img=$stem.img.zst
[ -f "$dir/$img" ] || die "'$dir/$img' is not there: build the rpi image first"
[ -f "$dir/$stem.manifest.json" ] || die "'$dir/$stem.manifest.json' is not there"

base=${MKMESH_RELEASE_URL:-}
if [ -n "$base" ]; then
	case $base in
	https://* | http://*) ;;
	*) die "MKMESH_RELEASE_URL '$base' is not an http(s) URL" ;;
	esac
	base=${base%/}/
else
	echo "mkmesh: rpi-imager.json: MKMESH_RELEASE_URL is not set: its URLs are bare file names;" \
		"set it to where the release will be published for Imager to download it" >&2
fi

# What Imager checks: the download (size, sha256) and the image in it.
dsize=$(stat -c %s "$dir/$img")
dsha=$(sha256sum "$dir/$img" | cut -d' ' -f1)
esha=$(zstd -dcq "$dir/$img" | sha256sum | cut -d' ' -f1)
esize=$(zstd -dcq "$dir/$img" | wc -c)
disk=$(jq -e '.image.disk_size' "$dir/$stem.manifest.json") || die "$stem.manifest.json has no image.disk_size"
[ "$esize" = "$disk" ] || die "the image in '$img' has $esize bytes, its manifest says $disk"
sde=$(jq -e '.source_date_epoch' "$dir/$stem.manifest.json") || sde=${SOURCE_DATE_EPOCH:-$(date +%s)}
date=$(date -u -d "@$sde" +%F)

cp "$top/docs/rpi-imager-icon.svg" "$dir/mkmesh-icon.svg"
jq -n --arg name "mkmesh $version (Raspberry Pi 3/4, 64-bit)" \
	--arg desc "Community mesh server: cjdns, Matrix (Synapse) and Element behind nginx; configured on first boot from the site file (docs/site.md) in cloud-init user-data" \
	--arg url "$base$img" --arg icon "${base}mkmesh-icon.svg" \
	--argjson esize "$esize" --arg esha "$esha" --argjson dsize "$dsize" --arg dsha "$dsha" \
	--arg date "$date" \
	'{os_list: [{name: $name, description: $desc, icon: $icon, url: $url,
	  extract_size: $esize, extract_sha256: $esha,
	  image_download_size: $dsize, image_download_sha256: $dsha,
	  release_date: $date, devices: ["pi3-64bit", "pi4-64bit"], init_format: "cloudinit"}]}' \
	>"$dir/rpi-imager.json.tmp"
mv "$dir/rpi-imager.json.tmp" "$dir/rpi-imager.json"
