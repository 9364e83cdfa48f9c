#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The tests' npm packages in tests/node: s3rver (a real S3 server that checks
# SigV4) for `mkmesh upload`, a YAML parser and JSON-schema validator for the
# DigitalOcean API fixture, and puppeteer-core, with which services-boot
# drives Debian's chromium through Element. Installed from the npm registry
# into tests/node/node_modules (git-ignored), pinned by
# tests/node/package-lock.json. Quick when already installed.
exec sh "$(dirname "$0")/../lib/npm-ci.sh" "$(dirname "$0")/../node" "the test peers (s3rver, yaml, ajv, puppeteer-core)"
