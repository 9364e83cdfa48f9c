#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# mkmesh deploy droplet / destroy droplet against the DigitalOcean API
# fixture, which checks every request against the OpenAPI spec in
# ../shared/do-openapi and pages lists two items at a time: --dry-run sends
# no changing request; a deploy makes one droplet with the right body and
# exactly the records of the issue; a second deploy changes nothing; a
# conflicting record stops it before a droplet is made, --replace-records
# takes it over; destroy asks (or refuses without a tty), then deletes the
# droplet and exactly the records that point at it. No token in any output.
cd "$(dirname "$0")/../.." || exit 1
. tests/fixtures/deploy-lib.sh
set -e

D4=203.0.113.10 D6=2001:db8:1::10 # the first droplet's addresses in the fixture
OURS="_matrix._tcp SRV 10 0 8448 matrix.example.org
chat A $D4
chat AAAA $D6
chat CAA 0 issue letsencrypt.org
matrix A $D4
matrix AAAA $D6
matrix CAA 0 issue letsencrypt.org"
THEIRS="@ A 198.51.100.1
@ CAA 0 issue letsencrypt.org
@ MX mail.example.org
@ NS ns1.digitalocean.com
@ TXT v=spf1 mx -all
www A 198.51.100.7"
sorted() { printf '%s\n' "$@" | sed '/^$/d' | sort; }

seed plain
start_do available plain

note "--dry-run: the plan, and no POST, PUT, PATCH or DELETE"
deploy dry --dry-run
[ "$RC" -eq 0 ] || fail "exit $RC"
[ -z "$(changes)" ] || fail "--dry-run sent: $(changes)"
grep -q "droplet mkmesh-example-org (tor1, s-2vcpu-4gb, image 7002 'mkmesh-droplet-1.0-amd64'.*): create" "$T/dry.out" ||
	fail "the plan does not name the droplet and the newest available mkmesh image"
[ "$(grep -c '^  create ' "$T/dry.out")" = 7 ] || fail "the plan does not create 7 records"
grep -q "create   _matrix._tcp.example.org     SRV   10 0 8448 matrix.example.org." "$T/dry.out" || fail "no SRV in the plan"
deploy dryjson --dry-run --json
[ "$RC" -eq 0 ] || fail "exit $RC"
node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1])); if (!o.dry_run||o.droplet.action!=="create"||o.droplet.image!==7002||o.records.length!==7||o.records.some(r=>r.action!=="create")) process.exit(1)' "$T/dryjson.out" ||
	fail "unexpected --dry-run --json"
[ -z "$(changes)" ] || fail "--dry-run --json sent: $(changes)"

note "deploy: one droplet with the right body, exactly the records of the issue"
deploy first --backups --monitoring -v
[ "$RC" -eq 0 ] || fail "exit $RC"
[ "$(do_state 's.requests.filter(r=>r.method==="POST"&&r.path==="/v2/droplets").length')" = 1 ] || fail "not one droplet create"
node - "$DO_STATE" "$T/site.json" "$T/id_ed25519.pub" <<'JS' || fail "droplet create body (above)"
const fs = require('fs');
const s = require(process.argv[2]);
const b = s.requests.find((r) => r.method === 'POST' && r.path === '/v2/droplets').body;
const want = { name: 'mkmesh-example-org', region: 'tor1', size: 's-2vcpu-4gb', image: 7002, ipv6: true,
	backups: true, monitoring: true, tags: ['mkmesh'], ssh_keys: [] };
for (const [k, v] of Object.entries(want))
	if (JSON.stringify(b[k]) !== JSON.stringify(v)) { console.log(`body.${k} = ${JSON.stringify(b[k])}, want ${JSON.stringify(v)}`); process.exit(1); }
if (!b.user_data.startsWith('#cloud-config\n')) { console.log('user_data is not #cloud-config'); process.exit(1); }
fs.writeFileSync(process.argv[2] + '.user-data', b.user_data);
JS
# The user-data as cloud-init reads it (YAML): the site file, 0600, and the key.
if python3 -c 'import yaml' 2>/dev/null; then
	python3 - "$DO_STATE.user-data" "$T/site.json" "$T/id_ed25519.pub" <<'PY' || fail "user-data (above)"
import json, sys, yaml
ud = yaml.safe_load(open(sys.argv[1]))
wf = ud["write_files"]
assert len(wf) == 1 and wf[0]["path"] == "/etc/mkmesh/site.json", wf
assert wf[0]["permissions"] == "0600" and wf[0]["owner"] == "root:root", wf
assert json.loads(wf[0]["content"]) == json.load(open(sys.argv[2])), "site file content differs"
assert ud["ssh_authorized_keys"] == [open(sys.argv[3]).read().strip()], ud["ssh_authorized_keys"]
PY
else
	echo "  (python3-yaml is not installed: user-data not parsed as YAML)"
fi
[ "$(zone)" = "$(sorted "$OURS" "$THEIRS")" ] || { zone; fail "the zone is not exactly the records above"; }
grep -q "droplet mkmesh-example-org (id 3164444, tor1, s-2vcpu-4gb): created" "$T/first.out" || fail "summary"
grep -q "ipv4 $D4" "$T/first.out" && grep -q "ipv6 $D6" "$T/first.out" || fail "addresses not printed"
grep -q "https://chat.example.org" "$T/first.out" || fail "URLs not printed"
[ "$(grep -c '^  created ' "$T/first.out")" = 7 ] || fail "not 7 records created"
grep -q "droplet 3164444 'mkmesh-example-org': active" "$T/first.err" || fail "did not wait for active"
violations

note "deploy again: nothing changes"
before=$(do_state 's.requests.length')
deploy second --backups --monitoring --json
[ "$RC" -eq 0 ] || fail "exit $RC"
[ -z "$(do_state "s.requests.slice($before).filter(r=>r.method!=='GET').map(r=>r.method+' '+r.path).join(' ')")" ] ||
	fail "a second deploy changed something"
node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1])); if (o.dry_run||o.droplet.action!=="kept"||o.droplet.ipv4!=="203.0.113.10"||o.records.length!==7||o.records.some(r=>r.action!=="kept"||!r.id)) process.exit(1)' "$T/second.out" ||
	fail "unexpected JSON from the second deploy"
[ "$(zone)" = "$(sorted "$OURS" "$THEIRS")" ] || fail "the zone changed"
violations

note "destroy without a tty and without --yes: refused, nothing deleted"
before=$(do_state 's.requests.length')
run notty destroy droplet mkmesh-example-org --api-url "$API"
[ "$RC" -eq 2 ] || fail "exit $RC"
grep -q "refusing to destroy droplet 'mkmesh-example-org' without a confirmation.*--yes" "$T/notty.err" || fail "refusal not explained"
[ -z "$(do_state "s.requests.slice($before).filter(r=>r.method!=='GET').map(r=>r.method).join(' ')")" ] || fail "refusal deleted something"

note "destroy --dry-run: the plan, nothing deleted"
run destroydry destroy droplet mkmesh-example-org --api-url "$API" --dry-run
[ "$RC" -eq 0 ] || fail "exit $RC"
[ "$(grep -c '^  delete ' "$T/destroydry.out")" = 7 ] || fail "the plan does not delete 7 records"
# the plan is the result, on stdout, under its header, once; nothing of it on stderr
[ "$(head -n 1 "$T/destroydry.out")" = "plan (dry run: nothing was changed)" ] || fail "the dry run's plan has no header"
[ "$(grep -c '^plan (dry run' "$T/destroydry.out")" = 1 ] || fail "the dry run's header is not there once"
grep -q "^droplet mkmesh-example-org (id 3164444, .*): delete$" "$T/destroydry.out" || fail "the dry run does not name the droplet"
! grep -q "delete\|plan" "$T/destroydry.err" || fail "the dry run's plan went to stderr"
[ -z "$(do_state "s.requests.slice($before).filter(r=>r.method!=='GET').map(r=>r.method).join(' ')")" ] || fail "--dry-run deleted something"

if command -v script >/dev/null; then
	note "destroy on a terminal: asks; 'n' changes nothing"
	set +e
	echo n | script -qec "./mkmesh destroy droplet mkmesh-example-org --api-url $API" /dev/null >"$T/tty.out" 2>&1
	RC=$?
	set -e
	sed 's/^/  tty: /' "$T/tty.out" | tail -n 12
	grep -q "destroy droplet 'mkmesh-example-org' (id 3164444) and delete 7 DNS records? \[y/N\]" "$T/tty.out" || fail "no question"
	grep -q "not confirmed; nothing was changed" "$T/tty.out" || fail "'n' not taken as no"
	# the plan is shown before the question, and it is not a dry run's
	grep -q "^droplet mkmesh-example-org (id 3164444, .*): delete" "$T/tty.out" || fail "no plan before the question"
	! grep -q "dry run" "$T/tty.out" || fail "the plan before the question says it is a dry run"
	[ -z "$(do_state "s.requests.slice($before).filter(r=>r.method!=='GET').map(r=>r.method).join(' ')")" ] || fail "'n' deleted something"
fi

note "destroy --yes: the droplet and exactly the records that point at it"
# Again on a domain with a record of the user's that points at the droplet
# too (ssh), one at another machine, a mesh name and a CAA of its own.
stop_do
seed withmesh '[{"type": "A", "name": "ssh", "data": "203.0.113.10"},
 {"type": "AAAA", "name": "h.matrix", "data": "fc12:3456::1"},
 {"type": "A", "name": "other", "data": "203.0.113.11"},
 {"type": "CAA", "name": "www", "data": "letsencrypt.org", "flags": 0, "tag": "issue"}]'
start_do available withmesh
deploy third
[ "$RC" -eq 0 ] || fail "exit $RC"
run destroy destroy droplet mkmesh-example-org --api-url "$API" --yes
[ "$RC" -eq 0 ] || fail "exit $RC"
[ "$(do_state 'Object.keys(s.droplets).length')" = 0 ] || fail "the droplet is still there"
[ "$(do_state 's.requests.filter(r=>r.method==="DELETE"&&r.path.startsWith("/v2/droplets/")).length')" = 1 ] || fail "not one droplet delete"
[ "$(zone)" = "$(sorted "$THEIRS" "h.matrix AAAA fc12:3456::1" "other A 203.0.113.11" "www CAA 0 issue letsencrypt.org")" ] ||
	{ zone; fail "destroy did not leave exactly the other records"; }
grep -q "deleted  ssh.example.org              A     $D4" "$T/destroy.out" || fail "a record pointing at it (ssh) was not deleted"
grep -q "left     h.matrix.example.org AAAA fc12:3456::1" "$T/destroy.out" || fail "the mesh record is not mentioned"
grep -q "^droplet mkmesh-example-org (id .*): deleted$" "$T/destroy.out" || fail "the result does not say the droplet was deleted"
! grep -q "dry run" "$T/destroy.out" "$T/destroy.err" || fail "the result of --yes says it is a dry run"
violations

note "destroy a droplet that is not there: exit 1, clear"
run gone destroy droplet mkmesh-example-org --api-url "$API" --yes
[ "$RC" -eq 1 ] && grep -q "there is no droplet named 'mkmesh-example-org'" "$T/gone.err" || fail "missing droplet not explained"
stop_do

note "a record that points elsewhere: stops before a droplet is made, names it"
seed conflict '[{"type": "A", "name": "chat", "data": "198.51.100.9"}, {"type": "CNAME", "name": "matrix", "data": "www.example.org."}]'
start_do available conflict
deploy conflict
[ "$RC" -eq 1 ] || fail "exit $RC"
grep -q "record 'chat.example.org A 198.51.100.9' (id [0-9]*) points elsewhere" "$T/conflict.err" || fail "the conflicting record is not named"
[ "$(grep -c "record 'matrix.example.org CNAME www.example.org' (id [0-9]*) points elsewhere" "$T/conflict.err")" = 1 ] ||
	fail "the CNAME in the way is not named once"
grep -q -- "--replace-records" "$T/conflict.err" || fail "the way out is not told"
[ -z "$(changes)" ] || fail "a conflict changed something: $(changes)"

note "--replace-records: the A record is pointed at the droplet (PUT), the CNAME goes, no duplicates"
deploy replace --replace-records
[ "$RC" -eq 0 ] || fail "exit $RC"
[ "$(do_state 's.requests.filter(r=>r.method==="PUT").length')" = 1 ] || fail "not one PUT"
[ "$(do_state 's.requests.filter(r=>r.method==="DELETE").length')" = 1 ] || fail "not one DELETE (the CNAME)"
grep -q "deleted  matrix.example.org           CNAME www.example.org" "$T/replace.out" || fail "the CNAME delete is not shown"
grep -q "updated  chat.example.org             A     $D4 (was 198.51.100.9)" "$T/replace.out" || fail "the update is not shown"
[ "$(zone)" = "$(sorted "$OURS" "$THEIRS")" ] || { zone; fail "the zone is not exactly the records above"; }
violations
stop_do

note "usage: exit 2 and help with an example"
run help deploy --help
[ "$RC" = 0 ] && grep -q "^example:" "$T/help.out" || fail "deploy --help"
run help2 destroy --help
[ "$RC" = 0 ] && grep -q "^example:" "$T/help2.out" || fail "destroy --help"
run nosite deploy droplet --region tor1 --ssh-key "$T/id_ed25519.pub"
[ "$RC" = 2 ] && grep -q "missing --site" "$T/nosite.err" || fail "missing --site"
run nokey deploy droplet --site "$T/site.json" --region tor1
[ "$RC" = 2 ] && grep -q "missing --ssh-key" "$T/nokey.err" || fail "missing --ssh-key"
run privkey deploy droplet --site "$T/site.json" --region tor1 --ssh-key "$T/id_ed25519"
[ "$RC" = 2 ] && grep -q "is a private key" "$T/privkey.err" || fail "a private key is not refused"
DIGITALOCEAN_TOKEN= run notoken deploy droplet --site "$T/site.json" --region tor1 --ssh-key "$T/id_ed25519.pub"
[ "$RC" = 2 ] && grep -q "DIGITALOCEAN_TOKEN is not set" "$T/notoken.err" || fail "missing token"
echo '{"domain": "Example.org", "acme_email": "x", "colour": "blue"}' >"$T/bad-site.json"
run badsite deploy droplet --site "$T/bad-site.json" --region tor1 --ssh-key "$T/id_ed25519.pub" --api-url http://127.0.0.1:9
[ "$RC" = 1 ] || fail "exit $RC for a bad site file"
for m in "colour: unknown field" "domain: 'Example.org' is not a lower-case DNS name" "admin: missing"; do
	grep -q "$m" "$T/badsite.err" || fail "bad site file: '$m' not said"
done

note "site files the machine refuses (tests/fixtures/site/bad): refused before any request"
seed refused
start_do available refused
for f in token-null email-localhost user-uppercase registration-yes tls-letsencrypt port-0 domain-newline user-nel; do
	run "refused-$f" deploy droplet --site "tests/fixtures/site/bad/$f.json" --region tor1 \
		--ssh-key "$T/id_ed25519.pub" --api-url "$API"
	[ "$RC" = 1 ] && grep -q "the site file is not valid" "$T/refused-$f.err" || fail "bad/$f.json: exit $RC"
done
[ "$(do_state 's.requests.length')" = 0 ] || fail "requests were sent for a site file the machine refuses"
stop_do

note "user-data over 64 KiB: refused before any request"
seed big
start_do available big
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); s["admin"]["user"]="a"; s["acme_email"]="ops@example.org"; s["yggdrasil"]={"peers":["tls://peer%05d.example.net:443" % i for i in range(2500)]}; json.dump(s,open(sys.argv[2],"w"))' "$T/site.json" "$T/big-site.json"
run big deploy droplet --site "$T/big-site.json" --region tor1 --ssh-key "$T/id_ed25519.pub" --api-url "$API"
[ "$RC" = 1 ] && grep -q "the user-data would be [0-9]* bytes; DigitalOcean takes at most 65536" "$T/big.err" || fail "64 KiB limit"
[ "$(do_state 's.requests.length')" = 0 ] || fail "requests were sent for a too large user-data"
stop_do

no_secrets
echo "all good"
