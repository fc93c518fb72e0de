/**
 * `serve` flags for the connection limits (spec §8.8): how many connections, how many still in their
 * handshake, how many per remote address, and the deadlines on handshakes, frames and unused
 * connections. Absent flags keep the library's defaults.
 */

import type { Command } from 'commander';
import type { ServerLimits } from '../admission.ts';
import type { SessionLimits } from '../session/index.ts';
import { CliError, ExitCode } from './cli-error.ts';
import { parseDuration } from './parse.ts';

export interface ConnectionLimitFlags {
  maxConnections?: string;
  maxHandshaking?: string;
  maxPerAddress?: string;
  handshakeTimeout?: string;
  frameTimeout?: string;
  unusedTimeout?: string;
}

export function addConnectionLimitFlags(command: Command): Command {
  return command
    .option('--max-connections <n>', 'connections at once, in any state (default 1024)')
    .option('--max-handshaking <n>', 'connections still in their TLS/HELLO handshake at once; when full, the oldest is closed (default 128)')
    .option('--max-per-address <n>', 'connections from one remote address (IPv6: one /64) at once (default 64)')
    .option('--handshake-timeout <duration>', 'TLS and HELLO must be done within this, from the TCP accept (default 5s)')
    .option('--frame-timeout <duration>', 'a frame must arrive whole within this once it started (default 10s; 0 = off)')
    .option('--unused-timeout <duration>', 'a connection with no open stream is closed after this (default 60s; 0 = never)');
}

export interface ConnectionLimits {
  readonly serverLimits: Partial<ServerLimits>;
  readonly sessionLimits: Partial<SessionLimits>;
}

export function connectionLimitsFrom(flags: ConnectionLimitFlags): ConnectionLimits {
  const count = (text: string | undefined, flag: string): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) throw new CliError(`${flag}: "${text}" must be a positive integer`, ExitCode.usage);
    return n;
  };
  const duration = (text: string | undefined, flag: string): number | undefined => (text === undefined ? undefined : parseDuration(text, flag));
  const serverLimits = compact({
    maxConnections: count(flags.maxConnections, '--max-connections'),
    maxHandshakingConnections: count(flags.maxHandshaking, '--max-handshaking'),
    maxConnectionsPerAddress: count(flags.maxPerAddress, '--max-per-address'),
  });
  const handshakeTimeoutMs = duration(flags.handshakeTimeout, '--handshake-timeout');
  if (handshakeTimeoutMs === 0) throw new CliError('--handshake-timeout must be more than 0', ExitCode.usage);
  const sessionLimits = compact({
    handshakeTimeoutMs,
    frameTimeoutMs: duration(flags.frameTimeout, '--frame-timeout'),
    unusedConnectionTimeoutMs: duration(flags.unusedTimeout, '--unused-timeout'),
  });
  if (serverLimits.maxHandshakingConnections !== undefined && serverLimits.maxHandshakingConnections > (serverLimits.maxConnections ?? 1024)) {
    throw new CliError('--max-handshaking must not exceed --max-connections', ExitCode.usage);
  }
  return { serverLimits, sessionLimits };
}

function compact<T extends Record<string, number | undefined>>(o: T): { [K in keyof T]?: number } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: number };
}
