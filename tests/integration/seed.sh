#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# mkmesh seed, in seconds, without an image: the ISO is labelled cidata with
# Rock Ridge and Joliet names (isoinfo, blkid), holds user-data byte for byte
# as `mkmesh deploy` sends it to a droplet (the DigitalOcean API fixture
# records the request) and meta-data with a stable instance-id and the host
# name; --fat writes the same files; a bad site file gets deploy's very
# words; bad keys and targets are refused; an existing output is kept and a
# failed run leaves no file behind.
. "$(dirname "$0")/lib.sh"
# MKMESH_TEST_BIN runs another mkmesh binary (e.g. a sanitizer build) instead.
mkmesh=${MKMESH_TEST_BIN:-$mkmesh}

for t in isoinfo ssh-keygen cmp; do
	command -v "$t" >/dev/null || skip "$t is missing ('scripts/deps.sh --tests': genisoimage, openssh-client)"
done
[ -x "$mkmesh" ] || die "'$mkmesh' is not built; run 'make mkmesh'"

site=$top/tests/fixtures/site/good/full.json # domain example.org, with a token
ssh_key                                      # $work/id, $work/id.pub
out=$work/out
mkdir -p "$out"

# run NAME ARGS...: mkmesh ARGS, exit status in $rc, output in $work/NAME.{out,err}.
run() {
	local name=$1
	shift
	rc=0
	"$mkmesh" "$@" </dev/null >"$work/$name.out" 2>"$work/$name.err" || rc=$?
}
# only_files DIR NAMES...: DIR holds exactly NAMES (no temporaries).
only_files() {
	local dir=$1
	shift
	[ "$(cd "$dir" && ls -A | sort | tr '\n' ' ')" = "$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')" ] ||
		{ echo "  $dir holds: $(ls -A "$dir")"; return 1; }
}
has() { grep -q -e "$2" "$work/$1" || { sed 's/^/  /' "$work/$1"; return 1; }; }

# --- the ISO ---
run iso seed --site "$site" --ssh-key "$work/id.pub" -o "$out/seed.iso"
check "seed -o: exit 0" test "$rc" = 0
check "seed -o: says what it wrote and how to attach it" has iso.out "media=cdrom"
check "seed -o: the ISO is there, mode 0600 (it holds the site file)" \
	test "$(stat -c %a "$out/seed.iso")" = 600
isoinfo -d -i "$out/seed.iso" >"$work/isoinfo-d"
check "isoinfo -d: volume id cidata (ISO 9660 upper-cases the primary one)" \
	grep -qix 'Volume id: cidata' "$work/isoinfo-d"
check "isoinfo -d: Joliet and Rock Ridge" \
	sh -c "grep -q 'Joliet' '$work/isoinfo-d' && grep -q 'Rock Ridge' '$work/isoinfo-d'"
if command -v blkid >/dev/null; then
	# What cloud-init's ds-identify and NoCloud look the seed up by.
	check "blkid: LABEL=\"cidata\" exactly" test "$(blkid -o value -s LABEL "$out/seed.iso")" = cidata
fi
isoinfo -J -l -i "$out/seed.iso" | awk '/^-/ {print $NF}' | sort >"$work/joliet-names"
check "Joliet names: exactly meta-data and user-data" test "$(tr '\n' ' ' <"$work/joliet-names")" = "meta-data user-data "
isoinfo -R -l -i "$out/seed.iso" | awk '/^-/ {print $NF}' | sort >"$work/rr-names"
check "Rock Ridge names: exactly meta-data and user-data" cmp -s "$work/joliet-names" "$work/rr-names"
for f in user-data meta-data; do
	isoinfo -J -x "/$f" -i "$out/seed.iso" >"$work/iso.$f"
	isoinfo -R -x "/$f" -i "$out/seed.iso" >"$work/iso-rr.$f"
	check "$f: the same through Joliet and Rock Ridge" cmp -s "$work/iso.$f" "$work/iso-rr.$f"
done
check "user-data: #cloud-config first" test "$(head -n1 "$work/iso.user-data")" = "#cloud-config"
check "user-data: the key, as a quoted scalar" grep -qF "  - \"$(cat "$work/id.pub")\"" "$work/iso.user-data"
if python3 -c 'import yaml' 2>/dev/null; then
	check "user-data as cloud-init reads it: the site file (0600) and the key" \
		python3 - "$work/iso.user-data" "$site" "$work/id.pub" <<'PY'
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
check "meta-data: an instance-id, and the host name deploy gives the droplet" \
	grep -qxE 'instance-id: iid-mkmesh-[0-9a-f]{16}' "$work/iso.meta-data"
check "meta-data: local-hostname mkmesh-example-org" grep -qx 'local-hostname: mkmesh-example-org' "$work/iso.meta-data"
check "meta-data: exactly those two lines" test "$(wc -l <"$work/iso.meta-data")" = 2
check "seed -o: nothing else in the output directory" only_files "$out" seed.iso

# --- the same user-data as deploy: the droplet create request the API fixture saw ---
bash -c '
	. tests/fixtures/deploy-lib.sh
	cp "$1" "$T/site.json" && cp "$2" "$T/id_ed25519.pub" || fail "copy"
	seed plain
	start_do available plain
	deploy first >/dev/null
	[ "$RC" = 0 ] || { cat "$T/first.err"; fail "deploy: exit $RC"; }
	node -e "const s=require(process.argv[1]); const b=s.requests.find(r=>r.method===\"POST\"&&r.path===\"/v2/droplets\").body; require(\"fs\").writeFileSync(process.argv[2], b.user_data); console.log(b.name)" \
		"$DO_STATE" "$3" >"$3.name" || fail "no droplet create request"
' deploy-user-data "$site" "$work/id.pub" "$work/deploy.user-data" >"$work/deploy.log" 2>&1
drc=$?
if [ "$drc" = 77 ]; then
	echo "  (deploy's request not compared: $(grep -m1 '^skip' "$work/deploy.log"))"
else
	[ "$drc" = 0 ] || { sed 's/^/  /' "$work/deploy.log"; die "deploy against the API fixture"; }
	check "user-data: byte for byte what deploy sent in POST /v2/droplets" \
		cmp "$work/iso.user-data" "$work/deploy.user-data"
	check "the default host name is the droplet's name" test "$(cat "$work/deploy.user-data.name")" = mkmesh-example-org
fi

# --- stable, and --hostname ---
run again seed --site "$site" --ssh-key "$work/id.pub" -o "$out/again.iso"
isoinfo -J -x /meta-data -i "$out/again.iso" >"$work/again.meta-data"
check "the same inputs: the same meta-data (instance-id from the content)" cmp -s "$work/iso.meta-data" "$work/again.meta-data"
run host seed --site "$site" --ssh-key "$work/id.pub" --hostname mesh-1 -o "$out/host.iso" -q
check "--hostname -q: exit 0, nothing printed" sh -c "[ $rc = 0 ] && [ ! -s '$work/host.out' ]"
isoinfo -J -x /meta-data -i "$out/host.iso" >"$work/host.meta-data"
isoinfo -J -x /user-data -i "$out/host.iso" >"$work/host.user-data"
check "--hostname: local-hostname mesh-1" grep -qx 'local-hostname: mesh-1' "$work/host.meta-data"
check "--hostname: another instance-id" \
	test "$(head -n1 "$work/host.meta-data")" != "$(head -n1 "$work/iso.meta-data")"
check "--hostname: the user-data unchanged" cmp -s "$work/iso.user-data" "$work/host.user-data"
run badhost seed --site "$site" --ssh-key "$work/id.pub" --hostname 'Mesh_1' -o "$out/badhost.iso"
check "--hostname Mesh_1: refused (exit 2)" sh -c "[ $rc = 2 ] && grep -q 'is not a host name' '$work/badhost.err'"
printf 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n' >"$work/net.yaml"
run net seed --site "$site" --ssh-key "$work/id.pub" --network-config "$work/net.yaml" -o "$out/net.iso"
isoinfo -J -x /network-config -i "$out/net.iso" >"$work/net.network-config"
check "--network-config: in the ISO as network-config" cmp -s "$work/net.yaml" "$work/net.network-config"

# --- --fat DIR ---
fat=$work/fat
mkdir -p "$fat"
touch "$fat/config.txt" # a firmware partition is not empty
run fat seed --site "$site" --ssh-key "$work/id.pub" --fat "$fat"
check "--fat: exit 0" test "$rc" = 0
check "--fat: user-data and meta-data there, no temporaries" only_files "$fat" config.txt meta-data user-data
check "--fat: user-data the same as in the ISO" cmp -s "$fat/user-data" "$work/iso.user-data"
check "--fat: meta-data the same as in the ISO" cmp -s "$fat/meta-data" "$work/iso.meta-data"
# The names the rpi image's cloud-init reads from its FAT partition.
for f in user-data meta-data; do
	check "target_rpi.c names '$f' as a seed file on the FAT partition" grep -q "$f" "$top/builder/target_rpi.c"
done
run fat2 seed --site "$site" --ssh-key "$work/id.pub" --hostname other --fat "$fat"
check "--fat again: refused, the files there kept" \
	sh -c "[ $rc = 1 ] && grep -q 'exists' '$work/fat2.err' && cmp -s '$fat/meta-data' '$work/iso.meta-data'"
run fat3 seed --site "$site" --ssh-key "$work/id.pub" --hostname other --fat "$fat" --force
check "--fat --force: replaced" grep -qx 'local-hostname: other' "$fat/meta-data"
run fatfile seed --site "$site" --ssh-key "$work/id.pub" --fat "$work/id.pub"
check "--fat FILE: refused, not a directory" sh -c "[ $rc = 1 ] && grep -q 'is not a directory' '$work/fatfile.err'"
run fatnone seed --site "$site" --ssh-key "$work/id.pub" --fat "$work/nonexistent"
check "--fat MISSING: refused, nothing made" sh -c "[ $rc = 1 ] && [ ! -e '$work/nonexistent' ]"
run both seed --site "$site" --ssh-key "$work/id.pub" --fat "$fat" -o "$out/x.iso"
check "-o and --fat together: usage error" sh -c "[ $rc = 2 ] && [ ! -e '$out/x.iso' ]"

# --- an existing output is kept ---
echo mine >"$out/mine.iso"
run exists seed --site "$site" --ssh-key "$work/id.pub" -o "$out/mine.iso"
check "an existing -o: refused (exit 1), not touched" \
	sh -c "[ $rc = 1 ] && grep -q \"'$out/mine.iso' exists\" '$work/exists.err' && [ \"\$(cat '$out/mine.iso')\" = mine ]"
run force seed --site "$site" --ssh-key "$work/id.pub" -o "$out/mine.iso" --force
check "--force: replaced by a seed" sh -c "[ $rc = 0 ] && isoinfo -d -i '$out/mine.iso' | grep -qi 'volume id: cidata'"
run isdir seed --site "$site" --ssh-key "$work/id.pub" -o "$out" --force
check "-o DIRECTORY: refused, even with --force" sh -c "[ $rc = 1 ] && grep -q 'is a directory' '$work/isdir.err'"

# --- a bad site file: deploy's words, and no file ---
export DIGITALOCEAN_TOKEN=dop_v1_fake DIGITALOCEAN_ACCESS_TOKEN=
for bad in domain-upper json-truncated email-missing token-short cjdns-password-short; do
	f=$top/tests/fixtures/site/bad/$bad.json
	run "bad-$bad" seed --site "$f" --ssh-key "$work/id.pub" -o "$out/bad.iso"
	src=$rc
	# deploy reads the site file before it sends anything (nothing listens on port 9)
	run "deploy-$bad" deploy droplet --site "$f" --region tor1 --ssh-key "$work/id.pub" --api-url http://127.0.0.1:9
	check "bad/$bad.json: refused (exit 1), as deploy refuses it" sh -c "[ $src = 1 ] && [ $rc = 1 ]"
	check "bad/$bad.json: the same message as deploy" cmp "$work/bad-$bad.err" "$work/deploy-$bad.err"
	check "bad/$bad.json: the message names the file" grep -qF "$f" "$work/bad-$bad.err"
done
mkdir -p "$work/fat-empty"
run badfat seed --site "$top/tests/fixtures/site/bad/domain-upper.json" --ssh-key "$work/id.pub" --fat "$work/fat-empty"
check "a bad site file with --fat: nothing written" only_files "$work/fat-empty"

# --- bad keys ---
run nokey seed --site "$site" -o "$out/nokey.iso"
check "no --ssh-key: usage error (exit 2)" sh -c "[ $rc = 2 ] && grep -q 'missing --ssh-key' '$work/nokey.err'"
run missingkey seed --site "$site" --ssh-key "$work/nonexistent.pub" -o "$out/k.iso"
check "a missing key file: refused (exit 2)" \
	sh -c "[ $rc = 2 ] && grep -q \"cannot read --ssh-key '$work/nonexistent.pub'\" '$work/missingkey.err'"
run privkey seed --site "$site" --ssh-key "$work/id" -o "$out/k.iso"
check "a private key: refused, with the file to give" sh -c "[ $rc = 2 ] && grep -q 'is a private key' '$work/privkey.err'"
echo "not a key" >"$work/notkey.pub"
run notkey seed --site "$site" --ssh-key "$work/notkey.pub" -o "$out/k.iso"
check "a file without a key line: refused" sh -c "[ $rc = 2 ] && grep -q 'has no public key' '$work/notkey.err'"
echo "ssh-ed25519 AAAA tester@host" >"$work/shortkey.pub"
run shortkey seed --site "$site" --ssh-key "$work/shortkey.pub" -o "$out/k.iso"
check "a malformed key line: refused, naming the line" \
	sh -c "[ $rc = 2 ] && grep -q 'line 1 is not an OpenSSH public key' '$work/shortkey.err'"
chmod 000 "$work/notkey.pub"
if ! cat "$work/notkey.pub" >/dev/null 2>&1; then # not as root
	run unreadable seed --site "$site" --ssh-key "$work/notkey.pub" -o "$out/k.iso"
	check "an unreadable key file: refused" sh -c "[ $rc = 2 ] && grep -q 'cannot read --ssh-key' '$work/unreadable.err'"
fi

# --- a failure while writing leaves nothing ---
rc=0
TMPDIR=$work/no-such-tmp "$mkmesh" seed --site "$site" --ssh-key "$work/id.pub" -o "$out/late.iso" \
	>"$work/late.out" 2>"$work/late.err" || rc=$?
check "libarchive cannot make its spool file: refused (exit 1)" \
	sh -c "[ $rc = 1 ] && grep -q 'cannot write the seed' '$work/late.err'"
run nodir seed --site "$site" --ssh-key "$work/id.pub" -o "$work/no/such/dir/seed.iso"
check "-o in a missing directory: refused (exit 1)" test "$rc" = 1
check "after all the refusals: only the seeds that were made" \
	only_files "$out" again.iso host.iso mine.iso net.iso seed.iso

run help seed --help
check "--help: both forms, the qemu example" \
	sh -c "grep -q -- '-o SEED.iso' '$work/help.out' && grep -q -- '--fat DIR' '$work/help.out' && grep -q 'media=cdrom' '$work/help.out'"
"$mkmesh" --help | grep -q '^  seed ' || die "seed is not in 'mkmesh --help'"

echo "$checks checks passed"
