#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# npm-ci.sh DIR WHAT: installs the npm packages pinned by DIR/package-lock.json
# into DIR/node_modules (git-ignored) from the npm registry, unless the lock
# file is unchanged since the last install (a stamp file): quick then.
# WHAT says what is installed, for the one line printed when it is.
set -eu
dir=$(cd "$1" && pwd)
stamp=$dir/node_modules/.mkmesh-lock.sha256
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "mkmesh: npm is missing; 'scripts/deps.sh --tests' installs Node.js and npm" >&2
	exit 1
fi
echo "mkmesh: installing $2 into $dir/node_modules" >&2
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$want" >"$stamp"
