/**
 * Connection flags shared by the client commands (upload, uploads, tail): --token, --tls, --ca,
 * --servername, --connect-timeout, --connect-retries, and --capture with its bounds.
 */

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ConnectOptions } from '../client.ts';
import { addCaptureFlags, type CaptureFlags } from './capture-flags.ts';
import { CliError, ExitCode } from './cli-error.ts';
import { parseCount, parseDuration } from './parse.ts';

export interface ClientFlags extends CaptureFlags {
  token?: string;
  tls?: boolean;
  ca?: string;
  servername?: string;
  connectTimeout: string;
  connectRetries: string;
}

export function addClientFlags(command: Command): Command {
  return addCaptureFlags(command)
    .option('--token <token>', 'token to present to the server')
    .option('--tls', 'connect with TLS')
    .option('--ca <file>', 'trust this CA certificate (PEM) for TLS')
    .option('--servername <name>', 'TLS server name to verify')
    .option('--connect-timeout <duration>', 'bound on TCP connect + handshake; a server that stays silent that long may not be a framewire server', '10s')
    .option('--connect-retries <n>', 'retry a refused first connection this many times (e.g. while the server starts); later losses are always retried', '0');
}

/** The parts of ConnectOptions the flags decide. */
export function connectOptionsFrom(flags: ClientFlags): Pick<ConnectOptions, 'auth' | 'tls' | 'connectTimeoutMs'> {
  let ca: Buffer | undefined;
  if (flags.ca !== undefined) {
    try {
      ca = readFileSync(flags.ca);
    } catch (error) {
      throw new CliError(`--ca: cannot read ${flags.ca}: ${(error as Error).message}`, ExitCode.usage);
    }
  }
  const useTls = flags.tls === true || ca !== undefined || flags.servername !== undefined;
  const connectTimeoutMs = parseDuration(flags.connectTimeout, '--connect-timeout');
  if (connectTimeoutMs < 1) throw new CliError('--connect-timeout must be positive', ExitCode.usage);
  return {
    connectTimeoutMs,
    ...(flags.token === undefined ? {} : { auth: { token: flags.token } }),
    ...(useTls ? { tls: { ...(ca === undefined ? {} : { ca }), ...(flags.servername === undefined ? {} : { servername: flags.servername }) } } : {}),
  };
}

/** Retries of a refused first connection (spec FW-ERR-6), for the retry policy. */
export function connectRetriesFrom(flags: ClientFlags): number {
  return parseCount(flags.connectRetries, '--connect-retries');
}
