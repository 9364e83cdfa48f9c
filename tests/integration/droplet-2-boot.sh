#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the droplet image (base layer) and boots two machines from it in
# QEMU (TCG) with a NoCloud seed carrying an SSH key, as DigitalOcean would
# with its own datasource. Over SSH: the root file system grown to the disk,
# swap on, cloud-init done, no failed units, firewall loaded, root refused;
# and the two machines share no machine-id or SSH host key.
. "$(dirname "$0")/lib.sh"

out=$work/images
log=$work/build.log
# The base layer alone: what every image has (the services test does the rest).
"$mkmesh" build droplet --without cjdns,matrix,riot,web --out "$out" \
	--cache "$MKMESH_TEST_CACHE" --image-version test \
	>"$work/build.out" 2>"$log" || { cat "$log"; die "mkmesh build droplet failed"; }
cat "$log"
image=$out/mkmesh-droplet-test-amd64.raw.gz
manifest=$out/mkmesh-droplet-test-amd64.manifest.json
sbom=$out/mkmesh-droplet-test-amd64.spdx.json

check "build prints the image, manifest and SBOM paths" \
	diff <(printf '%s\n%s\n%s\n' "$image" "$manifest" "$sbom") "$work/build.out"
check "SHA256SUMS covers image, manifest and SBOM" \
	bash -c "cd '$out' && sha256sum --quiet -c SHA256SUMS && [ \$(wc -l <SHA256SUMS) -eq 3 ]"
check "the image is gzip (DigitalOcean takes gzip or bzip2)" gzip -t "$image"
check "manifest lists the base layer" \
	test "$(jq -r '[.layers[].name] | join(",")' "$manifest")" = base
check "manifest lists openssh-server with its version" \
	jq -e '.packages[] | select(.name == "openssh-server" and (.version | length > 0))' "$manifest" >/dev/null
check "manifest's image hash is the file's" \
	test "$(jq -r .image.sha256 "$manifest")" = "$(sha256sum "$image" | cut -d' ' -f1)"
check "inspect verifies the image against its manifest" \
	bash -c "'$mkmesh' inspect '$image' | grep -q 'matches the manifest'"
check "no temporary file is left beside the image" \
	test "$(ls -A "$out" | sort | tr '\n' ' ')" = "SHA256SUMS mkmesh-droplet-test-amd64.manifest.json mkmesh-droplet-test-amd64.raw.gz mkmesh-droplet-test-amd64.spdx.json "

raw=$work/disk.raw
unpack_raw "$image" "$raw"
check "MBR with one bootable partition from 1 MiB" \
	bash -c "sfdisk --dump '$raw' | grep -q 'start=        2048.*bootable'"

# Two machines at once, each on its own copy-on-write disk grown to 8 GiB.
boot one "$raw" 8G
boot two "$raw" 8G
check "machine one answers on SSH" wait_ssh one 900
check "machine two answers on SSH" wait_ssh two 600

for m in one two; do
	port_var=port_$m
	status=$(vm "$m" cloud-init status --wait)
	check "$m: cloud-init finished" grep -q 'status: done' <<<"$status"
	size=$(vm "$m" df -B1 --output=size / | tail -n 1)
	check "$m: root file system grown to the 8 GiB disk ($size bytes)" test "$size" -gt $((7 * 1024 * 1024 * 1024))
	# Boot finished (every first-boot unit ran), then look.
	no_failed_units "$m"
	swap=$(vm "$m" cat /proc/swaps | awk '$1 == "/swapfile" { print $3 }')
	check "$m: a 2 GiB swap file is on (${swap:-none} KiB)" test "${swap:-0}" -ge 2000000
	rules=$(vm "$m" sudo nft list chain inet filter input)
	check "$m: nftables drops by default" grep -q 'policy drop' <<<"$rules"
	check "$m: nftables allows SSH" grep -q 'tcp dport 22 accept' <<<"$rules"
	sshd=$(vm "$m" sudo sshd -T)
	check "$m: sshd refuses root" grep -qx 'permitrootlogin no' <<<"$sshd"
	check "$m: sshd refuses passwords" grep -qx 'passwordauthentication no' <<<"$sshd"
	check "$m: root login over SSH is refused" \
		bash -c "! ssh -q -i '$work/id' -p ${!port_var} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes root@127.0.0.1 true"
	check "$m: the build's own logs are not in the image" vm "$m" test ! -e /var/log/bootstrap.log -a ! -e /var/log/alternatives.log
done

id_one=$(vm one cat /etc/machine-id)
id_two=$(vm two cat /etc/machine-id)
key_one=$(vm one ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)
key_two=$(vm two ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)
check "machine-ids are set ($id_one, $id_two)" test -n "$id_one" -a -n "$id_two"
check "machine-ids differ" test "$id_one" != "$id_two"
check "SSH host keys differ" test "${key_one%% *}" != "" -a "$key_one" != "$key_two"

echo "$checks checks passed"
