#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# make test-fresh: the README's `make test` as a new user runs it, in a fresh
# Debian bookworm root with nothing installed but git, make, ca-certificates
# and sudo. It proves that scripts/deps.sh installs everything, and measures
# the cold run (empty build cache: the arm64 root file system included).
#
# The root's tarball is made once with mmdebstrap and kept in
#   $MKMESH_FRESH_CACHE (default /var/cache/mkmesh/fresh)
# and each run unpacks it anew. Carried in from this machine, so that the
# package registries are reached as here: the CA store, apt's Debian sources
# and settings, npm's settings. The repository goes in as a clone of HEAD
# (commit first: uncommitted changes are not tested), shared/ read-only
# beside it as CI has it. The root is a mount point of its own, so that
# unshare(1) inside it can change mount propagation as on a real machine.
# Needs root. The log is build/test-fresh.log; the last line is the runner's
# summary. MKMESH_FRESH_KEEP=1 keeps the root for a look afterwards.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${MKMESH_FRESH_CACHE:-/var/cache/mkmesh/fresh}
shared=${MKMESH_SHARED_DIR:-$top/../shared}
log=$top/build/test-fresh.log
mirror=http://deb.debian.org/debian

[ "$(id -u)" -eq 0 ] || { echo "mkmesh: make test-fresh needs root (it makes and enters a chroot)" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "mkmesh: mmdebstrap is missing; run 'make deps'" >&2; exit 1; }
[ -d "$shared" ] || { echo "mkmesh: shared/ is not at '$shared' (set MKMESH_SHARED_DIR)" >&2; exit 1; }
git -C "$top" diff --quiet HEAD ||
	echo "mkmesh: warning: uncommitted changes are not tested (the root gets a clone of HEAD)" >&2

mkdir -p "$cache" "$top/build"
tar=$cache/bookworm-fresh.tar
if [ ! -s "$tar" ]; then
	echo "mkmesh: making the fresh bookworm root (once, ~1 min): $tar" >&2
	mmdebstrap --quiet --include=git,make,ca-certificates,sudo bookworm "$cache/new.tar" "$mirror"
	mv "$cache/new.tar" "$tar"
fi

root=$(mktemp -d /var/tmp/mkmesh-fresh.XXXXXX)
mounted=()
cleanup() {
	local m
	# Whatever the run left (QEMU, servers) holds the mounts.
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -R -l "${mounted[i]}" 2>/dev/null || true
	done
	if [ -n "${MKMESH_FRESH_KEEP:-}" ]; then
		echo "mkmesh: the root is kept in $root (unmounted)" >&2
	else
		rm -rf --one-file-system "$root"
	fi
}
trap cleanup EXIT
mnt() { mount "$@"; mounted+=("${!#}"); }

tar -C "$root" -xf "$tar"
mnt --bind "$root" "$root" # a mount point of its own
mount --make-private "$root"
mnt -t proc proc "$root/proc"
mnt --rbind /sys "$root/sys"
mnt --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
mount --make-rslave "$root/sys"
mnt -t tmpfs tmpfs "$root/run"

# The registries as this machine reaches them: CA store, apt's Debian
# sources and settings (not third-party sources: the root is Debian's own),
# npm's settings.
cp -a /etc/ssl/certs/. "$root/etc/ssl/certs/"
[ -d /usr/local/share/ca-certificates ] && cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
rm -f "$root"/etc/apt/sources.list.d/* "$root/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
	[ -f "$f" ] || continue
	# only files whose every archive is Debian's
	grep -vE '^\s*#' "$f" | grep -oE '[a-z]+://[^/ ]+' | grep -qvE '://([a-z.-]+\.)?debian\.org$' && continue
	cp "$f" "$root$f"
done
cp -a /etc/apt/apt.conf.d/. "$root/etc/apt/apt.conf.d/"
for f in /etc/npmrc /root/.npmrc; do [ -f "$f" ] && cp "$f" "$root$f"; done
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/hosts "$root/etc/hosts"

mkdir -p "$root/work/shared" "$root/work/main"
mnt --bind "$shared" "$root/work/shared"
mount -o remount,bind,ro "$root/work/shared"
git clone -q "$top" "$root/work/main"
git -C "$root/work/main" log -1 --format='mkmesh: testing %h %s' >&2

echo "mkmesh: running 'make test' in the fresh root $root; log: $log" >&2
start=$SECONDS
set +e
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	LANG=C.UTF-8 CI=true ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS} \
	/bin/sh -c 'cd /work/main && make test' </dev/null 2>&1 | tee "$log" | grep --line-buffered -E '^(integration|unit|slow)/|^mkmesh: installing'
rc=${PIPESTATUS[0]}
set -e
elapsed=$((SECONDS - start))
printf 'mkmesh: the fresh-root run took %d min %d s (exit %d)\n' $((elapsed / 60)) $((elapsed % 60)) "$rc"
tail -n 1 "$log"
exit "$rc"
