#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Test peers for `mkmesh upload`: s3rver (a real S3 server that checks SigV4),
# and a YAML parser and JSON-schema validator for the DigitalOcean API fixture.
# Installed from the npm registry into tests/node/node_modules (git-ignored),
# pinned by tests/node/package-lock.json. Quick when already installed.
set -eu
dir=$(cd "$(dirname "$0")/../node" && pwd)
stamp=$dir/node_modules/.mkmesh-lock.sha256
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "mkmesh: npm is missing; 'scripts/deps.sh --tests' installs Node.js and npm" >&2
	exit 1
fi
echo "mkmesh: installing the upload test peers (s3rver, yaml, ajv) into $dir/node_modules" >&2
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$want" >"$stamp"
