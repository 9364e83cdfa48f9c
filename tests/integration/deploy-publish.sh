#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The machine's publisher of its mesh names (overlays/cjdns/usr/lib/mkmesh/
# publish-mesh-dns), run on the host against the DigitalOcean API fixture
# with the site file and the cjdns address given by environment: without a
# token it prints the records; with one it makes h.matrix and h.chat AAAA +
# CAA; a second run changes nothing; a new address is updated in place;
# stale duplicates go; 429, 500 and a lost answer are retried without
# duplicates; 401 and a missing domain are explained; a token that is not
# one (a newline at its end) is refused before use. No token in any output.
cd "$(dirname "$0")/../.." || exit 1
. tests/fixtures/deploy-lib.sh
set -e
PUB=$ROOT/overlays/cjdns/usr/lib/mkmesh/publish-mesh-dns
A1=fc12:3456:789a::1 A2=fc98:7654:3210::2

THEIRS="@ A 198.51.100.1
@ CAA 0 issue letsencrypt.org
@ MX mail.example.org
@ NS ns1.digitalocean.com
@ TXT v=spf1 mx -all
www A 198.51.100.7"
mesh() { # mesh ADDRESS: the records the machine wants
	printf 'h.chat AAAA %s\nh.chat CAA 0 issue letsencrypt.org\nh.matrix AAAA %s\nh.matrix CAA 0 issue letsencrypt.org\n' "$1" "$1"
}
sorted() { printf '%s\n' "$@" | sed '/^$/d' | sort; }

# The checked site file as mkmesh-site.service leaves it in /run/mkmesh.
python3 - "$T/site.json" "$T/run-site.json" "$T/run-site-notoken.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s.update(registration="closed", tls="acme", acme_staging=False, yggdrasil={})
json.dump(s, open(sys.argv[2], "w"))
json.dump(dict(s, digitalocean_token=None), open(sys.argv[3], "w"))
PY

# publish OUTNAME [ARGS]: with the site file, address and API of the moment.
publish() {
	local name=$1; shift
	set +e
	MKMESH_SITE_FILE=${SITE:-$T/run-site.json} MKMESH_CJDNS_ADDRESS=$ADDR MKMESH_DO_API_URL=$API \
		python3 "$PUB" "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err"
	RC=$?
	set -e
	echo "\$ publish-mesh-dns $* (address $ADDR) -> exit $RC"
	sed 's/^/  stdout: /' "$T/$name.out" | head -n 30
	sed 's/^/  stderr: /' "$T/$name.err" | tail -n 20
}
# The fixture takes the site file's token here: it is the machine's.
TOKEN=$SITE_TOKEN

seed plain
start_do available plain
ADDR=$A1

note "no token: the records to add are printed, nothing is asked"
SITE=$T/run-site-notoken.json publish notoken
[ "$RC" -eq 0 ] || fail "exit $RC"
grep -q "h.matrix.example.org.  AAAA  $A1" "$T/notoken.out" || fail "AAAA not printed"
grep -q 'h.chat.example.org.  CAA   0 issue "letsencrypt.org"' "$T/notoken.out" || fail "CAA not printed"
grep -q "doctl compute domain records create example.org --record-type AAAA --record-name h.chat --record-data $A1" "$T/notoken.out" ||
	fail "no doctl command"
[ "$(do_state 's.requests.length')" = 0 ] || fail "asked the API without a token"

note "no site file: nothing to publish"
SITE=$T/nothing.json publish nosite
[ "$RC" -eq 0 ] && grep -q "nothing to publish" "$T/nosite.out" || fail "no site file"

note "--dry-run: the plan, no changing request"
publish dry --dry-run
[ "$RC" -eq 0 ] || fail "exit $RC"
[ "$(grep -c 'create ' "$T/dry.out")" = 4 ] || fail "the plan does not create 4 records"
[ -z "$(changes)" ] || fail "--dry-run sent: $(changes)"

note "with a token: h.matrix and h.chat AAAA + CAA"
publish first
[ "$RC" -eq 0 ] || fail "exit $RC"
[ "$(zone)" = "$(sorted "$THEIRS" "$(mesh $A1)")" ] || { zone; fail "not exactly the mesh records"; }
grep -q "h.matrix.example.org and h.chat.example.org point at $A1" "$T/first.out" || fail "no summary"
violations

note "again: nothing changes (a reboot)"
before=$(do_state 's.requests.length')
publish again
[ "$RC" -eq 0 ] && grep -q "(nothing to change)" "$T/again.out" || fail "second run"
[ -z "$(do_state "s.requests.slice($before).filter(r=>r.method!=='GET').map(r=>r.method).join(' ')")" ] || fail "the second run changed something"
[ "$(zone)" = "$(sorted "$THEIRS" "$(mesh $A1)")" ] || fail "the zone changed"

note "a new cjdns address: both AAAA updated in place (PUT), CAA kept"
ADDR=$A2
before=$(do_state 's.requests.length')
publish moved
[ "$RC" -eq 0 ] || fail "exit $RC"
[ "$(do_state "s.requests.slice($before).filter(r=>r.method!=='GET').map(r=>r.method).join(' ')")" = "PUT PUT" ] || fail "not two PUTs"
grep -q "update   h.matrix.example.org AAAA $A2 (was $A1)" "$T/moved.out" || fail "the update is not shown"
[ "$(zone)" = "$(sorted "$THEIRS" "$(mesh $A2)")" ] || { zone; fail "not exactly the mesh records"; }
violations; stop_do

note "stale duplicates (two old addresses, a right one twice): one each is left"
seed dups "[{\"type\": \"AAAA\", \"name\": \"h.matrix\", \"data\": \"$A1\"}, {\"type\": \"AAAA\", \"name\": \"h.matrix\", \"data\": \"fc00::9\"},
 {\"type\": \"AAAA\", \"name\": \"h.chat\", \"data\": \"$A2\"}, {\"type\": \"AAAA\", \"name\": \"h.chat\", \"data\": \"$A2\"}]"
start_do available dups
publish dups
[ "$RC" -eq 0 ] || fail "exit $RC"
[ "$(zone)" = "$(sorted "$THEIRS" "$(mesh $A2)")" ] || { zone; fail "not exactly the mesh records"; }
violations; stop_do

for sc in ratelimit server-error lost-answer; do
	note "$sc: retried, no duplicates"
	seed $sc
	start_do $sc $sc
	publish $sc
	[ "$RC" -eq 0 ] || fail "exit $RC"
	[ "$(zone)" = "$(sorted "$THEIRS" "$(mesh $A2)")" ] || { zone; fail "not exactly the mesh records"; }
	violations; stop_do
done
grep -q "rate limited (HTTP 429); retrying in 1 s" "$T/ratelimit.out" || fail "retry-after not honoured"
grep -q "looking whether it was done" "$T/lost-answer.out" || fail "the lost create was not looked for"

note "401: the token is named as the problem"
seed plain
start_do unauthorized plain
publish unauthorized
[ "$RC" -eq 1 ] && grep -q "DigitalOcean refused the digitalocean_token of the site file" "$T/unauthorized.err" || fail "401 not explained"
stop_do

note "the domain is not in DigitalOcean DNS"
seed nodomain '[]' '{"example.net": []}'
start_do available nodomain
publish nodomain
[ "$RC" -eq 1 ] && grep -q "the domain example.org is not in DigitalOcean DNS: add it (doctl compute domain create example.org" "$T/nodomain.err" ||
	fail "missing domain not explained"
violations; stop_do

note "no cjdns address: refused (a given one must be fc00::/8); without cjdroute nothing to do"
ADDR=2001:db8::1 publish notmesh
[ "$RC" -eq 1 ] && grep -q "not a cjdns address" "$T/notmesh.err" || fail "a non-mesh address is taken"
if ! command -v cjdroute >/dev/null && ! ip -6 addr show scope global | grep -q ' fc'; then
	ADDR= publish nocjdns --wait 0
	[ "$RC" -eq 0 ] && grep -q "this machine has no cjdns" "$T/nocjdns.out" || fail "no cjdns"
fi

note "a token with a newline at the end (a site file the old check let through): refused, no traceback"
python3 - "$T/run-site.json" "$T/run-site-newline.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["digitalocean_token"] += "\n"
json.dump(s, open(sys.argv[2], "w"))
PY
API=http://127.0.0.1:9 SITE=$T/run-site-newline.json publish newline --wait 0
[ "$RC" -eq 1 ] && grep -q "digitalocean_token: not a plain API token" "$T/newline.err" ||
	fail "a token with a newline is used"
! grep -q Traceback "$T/newline.err" || fail "a traceback (it may quote the token)"

no_secrets
echo "all good"
