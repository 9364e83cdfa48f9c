#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The first-boot shell helpers (overlays/base/usr/lib/mkmesh/common.sh) under
# dash, the image's /bin/sh: mk_install with a command leaves the file as it
# was when the command fails (dash has no pipefail, so `cmd | mk_install`
# would install an empty file), and no step pipes a program into it.
. "$(dirname "$0")/lib.sh"
command -v dash >/dev/null || die "dash (the image's /bin/sh) is not installed; apt-get install dash"
common=$top/overlays/base/usr/lib/mkmesh/common.sh

# in_dash SCRIPT: SCRIPT after common.sh, with the console left alone.
in_dash() {
	dash -c ". '$common'; mk_fail() { echo \"<2>error: \$*\" >&2; exit 1; }; $1" 2>"$work/err"
}
f=$work/conf
echo old >"$f"
owner=$(id -un):$(id -gn)

check "a command's output is installed" \
	in_dash "mk_install '$f' 0640 $owner printf 'new\n'"
check "... with its mode" test "$(stat -c %a "$f")" = 640
check "... and content" test "$(cat "$f")" = new
fails() { ! "$@"; }
check "a failed command: mk_install fails" \
	fails in_dash "mk_install '$f' 0640 $owner sh -c 'echo partial; exit 3'"
check "... the file is left as it was" test "$(cat "$f")" = new
check "... no temporary file is left" test "$(ls "$work" | grep -c '^conf\.')" = 0
check "... the error names the file" grep -q "making $f: 'sh' failed; $f is left as it was" "$work/err"
check "content on stdin still works" \
	in_dash "echo stdin | mk_install '$f' 0644 $owner"
check "... installed" test "$(cat "$f")" = stdin

# No step makes content with a program and pipes it into mk_install.
piped=$(grep -rnE '(python3|yggdrasil|cjdroute|jq|openssl)[^|]*\|[[:space:]]*mk_install' "$top/overlays" || true)
check "no program is piped into mk_install${piped:+: $piped}" test -z "$piped"
echo "$checks checks passed"
