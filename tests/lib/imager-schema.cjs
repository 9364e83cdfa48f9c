// SPDX-License-Identifier: GPL-3.0-or-later
// node imager-schema.cjs SCHEMA.json FILE.json: validates an rpi-imager.json
// with ajv (tests/node); each error on one line; exit 1 if there was any.
'use strict';
const fs = require('fs');
const path = require('path');
const mods = path.join(__dirname, '../node/node_modules');
const Ajv = require(path.join(mods, 'ajv'));
const addFormats = require(path.join(mods, 'ajv-formats'));
const [schema, file] = process.argv.slice(2);
const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(schema, 'utf8')));
if (!validate(JSON.parse(fs.readFileSync(file, 'utf8')))) {
	for (const e of validate.errors)
		console.error(`${file}: ${e.instancePath || '/'} ${e.message}`);
	process.exit(1);
}
