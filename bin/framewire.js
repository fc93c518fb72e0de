#!/usr/bin/env node
// The framewire command line. The package ships TypeScript sources; tsx loads them on the fly,
// so there is no build step and no build output to keep in sync.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
globalThis.process.exitCode = await main(globalThis.process.argv.slice(2));
