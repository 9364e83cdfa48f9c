#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A build that fails leaves nothing under the output directory and a cache
# that the next build uses: a bad recipe (exit 2, file and JSON path named,
# before any work), an unreachable mirror (stopped before mmdebstrap), and
# Ctrl-C during mmdebstrap and during the disk stage.
. "$(dirname "$0")/lib.sh"

out=$work/images
cache=$MKMESH_TEST_CACHE
mkdir -p "$out"
# The base layer alone: only the Debian archive is needed.
base_only=--without=cjdns,matrix,riot,web

nothing_in_out() {
	[ -z "$(ls -A "$out")" ]
}

# Temporaries are named after the process that makes them; other builds
# may run on this machine at the same time.
no_temporaries_of() {
	[ -z "$(find "$cache/rootfs" "$cache/work" -name "*tmp$1.tar" -o -name "*-$1.raw" 2>/dev/null)" ]
}

no_process_with() {
	! pgrep -f -- "$1" >/dev/null
}

# An appliance that was still starting when mkmesh died is not known to it
# yet; it stops by itself once it finds its library gone. Wait for that.
gone_within() {
	local secs=$1 pattern=$2 deadline=$((SECONDS + $1))
	while [ $SECONDS -lt $deadline ]; do
		no_process_with "$pattern" && return 0
		sleep 1
	done
	return 1
}

# --- a broken recipe tree: exit 2, the file and the JSON path named -------
cp -r "$top/recipes" "$work/recipes"
cp -r "$top/overlays" "$work/overlays"
jq '.packages[1] = 42' "$top/recipes/layers/base.json" >"$work/recipes/layers/base.json"
"$mkmesh" build droplet $base_only --recipes "$work/recipes" --out "$out" --cache "$cache" 2>"$work/err"
rc=$?
cat "$work/err"
check "bad recipe exits 2" test $rc -eq 2
check "bad recipe names file and JSON path" \
	grep -qx "mkmesh: error: $work/recipes/layers/base.json: packages\[1\]: expected a string, got an integer" "$work/err"
check "bad recipe: nothing under the output directory" nothing_in_out

# --- an unknown layer on the command line is a usage error ---------------
"$mkmesh" build droplet --without nosuchlayer --out "$out" --cache "$cache" 2>"$work/err"
rc=$?
check "unknown --without layer exits 2" test $rc -eq 2
check "unknown --without layer is named" grep -q "'droplet' has no layer 'nosuchlayer'" "$work/err"

# --- an unreachable mirror stops the build before mmdebstrap -------------
start=$SECONDS
"$mkmesh" build droplet $base_only --mirror http://127.0.0.1:9/debian --out "$out" --cache "$cache" 2>"$work/err"
rc=$?
cat "$work/err"
check "unreachable mirror exits 1" test $rc -eq 1
check "unreachable mirror: the error names the URL and --mirror" \
	grep -q "cannot reach the Debian mirror 'http://127.0.0.1:9/debian'.*--mirror URL" "$work/err"
check "unreachable mirror: failed fast ($((SECONDS - start))s)" test $((SECONDS - start)) -lt 30
check "unreachable mirror: nothing under the output directory" nothing_in_out

# --- a download that cannot be reached stops the build before apt ----------
# (a recipe copy whose cjdns artifacts point at a closed port)
jq '.artifacts[].url |= "http://127.0.0.1:9/cjdns/" + (split("/") | last)' \
	"$top/recipes/layers/cjdns.json" >"$work/recipes/layers/cjdns.json"
cp "$top/recipes/layers/base.json" "$work/recipes/layers/base.json"
start=$SECONDS
"$mkmesh" build droplet --without matrix,riot,web --recipes "$work/recipes" --out "$out" \
	--cache "$cache" 2>"$work/err"
rc=$?
cat "$work/err"
check "unreachable artifact exits 1" test $rc -eq 1
check "unreachable artifact: the error names the URL" grep -q "http://127.0.0.1:9/cjdns/" "$work/err"
check "unreachable artifact: the error names the ways out" \
	grep -q "mkmesh fetch droplet --dest DIR.*--artifacts DIR.*--without cjdns" "$work/err"
check "unreachable artifact: stopped before the rootfs stage" bash -c "! grep -q 'rootfs:' '$work/err'"
check "unreachable artifact: failed fast ($((SECONDS - start))s)" test $((SECONDS - start)) -lt 30
check "unreachable artifact: nothing under the output directory" nothing_in_out

# --- Ctrl-C: SIGINT to mkmesh while a stage runs --------------------------
# interrupt_at PATTERN [ARGS]: starts a build, sends SIGINT once PATTERN is
# in its log, and waits for it to end.
interrupt_at() {
	local pattern=$1 pid i
	shift
	"$mkmesh" build droplet $base_only --out "$out" --cache "$cache" "$@" 2>"$work/err" &
	pid=$!
	build_pid=$pid
	for i in $(seq 1 600); do
		grep -q "$pattern" "$work/err" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.5
	done
	sleep 2
	kill -INT $pid
	wait $pid
}

# During mmdebstrap: --no-check-valid-until changes the rootfs key, so
# mmdebstrap surely runs.
interrupt_at "rootfs: mmdebstrap" --no-check-valid-until
rc=$?
cat "$work/err"
check "Ctrl-C during mmdebstrap ends the build by the signal (exit $rc)" test $rc -eq 130
check "Ctrl-C during mmdebstrap: nothing under the output directory" nothing_in_out
check "Ctrl-C during mmdebstrap: no half-written rootfs in the cache" no_temporaries_of $build_pid
check "Ctrl-C during mmdebstrap: no mmdebstrap left running" no_process_with "tmp$build_pid.tar"

# During the disk stage (the rootfs comes from the cache or is made now):
# two seconds in, the appliance is starting or at work. TCG chosen here, so
# that it is not the KVM check (below) that is interrupted.
LIBGUESTFS_BACKEND_SETTINGS=force_tcg interrupt_at "disk: mbr"
rc=$?
cat "$work/err"
check "Ctrl-C during the disk stage ends the build by the signal (exit $rc)" test $rc -eq 130
check "Ctrl-C during the disk stage says so" grep -q "interrupted" "$work/err"
check "Ctrl-C during the disk stage: nothing under the output directory" nothing_in_out
check "Ctrl-C during the disk stage: no raw disk left in the cache" no_temporaries_of $build_pid
check "Ctrl-C during the disk stage: no appliance left running (within 60 s)" \
	gone_within 60 "droplet-$build_pid.raw"
check "the cache still holds the rootfs for the next build" \
	bash -c "ls '$cache'/rootfs/amd64-trixie-*.tar >/dev/null"

# During the KVM check (its answer, kept per boot, removed so that it runs):
# the probe's QEMU is stopped too; left behind, it would spin a CPU for ever.
[ -w /run ] && stamp_dir=/run/mkmesh || stamp_dir=$cache
rm -f "$stamp_dir/kvm-probe-$(cat /proc/sys/kernel/random/boot_id)"
interrupt_at "checking whether KVM works"
rc=$?
cat "$work/err"
check "Ctrl-C during the KVM check ends the build by the signal (exit $rc)" test $rc -eq 130
check "Ctrl-C during the KVM check: no probe left running (within 5 s)" \
	gone_within 5 "console=ttyS0 panic=-1 quiet"
check "Ctrl-C during the KVM check: nothing under the output directory" nothing_in_out

echo "$checks checks passed"
