#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs the fuzz harnesses that `make fuzz-build` made (build/fuzz/bin/NAME),
# each for FUZZ_SECONDS (default 60), one after the other on one core.
# Usage: tests/fuzz/run.sh NAME...
# New inputs go to build/fuzz/NAME/corpus (the seeds in tests/fuzz/corpus/NAME
# and the kept crashes in tests/fuzz/crashes/NAME are read, never written);
# a crash, leak, timeout or out-of-memory input to
# build/fuzz/NAME/, with the log in build/fuzz/NAME.log. The last line is
# "N harnesses ran, N found a crash"; the exit code is 1 if any did.
set -u
cd "$(dirname "$0")/../.." || exit 2
seconds=${FUZZ_SECONDS:-60}
case $seconds in '' | *[!0-9]*) echo "mkmesh: FUZZ_SECONDS='$seconds' is not a number of seconds" >&2; exit 2 ;; esac

# The longest input worth trying: a few times the largest real one.
max_len() {
	case $1 in
	bmap) echo 16384 ;;
	rebuild) echo 32768 ;;
	sums | site) echo 4096 ;;
	*) echo 16384 ;;
	esac
}

ran=0 crashed=0 crashed_names=
printf '%-14s %10s %9s %6s %8s  %s\n' harness execs execs/s cov corpus result
for name in "$@"; do
	bin=build/fuzz/bin/$name out=build/fuzz/$name log=build/fuzz/$name.log
	if [ ! -x "$bin" ]; then
		echo "mkmesh: no harness '$bin'; run 'make fuzz-build'" >&2
		exit 2
	fi
	mkdir -p "$out/corpus"
	dict=() kept=()
	[ -e "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
	[ -d "tests/fuzz/crashes/$name" ] && kept=("tests/fuzz/crashes/$name")
	stamp=$(mktemp)
	# -timeout: an input that takes this long is a hang; -rss_limit_mb: a
	# blow-up; UBSan findings are errors (-fno-sanitize-recover).
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$bin" -max_total_time="$seconds" -max_len="$(max_len "$name")" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 "${dict[@]}" -artifact_prefix="$out/" "$out/corpus" "tests/fuzz/corpus/$name" "${kept[@]}" \
		>"$log" 2>&1 </dev/null
	rc=$?
	ran=$((ran + 1))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n1 | cut -d' ' -f2)
	units=$(find "$out/corpus" -type f | wc -l)
	found=$(find "$out" -maxdepth 1 -type f -newer "$stamp" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) | sort)
	rm -f "$stamp"
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="FOUND (exit $rc)"
		crashed=$((crashed + 1)) crashed_names="$crashed_names $name"
	fi
	printf '%-14s %10s %9s %6s %8s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$units" "$result"
	if [ "$rc" -ne 0 ]; then
		grep -a -m1 -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: |.*runtime error:)' "$log" | sed 's/^/    /'
		for f in $found; do echo "    input: $f (replay: build/tests/test-fuzz-$name $f)"; done
		echo "    log: $log"
	fi
done
[ -n "$crashed_names" ] && echo "found a crash:$crashed_names; keep a reproducer in tests/fuzz/crashes/NAME/ once it is fixed"
echo "$ran harnesses ran, $crashed found a crash"
[ "$crashed" -eq 0 ]
