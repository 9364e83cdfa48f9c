#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `make release` with a throwaway minisign key, building the small images
# (base layer; droplet-2-boot and rpi-1-image build the same ones, so the
# caches make it quick): every file is there, `mkmesh verify` passes, and
# it fails, naming the file, on a flipped byte in an image, a signature by
# another key, and a manifest that names another image. Each SBOM validates
# against the SPDX 2.3 schema (with ajv), passes pyspdxtools (the SPDX
# project's own validator, from Debian sid) and lists every package of its
# manifest, each with the .deb's sha256 and URL.
. "$(dirname "$0")/lib.sh"

for t in minisign node jq zstd sha256sum; do
	command -v "$t" >/dev/null || skip "$t is missing ('scripts/deps.sh --tests')"
done
sh "$top/tests/setup.d/uploader.sh" >/dev/null 2>&1
[ -d "$top/tests/node/node_modules/ajv" ] || skip "ajv is not installed (tests/setup.d/uploader.sh)"
sh "$top/tests/setup.d/binfmt.sh" >/dev/null 2>&1
sh "$top/tests/setup.d/spdx-tools.sh" || echo "note: pyspdxtools could not be set up; its checks will fail"
[ -r /proc/sys/fs/binfmt_misc/qemu-aarch64 ] ||
	skip "arm64 emulation is off (qemu-user-static in binfmt_misc; tests/setup.d/binfmt.sh as root)"

minisign -G -W -p "$work/test.pub" -s "$work/test.key" >/dev/null
minisign -G -W -p "$work/other.pub" -s "$work/other.key" >/dev/null
v=test-release
dir=$work/release
small="--without cjdns,matrix,riot,web"
run_release() {
	make -s -C "$top" release VERSION="$v" RELEASE_DIR="$dir" \
		RELEASE_ARGS="--cache $MKMESH_TEST_CACHE" DROPLET_ARGS="$small" \
		RPI_ARGS="--suite trixie $small" "$@"
}

check "make release refuses to run without MKMESH_SIGNING_KEY" \
	bash -c "! env -u MKMESH_SIGNING_KEY make -s -C '$top' release VERSION=$v RELEASE_DIR='$dir' \
		2>'$work/nokey.log' && grep -q 'MKMESH_SIGNING_KEY is not set' '$work/nokey.log' && [ ! -e '$dir' ]"

start=$SECONDS
MKMESH_SIGNING_KEY=$work/test.key run_release >"$work/release.out" 2>"$work/release.log" ||
	{ cat "$work/release.log"; die "make release failed"; }
cat "$work/release.log"
echo "make release took $((SECONDS - start)) s"
check "the key is never printed" bash -c "! grep -qF '$(sed -n 2p "$work/test.key")' '$work/release.log' '$work/release.out'"

d=mkmesh-droplet-$v-amd64
r=mkmesh-rpi-$v-arm64
want=$(printf '%s\n' SHA256SUMS SHA256SUMS.sig $d.manifest.json $d.raw.gz $d.spdx.json $r.img.bmap $r.img.zst \
	$r.manifest.json $r.spdx.json rpi-imager.json mkmesh-icon.svg | sort | tr '\n' ' ')
check "the release directory holds exactly the release files" \
	test "$(ls "$dir" | sort | tr '\n' ' ')" = "$want"
check "SHA256SUMS covers the 9 files and matches them" \
	bash -c "cd '$dir' && [ \$(wc -l <SHA256SUMS) -eq 9 ] && sha256sum --quiet -c SHA256SUMS"
check "minisign by hand: the signature is good" \
	minisign -V -q -p "$work/test.pub" -m "$dir/SHA256SUMS" -x "$dir/SHA256SUMS.sig"
check "mkmesh verify passes" \
	bash -c "'$mkmesh' verify '$dir' --key '$work/test.pub' >'$work/verify.out' 2>&1"
cat "$work/verify.out"
check "mkmesh verify says what it checked" \
	grep -q "good: .* 9 files match it; 2 manifests and 2 SBOMs name their images; rpi-imager.json matches its image" "$work/verify.out"
if [ -d "$top/tests/node/node_modules/ajv" ]; then
	check "rpi-imager.json: valid by the schema of Imager's format" \
		node "$top/tests/lib/imager-schema.cjs" "$top/tests/fixtures/rpi-imager/os-list.schema.json" "$dir/rpi-imager.json"
fi

# --- the SBOMs ---
schemas=$top/tests/fixtures/spdx/spdx-2.3-mkmesh.schema.json
official=${MKMESH_SPDX_SCHEMA:-$top/tests/fixtures/spdx/spdx-schema.json}
[ -f "$official" ] && schemas="$schemas $official" ||
	echo "note: no official SPDX schema at $official (tests/fixtures/spdx/README.md); the test schema only"
for img in "$d" "$r"; do
	sbom=$dir/$img.spdx.json
	manifest=$dir/$img.manifest.json
	# shellcheck disable=SC2086
	check "$img: the SBOM validates against the SPDX 2.3 schema (ajv)" \
		node "$top/tests/fixtures/spdx/validate.js" "$sbom" $schemas
	check "$img: the SBOM passes pyspdxtools (SPDX's own validator)" \
		bash -c "sh '$top/tests/lib/pyspdxtools.sh' '$sbom' >'$work/$img.pyspdx' 2>&1 || { cat '$work/$img.pyspdx'; false; }"
	jq -r '.packages[] | "\(.name) \(.version) \(.arch)"' "$manifest" | sort >"$work/$img.m"
	jq -r '.packages[] | select(.SPDXID | startswith("SPDXRef-deb-")) |
		"\(.name) \(.versionInfo) \(.externalRefs[0].referenceLocator | capture("arch=(?<a>.*)").a)"' \
		"$sbom" | sort >"$work/$img.s"
	check "$img: the SBOM lists every package of the manifest ($(wc -l <"$work/$img.m"))" \
		diff -u "$work/$img.m" "$work/$img.s"
	check "$img: the SBOM describes the image with its sha256" \
		test "$(jq -r '.packages[0] | select(.SPDXID == "SPDXRef-Image") | .checksums[0].checksumValue' "$sbom")" = \
		"$(sha256sum "$dir/$(jq -r .image.file "$manifest")" | cut -d' ' -f1)"
	check "$img: every package in the manifest has its source, .deb sha256 and URL" \
		test "$(jq '[.packages[] | select(.source and .url and (.sha256 | test("^[0-9a-f]{64}$")))] | length' "$manifest")" \
		= "$(jq '.packages | length' "$manifest")"
	check "$img: licenses from the copyright files (bash is GPL-3+)" \
		jq -e '.packages[] | select(.name == "bash") | .license | test("GPL-3\\+")' "$manifest" >/dev/null
	check "$img: adduser's license (GPL-2+) is GPL-2.0-or-later in the SBOM" \
		jq -e '.packages[] | select(.name == "adduser") | .licenseDeclared == "GPL-2.0-or-later"' "$sbom" >/dev/null
	echo "$img: $(jq '[.packages[] | select(.licenseDeclared != "NOASSERTION")] | length' "$sbom") of" \
		"$(jq '.packages | length' "$sbom") SBOM packages have an SPDX license"
done

# The validator is not a rubber stamp: a relationship to a package the
# document does not have is an error in SPDX 2.3.
jq '.relationships += [{"spdxElementId": "SPDXRef-Image", "relationshipType": "CONTAINS",
	"relatedSpdxElement": "SPDXRef-deb-no-such-package"}]' "$dir/$d.spdx.json" >"$work/dangling.spdx.json"
check "pyspdxtools rejects an SBOM with a dangling relationship, naming it" \
	bash -c "! sh '$top/tests/lib/pyspdxtools.sh' '$work/dangling.spdx.json' >'$work/dangling.out' 2>&1 &&
		grep -q 'SPDXRef-deb-no-such-package' '$work/dangling.out'"

# --- what verify must refuse: each in a copy (hard links, so no image is
# copied unless it is changed) ---
fails_with() { # DIR KEY PATTERN: verify fails and says PATTERN
	! "$mkmesh" verify "$1" --key "$2" >"$work/v.out" 2>"$work/v.err" && grep -q -- "$3" "$work/v.err" ||
		{ cat "$work/v.out" "$work/v.err"; return 1; }
	cat "$work/v.err"
}

cp -al "$dir" "$work/flipped"
cp --remove-destination "$dir/$d.raw.gz" "$work/flipped/$d.raw.gz"
b=$(od -An -tu1 -j 4096 -N1 "$work/flipped/$d.raw.gz" | tr -d ' ')
printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$work/flipped/$d.raw.gz" bs=1 seek=4096 conv=notrunc status=none
check "verify fails on a flipped byte in an image, naming it" \
	fails_with "$work/flipped" "$work/test.pub" "$d.raw.gz: sha256 is .*, SHA256SUMS says"

check "verify fails on a signature by another key" \
	fails_with "$dir" "$work/other.pub" "SHA256SUMS.sig: not a good signature of SHA256SUMS by the key"

# The rpi manifest made to name the droplet image, with that image's true
# hash and size, and SHA256SUMS re-signed: only the name gives it away.
cp -al "$dir" "$work/swapped"
m=$work/swapped/$r.manifest.json
jq --arg f "$d.raw.gz" --slurpfile o "$dir/$d.manifest.json" \
	'.image.file = $f | .image.sha256 = $o[0].image.sha256 | .image.size = $o[0].image.size' \
	"$dir/$r.manifest.json" >"$m.new" && mv "$m.new" "$m"
sed "/  $r.manifest.json\$/d" "$dir/SHA256SUMS" >"$work/swapped/SHA256SUMS.new"
(cd "$work/swapped" && sha256sum "$r.manifest.json") >>"$work/swapped/SHA256SUMS.new"
mv "$work/swapped/SHA256SUMS.new" "$work/swapped/SHA256SUMS"
rm "$work/swapped/SHA256SUMS.sig"
minisign -S -s "$work/test.key" -m "$work/swapped/SHA256SUMS" -x "$work/swapped/SHA256SUMS.sig" >/dev/null
check "verify fails on a manifest that names another image, naming both" \
	fails_with "$work/swapped" "$work/test.pub" "$r.manifest.json: names the image '$d.raw.gz', not its own"
check "... and the SBOM beside it disagrees with it; nothing else fails" \
	bash -c "grep -q '$r.spdx.json: the image.s SHA256 is .*, its manifest says' '$work/v.err' &&
		grep -q ': 2 checks failed' '$work/v.err'"

check "the placeholder release key is refused with a clear message" \
	fails_with "$dir" "$top/keys/mkmesh-release.pub" "is a placeholder, not the release key"

echo "$checks checks passed in $((SECONDS - start)) s"
