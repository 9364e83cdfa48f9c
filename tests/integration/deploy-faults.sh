#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# mkmesh deploy droplet when things go wrong, against the DigitalOcean API
# fixture: the domain is not in DigitalOcean DNS; 401; 429 with retry-after
# (and a used-up rate window); 500 then success (a create that failed is
# looked for before it is sent again); a create that was done but answered
# 500 makes no duplicate; the image is missing, not available or in another
# region. Each gets its clear message or its retry; no token in any output.
cd "$(dirname "$0")/../.." || exit 1
. tests/fixtures/deploy-lib.sh
set -e

one_droplet_seven_records() {
	[ "$(do_state 'Object.keys(s.droplets).length')" = 1 ] || fail "not exactly one droplet"
	[ "$(do_state 'Object.values(s.domains["example.org"].records).length')" = 13 ] ||
		{ zone; fail "not exactly 6 + 7 records"; }
}

note "the domain is not in DigitalOcean DNS: how to add it, nothing made"
seed nodomain '[]' '{"example.net": []}'
start_do available nodomain
deploy nodomain
[ "$RC" -eq 1 ] || fail "exit $RC"
grep -q "the domain 'example.org' is not in DigitalOcean DNS: add it with 'doctl compute domain create example.org' or in the control panel" "$T/nodomain.err" ||
	fail "missing domain not explained"
[ -z "$(changes)" ] || fail "changed: $(changes)"
violations; stop_do

seed plain
note "401: a clear message, exit 1, not retried"
start_do unauthorized plain
deploy unauthorized
[ "$RC" -eq 1 ] || fail "exit $RC"
grep -q "HTTP 401 unauthorized: Unable to authenticate you" "$T/unauthorized.err" || fail "no 401 message"
grep -q "check DIGITALOCEAN_TOKEN" "$T/unauthorized.err" || fail "does not say what to do"
[ "$(do_state 's.requests.length')" = 1 ] || fail "a 401 must not be retried"
violations; stop_do

note "429 with retry-after on the droplet create, then a used-up window: waits, succeeds"
start_do ratelimit plain
start=$(date +%s.%N)
deploy ratelimit
[ "$RC" -eq 0 ] || fail "exit $RC"
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "  took $took s"
[ "$(do_state 's.requests.filter(r=>r.status===429).map(r=>r.method+" "+r.path).join()')" = "POST /v2/droplets" ] || fail "expected one 429 on the create"
grep -q "rate limited (HTTP 429); retrying in 1 s" "$T/ratelimit.err" || fail "retry-after not honoured"
grep -q "API rate limit reached; waiting [12] s" "$T/ratelimit.err" || fail "ratelimit-remaining 0 not honoured"
one_droplet_seven_records
violations; stop_do

note "500 on the create, 503 on a droplet read: looked for, sent again, succeeds"
start_do server-error plain
deploy servererror -v
[ "$RC" -eq 0 ] || fail "exit $RC"
[ "$(do_state 's.requests.filter(r=>r.status>=500).length')" = 2 ] || fail "expected a 500 and a 503"
grep -q "looking whether the droplet was made before asking again" "$T/servererror.err" || fail "the failed create was not looked for"
[ "$(do_state 's.requests.filter(r=>r.method==="POST"&&r.path==="/v2/droplets").length')" = 2 ] || fail "the create was not sent again"
one_droplet_seven_records
violations; stop_do

note "a create done but answered 500 (droplet and record): found, no duplicates"
start_do lost-answer plain
deploy lost
[ "$RC" -eq 0 ] || fail "exit $RC"
[ "$(do_state 's.requests.filter(r=>r.method==="POST"&&r.path==="/v2/droplets").length')" = 1 ] || fail "the droplet create was sent again"
[ "$(do_state 's.requests.filter(r=>r.method==="POST"&&r.path.endsWith("/records")).length')" = 7 ] || fail "a record create was sent again"
grep -q "looking whether the record was made before asking again" "$T/lost.err" || fail "the lost record was not looked for"
one_droplet_seven_records
violations; stop_do

note "Ctrl-C while waiting for the droplet: says what is left; run again finishes it"
start_do available plain
set +e
MKMESH_POLL_SECONDS=30 ./mkmesh deploy droplet --site "$T/site.json" --region tor1 --ssh-key "$T/id_ed25519.pub" \
	--api-url "$API" </dev/null >"$T/intr.out" 2>"$T/intr.err" &
pid=$!
for i in $(seq 100); do grep -q "': new" "$T/intr.err" && break; sleep 0.1; done
kill -INT $pid; wait $pid; RC=$?
set -e
sed 's/^/  stderr: /' "$T/intr.err"
[ "$RC" -eq 1 ] || fail "exit $RC"
grep -q "interrupted; droplet 'mkmesh-example-org' (id 3164444) exists: run this again to make its records, or 'mkmesh destroy droplet mkmesh-example-org'" "$T/intr.err" ||
	fail "what is left is not said"
deploy resumed
[ "$RC" -eq 0 ] && grep -q "droplet mkmesh-example-org (id 3164444, tor1, s-2vcpu-4gb): kept" "$T/resumed.out" || fail "the second run did not carry on"
one_droplet_seven_records
violations; stop_do

note "images: by name, by id, not available, not in the region, none at all"
start_do available plain
deploy byname --image mkmesh-droplet-0.9-amd64 --dry-run
[ "$RC" -eq 0 ] && grep -q "image 7001 'mkmesh-droplet-0.9-amd64'" "$T/byname.out" || fail "--image NAME"
deploy byid --image 7002 --dry-run
[ "$RC" -eq 0 ] && grep -q "image 7002 'mkmesh-droplet-1.0-amd64'" "$T/byid.out" || fail "--image ID"
deploy pending --image 7003 --region nyc3
[ "$RC" -eq 1 ] && grep -q "image 7003 'mkmesh-droplet-1.1-amd64' is 'pending', not available" "$T/pending.err" || fail "pending image"
deploy noregion --image 7001 --region nyc3
[ "$RC" -eq 1 ] && grep -q "image 7001 'mkmesh-droplet-0.9-amd64' is not in region 'nyc3'.*doctl compute image-action transfer 7001 --region nyc3" "$T/noregion.err" ||
	fail "image in another region not explained"
deploy noid --image 99
[ "$RC" -eq 1 ] && grep -q "there is no image 99 in this account" "$T/noid.err" || fail "missing image id"
[ -z "$(changes)" ] || fail "changed: $(changes)"
violations; stop_do
IMAGES='[{"id": 7004, "name": "someone-elses", "regions": ["tor1"]}]'
seed noimage
start_do available noimage
deploy noimage
[ "$RC" -eq 1 ] && grep -q "there is no available image named mkmesh-droplet-\* in this account: make one with 'mkmesh build droplet' and 'mkmesh upload droplet'" "$T/noimage.err" ||
	fail "no image not explained"
violations; stop_do

note "the API cannot be reached: says so, exit 1"
deploy unreachable --api-url http://127.0.0.1:9
[ "$RC" -eq 1 ] && grep -q "check --api-url and the network" "$T/unreachable.err" || fail "unreachable API"

no_secrets
echo "all good"
