#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# When a tool under mkmesh fails, mkmesh's own error names the cause (one
# line of the tool's output) and the fix, then the log. Each cause forced
# for real: sid's Release on the archive these machines reach is expired; a
# package that does not exist; a cache on a 60 MiB tmpfs; a mirror that is
# a captive page (200, HTML) or a proxy asking for a login (407), served on
# loopback; a package from an extra apt source whose postinst fails (a
# signed repository on loopback); arm64 without a binfmt handler
# (binfmt_misc hidden by an empty mount in a mount namespace of its own, so
# the runner's arm64 build beside this test is not touched); the output
# directory on a 16 MiB tmpfs; a disk.size of 400M; a recipe without
# grub-pc, and one with grub2-common instead (grub-install without its
# i386-pc files). Small builds: the base layer only.
. "$(dirname "$0")/lib.sh"
command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed; run 'make deps'"

# build NAME ARGS...: mkmesh build into $work/NAME.*, its exit code in $rc.
build() {
	local name=$1
	shift
	"$mkmesh" build droplet --without cjdns,matrix,riot,web --out "$work/$name.out" \
		--image-version test "$@" >"$work/$name.stdout" 2>"$work/$name.err"
	rc=$?
	echo "--- $name: exit $rc"
	sed 's/^/    /' "$work/$name.err" | tail -n 6
}
# first_error NAME: the error's first line.
first_error() { grep -m1 '^mkmesh: error: ' "$work/$1.err"; }
nothing_made() { [ -z "$(ls -A "$work/$1.out" 2>/dev/null)" ]; }

build sid --suite sid --cache "$work/cache"
check "expired sid Release: fails" test "$rc" -ne 0
check "... the first line is apt's cause" \
	grep -qE "^mkmesh: error: mmdebstrap failed \(exit 25\): Release file for http://deb.debian.org/debian/dists/sid/InRelease is expired \(invalid since .*\)" "$work/sid.err"
check "... the fix names --no-check-valid-until" grep -q '^  fix: .*add --no-check-valid-until' "$work/sid.err"
check "... then the log" grep -q "^  its log is '$work/cache/logs/droplet-rootfs.log'" "$work/sid.err"
check "... nothing in the output directory" nothing_made sid
build sid-q --suite sid --cache "$work/cache" -q
# (the same but for the age apt counts)
same_error() { sed 's/(invalid since [^)]*)//' "$@"; }
check "... -q shows the same cause and fix, and nothing else" \
	test "$(same_error "$work/sid-q.err")" = "$(grep -A2 '^mkmesh: error' "$work/sid.err" | same_error)"

# A recipe tree with one package that Debian does not have.
mkdir -p "$work/tree"
cp -r "$top/recipes" "$top/overlays" "$work/tree/"
jq '.packages += ["no-such-package-mkmesh"]' "$top/recipes/layers/base.json" >"$work/tree/recipes/layers/base.json"
build nopkg --recipes "$work/tree/recipes" --cache "$work/cache"
check "a package the suite lacks: fails" test "$rc" -ne 0
check "... the first line is apt's" \
	test "$(first_error nopkg)" = "mkmesh: error: mmdebstrap failed (exit 25): Unable to locate package no-such-package-mkmesh"
check "... the fix names the package, the suite and --suite" \
	grep -q "^  fix: Debian 'trixie' at 'http://deb.debian.org/debian' has no package 'no-such-package-mkmesh': .*--suite" "$work/nopkg.err"

# A mirror that is a captive portal, and a proxy that wants a login.
cat >"$work/srv.py" <<'PY'
import http.server, sys
mode, port_file = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if mode == "html":
            b = b"<html><body>Welcome to the hotel Wi-Fi. Please log in.</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
        else:
            b = b"<html>Proxy Authentication Required</html>"
            self.send_response(407, "Proxy Authentication Required")
            self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(port_file, "w").write(str(s.server_address[1]))
s.serve_forever()
PY
for mode in html 407; do
	python3 "$work/srv.py" "$mode" "$work/$mode.port" &
	vm_pids+=($!)
done
for i in $(seq 50); do [ -s "$work/html.port" ] && [ -s "$work/407.port" ] && break; sleep 0.1; done
html=http://127.0.0.1:$(cat "$work/html.port")/debian
proxy=http://127.0.0.1:$(cat "$work/407.port")/debian
build html --mirror "$html" --cache "$work/cache"
check "a captive page for a mirror: the first line says it is not one" \
	test "$(first_error html)" = "mkmesh: error: the Debian mirror '$html' is not answering as one ($html/dists/trixie/Release: the server answered with something that is not a Release file (it starts '<html><body>Welcome to the hotel Wi-Fi. '))"
check "... the fix: a captive portal, open the URL" \
	grep -q "^  fix: a captive portal or a login page? open $html/dists/trixie/Release in a browser" "$work/html.err"
build 407 --mirror "$proxy" --cache "$work/cache"
check "a proxy asking for a login: the first line says 407" \
	test "$(first_error 407)" = "mkmesh: error: cannot reach the Debian mirror '$proxy' ($proxy/dists/trixie/Release: the server answered HTTP 407 (Proxy Authentication Required))"
check "... the fix: http_proxy with a login" grep -q '^  fix: .*http_proxy=http://USER:PASSWORD@PROXY:PORT/' "$work/407.err"

# A cache on a small file system.
mkdir -p "$work/tiny"
mount -t tmpfs -o size=60m tmpfs "$work/tiny" || die "cannot mount a tmpfs (the test needs root)"
build tiny --cache "$work/tiny"
umount "$work/tiny"
check "a full cache: fails" test "$rc" -ne 0
check "... the first line is the tool's 'No space left on device' or says the cache is full" \
	grep -qE "^mkmesh: error: mmdebstrap failed \(exit [0-9]+\): .*(No space left on device|the cache is full)" "$work/tiny.err"
check "... the fix names the cache, its size and --cache" \
	grep -qE "^  fix: the cache '$work/tiny' \(root file systems and apt's downloads\) is full \([0-9.]+ MiB free of 60.0 MiB\); .*--cache DIR" "$work/tiny.err"
check "... nothing in the output directory" nothing_made tiny

# An extra apt source (a recipe's apt_sources, signed, its key pinned by
# fingerprint) whose package's post-installation script fails: a repository
# made here, on loopback, with a package built by dpkg-deb.
repo=$work/repo
mkdir -p "$repo/pool" "$repo/dists/test/main/binary-amd64" "$work/pkg/DEBIAN"
cat >"$work/pkg/DEBIAN/control" <<'EOF_CTL'
Package: mkmesh-test-fails
Version: 1.0
Architecture: all
Maintainer: mkmesh tests <test@mkmesh.invalid>
Description: mkmesh test package whose postinst fails on purpose
EOF_CTL
printf '#!/bin/sh\necho "mkmesh-test-fails: failing on purpose" >&2\nexit 3\n' >"$work/pkg/DEBIAN/postinst"
chmod 0755 "$work/pkg/DEBIAN/postinst"
deb=pool/mkmesh-test-fails_1.0_all.deb
dpkg-deb --root-owner-group -b "$work/pkg" "$repo/$deb" >/dev/null || die "dpkg-deb failed"
{
	sed -n '1,4p' "$work/pkg/DEBIAN/control"
	echo "Filename: $deb"
	echo "Size: $(stat -c %s "$repo/$deb")"
	echo "SHA256: $(sha256sum "$repo/$deb" | cut -d' ' -f1)"
	sed -n '5p' "$work/pkg/DEBIAN/control"
} >"$repo/dists/test/main/binary-amd64/Packages"
pk=dists/test/main/binary-amd64/Packages
cat >"$repo/dists/test/Release" <<EOF_REL
Origin: mkmesh-test
Suite: test
Codename: test
Date: $(date -Ru)
Architectures: amd64
Components: main
SHA256:
 $(sha256sum "$repo/$pk" | cut -d' ' -f1) $(stat -c %s "$repo/$pk") main/binary-amd64/Packages
EOF_REL
export GNUPGHOME=$work/gnupg
mkdir -p -m 0700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'mkmesh test repository <repo@mkmesh.invalid>' ed25519 sign never 2>/dev/null
fpr=$(gpg --batch --with-colons --list-keys 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')
gpg --batch --armor --export "$fpr" >"$repo/key.asc"
gpg --batch --quiet --clearsign --output "$repo/dists/test/InRelease" "$repo/dists/test/Release"
gpgconf --kill all 2>/dev/null || true
unset GNUPGHOME
serve_dir "$repo"
jq --arg u "http://127.0.0.1:$http_port/" --arg f "$fpr" \
	'.variants = [{apt_sources: [{name: "mkmesh-test", uri: $u, suite: "test", components: ["main"],
	   key: {url: ($u + "key.asc"), fingerprint: $f}}], packages: ["mkmesh-test-fails"]}]' \
	"$top/recipes/layers/base.json" >"$work/tree/recipes/layers/base.json"
build fails --recipes "$work/tree/recipes" --cache "$work/cache"
check "a package's postinst that fails: fails" test "$rc" -ne 0
check "... the pinned key (armored, served as key.asc) was taken: no NO_PUBKEY, nothing unsigned" \
	bash -c "! grep -qE 'NO_PUBKEY|is not signed|unsupported filetype' '$work/cache/logs/droplet-rootfs.log'"
check "... the first line is dpkg's, naming the package and the exit status" \
	test "$(first_error fails)" = "mkmesh: error: mmdebstrap failed (exit 25): installed mkmesh-test-fails package post-installation script subprocess returned error exit status 3"
check "... the fix says a maintainer script failed and where its words are" \
	grep -q "^  fix: a package's maintainer script failed inside the new system" "$work/fails.err"
check "... the script's own words are in the log" grep -q 'mkmesh-test-fails: failing on purpose' "$work/cache/logs/droplet-rootfs.log"
check "... nothing in the output directory" nothing_made fails

# The disk and output stages, on the base layer's root file system from
# the shared cache (made once by the runner's and the other tests' builds,
# or by the first build here): the output directory on a tmpfs too small
# for the image, a disk too small for the root file system (twice, the
# second time with -q), a recipe without grub-pc, one with grub2-common.
cache=$MKMESH_TEST_CACHE
mkdir -p "$work/outfull.out"
mount -t tmpfs -o size=16m tmpfs "$work/outfull.out" || die "cannot mount a tmpfs (the test needs root)"
build outfull --cache "$cache"
check "an output directory too small for the image: fails" test "$rc" -ne 0
check "... the first line is the failed write's errno" \
	test "$(first_error outfull)" = "mkmesh: error: cannot write '$work/outfull.out/mkmesh-droplet-test-amd64.raw.gz' (gzip): No space left on device"
check "... the fix names the directory, what the image needs, what is free, and --out" \
	grep -qE "^  fix: the output directory '$work/outfull.out' is full: the image needs about [0-9.]+ MiB there, and [0-9.]+ MiB of 16.0 MiB is free \(nothing half-written was left in it\); free space there, or give --out DIR on a bigger disk$" "$work/outfull.err"
need=$(sed -nE 's/.*the image needs about ([0-9]+)\.[0-9] MiB there.*/\1/p' "$work/outfull.err")
check "... what it needs is more than the 16 MiB that did not hold it (${need:-?} MiB)" test "${need:-0}" -gt 16
check "... nothing is left in the output directory, hidden files included" nothing_made outfull
umount "$work/outfull.out"
build outok --cache "$cache"
real=$(($(stat -c %s "$work/outok.out/mkmesh-droplet-test-amd64.raw.gz") >> 20))
check "... and it is about what the image then takes where it fits ($need MiB for $real MiB, within a quarter)" \
	test $((need * 4)) -ge $((real * 3)) -a $((need * 4)) -le $((real * 5))

mkdir -p "$work/dtree"
cp -r "$top/recipes" "$top/overlays" "$work/dtree/"
jq '.disk.size = "400M"' "$top/recipes/droplet.json" >"$work/dtree/recipes/droplet.json"
build small --recipes "$work/dtree/recipes" --cache "$cache"
check "a disk too small for the root file system: fails" test "$rc" -ne 0
check "... the first line is tar's own, in the appliance" \
	grep -qE "^mkmesh: error: unpack the tree into the image: tar: [^ ]+: Cannot write: No space left on device$" "$work/small.err"
check "... the fix names the recipe's disk.size, the tree's size and a size that holds it" \
	grep -qE "^  fix: the root file system does not fit on the disk: '$work/dtree/recipes/droplet.json' has \"disk\": \{\"size\": \"400M\"\} and the tree is about [0-9.]+ MiB in [0-9]+ files and directories; make disk.size at least \"[0-9]+[MG]\"" "$work/small.err"
check "... then the log, with all of libguestfs's words" \
	grep -q "^  its log is '$cache/logs/droplet-disk.log'$" "$work/small.err"
check "... nothing in the output directory" nothing_made small
build small-q --recipes "$work/dtree/recipes" --cache "$cache" -q
# (tar names the file it was writing)
same_file() { sed -E 's/tar: [^ ]+: Cannot write/tar: FILE: Cannot write/' "$@"; }
check "... -q shows the same cause, fix and log, and nothing else" \
	test "$(same_file "$work/small-q.err")" = "$(grep -A2 '^mkmesh: error' "$work/small.err" | same_file)"

jq '.packages -= ["grub-pc"]' "$top/recipes/droplet.json" >"$work/dtree/recipes/droplet.json"
build nogrub --recipes "$work/dtree/recipes" --cache "$cache"
check "a recipe without grub-pc: fails" test "$rc" -ne 0
check "... the first line is the appliance shell's, naming grub-probe" \
	test "$(first_error nogrub)" = "mkmesh: error: install grub in the image: command: sh: 1: grub-probe: not found"
check "... the fix names grub-pc and the recipe" \
	grep -q "^  fix: the image has no grub: grub-probe, grub-install and update-grub come with the package grub-pc, which '$work/dtree/recipes/droplet.json' must have in its \"packages\"" "$work/nogrub.err"
check "... nothing in the output directory" nothing_made nogrub
jq '.packages = ["linux-image-amd64", "grub2-common"]' "$top/recipes/droplet.json" >"$work/dtree/recipes/droplet.json"
build grubcommon --recipes "$work/dtree/recipes" --cache "$cache"
check "a recipe with grub2-common instead of grub-pc: fails" test "$rc" -ne 0
check "... the first line is grub-install's own error" \
	test "$(first_error grubcommon)" = "mkmesh: error: install grub in the image: command: grub-install: error: /usr/lib/grub/i386-pc/modinfo.sh doesn't exist. Please specify --target or --directory."
check "... the fix names grub-pc and the recipe" \
	grep -q "^  fix: the image has grub-install but not grub-pc's BIOS boot files (/usr/lib/grub/i386-pc): '$work/dtree/recipes/droplet.json' must have \"grub-pc\" in its \"packages\"" "$work/grubcommon.err"
check "... nothing in the output directory" nothing_made grubcommon

# arm64 without a binfmt handler, as mkmesh sees it.
unshare -m sh -c "mount -t tmpfs none /proc/sys/fs/binfmt_misc && '$mkmesh' build rpi --suite trixie \
	--without cjdns,matrix,riot,web --cache '$work/cache' --out '$work/arm.out' --image-version test" \
	>/dev/null 2>"$work/arm.err"
rc=$?
sed 's/^/    /' "$work/arm.err" | tail -n 6
check "arm64 without binfmt: fails before mmdebstrap" test "$rc" -ne 0 -a ! -e "$work/cache/logs/rpi-rootfs.log"
check "... the first line says qemu-aarch64 is not registered" \
	grep -q "^mkmesh: error: arm64 binaries cannot run on this amd64 machine: qemu-aarch64 is not registered in binfmt_misc" "$work/arm.err"
check "... the fix is the exact commands" grep -q "^    update-binfmts --enable qemu-aarch64" "$work/arm.err"
echo "$checks checks passed"
