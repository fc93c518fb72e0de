/** Argument parsing shared by the commands: sizes, durations, host:port, server addresses. Errors are CliErrors (exit 2). */

import { CliError, ExitCode } from './cli-error.ts';

const units: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1000, kb: 1000, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3 };

/** "4MiB", "64k", "1000" → bytes; "0" only with `allowZero`. */
export function parseSize(text: string, flag: string, options: { allowZero?: boolean } = {}): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m === null ? undefined : units[(m[2] ?? '').toLowerCase()];
  if (m === null || unit === undefined) throw new CliError(`${flag}: "${text}" is not a size (e.g. 4MiB, 64KiB, 1000)`, ExitCode.usage);
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes < 0 || (bytes === 0 && options.allowZero !== true)) throw new CliError(`${flag}: "${text}" must be a positive size`, ExitCode.usage);
  return bytes;
}

/** A count: an integer >= 0. */
export function parseCount(text: string, flag: string): number {
  const n = Number(text.trim());
  if (!/^\d+$/u.test(text.trim()) || !Number.isSafeInteger(n)) throw new CliError(`${flag}: "${text}" is not a count (an integer >= 0)`, ExitCode.usage);
  return n;
}

/** "500ms", "2s", "1m", "1500" (ms) → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(text.trim());
  if (m === null) throw new CliError(`${flag}: "${text}" is not a duration (e.g. 500ms, 2s, 1m)`, ExitCode.usage);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms').toLowerCase() as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * factor);
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** "host:port", ":port" or "port" → { host, port }; IPv6 as "[::1]:7070". */
export function parseHostPort(text: string, flag: string, defaultHost = '127.0.0.1'): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = m === null ? Number.NaN : Number(m[3]);
  if (m === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CliError(`${flag}: "${text}" is not host:port (e.g. 127.0.0.1:7070)`, ExitCode.usage);
  }
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? defaultHost : host, port };
}

/** "--port 7070" style integer option. */
export function parsePort(text: string, flag: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`${flag}: "${text}" is not a port (0..65535)`, ExitCode.usage);
  return port;
}

/** Where a client command connects: host and port, and over QUIC the peer id to pin, if given. */
export interface ServerTarget extends HostPort {
  readonly quic?: { readonly peerId?: string };
}

/**
 * "host:port" or "tcp://host:port" (TCP), "quic://host:port" or "quic://host:port?peer=<peer id>"
 * (QUIC, pinning the server's identity as `framewire serve` prints it).
 */
export function parseServerTarget(text: string, flag: string): ServerTarget {
  const scheme = /^(tcp|quic):\/\/([^?]*?)\/?(?:\?(.*))?$/i.exec(text);
  if (scheme === null) return parseHostPort(text, flag);
  const [, protocol = '', hostPort = '', query] = scheme;
  const target = parseHostPort(hostPort, flag);
  if (protocol.toLowerCase() === 'tcp') return target;
  const peerId = query === undefined ? undefined : new URLSearchParams(query).get('peer') ?? undefined;
  if (query !== undefined && peerId === undefined) throw new CliError(`${flag}: "${text}": the only parameter of a quic:// address is peer=<peer id>`, ExitCode.usage);
  return { ...target, quic: peerId === undefined ? {} : { peerId } };
}
