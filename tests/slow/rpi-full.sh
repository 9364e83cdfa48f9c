#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# make test-slow: the full rpi image (cjdns and Element are STAND-INS, as in
# tests/integration/services-boot.sh): arm64, Debian sid (the only suite with
# Synapse for arm64), every services layer and yggdrasil, built under
# qemu-user (about 35 minutes when the rootfs is not cached), then booted
# the same way as rpi-2-boot: the image's kernel and initrd from its FAT
# partition in qemu-system-aarch64 -M virt (TCG), with the site file in a
# NoCloud seed on the FAT partition. Checks that the services answer:
# Synapse's client API through nginx over TLS, the .well-known documents,
# Element's config.json, and mkmesh-status.
. "$(dirname "$0")/../integration/lib.sh"
t0=$SECONDS
D=example.test

for t in zstd mcopy qemu-system-aarch64 ssh jq curl; do
	command -v "$t" >/dev/null || skip "$t is missing ('scripts/deps.sh --tests')"
done
sh "$top/tests/setup.d/binfmt.sh" >/dev/null 2>&1
[ -r /proc/sys/fs/binfmt_misc/qemu-aarch64 ] ||
	skip "arm64 emulation is off (qemu-user-static in binfmt_misc; tests/setup.d/binfmt.sh as root)"

# --- stand-ins served from loopback, and a recipe tree that points at them
art=$work/artifacts
# The real Element Web build, from the shared folder of upstream inputs (test
# data only: nothing outside tests/ uses it).
element_src=${MKMESH_SHARED_DIR:-$top/../shared}/upstream/element-v1.11.22.tar.gz
[ -f "$element_src" ] || skip "the real Element Web build is not at $element_src (MKMESH_SHARED_DIR)"
bash "$top/tests/fixtures/artifacts/make-standins.sh" "$art" "$element_src" || die "making the test artifacts failed"
. "$art/standins.env"
serve_dir "$art"
base_url=http://127.0.0.1:$http_port
tree=$work/tree
mkdir -p "$tree"
cp -r "$top/recipes" "$top/overlays" "$tree/"
mkdir -p "$tree/recipes/keys"
cp "$art/element-test.gpg" "$tree/recipes/keys/element-test.gpg"
jq --arg u "$base_url/cjdroute" --arg s "$cjdroute_sha256" \
	'(.artifacts[] | select(.arch == "arm64")) |= (.url = $u | .sha256 = $s)' \
	"$top/recipes/layers/cjdns.json" >"$tree/recipes/layers/cjdns.json"
jq --arg u "$base_url/$element_file" --arg s "$element_sha256" --arg f "$element_fpr" \
	'.artifacts[0] |= (.url = $u | .sha256 = $s | .signature.url = ($u + ".asc") |
	  .signature.key = "keys/element-test.gpg" | del(.signature.key_url) | .signature.fingerprint = $f)' \
	"$top/recipes/layers/riot.json" >"$tree/recipes/layers/riot.json"

tb=$SECONDS
out=$work/images
"$mkmesh" build rpi --recipes "$tree/recipes" --suite sid --no-check-valid-until --with yggdrasil \
	--image-version test --out "$out" --cache "$MKMESH_TEST_CACHE" >"$work/build.out" 2>"$work/build.log" ||
	{ cat "$work/build.log"; die "mkmesh build rpi --suite sid --with yggdrasil failed"; }
cat "$work/build.log"
echo "build: $((SECONDS - tb)) s"
image=$out/mkmesh-rpi-test-arm64.img.zst
manifest=$out/mkmesh-rpi-test-arm64.manifest.json
check "manifest lists every layer" \
	test "$(jq -r '[.layers[].name] | sort | join(",")' "$manifest")" = "base,cjdns,matrix,riot,web,yggdrasil"
check "manifest lists matrix-synapse, nginx, yggdrasil, raspi-firmware (arm64)" \
	jq -e '[.packages[] | select(.arch == "arm64" or .arch == "all") | .name] as $p | all("matrix-synapse", "nginx", "yggdrasil", "raspi-firmware"; . as $n | $p | index($n))' "$manifest" >/dev/null
check "SHA256SUMS covers image, manifest, bmap and SBOM" \
	bash -c "cd '$out' && sha256sum --quiet -c SHA256SUMS && [ \$(wc -l <SHA256SUMS) -eq 4 ]"

card=$work/card.img
zstd -q -d --sparse "$image" -o "$card"
export MTOOLS_SKIP_CHECK=1
fat="$card@@4M"
kpkg=$(jq -r '.packages[].name | select(test("^linux-image-[0-9].*-arm64$"))' "$manifest")
kver=${kpkg#linux-image-}
mcopy -i "$fat" "::vmlinuz-$kver" "$work/vmlinuz"
mcopy -i "$fat" "::initrd.img-$kver" "$work/initrd.img"
check "cmdline.txt: root=LABEL=RASPIROOT" bash -c "mtype -i '$fat' ::cmdline.txt | grep -q ' root=LABEL=RASPIROOT '"

# --- the site file in the seed on the FAT partition, as Raspberry Pi Imager would write it
cat >"$work/site.json" <<EOF_SITE
{
  "domain": "$D",
  "acme_email": "ops@$D",
  "admin": {"user": "root-admin"},
  "registration": "closed"
}
EOF_SITE
ssh_key
cat >"$work/meta-data" <<EOF
instance-id: mkmesh-rpi-full
local-hostname: pi-full
EOF
cat >"$work/user-data" <<EOF
#cloud-config
ssh_authorized_keys:
  - $(cat "$work/id.pub")
write_files:
  - path: /etc/mkmesh/site.json
    owner: root:root
    permissions: '0600'
    encoding: b64
    content: $(base64 -w0 "$work/site.json")
EOF
mcopy -i "$fat" "$work/user-data" "$work/meta-data" ::/
truncate -s 8G "$card"

port_pi=$(free_port)
p443=$(free_port)
tv=$SECONDS
qemu-system-aarch64 -M virt -cpu cortex-a57 -accel tcg,thread=multi -smp 2 -m 3072 \
	-display none -nodefaults -no-reboot \
	-kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
	-append "root=LABEL=RASPIROOT rw rootwait console=ttyAMA0 net.ifnames=0 systemd.show_status=1" \
	-drive file="$card",if=virtio,format=raw \
	-netdev user,id=n0,hostfwd=tcp:127.0.0.1:"$port_pi"-:22,hostfwd=tcp:127.0.0.1:"$p443"-:443 \
	-device virtio-net-pci,netdev=n0 \
	-serial file:"$work/pi.console" &
vm_pids+=($!)
check "the Pi answers on SSH" wait_ssh pi 2400
echo "ssh up: $((SECONDS - tv)) s after boot"
check "it is arm64" test "$(vm pi uname -m)" = aarch64
wait_for pi 3600 "Synapse answering through nginx" \
	bash -c "curl -sfk --max-time 30 --resolve matrix.$D:$p443:127.0.0.1 https://matrix.$D:$p443/_matrix/client/versions | grep -q '\"versions\"'"
echo "services up: $((SECONDS - tv)) s after boot"
tls() { curl -sk --max-time 30 --resolve "$1:$p443:127.0.0.1" "https://$1:$p443$2"; }
check "client API versions over TLS" jq -e '.versions | index("v1.1")' <<<"$(tls "matrix.$D" /_matrix/client/versions)"
server=$(tls "$D" /.well-known/matrix/server)
check ".well-known/matrix/server ($server)" jq -e --arg s "matrix.$D:443" '.["m.server"] == $s' <<<"$server"
config=$(tls "chat.$D" /config.json)
check "chat.$D/config.json points at https://matrix.$D" \
	jq -e --arg u "https://matrix.$D" '.default_server_config["m.homeserver"].base_url == $u' <<<"$config"
no_failed_units pi ""
status=$(vm pi mkmesh-status)
echo "$status"
check "mkmesh-status: a cjdns address in fc00::/8" grep -Eq '^cjdns: +fc[0-9a-f]{2}:' <<<"$status"
check "mkmesh-status: no step failed" bash -c "! grep -q FAILED <<<\"\$0\"" "$status"
size=$(vm pi df -B1 --output=size / | tail -n 1)
check "root file system grown to the 8 GiB card" test "$size" -gt $((7 * 1024 * 1024 * 1024))

echo "rpi-full: $checks checks passed in $((SECONDS - t0)) s (cjdns and Element were stand-ins)"
