# SPDX-License-Identifier: GPL-3.0-or-later
# mkmesh first boot: shell helpers for the steps (sourced, not run).
# Every step is a systemd oneshot that can be killed at any point and run
# again: files are written to a temporary name and renamed, and a step's
# stamp /var/lib/mkmesh/<step>.done is written last.
set -eu
umask 022
# MKMESH_ROOT: a directory that stands for / in the machine's own paths (the
# tests run steps in network namespaces, each with a root of its own);
# MKMESH_LIB: where these helpers are. Unset on a machine.
MK_ROOT=${MKMESH_ROOT:-}
MK_LIB=${MKMESH_LIB:-/usr/lib/mkmesh}
MK_STATE=$MK_ROOT/var/lib/mkmesh
MK_SITE=$MK_ROOT/run/mkmesh/site.json

# mk_say MESSAGE: to the journal (stdout of the unit) and the console.
mk_say() {
	echo "$*"
	if [ -w /dev/console ]; then echo "mkmesh: $*" >/dev/console 2>/dev/null || true; fi
}

# mk_fail MESSAGE: a high-priority error in the journal and on the console; exits 1.
mk_fail() {
	echo "<2>error: $*" >&2
	if [ -w /dev/console ]; then echo "mkmesh: error: $*" >/dev/console 2>/dev/null || true; fi
	exit 1
}

mk_done() { [ -e "$MK_STATE/$1.done" ]; }

mk_stamp() {
	mkdir -p "$MK_STATE"
	date -u +%Y-%m-%dT%H:%M:%SZ >"$MK_STATE/$1.done.tmp"
	sync "$MK_STATE/$1.done.tmp"
	mv "$MK_STATE/$1.done.tmp" "$MK_STATE/$1.done"
	sync "$MK_STATE"
}

# mk_site KEY: a value from the checked site file ("" when absent).
mk_site() { "$MK_LIB/site" get "$1" || true; }

# mk_has_layer NAME: is the layer in this image (/etc/mkmesh/build.json)?
mk_has_layer() {
	python3 -c 'import json,sys; sys.exit(0 if sys.argv[1] in json.load(open(sys.argv[2])).get("layers", []) else 1)' "$1" "$MK_ROOT/etc/mkmesh/build.json" 2>/dev/null
}

# mk_random BYTES: that many random bytes, URL-safe base64 without padding.
mk_random() { head -c "$1" /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '='; }

# mk_target: the kind of machine this image was built for ("droplet", "rpi"),
# from /etc/mkmesh/build.json, which the build writes ("kind"; images built
# before it was there have only the recipe's name, "target").
mk_target() {
	python3 -c 'import json,sys; b = json.load(open(sys.argv[1])); print(b.get("kind") or b.get("target") or "")' "$MK_ROOT/etc/mkmesh/build.json" 2>/dev/null || true
}

# mk_secret FILE OWNER:GROUP MODE: a random secret made once, on this machine.
mk_secret() {
	local file=$1 owner=$2 mode=$3
	if [ ! -s "$file" ]; then
		mkdir -p "$(dirname "$file")"
		(umask 077 && mk_random 48 >"$file.tmp")
		chown "$owner" "$file.tmp"
		chmod "$mode" "$file.tmp"
		sync "$file.tmp"
		mv "$file.tmp" "$file"
	fi
	chown "$owner" "$file"
	chmod "$mode" "$file"
}

# mk_install FILE MODE OWNER:GROUP < CONTENT: atomic write, only when changed.
# mk_install FILE MODE OWNER:GROUP COMMAND [ARG...]: the same with COMMAND's
# output, and FILE left as it was when COMMAND fails. Use this form for any
# content a program makes: dash has no pipefail, so in `cmd | mk_install` a
# failed cmd would install an empty file (and, for keys, new ones next boot).
mk_install() {
	local file=$1 mode=$2 owner=$3 tmp
	shift 3
	tmp=$(mktemp "$file.XXXXXX")
	if [ $# -gt 0 ]; then
		if ! "$@" >"$tmp"; then
			rm -f "$tmp"
			mk_fail "making $file: '$1' failed; $file is left as it was"
		fi
	elif ! cat >"$tmp"; then
		rm -f "$tmp"
		mk_fail "writing $file failed; it is left as it was"
	fi
	chmod "$mode" "$tmp"
	chown "$owner" "$tmp"
	if [ -e "$file" ] && cmp -s "$tmp" "$file"; then
		rm -f "$tmp"
		chmod "$mode" "$file"
		chown "$owner" "$file"
		return 0
	fi
	sync "$tmp"
	mv "$tmp" "$file"
}
