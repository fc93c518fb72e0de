/** CLI logging: pino, structured, to stderr, at the level of --log-level (silent by default). */

import { createRequire } from 'node:module';
import type { Command } from 'commander';
import type { Logger, pino as Pino } from 'pino';

// Loaded on first use: `framewire --version` and `--help` start without pino.
const require = createRequire(import.meta.url);

const levels = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export function cliLogger(command: Command): Logger {
  const level = command.optsWithGlobals<{ logLevel?: string }>().logLevel ?? 'silent';
  if (!levels.includes(level)) throw new Error(`--log-level must be one of ${levels.join(', ')}`);
  const { pino } = require('pino') as { pino: typeof Pino };
  return pino({ level, base: { app: 'framewire' } }, pino.destination(2));
}
