#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Upload throughput: `mkmesh upload` (parallel multipart) against one
# `curl --aws-sigv4` PUT of the same file to the same s3rver, in the same
# run; prints MiB/s of each and the ratio mkmesh/curl (target: >= 1.0).
#
# Two links, both on loopback:
#  - direct: nothing limits a connection. s3rver is one Node.js thread, so
#    parallel parts gain nothing, and it assembles a multipart object by
#    copying every part once more at "complete" (real S3/Spaces do not).
#  - limited: a proxy holds each TCP connection to $BENCH_CONN_MIBS MiB/s
#    (default 16), as a long-distance link to Spaces does.
# mkmesh's figure is its whole upload (create, parts, complete) as it
# reports it; the whole command with the import from the API fixture is
# shown too. Best of $BENCH_RUNS (default 3) runs each.
# usage: tests/bench-upload.sh [SIZE_MIB]   (default 200)
cd "$(dirname "$0")/.." || exit 1
. tests/fixtures/upload-lib.sh
set -e
size_mib=${1:-200}
runs=${BENCH_RUNS:-3}
conn_mibs=${BENCH_CONN_MIBS:-16}
export MKMESH_POLL_SECONDS=0.05

start_s3
start_do available
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$T/bench.raw.gz"
sha=$(sha256sum "$T/bench.raw.gz" | cut -d' ' -f1)
now() { date +%s.%N; }
max() { if [ "$(echo "$1 > $2" | bc -l)" = 1 ]; then echo "$1"; else echo "$2"; fi; }

# bench LABEL PORT: sets CURL MK CMD (best MiB/s).
bench() {
	local label=$1 port=$2 i t0 t1 c m w
	CURL=0 MK=0 CMD=0
	for i in $(seq "$runs"); do
		t0=$(now)
		curl -sSf --aws-sigv4 aws:amz:nyc3:s3 -u S3RVER:S3RVER -H "x-amz-content-sha256: $sha" \
			-T "$T/bench.raw.gz" "http://127.0.0.1:$port/images/curl-$i.raw.gz" -o /dev/null
		t1=$(now)
		c=$(echo "$size_mib / ($t1 - $t0)" | bc -l)
		curl -sSf -X DELETE --aws-sigv4 aws:amz:nyc3:s3 -u S3RVER:S3RVER \
			-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
			"http://127.0.0.1:$S3_PORT/images/curl-$i.raw.gz"
		t0=$(now)
		./mkmesh upload droplet "$T/bench.raw.gz" --space images --region nyc3 \
			--api-url "http://127.0.0.1:$DO_PORT" --spaces-endpoint "http://127.0.0.1:$port" \
			>/dev/null 2>"$T/mk.err" || { cat "$T/mk.err"; fail "mkmesh upload failed"; }
		t1=$(now)
		w=$(echo "$size_mib / ($t1 - $t0)" | bc -l)
		m=$(sed -n 's/.*uploaded .* MiB in .* s (\([0-9.]*\) MiB\/s).*/\1/p' "$T/mk.err")
		printf '  %-8s run %d: curl PUT %6.1f MiB/s, mkmesh upload %6.1f MiB/s (whole command %6.1f)\n' \
			"$label" "$i" "$c" "$m" "$w"
		CURL=$(max "$c" "$CURL") MK=$(max "$m" "$MK") CMD=$(max "$w" "$CMD")
	done
}

echo "upload of $size_mib MiB to s3rver on loopback, best of $runs:"
bench direct "$S3_PORT"
d_curl=$CURL d_mk=$MK d_cmd=$CMD
start_proxy slow --rate $((conn_mibs * 1024 * 1024))
bench limited "$PROXY_PORT"
l_curl=$CURL l_mk=$MK l_cmd=$CMD
bucket_clean
printf '%-34s %10s %10s %8s\n' "" "curl PUT" "mkmesh" "ratio"
printf '%-34s %10.1f %10.1f %8.2f\n' "direct loopback (MiB/s)" "$d_curl" "$d_mk" "$(echo "$d_mk / $d_curl" | bc -l)"
printf '%-34s %10.1f %10.1f %8.2f\n' "$conn_mibs MiB/s per connection (MiB/s)" "$l_curl" "$l_mk" "$(echo "$l_mk / $l_curl" | bc -l)"
printf 'upload ratio mkmesh/curl (target >= 1.0): direct %.2f, per-connection-limited %.2f\n' \
	"$(echo "$d_mk / $d_curl" | bc -l)" "$(echo "$l_mk / $l_curl" | bc -l)"
