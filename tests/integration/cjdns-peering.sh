#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# cjdns peering for real: three nodes, A, B and C, each in a network
# namespace of its own on one bridge, each with a root of its own
# (MKMESH_ROOT: /etc/cjdroute.conf, /etc/mkmesh/site.json, /var/lib/mkmesh,
# the firewall), run the image's cjdns-genconf, site check and mkmesh-status
# from this checkout and a real cjdroute (v21.1, built once on this host by
# tests/lib/host-cjdroute.sh), with the image's firewall loaded in each.
#
# B's site file lists A from A's `mkmesh-status --peer-info`: B reaches A's
# fc00::/8 address, C (no peer) does not. B's peer with a wrong password, then
# removed, each applied by re-running the step (site check, cjdns-genconf,
# cjdroute restarted, as `systemctl restart mkmesh-site` does with
# PartOf=): B no longer reaches A, its keys and address unchanged. A site file
# that is not valid keeps the peers. Bad peer entries are refused by the check,
# naming the field. On the droplet LAN beacons are off (and C cannot find A);
# as Raspberry Pis, A and C find each other by LAN beacons, the firewall
# opening the beacon port. About a minute once cjdroute is built.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, tun devices, nftables)"
for t in ip nft unshare setsid dash python3 ping; do
	command -v "$t" >/dev/null || die "'$t' is not installed; run 'make test-deps'"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun on this host (cjdroute needs a tun device)"
rc=0
cjdroute=$(bash "$top/tests/lib/host-cjdroute.sh") || rc=$?
[ "$rc" = 77 ] && skip "no real cjdroute: the cjdns v21.1 source is not there (see tests/lib/host-cjdroute.sh)"
[ "$rc" = 0 ] || die "building the host's cjdroute failed (tests/lib/host-cjdroute.sh)"

tag=mkp$$
nodes="a b c"
declare -A ip4=([a]=10.77.0.1 [b]=10.77.0.2 [c]=10.77.0.3) ip6=([a]=fd77::1 [b]=fd77::2 [c]=fd77::3) pid=()
peering_cleanup() {
	local n
	for n in "${!pid[@]}"; do kill -- -"${pid[$n]}" 2>/dev/null; done
	for n in $nodes lan; do ip netns del "$tag-$n" 2>/dev/null; done
	cleanup
}
trap peering_cleanup EXIT

# The lib directory of the image (common.sh, site, cjdns-conf side by side).
lib=$work/lib
mkdir -p "$lib"
ln -s "$top"/overlays/base/usr/lib/mkmesh/common.sh "$top"/overlays/base/usr/lib/mkmesh/site \
	"$top"/overlays/cjdns/usr/lib/mkmesh/cjdns-conf "$lib/"
genconf=$top/overlays/cjdns/usr/lib/mkmesh/cjdns-genconf
status=$top/overlays/base/usr/bin/mkmesh-status

# --- the LAN: a bridge in a namespace of its own, a veth to each node
ip netns add "$tag-lan"
ip -n "$tag-lan" link add br0 type bridge
ip -n "$tag-lan" link set br0 up
for n in $nodes; do
	ip netns add "$tag-$n"
	ip link add "$tag-$n" netns "$tag-lan" type veth peer name eth0 netns "$tag-$n"
	ip -n "$tag-lan" link set "$tag-$n" master br0 up
	ip -n "$tag-$n" link set lo up
	ip -n "$tag-$n" addr add "${ip4[$n]}/24" broadcast 10.77.0.255 dev eth0
	ip -n "$tag-$n" addr add "${ip6[$n]}/64" dev eth0 nodad
	ip -n "$tag-$n" link set eth0 up
done

# kind NODE KIND: the node's /etc/mkmesh/build.json, as the build writes it.
kind() {
	printf '{"target": "%s", "kind": "%s", "layers": ["base", "cjdns"]}\n' "$2" "$2" >"$work/$1/etc/mkmesh/build.json"
}
for n in $nodes; do
	r=$work/$n
	mkdir -p "$r/etc/mkmesh" "$r/etc/nftables.d" "$r/run/mkmesh" "$r/var/lib/mkmesh"
	sed "s|/etc/nftables.d/|$r/etc/nftables.d/|" "$top/overlays/base/etc/nftables.conf" >"$r/etc/nftables.conf"
	kind "$n" droplet
done

# on NODE COMMAND...: COMMAND in NODE's namespace, with NODE's root.
on() {
	local n=$1
	shift
	ip netns exec "$tag-$n" env MKMESH_ROOT="$work/$n" MKMESH_LIB="$lib" MKMESH_CJDROUTE="$cjdroute" "$@"
}
# step NODE: what `systemctl restart mkmesh-site` does on a machine: the site
# check, then cjdns.service restarted (PartOf=), cjdns-genconf first.
step() {
	local n=$1
	on "$n" python3 "$lib/site" check >>"$work/$n.step.log" 2>&1
	echo "site check: $?" >>"$work/$n.step.log"
	stop "$n"
	on "$n" dash "$genconf" >>"$work/$n.step.log" 2>&1 || die "$n: cjdns-genconf failed: $(tail -n 3 "$work/$n.step.log")"
	start "$n"
}
# start NODE: cjdroute in the foreground, as cjdns.service runs it; /tmp
# (its core's pipe) and /run (its chroot) private, as on a machine of its own.
start() {
	local n=$1
	setsid ip netns exec "$tag-$n" unshare --mount --propagation private \
		sh -c 'mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /run && exec "$0" --nobg' "$cjdroute" \
		<"$work/$n/etc/cjdroute.conf" >>"$work/$n.cjdroute.log" 2>&1 &
	pid[$n]=$!
	local i
	for i in $(seq 100); do
		ip -n "$tag-$n" -6 addr show scope global 2>/dev/null | grep -q 'inet6 fc' && return 0
		sleep 0.1
	done
	die "$n: cjdroute did not bring up its tun address: $(tail -n 5 "$work/$n.cjdroute.log")"
}
stop() {
	local n=$1
	[ -n "${pid[$n]:-}" ] || return 0
	kill -- -"${pid[$n]}" 2>/dev/null
	wait "${pid[$n]}" 2>/dev/null
	unset "pid[$n]"
	while ip -n "$tag-$n" link show tun0 >/dev/null 2>&1; do sleep 0.1; done
}
conf() { python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$work/$1/etc/cjdroute.conf" "$2"; }
# reaches FROM TO SECONDS: FROM pings TO's cjdns address within SECONDS.
# (How long it took goes to took.log: a "does not reach" check waits several
# times as long as any "reaches" took.)
reaches() {
	local start=$SECONDS end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		if ip netns exec "$tag-$1" ping -6 -c 1 -W 1 "${fc[$2]}" >/dev/null 2>&1; then
			echo "$1 -> $2: $((SECONDS - start)) s" >>"$work/took.log"
			return 0
		fi
		sleep 0.5
	done
	return 1
}
fails() { ! "$@"; }

# --- first boot of each node: no site file yet, keys made, cjdroute up
declare -A fc key
for n in $nodes; do
	step "$n"
	fc[$n]=$(conf "$n" 'c["ipv6"]')
	key[$n]=$(conf "$n" 'c["publicKey"]')
done
check "three nodes, three cjdns addresses (${fc[a]}, ${fc[b]}, ${fc[c]})" \
	test "$(printf '%s\n' "${fc[@]}" | sort -u | wc -l)" = 3
check "the config is root-only" test "$(stat -c %a "$work/a/etc/cjdroute.conf")" = 600
pw=$work/a/var/lib/mkmesh/cjdns/peer-password
check "A's password for incoming peers is made, root-only" test "$(stat -c %a:%U "$pw")" = 600:root
check "... and is the only authorized password, with the login mkmesh-peer" \
	test "$(conf a '[(p["password"], p["user"]) for p in c["authorizedPasswords"]]')" = "[('$(cat "$pw")', 'mkmesh-peer')]"
port_a=$(conf a 'c["interfaces"]["UDPInterface"][0]["bind"].rsplit(":", 1)[1]')
check "droplet: LAN beacons off" test "$(conf a 'c["interfaces"]["UDPInterface"][0]["beacon"]')" = 0
check "droplet: the firewall opens cjdns' UDP port $port_a and no beacon port" \
	bash -c "grep -q 'udp dport { $port_a } accept' '$work/a/etc/nftables.d/cjdns.nft' && ! grep -q 64512 '$work/a/etc/nftables.d/cjdns.nft'"
check "... and that ruleset is loaded in A's namespace" \
	bash -c "ip netns exec $tag-a nft list ruleset | grep -q 'udp dport $port_a accept'"
check "no node reaches another without peers (B to A)" fails reaches b a 4
check "... nor C to A" fails reaches c a 2

# --- A's peer info, pasted into B's site file
on a python3 "$status" --peer-info >"$work/a.peer.json" 2>"$work/a.peer.err"
check "mkmesh-status --peer-info prints A's connectTo entry" python3 - "$work/a.peer.json" "$pw" "${key[a]}" "${ip4[a]}:$port_a" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
(addr, e), = d.items()
assert addr == sys.argv[4], addr
assert set(e) == {"login", "password", "publicKey", "peerName"}, e
assert e["password"] == open(sys.argv[2]).read().strip() and e["publicKey"] == sys.argv[3] and e["login"] == "mkmesh-peer"
PY
check "... and nothing else on stdout, nothing on stderr" test ! -s "$work/a.peer.err"
site() { # site NODE PYTHON-EXPR-FOR-PEERS (p: A's entry, with its address)
	python3 - "$work/a.peer.json" "$2" >"$work/$1/etc/mkmesh/site.json" <<'PY'
import json, sys
(addr, e), = json.load(open(sys.argv[1])).items()
p = dict(e, address=addr)
print(json.dumps({"domain": "example.test", "acme_email": "ops@example.test", "admin": {"user": "alice"},
                  "cjdns": {"peers": eval(sys.argv[2])}}, indent=1))
PY
}
site b '[p]'
step b
check "B's site file with A as its peer is valid" grep -q 'site check: 0' "$work/b.step.log"
check "B's keys are the same after the re-run" test "$(conf b 'c["ipv6"]') $(conf b 'c["publicKey"]')" = "${fc[b]} ${key[b]}"
check "A is in B's connectTo" test "$(conf b 'list(c["interfaces"]["UDPInterface"][0]["connectTo"])')" = "['${ip4[a]}:$port_a']"
check "B reaches A's cjdns address ${fc[a]} over the peering" reaches b a 30
check "A reaches B back" reaches a b 10
check "C, without the peer, does not reach A" fails reaches c a 5
password=$(cat "$pw")
check "no password in any log or console output" \
	bash -c "! grep -rqF -e '$password' -e '$(cat "$work/b/var/lib/mkmesh/cjdns/peer-password")' '$work'/*.log"
check "the public copy of B's site file has no password" \
	bash -c "! grep -qF '$password' '$work/b/run/mkmesh/site.public.json' && grep -q '\"(set)\"' '$work/b/run/mkmesh/site.public.json'"

# --- B's peer with a wrong password: refused by A
site b '[dict(p, password="wrong-password-0123456789")]'
step b
check "a wrong password: B no longer reaches A" fails reaches b a 8
check "... B's keys unchanged" test "$(conf b 'c["ipv6"]') $(conf b 'c["publicKey"]')" = "${fc[b]} ${key[b]}"
check "... A's keys unchanged" test "$(conf a 'c["ipv6"]') $(conf a 'c["publicKey"]')" = "${fc[a]} ${key[a]}"
site b '[p]'
step b
check "the right password again: B reaches A" reaches b a 30
# A site file that is not valid: nothing changes, the peers stay.
echo '{"domain": "example.test", "cjdns": {"peers": "x"}}' >"$work/b/etc/mkmesh/site.json"
step b
check "a site file that is not valid is refused" grep -q 'site check: 1' "$work/b.step.log"
check "... and B keeps its peer" test "$(conf b 'list(c["interfaces"]["UDPInterface"][0]["connectTo"])')" = "['${ip4[a]}:$port_a']"
check "... and still reaches A" reaches b a 30
# The peer removed.
site b '[]'
step b
check "peer removed: B's connectTo is empty" test "$(conf b 'c["interfaces"]["UDPInterface"][0]["connectTo"]')" = "{}"
check "... B no longer reaches A" fails reaches b a 8
check "... same keys and address" test "$(conf b 'c["ipv6"]') $(conf b 'c["publicKey"]')" = "${fc[b]} ${key[b]}"
check "... the password for incoming peers is kept" test "$(cat "$pw")" = "$password"

# --- an IPv6 peer: C lists A at [fd77::1]:port (cjdns' [::] interface)
on a python3 "$status" --peer-info --address "[${ip6[a]}]" >"$work/a.peer.json"
check "mkmesh-status --peer-info --address [${ip6[a]}]: A's IPv6 entry, with the port of its [::] interface" \
	test "$(python3 -c 'import json,sys; print(*json.load(open(sys.argv[1])))' "$work/a.peer.json")" = "[${ip6[a]}]:$(conf a '[u for u in c["interfaces"]["UDPInterface"] if u["bind"].startswith("[::]:")][0]["bind"].rsplit(":", 1)[1]')"
site c '[p]'
step c
check "C's IPv6 peer is in the connectTo of its [::] interface" \
	test "$(conf c '[list(u["connectTo"]) for u in c["interfaces"]["UDPInterface"]]')" = "[[], ['[${ip6[a]}]:$port_a']]"
check "C reaches A over the IPv6 peering" reaches c a 30
site c '[]'
step c
check "... and not once the peer is removed" fails reaches c a 8

for f in cjdns-address-hostname:address cjdns-key-short:publicKey cjdns-password-missing:password; do
	cp "$top/tests/fixtures/site/bad/${f%%:*}.json" "$work/b/etc/mkmesh/site.json"
	on b python3 "$lib/site" check >"$work/bad.out" 2>&1 && die "${f%%:*} passed the check"
	check "bad peer (${f%%:*}): the check names cjdns.peers[0].${f#*:}" \
		grep -q "site.json: cjdns.peers\[0\].${f#*:}: " "$work/bad.out"
done
check "... and never shows a password" bash -c "! grep -q 0123456789abcdef '$work/bad.out'"

# --- Raspberry Pis: LAN beacons on, the firewall opens their port; A and C
# find each other with no peers at all
for n in a c; do
	kind "$n" rpi
	step "$n"
done
check "rpi: LAN beacons on (2, all devices, port 64512)" \
	test "$(conf a '[c["interfaces"]["UDPInterface"][0][k] for k in ("beacon", "beaconDevices", "beaconPort")]')" = "[2, ['all'], 64512]"
check "rpi: the firewall opens the beacon port" grep -q 'udp dport { 64512 } accept' "$work/a/etc/nftables.d/cjdns.nft"
check "rpi: C reaches A by LAN beacons alone (cjdns beacons about every 30 s)" reaches c a 75
check "... A's keys unchanged" test "$(conf a 'c["ipv6"]') $(conf a 'c["publicKey"]')" = "${fc[a]} ${key[a]}"
echo "time to reach after a (re)start: $(tr '\n' ';' <"$work/took.log")"
echo "$checks checks passed"
