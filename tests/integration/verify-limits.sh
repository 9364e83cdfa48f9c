#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `mkmesh verify` on a release directory from outside (a few seconds, no
# image build): a tiny fake release of its own, signed with a throwaway
# minisign key, verifies; then SHA256SUMS, the key, an image and a manifest
# that are links (to /dev/zero, out of the directory), FIFOs or far too big
# are refused quickly, each naming the file and the cause. Every run is
# under `timeout 20` and a 2 GiB address-space limit, so that a hang or an
# endless read fails the test instead of the machine.
# MKMESH_TEST_BIN runs another mkmesh binary (e.g. an older build) instead.
. "$(dirname "$0")/lib.sh"
mkmesh=${MKMESH_TEST_BIN:-$mkmesh}

for t in minisign sha256sum timeout mkfifo; do
	command -v "$t" >/dev/null || skip "$t is missing ('scripts/deps.sh --tests')"
done
[ -x "$mkmesh" ] || die "'$mkmesh' is not built; run 'make mkmesh'"

minisign -G -W -p "$work/test.pub" -s "$work/test.key" >/dev/null
stem=mkmesh-rpi-t-arm64
img=$stem.img.zst

# make_release DIR: an image (any bytes will do: verify hashes, it does not
# decompress), its manifest and SBOM, SHA256SUMS over them, and its signature.
make_release() {
	local dir=$1 sha size
	mkdir -p "$dir"
	head -c 8192 /dev/urandom >"$dir/$img"
	sha=$(sha256sum "$dir/$img" | cut -d' ' -f1)
	size=$(stat -c %s "$dir/$img")
	printf '{"image": {"file": "%s", "sha256": "%s", "size": %s}}\n' "$img" "$sha" "$size" \
		>"$dir/$stem.manifest.json"
	cat >"$dir/$stem.spdx.json" <<-EOF
		{"relationships": [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
		                    "relatedSpdxElement": "SPDXRef-image"}],
		 "packages": [{"SPDXID": "SPDXRef-image", "packageFileName": "$img",
		               "checksums": [{"algorithm": "SHA256", "checksumValue": "$sha"}]}]}
	EOF
	(cd "$dir" && sha256sum "$img" "$stem.manifest.json" "$stem.spdx.json" >SHA256SUMS)
	minisign -S -s "$work/test.key" -m "$dir/SHA256SUMS" -x "$dir/SHA256SUMS.sig" >/dev/null
}

# run_verify DIR [KEY]: mkmesh verify, bounded in time and memory; its exit
# code (124 on a timeout), output in $work/v.out and $work/v.err.
run_verify() {
	local rc=0
	(ulimit -v 2097152; exec timeout 20 "$mkmesh" verify "$1" --key "${2:-$work/test.pub}") \
		>"$work/v.out" 2>"$work/v.err" </dev/null || rc=$?
	return $rc
}

# refused DIR KEY PATTERN...: verify exits 1 (not a timeout, not a crash) and
# its messages match every PATTERN.
refused() {
	local dir=$1 key=$2 rc=0 p
	shift 2
	run_verify "$dir" "$key" || rc=$?
	cat "$work/v.err"
	if [ "$rc" != 1 ]; then
		echo "verify exited $rc, not 1$([ "$rc" = 124 ] && echo ' (timed out: it hung)')" >&2
		return 1
	fi
	for p in "$@"; do
		grep -q -- "$p" "$work/v.err" || { echo "no message matching '$p'" >&2; return 1; }
	done
}

# copy NAME: a fresh copy of the good release, in $work/NAME.
copy() {
	rm -rf "${work:?}/$1"
	cp -a "$work/good" "$work/$1"
	echo "$work/$1"
}

make_release "$work/good"
check "a good release verifies" \
	bash -c "$(declare -f run_verify); work='$work' mkmesh='$mkmesh'; run_verify '$work/good' &&
		grep -q 'good: .* 3 files match it; 1 manifests and 1 SBOMs' '$work/v.out'"
cat "$work/v.out"

d=$(copy sums-zero)
ln -sf /dev/zero "$d/SHA256SUMS"
check "SHA256SUMS a link to /dev/zero: refused quickly, naming the file" \
	refused "$d" "$work/test.pub" "$d/SHA256SUMS: cannot be read: it is a symbolic link"

d=$(copy sums-fifo)
rm "$d/SHA256SUMS" && mkfifo "$d/SHA256SUMS"
check "SHA256SUMS a FIFO: refused, not a hang" \
	refused "$d" "$work/test.pub" "$d/SHA256SUMS: cannot be read: it is not a regular file"

d=$(copy sums-big)
{ cat "$work/good/SHA256SUMS"; head -c 2M /dev/zero | tr '\0' '\n'; } >"$d/SHA256SUMS"
check "SHA256SUMS of 2 MiB: refused, saying the bound" \
	refused "$d" "$work/test.pub" "$d/SHA256SUMS: cannot be read: it is larger than 1 MiB"

d=$(copy sums-nul)
printf '\0' >>"$d/SHA256SUMS"
check "SHA256SUMS with a NUL byte: refused (the lines after it were ignored)" \
	refused "$d" "$work/test.pub" "$d/SHA256SUMS: is not text (a NUL byte at offset"

check "--key /dev/zero: refused quickly, naming the key" \
	refused "$work/good" /dev/zero "/dev/zero: cannot read the release public key: not a regular file"
ln -s /dev/zero "$work/zero.pub"
check "--key a link to /dev/zero: refused too" \
	refused "$work/good" "$work/zero.pub" "zero.pub: cannot read the release public key: not a regular file"
head -c 2M /dev/zero >"$work/big.pub"
check "--key of 2 MiB: refused, saying the bound" \
	refused "$work/good" "$work/big.pub" "big.pub: cannot read the release public key: it is larger than 1 MiB"

d=$(copy image-fifo)
rm "$d/$img" && mkfifo "$d/$img"
check "an image that is a FIFO: refused, not a hang, naming the image" \
	refused "$d" "$work/test.pub" "$d/$img: listed in SHA256SUMS but cannot be read: it is not a regular file"

d=$(copy image-zero)
ln -sf /dev/zero "$d/$img"
check "an image that is a link to /dev/zero: refused, not an endless hash" \
	refused "$d" "$work/test.pub" "$d/$img: listed in SHA256SUMS but cannot be read: it is a symbolic link"

# The same bytes outside the directory: SHA256SUMS would match, the link is
# what is refused.
d=$(copy image-outside)
mkdir -p "$work/outside"
mv "$d/$img" "$work/outside/$img" && ln -s "$work/outside/$img" "$d/$img"
check "an image that links out of the directory: refused, though its bytes match" \
	refused "$d" "$work/test.pub" "$d/$img: listed in SHA256SUMS but cannot be read: it is a symbolic link" \
	"manifest.json: its image '$img' cannot be read: it is a symbolic link"

d=$(copy manifest-outside)
cp "$d/$stem.manifest.json" "$work/outside/"
ln -sf "$work/outside/$stem.manifest.json" "$d/$stem.manifest.json"
check "a manifest that links out of the directory: refused" \
	refused "$d" "$work/test.pub" "$d/$stem.manifest.json: cannot be read: it is a symbolic link"

d=$(copy sig-zero)
ln -sf /dev/zero "$d/SHA256SUMS.sig"
check "SHA256SUMS.sig a link to /dev/zero: refused" \
	refused "$d" "$work/test.pub" "$d/SHA256SUMS.sig: cannot be read: it is a symbolic link"

d=$(copy manifest-big)
truncate -s 17M "$d/$stem.manifest.json"
check "a manifest of 17 MiB: refused, saying the bound" \
	refused "$d" "$work/test.pub" "$d/$stem.manifest.json: cannot be read: it is larger than 16 MiB"

# And the checks of before still hold with the strict readers.
d=$(copy tampered)
printf x | dd of="$d/$img" bs=1 seek=100 conv=notrunc status=none
check "a changed image is still found, naming it" \
	refused "$d" "$work/test.pub" "$d/$img: sha256 is .*, SHA256SUMS says"
minisign -G -W -p "$work/other.pub" -s "$work/other.key" >/dev/null
check "a signature by another key is still refused, naming the real files" \
	refused "$work/good" "$work/other.pub" "SHA256SUMS.sig: not a good signature of SHA256SUMS by the key"
check "... and minisign's words name the signature, not a memory file" \
	bash -c "grep -q 'key id in $work/good/SHA256SUMS.sig' '$work/v.err' && ! grep -q /proc/self/fd '$work/v.err'"

echo "$checks checks passed"
