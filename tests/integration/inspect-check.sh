#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `mkmesh inspect` checks the image against its manifest in the JSON output
# as in the text (seconds, no build): the result is in "verification", a
# mismatch exits 1 in both, a manifest cannot bring its own result, and a
# FIFO or /dev/zero as the image or the manifest is refused, not read.
# MKMESH_TEST_BIN runs another mkmesh binary (e.g. an older build) instead.
. "$(dirname "$0")/lib.sh"
mkmesh=${MKMESH_TEST_BIN:-$mkmesh}

for t in jq sha256sum timeout mkfifo; do
	command -v "$t" >/dev/null || skip "$t is missing ('scripts/deps.sh --tests')"
done
[ -x "$mkmesh" ] || die "'$mkmesh' is not built; run 'make mkmesh'"

img=$work/mkmesh-droplet-t-amd64.raw.gz
man=$work/mkmesh-droplet-t-amd64.manifest.json
head -c 5000 /dev/urandom >"$img"
sha=$(sha256sum "$img" | cut -d' ' -f1)
# with a "verification" of its own, which must not reach the output
printf '{"target": "droplet", "version": "t", "image": {"file": "%s", "sha256": "%s", "size": 5000},
  "verification": {"checked": true, "matches": true}}\n' "$(basename "$img")" "$sha" >"$man"

# inspect ARGS...: bounded in time and memory; exit code, $work/i.out, $work/i.err.
inspect() {
	(ulimit -v 2097152; exec timeout 20 "$mkmesh" inspect "$@") >"$work/i.out" 2>"$work/i.err" </dev/null
}
# json_is FILTER: the output's FILTER is true.
json_is() { jq -e "$1" "$work/i.out" >/dev/null || { cat "$work/i.out" "$work/i.err"; return 1; }; }

check "a good image: --json exits 0" inspect --json "$img"
check "... and says it checked and it matches, with both hashes" \
	json_is ".verification == {\"image\": \"$img\", \"checked\": true, \"matches\": true,
		\"sha256\": \"$sha\", \"manifest_sha256\": \"$sha\"} and .image.sha256 == \"$sha\""
check "the text output says it matches" bash -c "$(declare -f inspect); work='$work' mkmesh='$mkmesh';
	inspect '$img' && grep -q '(matches the manifest)' '$work/i.out'"

printf x | dd of="$img" bs=1 seek=100 conv=notrunc status=none
check "a changed image: --json exits 1" bash -c "$(declare -f inspect); work='$work' mkmesh='$mkmesh';
	! inspect --json '$img'"
check "... says it does not match, not the manifest's own claim" \
	json_is '.verification.checked == true and .verification.matches == false and
		.verification.sha256 != .verification.manifest_sha256'
check "... and names the image on stderr" grep -q "does not match its manifest" "$work/i.err"
check "the text output exits 1 too" bash -c "$(declare -f inspect); work='$work' mkmesh='$mkmesh'; ! inspect '$img'"

check "--no-verify: exits 0 and says it did not check" inspect --json --no-verify "$img"
check "... in the JSON" json_is '.verification == {"image": "'"$img"'", "checked": false, "reason": "--no-verify"}'

rm "$img" && mkfifo "$img"
check "an image that is a FIFO: --json exits 1, not a hang" bash -c "$(declare -f inspect); work='$work' mkmesh='$mkmesh';
	inspect --json '$img'; [ \$? = 1 ]"
check "... with the error in the JSON" json_is '.verification.checked == false and (.verification.error | test("not a regular file"))'
rm "$img" && ln -s /dev/zero "$img"
check "an image that is /dev/zero: exits 1, not an endless hash" bash -c "$(declare -f inspect); work='$work' mkmesh='$mkmesh';
	inspect '$img'; [ \$? = 1 ] && grep -q 'not a regular file' '$work/i.err'"
mv "$man" "$man.good" && ln -s /dev/zero "$man"
check "a manifest that is /dev/zero: refused, naming it" bash -c "$(declare -f inspect); work='$work' mkmesh='$mkmesh';
	inspect --json --no-verify '$img'; [ \$? = 1 ] && grep -q \"cannot read the manifest '$man': not a regular file\" '$work/i.err'"

echo "$checks checks passed"
