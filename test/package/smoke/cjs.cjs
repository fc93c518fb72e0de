// The smoke test through `require` (CommonJS), which loads the ES module package on node >= 20.19.
'use strict';
const framewire = require('framewire');
const conformance = require('framewire/conformance');
const events = require('framewire/events');
const protocol = require('framewire/protocol');
const upload = require('framewire/upload');
const wire = require('framewire/wire');
const { runSmoke } = require('./checks.cjs');

runSmoke({ framewire, upload, events, protocol, wire, conformance }, (line) => console.log(`cjs: ${line}`)).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
