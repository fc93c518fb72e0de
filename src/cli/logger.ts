/** CLI logging: pino, structured, to stderr, at the level of --log-level (silent by default). */

import { createRequire } from 'node:module';
import type { Command } from 'commander';
import type { Logger, pino as Pino } from 'pino';

// Loaded on first use: `framewire --version` and `--help` start without pino.
const require = createRequire(import.meta.url);

const levels = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * The command's logger. `fallback` is the level when --log-level was not given: silent for the
 * client commands, info for `serve` (an operator wants to see connections, commits and errors).
 */
export function cliLogger(command: Command, fallback = 'silent'): Logger {
  let root: Command = command;
  while (root.parent !== null) root = root.parent;
  const given = root.getOptionValueSource('logLevel') !== 'default';
  const level = given ? (command.optsWithGlobals<{ logLevel?: string }>().logLevel ?? fallback) : fallback;
  if (!levels.includes(level)) throw new Error(`--log-level must be one of ${levels.join(', ')}`);
  const { pino } = require('pino') as { pino: typeof Pino };
  return pino({ level, base: { app: 'framewire' } }, pino.destination(2));
}
