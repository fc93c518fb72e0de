#!/usr/bin/env node
// The framewire command line. The package ships TypeScript sources; tsx loads them on the fly,
// so there is no build step and no build output to keep in sync.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(globalThis.process.argv.slice(2));
// Exit explicitly: on Node 20 a process with module.register() hooks sometimes never exits once
// its work is done (the hooks thread spins; nodejs/node#53182 family). stdout and stderr are
// synchronous for files and pipes on POSIX, so nothing printed is lost.
globalThis.process.exit(code);
