#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The image's firewall (overlays/base/etc/nftables.conf, with the layers'
# nftables.d files) loaded for real by nft in a network namespace of its
# own: the metadata address (169.254.169.254, where the user-data and its
# token are served) answers root and refuses every other user at once;
# other outgoing traffic is not touched; ports not asked for are dropped.
. "$(dirname "$0")/lib.sh"
for t in nft ip unshare setpriv curl python3; do
	command -v "$t" >/dev/null || die "'$t' is not installed; run 'make test-deps'"
done
mkdir -p "$work/nftables.d"
cp "$top"/overlays/*/etc/nftables.d/*.nft "$work/nftables.d/"
sed "s|/etc/nftables.d/|$work/nftables.d/|" "$top/overlays/base/etc/nftables.conf" >"$work/nftables.conf"

cat >"$work/inside.sh" <<'INSIDE'
set -u
work=$1
ip link set lo up
ip addr add 169.254.169.254/32 dev lo
ip addr add 192.0.2.1/32 dev lo
nft -f "$work/nftables.conf" || { echo "nft refused the ruleset"; exit 1; }
python3 -m http.server --bind 169.254.169.254 80 >/dev/null 2>&1 &
python3 -m http.server --bind 192.0.2.1 80 >/dev/null 2>&1 &
for i in $(seq 50); do curl -s -o /dev/null http://169.254.169.254/ && curl -s -o /dev/null http://192.0.2.1/ && break; sleep 0.1; done
as() { setpriv --reuid="$1" --regid="$1" --clear-groups -- "${@:2}"; }
code() { curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@"; echo " rc=$?"; }
echo "root metadata: $(code http://169.254.169.254/)"
start=$(date +%s%N)
echo "nobody metadata: $(as 65534 curl -s -o /dev/null --max-time 5 -w '%{http_code}' http://169.254.169.254/; echo " rc=$?")"
echo "nobody metadata ms: $((($(date +%s%N) - start) / 1000000))"
echo "nobody other: $(as 65534 curl -s -o /dev/null --max-time 5 -w '%{http_code}' http://192.0.2.1/; echo " rc=$?")"
kill %1 %2
INSIDE
unshare -n bash "$work/inside.sh" "$work" >"$work/out" 2>&1
cat "$work/out"
check "root reaches the metadata service" grep -qx "root metadata: 200 rc=0" "$work/out"
check "another user is refused (connection refused, curl exit 7)" grep -qx "nobody metadata: 000 rc=7" "$work/out"
ms=$(sed -n 's/^nobody metadata ms: //p' "$work/out")
check "... at once, not after a timeout (${ms:-?} ms)" test "${ms:-9999}" -lt 3000
check "another user's other traffic goes out" grep -qx "nobody other: 200 rc=0" "$work/out"
echo "$checks checks passed"
