#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Faults during the Spaces upload: a connection cut in the middle of a part
# is retried and the upload completes byte-identical; Ctrl-C in the middle of
# the upload aborts the multipart upload; either way nothing is left in the
# bucket.
cd "$(dirname "$0")/../.." || exit 1
. tests/fixtures/upload-lib.sh
set -e

start_s3
start_do available
head -c $((100 * 1024 * 1024)) /dev/urandom >"$T/img.raw.gz"
SUM=$(sha256sum "$T/img.raw.gz" | cut -d' ' -f1)

note "a connection cut after 20 MB (in the middle of a part): retried"
start_proxy drop --after $((20 * 1024 * 1024 + 12345))
ENDPOINT_PORT=$PROXY_PORT upload drop "$T/img.raw.gz" -v
[ -f "$T/proxy.port.dropped" ] || fail "the proxy never cut a connection"
[ "$RC" -eq 0 ] || fail "the upload did not survive a cut connection"
grep -q "retrying" "$T/drop.err" || fail "no retry shown"
[ "$(do_state 's.fetches[0].sha256')" = "$SUM" ] || fail "the object differs after the retry"
bucket_clean
kill "$PROXY_PID"

note "every part's first try answered 503 with Retry-After: no new part while retries wait"
start_proxy busy --retry-after 2
ENDPOINT_PORT=$PROXY_PORT upload busy "$T/img.raw.gz" -v
[ "$RC" -eq 0 ] || fail "the upload did not survive a busy server"
[ "$(grep -c '^503 for the first try' "$T/proxy.log")" -eq 7 ] || fail "the proxy did not answer 503 to each of the 7 parts"
[ "$(do_state 's.fetches[1].sha256')" = "$SUM" ] || fail "the object differs after the retries"
# The bytes in memory are bounded by the parts in flight (4): part 5 starts
# only once a part is done, not while four wait for their Retry-After.
first5=$(grep -n '> PUT part 5 (.*try 1)' "$T/busy.err" | cut -d: -f1)
first200=$(grep -n '< part [0-9]*: 200' "$T/busy.err" | head -n 1 | cut -d: -f1)
[ -n "$first5" ] && [ -n "$first200" ] && [ "$first5" -gt "$first200" ] ||
	fail "part 5 started (line ${first5:-?}) before any part was done (line ${first200:-?})"
bucket_clean
kill "$PROXY_PID"

note "Ctrl-C in the middle of the upload: multipart upload aborted"
start_proxy slow --rate $((10 * 1024 * 1024))
set +e
ENDPOINT_PORT=$PROXY_PORT ./mkmesh upload droplet "$T/img.raw.gz" --space images --region nyc3 \
	--api-url "http://127.0.0.1:$DO_PORT" --spaces-endpoint "http://127.0.0.1:$PROXY_PORT" -v \
	>"$T/int.out" 2>"$T/int.err" &
pid=$!
# Wait until parts are on their way, then interrupt.
for i in $(seq 100); do
	grep -q "PUT part" "$T/int.err" && break
	sleep 0.1
done
sleep 1
[ -d "$T/s3/images/._S3rver_uploads" ] && [ -n "$(ls "$T/s3/images/._S3rver_uploads")" ] ||
	fail "no multipart upload was pending when Ctrl-C came"
kill -INT $pid
wait $pid
RC=$?
set -e
sed 's/^/  stderr: /' "$T/int.err" | tail -n 12
[ "$RC" -eq 1 ] || fail "Ctrl-C: exit $RC, expected 1"
grep -q "interrupted" "$T/int.err" || fail "Ctrl-C: not reported"
grep -q "aborted the multipart upload" "$T/int.err" || fail "Ctrl-C: multipart upload not aborted"
[ ! -s "$T/int.out" ] || fail "something on stdout after Ctrl-C"
bucket_clean
violations
no_secrets
echo "all good"
