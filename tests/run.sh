#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The test runner: every unit test binary, then every integration script.
# Usage: tests/run.sh [unit|integration|slow] [NAME-PATTERN]
# A test exiting 77 is skipped and must print why. The last line is
# "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
what=${1:-all}
pattern=${2:-}
logdir=build/test-logs
mkdir -p "$logdir"
pass=0 fail=0 skip=0 failed_names=

run_one() {
	local name=$1; shift
	[ -n "$pattern" ] && [[ $name != *$pattern* ]] && return
	local log=$logdir/$name.log start=$SECONDS rc
	mkdir -p "$(dirname "$log")"
	printf '%-40s ' "$name"
	"$@" >"$log" 2>&1 </dev/null
	rc=$?
	case $rc in
	0) pass=$((pass + 1)); echo "ok ($((SECONDS - start))s)" ;;
	77) skip=$((skip + 1)); echo "skipped: $(grep -m1 -i 'skip' "$log" | sed 's/^skipped: //')" ;;
	*) fail=$((fail + 1)); failed_names="$failed_names $name"
	   echo "FAILED (exit $rc, $((SECONDS - start))s), last lines of $log:"
	   tail -n 25 "$log" | sed 's/^/    /' ;;
	esac
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in build/tests/test-*; do
		[ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
	done
fi
# The small arm64 root file system is the longest step of a cold run (about
# 20 min under qemu-user, mostly on one core, much of it waiting on dpkg):
# it is made in the background while the amd64 tests run, into the shared
# build cache, and the tests that build an rpi image run after it is done and
# find it there. Its log: build/test-logs/prebuild-rpi.log.
prebuild_pid=
prebuild_rpi() {
	[ -x ./mkmesh ] || return 0
	sh tests/setup.d/binfmt.sh >/dev/null 2>&1 || true
	[ -r /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || return 0 # the rpi tests skip and say why
	echo "prebuild: the arm64 root file system for the rpi tests, in the background"
	./mkmesh build rpi --suite trixie --without cjdns,matrix,riot,web --image-version test \
		--out build/prebuild-rpi --cache "${MKMESH_TEST_CACHE:-/var/cache/mkmesh}" \
		>"$logdir/prebuild-rpi.log" 2>&1 </dev/null &
	prebuild_pid=$!
}
wait_prebuild() {
	[ -n "$prebuild_pid" ] || return 0
	local start=$SECONDS
	wait "$prebuild_pid"
	echo "prebuild: done (exit $?; waited $((SECONDS - start)) s for it)"
	prebuild_pid=
	rm -rf build/prebuild-rpi
}
trap 'if [ -n "$prebuild_pid" ]; then kill -TERM "$prebuild_pid" 2>/dev/null; wait "$prebuild_pid"; fi' EXIT

if [ "$what" = all ] || [ "$what" = integration ]; then
	first=() after=()
	for t in tests/integration/*.sh; do
		case $(basename "$t") in lib*.sh) continue ;; esac # sourced by the tests
		[ -e "$t" ] || continue
		if grep -qE 'build rpi|RPI_ARGS' "$t"; then after+=("$t"); else first+=("$t"); fi
	done
	pending=0
	for t in "${after[@]}"; do
		name=integration/$(basename "$t" .sh)
		[ -z "$pattern" ] || [[ $name == *$pattern* ]] && pending=1
	done
	[ "$pending" = 1 ] && prebuild_rpi
	for t in "${first[@]}"; do run_one "integration/$(basename "$t" .sh)" bash "$t"; done
	wait_prebuild
	for t in "${after[@]}"; do run_one "integration/$(basename "$t" .sh)" bash "$t"; done
fi
if [ "$what" = slow ]; then
	for t in tests/slow/*.sh; do
		[ -e "$t" ] && run_one "slow/$(basename "$t" .sh)" bash "$t"
	done
fi
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
