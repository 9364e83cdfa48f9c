#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# make release: both images with their manifests, SBOMs and block map in one
# directory, rpi-imager.json (Raspberry Pi Imager's list) for the rpi image,
# one SHA256SUMS over all of them, and SHA256SUMS.sig, its
# minisign signature by the maintainer's secret key (which is never in the
# repo and never printed). 'mkmesh verify DIR' checks the result.
#
# Environment:
#   MKMESH_SIGNING_KEY  path of the minisign secret key (required)
#   VERSION             release version (default: git describe --tags --always --dirty)
#   RELEASE_DIR         where the files go (default: images/release-VERSION); must not exist
#   RELEASE_ARGS        more 'mkmesh build' options for both images (e.g. --cache DIR)
#   DROPLET_ARGS, RPI_ARGS  options for one image (e.g. --without cjdns,matrix,riot,web)
#   MKMESH_RELEASE_KEY  the public key: when set, the directory is verified at the end
#   MKMESH_RELEASE_URL  where the files will be published: the URLs in rpi-imager.json
#                       (scripts/rpi-imager-json.sh)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

die() {
	echo "mkmesh: release: $*" >&2
	exit 1
}

key=${MKMESH_SIGNING_KEY:-}
[ -n "$key" ] || die "MKMESH_SIGNING_KEY is not set; set it to the path of the minisign secret key
  (a throwaway one for a trial: minisign -G -W -p test.pub -s test.key)"
[ -r "$key" ] || die "the signing key '$key' (MKMESH_SIGNING_KEY) cannot be read"
command -v minisign >/dev/null || die "minisign is not installed; run 'make deps' as root, or 'apt-get install minisign'"
[ -x ./mkmesh ] || die "./mkmesh is not built; run 'make release' (it builds it) or 'make mkmesh'"

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)}
case $version in
*/* | '' | .*) die "VERSION '$version' cannot be part of a file name" ;;
esac
out=${RELEASE_DIR:-images/release-$version}
[ ! -e "$out" ] || die "'$out' exists; remove it, or set RELEASE_DIR to another directory"

# The key is tried on a scratch file first, so that a wrong key or
# password stops the release before the builds, not after them.
stage=$out.tmp.$$
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"
echo "mkmesh release $version" >"$stage/key-check"
minisign -S -s "$key" -m "$stage/key-check" -x "$stage/key-check.sig" >/dev/null ||
	die "minisign cannot sign with the key '$key' (MKMESH_SIGNING_KEY)"
rm -f "$stage/key-check" "$stage/key-check.sig"

start=$SECONDS
# shellcheck disable=SC2086 # the *_ARGS are lists of options
./mkmesh build droplet --out "$stage" --image-version "$version" ${RELEASE_ARGS:-} ${DROPLET_ARGS:-} >/dev/null ||
	die "the droplet image did not build (its messages are above)"
# shellcheck disable=SC2086
./mkmesh build rpi --out "$stage" --image-version "$version" ${RELEASE_ARGS:-} ${RPI_ARGS:-} >/dev/null ||
	die "the rpi image did not build (its messages are above)"

# Raspberry Pi Imager's repository file for the rpi image, and its icon:
# in SHA256SUMS, so that the signature covers them.
scripts/rpi-imager-json.sh "$stage" "$version" || die "rpi-imager.json could not be written (above)"
(cd "$stage" && sha256sum rpi-imager.json mkmesh-icon.svg >>SHA256SUMS)

# Each build added its own lines to the one SHA256SUMS; check that they
# are all there before signing it.
want="mkmesh-droplet-$version-amd64.raw.gz mkmesh-droplet-$version-amd64.manifest.json
mkmesh-droplet-$version-amd64.spdx.json mkmesh-rpi-$version-arm64.img.zst
mkmesh-rpi-$version-arm64.img.bmap mkmesh-rpi-$version-arm64.manifest.json
mkmesh-rpi-$version-arm64.spdx.json rpi-imager.json mkmesh-icon.svg"
for f in $want; do
	[ -f "$stage/$f" ] || die "the build did not make '$f'"
	grep -q "  $f\$" "$stage/SHA256SUMS" || die "'$f' is not in SHA256SUMS"
done
(cd "$stage" && sha256sum --quiet -c SHA256SUMS) || die "SHA256SUMS does not match the files"
minisign -S -s "$key" -m "$stage/SHA256SUMS" -x "$stage/SHA256SUMS.sig" \
	-t "mkmesh $version release: SHA256SUMS" >/dev/null ||
	die "minisign could not sign SHA256SUMS"

mv "$stage" "$out"
trap - EXIT
if [ -n "${MKMESH_RELEASE_KEY:-}" ]; then
	./mkmesh verify "$out" --key "$MKMESH_RELEASE_KEY" >&2
fi
echo "mkmesh: release $version in $out ($((SECONDS - start)) s):" >&2
ls -l "$out" >&2
echo "$out"
