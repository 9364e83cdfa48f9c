#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# rpi-imager.json, Raspberry Pi Imager's repository file, in seconds and
# without an image build: scripts/rpi-imager-json.sh (what `make release`
# runs) on a small fake release (a 4 MiB "disk" compressed with zstd, its
# manifest and SBOM) writes an entry that the schema written from Imager's
# documented format accepts (ajv) and whose sizes and sha256 are the
# image's; `mkmesh verify` passes it, and refuses each wrong field, naming
# it, after SHA256SUMS was signed again over the change.
. "$(dirname "$0")/lib.sh"
# MKMESH_TEST_BIN runs another mkmesh binary (e.g. a sanitizer build) instead.
mkmesh=${MKMESH_TEST_BIN:-$mkmesh}

for t in minisign sha256sum jq zstd; do
	command -v "$t" >/dev/null || skip "$t is missing ('scripts/deps.sh --tests')"
done
[ -x "$mkmesh" ] || die "'$mkmesh' is not built; run 'make mkmesh'"

minisign -G -W -p "$work/test.pub" -s "$work/test.key" >/dev/null
v=9.9.9-test
stem=mkmesh-rpi-$v-arm64
img=$stem.img.zst
rel=$work/release
mkdir -p "$rel"
{ head -c 65536 /dev/urandom; head -c $((4194304 - 65536)) /dev/zero; } >"$work/disk.raw"
zstd -q -19 "$work/disk.raw" -o "$rel/$img"
sha=$(sha256sum "$rel/$img" | cut -d' ' -f1)
size=$(stat -c %s "$rel/$img")
printf '{"source_date_epoch": 1764547200, "image": {"file": "%s", "sha256": "%s", "size": %s, "disk_size": 4194304}}\n' \
	"$img" "$sha" "$size" >"$rel/$stem.manifest.json"
cat >"$rel/$stem.spdx.json" <<EOF2
{"relationships": [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                    "relatedSpdxElement": "SPDXRef-image"}],
 "packages": [{"SPDXID": "SPDXRef-image", "packageFileName": "$img",
               "checksums": [{"algorithm": "SHA256", "checksumValue": "$sha"}]}]}
EOF2

# sign DIR: SHA256SUMS over every file of DIR, and its signature.
sign() {
	(cd "$1" && rm -f SHA256SUMS SHA256SUMS.sig && sha256sum -- * >SHA256SUMS)
	minisign -S -s "$work/test.key" -m "$1/SHA256SUMS" -x "$1/SHA256SUMS.sig" >/dev/null
}
# verify DIR: mkmesh verify; rc in $rc, output in $work/v.out, v.err.
verify() {
	rc=0
	timeout 60 "$mkmesh" verify "$1" --key "$work/test.pub" >"$work/v.out" 2>"$work/v.err" </dev/null || rc=$?
}
# refused NAME JQ PATTERN: a copy of the release with rpi-imager.json changed
# by JQ and signed again: verify exits 1 saying PATTERN.
refused() {
	local d=$work/$1
	rm -rf "$d"
	cp -a "$rel" "$d"
	jq "$2" "$rel/rpi-imager.json" >"$d/rpi-imager.json"
	sign "$d"
	verify "$d"
	[ "$rc" = 1 ] && grep -q -e "$3" "$work/v.err" || { echo "  verify exited $rc:"; sed 's/^/  /' "$work/v.err"; return 1; }
}

rc=0
MKMESH_RELEASE_URL=https://example.org/mkmesh/release-$v \
	"$top/scripts/rpi-imager-json.sh" "$rel" "$v" >"$work/gen.out" 2>"$work/gen.err" || rc=$?
check "rpi-imager-json.sh: exit 0" test "$rc" = 0
j=$rel/rpi-imager.json
check "rpi-imager.json and the icon are written, nothing else" \
	test "$(ls "$rel" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$img" "$stem.manifest.json" "$stem.spdx.json" mkmesh-icon.svg rpi-imager.json | sort | tr '\n' ' ')"
if [ -d "$top/tests/node/node_modules/ajv" ]; then
	check "valid by the schema of Imager's documented format (ajv)" \
		node "$top/tests/lib/imager-schema.cjs" "$top/tests/fixtures/rpi-imager/os-list.schema.json" "$j"
	jq '.os_list[0].init_format = "systemd"' "$j" >"$work/systemd.json"
	check "the schema refuses init_format systemd" \
		sh -c "! node '$top/tests/lib/imager-schema.cjs' '$top/tests/fixtures/rpi-imager/os-list.schema.json' '$work/systemd.json' 2>/dev/null"
	jq 'del(.os_list[0].extract_sha256)' "$j" >"$work/nosha.json"
	check "the schema refuses an entry without extract_sha256" \
		sh -c "! node '$top/tests/lib/imager-schema.cjs' '$top/tests/fixtures/rpi-imager/os-list.schema.json' '$work/nosha.json' 2>/dev/null"
else
	echo "  (ajv is not installed, tests/setup.d/uploader.sh: the schema is not checked)"
fi
q() { jq -r "$1" "$j"; }
check "one entry" test "$(q '.os_list | length')" = 1
check "url: the release URL and the image" test "$(q '.os_list[0].url')" = "https://example.org/mkmesh/release-$v/$img"
check "icon: beside it" test "$(q '.os_list[0].icon')" = "https://example.org/mkmesh/release-$v/mkmesh-icon.svg"
check "image_download_size and _sha256: the file's" \
	test "$(q '.os_list[0] | "\(.image_download_size) \(.image_download_sha256)"')" = "$size $sha"
check "extract_size and extract_sha256: the disk's" \
	test "$(q '.os_list[0] | "\(.extract_size) \(.extract_sha256)"')" = "4194304 $(sha256sum <"$work/disk.raw" | cut -d' ' -f1)"
check "release_date: from the manifest's source_date_epoch" test "$(q '.os_list[0].release_date')" = 2025-12-01
check "devices: Pi 3 and 4, 64-bit" test "$(q '.os_list[0].devices | join(" ")')" = "pi3-64bit pi4-64bit"
check "init_format: cloudinit" test "$(q '.os_list[0].init_format')" = cloudinit

sign "$rel"
verify "$rel"
check "mkmesh verify passes, and says it checked rpi-imager.json" \
	sh -c "[ $rc = 0 ] && grep -q 'rpi-imager.json matches its image' '$work/v.out'"

check "verify: a wrong extract_sha256 is refused" \
	refused esha '.os_list[0].extract_sha256 = ("0" * 64)' 'extract_sha256 is 0\{64\}, the image in .* has'
check "verify: a wrong extract_size is refused" \
	refused esize '.os_list[0].extract_size = 4194303' 'larger than extract_size\|extract_size is 4194303'
check "verify: a larger extract_size is refused (and the manifest disagrees)" \
	refused esize2 '.os_list[0].extract_size = 4194305' 'the manifest .* says the disk is 4194304 bytes'
check "verify: a wrong image_download_size is refused" \
	refused dsize '.os_list[0].image_download_size += 1' 'image_download_size is .*, .* has'
check "verify: a wrong image_download_sha256 is refused" \
	refused dsha '.os_list[0].image_download_sha256 = ("a" * 64)' 'image_download_sha256 is a\{64\}'
check "verify: init_format systemd is refused" \
	refused init '.os_list[0].init_format = "systemd"' "init_format is 'systemd', not 'cloudinit'"
check "verify: a url naming another file is refused" \
	refused url '.os_list[0].url = "https://example.org/other.img.zst"' "its image 'other.img.zst' cannot be read"
check "verify: a bad date is refused" refused date '.os_list[0].release_date = "2025-02-30"' 'release_date: not a date'
check "verify: no devices is refused" refused devs '.os_list[0].devices = []' 'devices: not a list'

d=$work/unlisted
cp -a "$rel" "$d"
sed -i '/ rpi-imager.json$/d' "$d/SHA256SUMS"
minisign -S -s "$work/test.key" -m "$d/SHA256SUMS" -x "$d/SHA256SUMS.sig" >/dev/null
verify "$d"
check "verify: rpi-imager.json outside SHA256SUMS is refused" \
	sh -c "[ $rc = 1 ] && grep -q 'rpi-imager.json: not in SHA256SUMS' '$work/v.err'"

d=$work/nojson
cp -a "$rel" "$d"
rm "$d/rpi-imager.json" "$d/mkmesh-icon.svg"
sign "$d"
verify "$d"
check "verify: a release without rpi-imager.json (older ones) still passes" \
	sh -c "[ $rc = 0 ] && ! grep -q 'rpi-imager' '$work/v.out'"

# The generator refuses an image that is not the disk its manifest names.
d=$work/mismatch
cp -a "$rel" "$d"
rm "$d/rpi-imager.json"
jq '.image.disk_size = 8388608' "$rel/$stem.manifest.json" >"$d/$stem.manifest.json"
rc=0
"$top/scripts/rpi-imager-json.sh" "$d" "$v" >"$work/mm.out" 2>"$work/mm.err" || rc=$?
check "rpi-imager-json.sh: an image that is not its manifest's disk is refused" \
	sh -c "[ $rc = 1 ] && grep -q 'its manifest says 8388608' '$work/mm.err' && [ ! -e '$d/rpi-imager.json' ]"

echo "$checks checks passed"
