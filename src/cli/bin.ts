#!/usr/bin/env node
// The `framewire` executable: the package's bin is this file compiled (dist/cli/bin.js), run by
// plain node; in a clone, `npm run cli -- ARGS` runs it from the sources through tsx.
import { main } from './main.ts';

const code = await main(process.argv.slice(2));
// Exit explicitly: commands may leave handles behind (a progress bar's timer, a pino transport)
// that would keep the process alive; stdout and stderr are synchronous for files and pipes on
// POSIX, so nothing printed is lost.
process.exit(code);
