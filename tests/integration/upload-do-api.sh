#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# mkmesh upload droplet against the DigitalOcean API fixture, which checks
# every request against the OpenAPI spec in ../shared/do-openapi: pending then
# available; deleted with an error_message; 429 with retry-after; 500 then
# success; 401; a transfer to two regions. The token never appears in any
# output, and the uploaded object is deleted in every case.
cd "$(dirname "$0")/../.." || exit 1
. tests/fixtures/upload-lib.sh
set -e

start_s3
head -c $((1024 * 1024)) /dev/urandom >"$T/mkmesh-droplet-1.0-amd64.raw.gz"
IMG=$T/mkmesh-droplet-1.0-amd64.raw.gz

note "available: NEW, pending, available"
start_do available
upload available "$IMG" -v
[ "$RC" -eq 0 ] || fail "exit $RC"
grep -qx 38413969 "$T/available.out" || fail "stdout is not the image id"
for s in NEW pending available; do grep -q "image 38413969: $s" "$T/available.err" || fail "no '$s' shown"; done
[ "$(do_state 'JSON.stringify(s.requests.map(r=>r.method+" "+r.path+" "+r.status))')" = \
  '["POST /v2/images 202","GET /v2/images/38413969 200","GET /v2/images/38413969 200"]' ] ||
	fail "unexpected requests: $(do_state 'JSON.stringify(s.requests)')"
[ "$(do_state 'Object.values(s.images)[0].distribution')" = Debian ] || fail "distribution is not Debian"
[ "$(do_state 'Object.values(s.images)[0].name')" = mkmesh-droplet-1.0-amd64 ] || fail "default name"
bucket_clean; violations; stop_do

note "deleted with an error_message: reported, exit 1, object deleted"
start_do deleted
upload deleted "$IMG"
[ "$RC" -eq 1 ] || fail "exit $RC"
grep -q "could not import image 38413969 .*not a supported image format" "$T/deleted.err" || fail "error_message not shown"
[ ! -s "$T/deleted.out" ] || fail "stdout after a failure"
bucket_clean; violations; stop_do

note "429 with retry-after, then ratelimit-remaining 0: waits, succeeds"
start_do ratelimit
start=$(date +%s.%N)
upload ratelimit "$IMG" -v
[ "$RC" -eq 0 ] || fail "exit $RC"
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "  took $took s"
[ "$(do_state 's.requests.filter(r=>r.status===429).length')" = 1 ] || fail "expected one 429"
grep -q "rate limited (HTTP 429); retrying in 1 s" "$T/ratelimit.err" || fail "retry-after not honoured"
grep -q "API rate limit reached; waiting [12] s" "$T/ratelimit.err" || fail "ratelimit-remaining 0 not honoured"
[ "$(echo "$took >= 2" | bc)" = 1 ] || fail "did not wait"
bucket_clean; violations; stop_do

note "500 (and 503) then success"
start_do server-error
upload servererror "$IMG" -v
[ "$RC" -eq 0 ] || fail "exit $RC"
[ "$(do_state 's.requests.filter(r=>r.status>=500).length')" = 2 ] || fail "expected a 500 and a 503"
bucket_clean; violations; stop_do

note "401: a clear message, exit 1, object deleted"
start_do unauthorized
upload unauthorized "$IMG"
[ "$RC" -eq 1 ] || fail "exit $RC"
grep -q "HTTP 401 unauthorized: Unable to authenticate you" "$T/unauthorized.err" || fail "no 401 message"
grep -q "check DIGITALOCEAN_TOKEN" "$T/unauthorized.err" || fail "does not say what to do"
[ "$(do_state 's.requests.length')" = 1 ] || fail "a 401 must not be retried"
bucket_clean; violations; stop_do

note "DIGITALOCEAN_ACCESS_TOKEN, --regions tor1,ams3: transfer to two regions, --json"
start_do transfer
DIGITALOCEAN_ACCESS_TOKEN=$TOKEN DIGITALOCEAN_TOKEN= upload transfer "$IMG" --regions tor1,ams3,nyc3 --json -v
[ "$RC" -eq 0 ] || fail "exit $RC"
node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1])); if (JSON.stringify(o.regions)!==JSON.stringify(["nyc3","tor1","ams3"])||o.status!=="available"||o.id!==38413969||!o.object_deleted) process.exit(1)' "$T/transfer.out" ||
	fail "unexpected JSON"
[ "$(do_state 's.requests.filter(r=>r.method==="POST"&&r.path.endsWith("/actions")).length')" = 2 ] || fail "expected two transfer actions"
[ "$(do_state 'JSON.stringify(Object.values(s.images)[0].regions)')" = '["nyc3","tor1","ams3"]' ] || fail "image not in all regions"
bucket_clean; violations; stop_do

note "stuck in pending: MKMESH_IMPORT_TIMEOUT gives up, object deleted"
start_do stuck
MKMESH_IMPORT_TIMEOUT=1 upload timeout "$IMG"
[ "$RC" -eq 1 ] || fail "exit $RC"
grep -q "image 38413969 is still 'pending' after 1 s" "$T/timeout.err" || fail "timeout not explained"
bucket_clean; violations

note "Ctrl-C while waiting for the import: object deleted, image id told"
set +e
./mkmesh upload droplet "$IMG" --space images --region nyc3 --api-url "http://127.0.0.1:$DO_PORT" \
	--spaces-endpoint "http://127.0.0.1:$S3_PORT" >"$T/intr.out" 2>"$T/intr.err" &
pid=$!
for i in $(seq 100); do grep -q "pending" "$T/intr.err" && break; sleep 0.1; done
kill -INT $pid; wait $pid; RC=$?
set -e
sed 's/^/  stderr: /' "$T/intr.err"
[ "$RC" -eq 1 ] || fail "exit $RC"
grep -q "interrupted; the uploaded object was deleted" "$T/intr.err" || fail "no clean-up message"
grep -q "doctl compute image delete 38413970" "$T/intr.err" || fail "the image id is not told"
bucket_clean; violations; stop_do

note "no IMAGE: the newest mkmesh-droplet-*.raw.gz in --out DIR"
mkdir "$T/out"
cp "$IMG" "$T/out/mkmesh-droplet-0.9-amd64.raw.gz"
touch -d '1 hour ago' "$T/out/mkmesh-droplet-0.9-amd64.raw.gz"
cp "$IMG" "$T/out/mkmesh-droplet-1.1-amd64.raw.gz"
start_do available
upload newest --out "$T/out" -q
[ "$RC" -eq 0 ] || fail "exit $RC"
[ ! -s "$T/newest.err" ] || fail "-q is not quiet"
[ "$(do_state 'Object.values(s.images)[0].name')" = mkmesh-droplet-1.1-amd64 ] || fail "not the newest image"
upload none --out "$T/nothing"
[ "$RC" -eq 1 ] && grep -q "run 'mkmesh build droplet' first" "$T/none.err" || fail "no image: not explained"
bucket_clean; violations; stop_do

note "usage errors: exit 2"
set +e
DIGITALOCEAN_TOKEN= ./mkmesh upload droplet "$IMG" --space images --region nyc3 2>"$T/notoken.err"; rc1=$?
./mkmesh upload droplet "$IMG" --region nyc3 2>"$T/nospace.err"; rc2=$?
./mkmesh upload rpi 2>"$T/rpi.err"; rc3=$?
./mkmesh upload --help >"$T/help.out"; rc4=$?
set -e
[ $rc1 = 2 ] && [ $rc2 = 2 ] && [ $rc3 = 2 ] && [ $rc4 = 0 ] || fail "usage exit codes: $rc1 $rc2 $rc3 $rc4"
grep -q "DIGITALOCEAN_TOKEN is not set" "$T/notoken.err" || fail "missing token not explained"
grep -q "example:" "$T/help.out" || fail "--help has no example"
no_secrets
echo "all good"
