#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# An artifact trusted by its signature alone (riot.json's Element: no pinned
# sha256, the release key downloaded from key_url and checked against the
# pinned fingerprint), through `mkmesh fetch` (the artifacts stage of a
# build, nothing else): accepted and its sha256 said; a tampered tarball, a
# key that is not the pinned one and a missing signature refused, naming
# what failed; the fetched directory then builds offline (--artifacts).
. "$(dirname "$0")/lib.sh"
command -v gpg >/dev/null || die "gpg is not installed; run 'make test-deps'"

srv=$work/srv
mkdir -p "$srv/rel" "$work/src/element-v9.9.9"
echo '<!doctype html><title>Element</title>' >"$work/src/element-v9.9.9/index.html"
tar -C "$work/src" --owner=0 --group=0 -czf "$srv/rel/element-v9.9.9.tar.gz" element-v9.9.9
export GNUPGHOME=$work/gnupg
mkdir -p -m 0700 "$GNUPGHOME"
for who in release other; do
	gpg --batch --quiet --passphrase '' --quick-gen-key "$who <$who@mkmesh.invalid>" ed25519 sign never 2>/dev/null
done
fpr=$(gpg --batch --with-colons --list-keys release@mkmesh.invalid 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')
gpg --batch --armor --export release@mkmesh.invalid >"$srv/release-key.asc"
gpg --batch --armor --export other@mkmesh.invalid >"$srv/other-key.asc"
gpg --batch --quiet --local-user release@mkmesh.invalid --armor --detach-sign \
	-o "$srv/rel/element-v9.9.9.tar.gz.asc" "$srv/rel/element-v9.9.9.tar.gz"
gpgconf --kill all 2>/dev/null || true
unset GNUPGHOME
good_sha=$(sha256sum "$srv/rel/element-v9.9.9.tar.gz" | cut -d' ' -f1)
serve_dir "$srv"
u=http://127.0.0.1:$http_port

# tree KEYFILE [BASE]: a recipe tree whose riot layer points at BASE (the
# loopback server) with its key at BASE/KEYFILE.
tree() {
	local base=${2:-$u}
	rm -rf "$work/tree"
	mkdir -p "$work/tree"
	cp -r "$top/recipes" "$top/overlays" "$work/tree/"
	jq --arg u "$base/rel/element-v9.9.9.tar.gz" --arg k "$base/$1" --arg f "$fpr" \
		'.artifacts[0] |= (.url = $u | .signature.url = ($u + ".asc") | .signature.key_url = $k |
		  .signature.fingerprint = $f)' "$top/recipes/layers/riot.json" >"$work/tree/recipes/layers/riot.json"
}
# fetch NAME [ARGS]: mkmesh fetch into $work/NAME.dest with a cache of its own.
fetch() {
	local name=$1
	shift
	"$mkmesh" fetch droplet --recipes "$work/tree/recipes" --suite sid --without cjdns \
		--cache "$work/$name.cache" --dest "$work/$name.dest" "$@" >"$work/$name.out" 2>"$work/$name.err"
	rc=$?
	echo "--- $name: exit $rc"
	sed 's/^/    /' "$work/$name.err" | tail -n 4
}

unpinned() { jq -e '.artifacts[0] | (has("sha256") | not) and (.signature.key_url | startswith("https://"))' "$1" >/dev/null; }
check "riot.json pins no sha256 and names a key_url" unpinned "$top/recipes/layers/riot.json"

tree release-key.asc
fetch good
check "signed, no pinned sha256: fetched (exit $rc)" test "$rc" -eq 0
check "... says it is trusted by its signature, the key and the sha256 it saw" \
	grep -q "artifact 'element-web' (layer 'riot') pins no sha256: trusted by its signature (key $fpr); its sha256 is $good_sha" "$work/good.err"
check "... the tarball, its signature and the key are in --dest" \
	test -s "$work/good.dest/element-v9.9.9.tar.gz" -a -s "$work/good.dest/element-v9.9.9.tar.gz.asc" -a -s "$work/good.dest/release-key.asc"

# Offline: every URL a closed port, the fetched directory in --artifacts.
tree release-key.asc http://127.0.0.1:9
fetch offline --artifacts "$work/good.dest"
check "offline from the fetched directory (--artifacts): fetched (exit $rc)" test "$rc" -eq 0

tree other-key.asc
fetch wrongkey
check "a key that is not the pinned one: refused (exit $rc)" test "$rc" -eq 1
check "... naming the key and the pinned fingerprint" \
	grep -q "signature of artifact 'element-web': the key '.*' is not the pinned one (expected fingerprint $fpr)" "$work/wrongkey.err"

tree release-key.asc
cp "$srv/rel/element-v9.9.9.tar.gz" "$work/good.tar.gz"
printf 'x' >>"$srv/rel/element-v9.9.9.tar.gz"
fetch tampered
cp "$work/good.tar.gz" "$srv/rel/element-v9.9.9.tar.gz"
check "a tampered tarball: refused (exit $rc)" test "$rc" -eq 1
check "... the error is the signature's" grep -q "layer 'riot': signature of artifact 'element-web': " "$work/tampered.err"
check "... nothing about a sha256 it trusted" bash -c "! grep -q 'pins no sha256' '$work/tampered.err'"

mv "$srv/rel/element-v9.9.9.tar.gz.asc" "$work/sig"
fetch nosig
mv "$work/sig" "$srv/rel/element-v9.9.9.tar.gz.asc"
check "no signature at its URL: refused (exit $rc), naming the URL" \
	bash -c "test $rc -eq 1 && grep -q 'element-v9.9.9.tar.gz.asc' '$work/nosig.err'"
echo "$checks checks passed"
