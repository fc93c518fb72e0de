// The smoke test through `import` (ESM), as a "type": "module" project loads framewire.
import * as framewire from 'framewire';
import * as conformance from 'framewire/conformance';
import * as events from 'framewire/events';
import * as protocol from 'framewire/protocol';
import * as upload from 'framewire/upload';
import * as wire from 'framewire/wire';
import checks from './checks.cjs';

await checks.runSmoke({ framewire, upload, events, protocol, wire, conformance }, (line) => console.log(`esm: ${line}`));
