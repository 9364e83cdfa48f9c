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
	77) skip=$((skip + 1)); echo "skipped: $(grep -m1 -i 'skip' "$log")" ;;
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
if [ "$what" = all ] || [ "$what" = integration ]; then
	for t in tests/integration/*.sh; do
		case $(basename "$t") in lib*.sh) continue ;; esac # sourced by the tests
		[ -e "$t" ] && run_one "integration/$(basename "$t" .sh)" bash "$t"
	done
fi
if [ "$what" = slow ]; then
	for t in tests/slow/*.sh; do
		[ -e "$t" ] && run_one "slow/$(basename "$t" .sh)" bash "$t"
	done
fi
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
