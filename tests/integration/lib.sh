# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by the integration tests (sourced, not run): a work directory that
# goes away, checks that say what they checked, and QEMU machines booted
# from an image with a NoCloud seed, reached over SSH on a forwarded port.

set -u
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkmesh=$top/mkmesh
# The build cache is shared with users' builds and kept across runs.
export MKMESH_TEST_CACHE=${MKMESH_TEST_CACHE:-/var/cache/mkmesh}
work=$(mktemp -d /tmp/mkmesh-test.XXXXXX)
vm_pids=()
checks=0

cleanup() {
	local pid
	for pid in "${vm_pids[@]}"; do kill "$pid" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "${MKMESH_TEST_KEEP:-}" ]; then
		echo "kept for a look: $work (MKMESH_TEST_KEEP)" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

die() {
	echo "FAIL: $*" >&2
	exit 1
}

# check DESCRIPTION COMMAND...: runs COMMAND, fails the test if it fails.
check() {
	local what=$1
	shift
	if "$@"; then
		checks=$((checks + 1))
		echo "ok: $what"
	else
		die "$what"
	fi
}

skip() {
	echo "skipped: $*"
	exit 77
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ssh_key() {
	[ -f "$work/id" ] || ssh-keygen -q -t ed25519 -N '' -f "$work/id"
}

# seed NAME: a NoCloud seed ISO for machine NAME with our SSH key.
seed() {
	local name=$1 dir=$work/seed-$1
	ssh_key
	mkdir -p "$dir"
	cat >"$dir/meta-data" <<-EOF
		instance-id: $name
		local-hostname: $name
	EOF
	cat >"$dir/user-data" <<-EOF
		#cloud-config
		ssh_authorized_keys:
		  - $(cat "$work/id.pub")
	EOF
	genisoimage -quiet -output "$work/seed-$name.iso" -volid cidata -joliet -rock \
		"$dir/user-data" "$dir/meta-data"
}

# unpack_raw IMAGE.raw.gz DEST: a sparse raw disk.
unpack_raw() {
	gzip -dc "$1" | dd of="$2" bs=1M conv=sparse status=none
}

# boot NAME RAW SIZE: boots a copy-on-write overlay of RAW grown to SIZE
# under TCG; sets port_NAME to the forwarded SSH port.
boot() {
	local name=$1 raw=$2 size=$3 port
	port=$(free_port)
	qemu-img create -q -f qcow2 -b "$raw" -F raw "$work/$name.qcow2" "$size"
	seed "$name"
	qemu-system-x86_64 -accel tcg -m 1536 -smp 1 -display none -nodefaults \
		-drive file="$work/$name.qcow2",if=virtio,format=qcow2 \
		-drive file="$work/seed-$name.iso",if=virtio,format=raw,readonly=on \
		-netdev user,id=n0,hostfwd=tcp:127.0.0.1:"$port"-:22 \
		-device virtio-net-pci,netdev=n0 \
		-serial file:"$work/$name.console" &
	vm_pids+=($!)
	printf -v "port_$name" '%s' "$port"
}

# vm NAME COMMAND...: runs COMMAND on machine NAME as the default user.
vm() {
	local name=$1 port_var=port_$1
	shift
	ssh -q -i "$work/id" -p "${!port_var}" -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 -o BatchMode=yes \
		debian@127.0.0.1 "$@"
}

# wait_ssh NAME SECONDS
wait_ssh() {
	local name=$1 deadline=$((SECONDS + $2))
	while [ $SECONDS -lt $deadline ]; do
		vm "$name" true 2>/dev/null && return 0
		sleep 5
	done
	echo "--- console of $name (last 60 lines) ---" >&2
	tail -n 60 "$work/$name.console" >&2
	return 1
}

# --- services (tests/integration/services-*.sh) ---

# seed_site NAME SITE_JSON [GUESTPATH=HOSTFILE]...: like seed, with SITE_JSON
# written to /etc/mkmesh/site.json (and each HOSTFILE to its GUESTPATH, mode
# 0600) by cloud-init's write_files, as a user would.
seed_site() {
	local name=$1 site=$2 dir=$work/seed-$1 f
	shift 2
	ssh_key
	mkdir -p "$dir"
	cat >"$dir/meta-data" <<-EOF
		instance-id: $name
		local-hostname: $name
	EOF
	cat >"$dir/user-data" <<-EOF
		#cloud-config
		ssh_authorized_keys:
		  - $(cat "$work/id.pub")
		write_files:
		  - path: /etc/mkmesh/site.json
		    owner: root:root
		    permissions: '0600'
		    encoding: b64
		    content: $(base64 -w0 "$site")
	EOF
	for f in "$@"; do # GUESTPATH=HOSTFILE, root-only like the site file
		cat >>"$dir/user-data" <<-EOF
			  - path: ${f%%=*}
			    owner: root:root
			    permissions: '0600'
			    encoding: b64
			    content: $(base64 -w0 "${f#*=}")
		EOF
	done
	genisoimage -quiet -output "$work/seed-$name.iso" -volid cidata -joliet -rock \
		"$dir/user-data" "$dir/meta-data"
}

# boot_with NAME RAW SIZE MEM [--site FILE [--file GUESTPATH=HOSTFILE]...]
# [--fwd GUESTPORT]...: boot, with a site file (and more files) in the seed and
# more forwarded TCP ports; sets port_NAME (SSH) and port_NAME_GUESTPORT for
# each --fwd.
boot_with() {
	local name=$1 raw=$2 size=$3 mem=$4 site= fwd= p hp files=()
	shift 4
	while [ $# -gt 0 ]; do
		case $1 in
		--site) site=$2; shift 2 ;;
		--file) files+=("$2"); shift 2 ;;
		--fwd)
			hp=$(free_port)
			fwd="$fwd,hostfwd=tcp:127.0.0.1:$hp-:$2"
			printf -v "port_${name}_$2" '%s' "$hp"
			shift 2 ;;
		*) die "boot_with: unknown option $1" ;;
		esac
	done
	p=$(free_port)
	qemu-img create -q -f qcow2 -b "$raw" -F raw "$work/$name.qcow2" "$size"
	if [ -n "$site" ]; then seed_site "$name" "$site" "${files[@]}"; else seed "$name"; fi
	qemu-system-x86_64 -accel tcg -m "$mem" -smp 1 -display none -nodefaults \
		-drive file="$work/$name.qcow2",if=virtio,format=qcow2 \
		-drive file="$work/seed-$name.iso",if=virtio,format=raw,readonly=on \
		-netdev user,id=n0,hostfwd=tcp:127.0.0.1:"$p"-:22"$fwd" \
		-device virtio-net-pci,netdev=n0 \
		-monitor unix:"$work/$name.monitor",server=on,wait=off \
		-serial file:"$work/$name.console" &
	vm_pids+=($!)
	printf -v "port_$name" '%s' "$p"
}

# qemu_monitor NAME COMMAND: COMMAND in the QEMU monitor (HMP) of machine
# NAME (booted by boot_with); prints the answer, fails when it is an error.
qemu_monitor() {
	python3 - "$work/$1.monitor" "$2" <<'EOF_PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
def answer():
    buf = b""
    try:
        while not buf.endswith(b"(qemu) "):
            d = s.recv(4096)
            if not d:
                break
            buf += d
    except socket.timeout:
        pass
    return buf.decode(errors="replace")
answer()
s.sendall(sys.argv[2].encode() + b"\n")
out = answer().replace("(qemu) ", "").strip()
lines = [l for l in out.splitlines() if l.strip() and sys.argv[2] not in l]
print("\n".join(lines))
sys.exit(1 if any(w in out.lower() for w in ("error", "could not", "invalid", "unknown")) else 0)
EOF_PY
}

# fwd_udp NAME GUESTPORT: forwards a free UDP port of the host (127.0.0.1,
# which the other machines reach as 10.0.2.2) to GUESTPORT of machine NAME,
# while it runs (a port known only after boot, such as cjdns'); sets
# udp_NAME_GUESTPORT to the host's port.
fwd_udp() {
	local hp
	hp=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	qemu_monitor "$1" "hostfwd_add n0 udp:127.0.0.1:$hp-:$2" >/dev/null || return 1
	printf -v "udp_$1_$2" '%s' "$hp"
}

# failed_units NAME [EXPECTED-UNIT]: once boot has finished, the units that
# failed, one a line; the status and journal of each failed unit other than
# EXPECTED-UNIT go to the log, so that a failure seen once under load can be
# understood afterwards.
failed_units() {
	local name=$1 expected=${2:-} failed u
	vm "$name" systemctl is-system-running --wait >/dev/null
	failed=$(vm "$name" systemctl --failed --plain --no-legend | awk '{ print $1 }')
	for u in $failed; do
		[ "$u" = "$expected" ] && continue
		{
			echo "--- $name: $u failed ---"
			vm "$name" sudo systemctl status --no-pager -l "$u"
			vm "$name" sudo journalctl -b --no-pager -u "$u"
			console_tail "$name" 100
		} >&2
	done
	echo "$failed"
}

# no_failed_units NAME [LABEL]: check that no unit failed.
no_failed_units() {
	local failed
	failed=$(failed_units "$1")
	check "${2-$1: }no failed units (failed: $(echo ${failed:-none}))" test -z "$failed"
}

# console_tail NAME [LINES]: the end of a machine's serial console, for failures.
console_tail() {
	echo "--- console of $1 (last ${2:-60} lines) ---" >&2
	tail -n "${2:-60}" "$work/$1.console" >&2
}

# wait_for NAME SECONDS WHAT COMMAND...: runs COMMAND (on the host) until it
# succeeds; on timeout prints the console tail of NAME and fails.
wait_for() {
	local name=$1 secs=$2 deadline=$((SECONDS + $2)) what=$3
	shift 3
	while [ $SECONDS -lt $deadline ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 5
	done
	console_tail "$name"
	die "$name: $what: not after $secs s"
}

# serve_dir DIR: a loopback HTTP server for DIR; sets http_port.
serve_dir() {
	http_port=$(free_port)
	python3 -m http.server --bind 127.0.0.1 --directory "$1" "$http_port" >"$work/http.log" 2>&1 &
	vm_pids+=($!)
	local i
	for i in $(seq 50); do
		curl -sf -o /dev/null "http://127.0.0.1:$http_port/" && return 0
		sleep 0.1
	done
	die "the loopback HTTP server for $1 did not start"
}
