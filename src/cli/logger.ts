/** CLI logging: pino, structured, to stderr, at the level of --log-level (silent by default). */

import { pino, type Logger } from 'pino';
import type { Command } from 'commander';

const levels = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export function cliLogger(command: Command): Logger {
  const level = command.optsWithGlobals<{ logLevel?: string }>().logLevel ?? 'silent';
  if (!levels.includes(level)) throw new Error(`--log-level must be one of ${levels.join(', ')}`);
  return pino({ level, base: { app: 'framewire' } }, pino.destination(2));
}
