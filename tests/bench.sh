#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# make bench: mkmesh's speed and memory as ratios against baselines measured
# in the same run, on this machine.
#   1. cold build (empty rootfs cache) / mmdebstrap alone, same packages and
#      the same apt archive cache                             target <= 1.5
#   2. rebuild after one overlay file changed / cold build    target <= 0.25
#   3. mkmesh's own peak RSS (VmHWM of the mkmesh process)    target < 100 MB
#   4. two builds from the last build's manifest (--from-manifest), the
#      second with the disk cache emptied (the disk made anew): differing
#      bytes of the raw disks (cmp -l)                         target 0
#      and the second one's time / the first one's
# The droplet with its base layer: what mmdebstrap alone can be compared to.
# Then each further bench-*.sh beside this file (upload throughput, ...).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mkmesh=$top/mkmesh
shared_cache=${MKMESH_BENCH_CACHE:-/var/cache/mkmesh}
work=$(mktemp -d /tmp/mkmesh-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The same apt archive cache for both sides: what is measured is the work,
# not the network.
mkdir -p "$shared_cache/apt/amd64" "$work/cache"
ln -s "$shared_cache/apt" "$work/cache/apt"
cp -r "$top/recipes" "$top/overlays" "$work/"

pkgs=$(jq -r '[.packages[]] | join(",")' "$top/recipes/droplet.json"),$(
	jq -r '[.packages[]] | join(",")' "$top/recipes/layers/base.json")
suite=$(jq -r .suite "$top/recipes/droplet.json")
mirror=$(jq -r .mirror "$top/recipes/droplet.json")

# run_timed COMMAND...: runs COMMAND, prints its seconds; its own peak RSS
# (VmHWM, children not counted) goes to $work/rss in KiB.
run_timed() {
	local start end pid hwm rss_kb=0
	start=$(date +%s.%N)
	"$@" >"$work/out" 2>"$work/err" &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		hwm=$(awk '/^VmHWM:/ { print $2 }' /proc/$pid/status 2>/dev/null || true)
		[ -n "$hwm" ] && [ "$hwm" -gt "$rss_kb" ] && rss_kb=$hwm
		sleep 0.2
	done
	wait $pid || { cat "$work/err" >&2; exit 1; }
	end=$(date +%s.%N)
	echo "$rss_kb" >"$work/rss"
	echo "$end - $start" | bc
}

echo "mkmesh bench ($(nproc) cores; apt archives cached in both runs)"

t_mm=$(run_timed mmdebstrap --mode=root --variant=apt --format=tar --include="$pkgs" \
	--skip=essential/unlink --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
	--setup-hook="sync-in '$shared_cache/apt/amd64' /var/cache/apt/archives/" \
	--customize-hook="sync-out /var/cache/apt/archives '$shared_cache/apt/amd64'" \
	"$suite" "$work/mmdebstrap.tar" "$mirror")
rm -f "$work/mmdebstrap.tar"
printf '  %-48s %7.1f s\n' "mmdebstrap alone (baseline)" "$t_mm"

build() {
	# exec: the process measured is mkmesh itself, not a subshell
	exec "$mkmesh" build droplet -q --without cjdns,matrix,riot,web --recipes "$work/recipes" --cache "$work/cache" \
		--out "$work/images" --image-version bench
}
t_cold=$(run_timed build)
rss_cold=$(cat "$work/rss")
printf '  %-48s %7.1f s\n' "mkmesh build droplet, cold" "$t_cold"

echo "# changed for the benchmark" >>"$work/overlays/base/etc/ssh/sshd_config.d/50-mkmesh.conf"
t_re=$(run_timed build)
rss_re=$(cat "$work/rss")
printf '  %-48s %7.1f s\n' "mkmesh build droplet, one overlay file changed" "$t_re"

# Two rebuilds from one manifest; the first also runs mmdebstrap (the
# versions pinned), the second makes only the disk.
rebuild() {
	exec "$mkmesh" build droplet -q --from-manifest "$work/images/mkmesh-droplet-bench-amd64.manifest.json" \
		--recipes "$work/recipes" --cache "$work/cache" --out "$1"
}
t_r1=$(run_timed rebuild "$work/rebuild1")
printf '  %-48s %7.1f s\n' "mkmesh build droplet --from-manifest" "$t_r1"
rm -rf "$work/cache/disks"
t_r2=$(run_timed rebuild "$work/rebuild2")
printf '  %-48s %7.1f s\n' "the same again, empty disk cache" "$t_r2"
for n in 1 2; do
	gzip -dc "$work"/rebuild$n/*.raw.gz | dd of="$work/rebuild$n.raw" bs=1M conv=sparse status=none
done
differ=$(cmp -l "$work/rebuild1.raw" "$work/rebuild2.raw" | wc -l)
rm -f "$work"/rebuild?.raw

rss=$((rss_cold > rss_re ? rss_cold : rss_re))
echo
printf '  %-48s %7.2f   (target <= 1.5)\n' "cold build / mmdebstrap alone" "$(echo "$t_cold / $t_mm" | bc -l)"
printf '  %-48s %7.2f   (target <= 0.25)\n' "rebuild after an overlay change / cold build" "$(echo "$t_re / $t_cold" | bc -l)"
printf '  %-48s %7.1f MB (target < 100)\n' "mkmesh peak RSS" "$(echo "$rss / 1024" | bc -l)"
printf '  %-48s %7d    (target 0)\n' "rebuilds from one manifest: differing bytes" "$differ"
printf '  %-48s %7.2f\n' "rebuild, fresh disk / rebuild (first)" "$(echo "$t_r2 / $t_r1" | bc -l)"

# MKMESH_BENCH_ONLY=droplet skips the others (the rpi one takes ~40 minutes).
[ "${MKMESH_BENCH_ONLY:-}" = droplet ] && exit 0
for b in "$top"/tests/bench-*.sh; do
	[ -e "$b" ] || continue
	echo
	bash "$b"
done
