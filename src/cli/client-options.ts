/** Connection flags shared by the client commands (upload, tail): --token, --tls, --ca, --servername. */

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ConnectOptions } from '../client.ts';
import { CliError, ExitCode } from './cli-error.ts';

export interface ClientFlags {
  token?: string;
  tls?: boolean;
  ca?: string;
  servername?: string;
  connectTimeout?: string;
}

export function addClientFlags(command: Command): Command {
  return command
    .option('--token <token>', 'token to present to the server')
    .option('--tls', 'connect with TLS')
    .option('--ca <file>', 'trust this CA certificate (PEM) for TLS')
    .option('--servername <name>', 'TLS server name to verify');
}

/** The parts of ConnectOptions the flags decide. */
export function connectOptionsFrom(flags: ClientFlags): Pick<ConnectOptions, 'auth' | 'tls'> {
  let ca: Buffer | undefined;
  if (flags.ca !== undefined) {
    try {
      ca = readFileSync(flags.ca);
    } catch (error) {
      throw new CliError(`--ca: cannot read ${flags.ca}: ${(error as Error).message}`, ExitCode.usage);
    }
  }
  const useTls = flags.tls === true || ca !== undefined || flags.servername !== undefined;
  return {
    ...(flags.token === undefined ? {} : { auth: { token: flags.token } }),
    ...(useTls ? { tls: { ...(ca === undefined ? {} : { ca }), ...(flags.servername === undefined ? {} : { servername: flags.servername }) } } : {}),
  };
}
