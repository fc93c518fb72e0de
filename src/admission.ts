/**
 * Which TCP connections a server takes, and which it lets go when it must make room (spec §8.8,
 * FW-LIMIT-8). The anchors are web servers' per-address connection limits (nginx `limit_conn`) and
 * their header-read deadlines (nginx `client_header_timeout`, Go's `http.Server.ReadHeaderTimeout`):
 *
 * - `maxConnectionsPerAddress`: connections from one remote address (IPv6: one /64) at once.
 *   Over it, the new connection is refused.
 * - `maxHandshakingConnections`: connections that have not finished the handshake (TLS and HELLO)
 *   at once, a budget of its own, much smaller than the total. When it is full, the *oldest
 *   silent* such connection (no byte received) is closed to make room, else the oldest: silent
 *   sockets cannot shut honest clients out, they only push each other out, and an honest HELLO
 *   arrives long before many newer ones.
 * - `maxConnections`: connections at once, in any state. When it is full, the oldest handshaking
 *   connection makes room, else the established connection that has had no open stream for the
 *   longest (it is sent GOAWAY); when every connection has streams open, the new one is refused.
 *
 * Refused and evicted connections get ERROR LIMIT_EXCEEDED with retry_after_ms on stream 0 where the
 * wire allows it (plain TCP; over TLS before the TLS handshake there is no way to say it).
 */

import type * as net from 'node:net';
import type { Logger } from 'pino';
import type { Connection } from './connection.ts';
import { checkIntegers } from './arguments.ts';
import { FramewireError, invalidArgument } from './errors.ts';
import { Guard } from './session/index.ts';
import { encodeFrame, FrameType } from './wire/index.ts';

/** How many TCP connections a server admits: in total, in their handshake, per remote address (spec's limits section). */
export interface ServerLimits {
  /** Connections at once, in any state (default 1024). */
  readonly maxConnections: number;
  /** Connections that have not finished the TLS and HELLO handshake, at once (default 128). */
  readonly maxHandshakingConnections: number;
  /** Connections from one remote address (an IPv6 address counts by its /64) at once (default 64). */
  readonly maxConnectionsPerAddress: number;
  /** The retry_after_ms sent to a refused or evicted connection (default 1000). */
  readonly refusalRetryAfterMs: number;
}

/** The defaults of `ServerLimits`. */
export const defaultServerLimits: ServerLimits = {
  maxConnections: 1024,
  maxHandshakingConnections: 128,
  maxConnectionsPerAddress: 64,
  refusalRetryAfterMs: 1000,
};

export function resolveServerLimits(limits: Partial<ServerLimits> = {}): ServerLimits {
  const maxConnections = limits.maxConnections ?? defaultServerLimits.maxConnections;
  // The handshake budget's default never exceeds a smaller total.
  const l = { ...defaultServerLimits, maxHandshakingConnections: Math.min(defaultServerLimits.maxHandshakingConnections, maxConnections), ...limits };
  checkIntegers('server limit', l, (key) => (key === 'refusalRetryAfterMs' ? 0 : 1));
  if (l.maxHandshakingConnections > l.maxConnections) throw invalidArgument('maxHandshakingConnections must not exceed maxConnections');
  return l;
}

/** Counters for operators (server.admissionStats). */
export interface AdmissionStats {
  /** Connections admitted. */
  admitted: number;
  /** Connections refused because their address held maxConnectionsPerAddress. */
  refusedPerAddress: number;
  /** Connections refused because the server was full and no room could be made. */
  refusedFull: number;
  /** Handshaking connections closed to make room. */
  evictedHandshaking: number;
  /** Established connections without streams sent GOAWAY to make room. */
  evictedUnused: number;
}

/** One admitted TCP connection. */
export interface Admitted {
  readonly socket: net.Socket;
  readonly address: string;
  readonly acceptedAt: number;
  connection: Connection | undefined;
}

/** Refused sockets whose ERROR is still being written; beyond this many, refusals are a plain close. */
const MAX_LINGERING_REFUSALS = 256;
/** How long a refused socket may take to read its ERROR. */
const REFUSAL_LINGER_MS = 1000;

export class Admission {
  readonly limits: ServerLimits;
  readonly stats: AdmissionStats = { admitted: 0, refusedPerAddress: 0, refusedFull: 0, evictedHandshaking: 0, evictedUnused: 0 };
  readonly #log: Logger;
  /** Whether refusals may be written on the socket (plain TCP), or only closed (TLS). */
  readonly #plain: boolean;
  readonly #all = new Set<Admitted>();
  /** Connections still in their handshake, oldest first (a Set keeps insertion order). */
  readonly #handshaking = new Set<Admitted>();
  readonly #perAddress = new Map<string, number>();
  #lingering = 0;
  readonly #handshakeTimeoutMs: number;
  #sweeper: NodeJS.Timeout | undefined;
  readonly #guard: Guard;

  /**
   * `handshakeTimeoutMs`: a connection that has no session yet (it has sent nothing, or its TLS
   * handshake runs) is closed with ERROR HANDSHAKE (plain TCP) once it is that old.
   */
  constructor(limits: ServerLimits, log: Logger, plain: boolean, handshakeTimeoutMs: number) {
    this.limits = limits;
    this.#log = log;
    this.#plain = plain;
    this.#handshakeTimeoutMs = handshakeTimeoutMs;
    this.#guard = new Guard(log, () => undefined);
  }

  get size(): number {
    return this.#all.size;
  }

  get handshaking(): number {
    return this.#handshaking.size;
  }

  /** A TCP connection was accepted: admitted (making room if needed), or refused and closed (undefined). */
  admit(socket: net.Socket, now: number): Admitted | undefined {
    const address = addressKey(socket.remoteAddress);
    if (address === undefined) {
      socket.destroy();
      return undefined;
    }
    const l = this.limits;
    const fromAddress = this.#perAddress.get(address) ?? 0;
    if (fromAddress >= l.maxConnectionsPerAddress) {
      this.stats.refusedPerAddress++;
      this.#refuse(socket, `more than ${l.maxConnectionsPerAddress} connections from ${address}`);
      return undefined;
    }
    if (this.#all.size >= l.maxConnections && !this.#evictHandshaking('the server is at maxConnections') && !this.#evictUnused()) {
      this.stats.refusedFull++;
      this.#refuse(socket, `the server has ${l.maxConnections} connections, all busy`);
      return undefined;
    }
    if (this.#handshaking.size >= l.maxHandshakingConnections) this.#evictHandshaking(`more than ${l.maxHandshakingConnections} connections in their handshake`);
    const entry: Admitted = { socket, address, acceptedAt: now, connection: undefined };
    this.#all.add(entry);
    this.#handshaking.add(entry);
    this.#perAddress.set(address, fromAddress + 1);
    this.stats.admitted++;
    this.#startSweeper();
    return entry;
  }

  /** True while `entry` holds its slots (not released, not evicted). */
  holds(entry: Admitted): boolean {
    return this.#all.has(entry);
  }

  /** Stops the deadline sweeper (the server is closing). */
  stop(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    const every = Math.min(1000, Math.max(5, Math.floor(this.#handshakeTimeoutMs / 4)));
    this.#sweeper = setInterval(
      this.#guard.wrap('handshake deadline sweep', () => {
        this.#expire(performance.now());
      }),
      every,
    );
    this.#sweeper.unref();
  }

  /**
   * Closes connections past the handshake deadline that have no session (a session keeps its own
   * deadline). The handshake set is in accept order: the scan stops at the first young entry.
   */
  #expire(now: number): void {
    for (const entry of this.#handshaking) {
      if (now - entry.acceptedAt < this.#handshakeTimeoutMs) break;
      if (entry.connection !== undefined) continue;
      this.release(entry);
      this.#close(entry.socket, new FramewireError('HANDSHAKE', `no HELLO within ${this.#handshakeTimeoutMs} ms`));
    }
    if (this.#all.size === 0) this.stop();
  }

  /** The connection finished its handshake: it leaves the handshake budget. */
  established(entry: Admitted): void {
    this.#handshaking.delete(entry);
  }

  /** The connection is gone: its slots are free. Idempotent. */
  release(entry: Admitted): void {
    if (!this.#all.delete(entry)) return;
    this.#handshaking.delete(entry);
    const n = (this.#perAddress.get(entry.address) ?? 1) - 1;
    if (n === 0) this.#perAddress.delete(entry.address);
    else this.#perAddress.set(entry.address, n);
  }

  /** Every admitted connection that has no session yet (its TLS handshake is running). */
  withoutSession(): Admitted[] {
    return [...this.#all].filter((e) => e.connection === undefined);
  }

  /**
   * Closes the oldest connection still in its handshake that has sent no byte, else the oldest
   * one; false when there is none. A client whose TLS handshake or HELLO is under way has shown
   * it is talking: silent sockets push each other out before they push it out.
   */
  #evictHandshaking(why: string): boolean {
    let entry: Admitted | undefined;
    for (const candidate of this.#handshaking) {
      entry ??= candidate;
      if (candidate.socket.bytesRead === 0) {
        entry = candidate;
        break;
      }
    }
    if (entry === undefined) return false;
    this.release(entry);
    this.stats.evictedHandshaking++;
    this.#log.debug({ address: entry.address, why, silent: entry.socket.bytesRead === 0 }, 'handshake budget full: closing a handshaking connection');
    const error = this.#limitError(`${why}: the oldest ${entry.socket.bytesRead === 0 ? 'silent ' : ''}connection still in its handshake is closed`);
    if (entry.connection !== undefined) entry.connection.close(error);
    else this.#close(entry.socket, error);
    return true;
  }

  /** Sends GOAWAY to the established connection that has had no open stream for the longest; false when every connection has one. */
  #evictUnused(): boolean {
    let best: Admitted | undefined;
    let since = Infinity;
    for (const entry of this.#all) {
      const s = entry.connection?.session.unusedSince;
      if (s !== undefined && s < since) {
        since = s;
        best = entry;
      }
    }
    if (best === undefined) return false;
    this.release(best);
    this.stats.evictedUnused++;
    this.#log.debug({ address: best.address }, 'connection limit reached: closing the longest unused connection');
    void best.connection?.goaway({ message: 'the server needs the connection for another client', deadlineMs: 0 });
    return true;
  }

  #limitError(message: string): FramewireError {
    return new FramewireError('LIMIT_EXCEEDED', message, { retryAfterMs: this.limits.refusalRetryAfterMs });
  }

  /** Closes a socket we will not serve, with ERROR LIMIT_EXCEEDED on stream 0 where we can. */
  #refuse(socket: net.Socket, message: string): void {
    this.#log.debug({ address: socket.remoteAddress, why: message }, 'connection refused');
    this.#close(socket, this.#limitError(message));
  }

  /** Closes a socket that has no session, with `error` as ERROR on stream 0 where the wire allows (plain TCP). */
  #close(socket: net.Socket, error: FramewireError): void {
    if (!this.#plain || this.#lingering >= MAX_LINGERING_REFUSALS) {
      socket.destroy();
      return;
    }
    this.#lingering++;
    const timer = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.#lingering--;
    });
    socket.on('error', () => undefined);
    // Read and drop what the client sends (its HELLO), so the close is a FIN after our ERROR, not a reset.
    socket.resume();
    const payload = { code: error.wireCode, message: error.message, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }) };
    socket.end(encodeFrame({ type: FrameType.ERROR, flags: 0, stream: 0, seq: 0, payload }));
  }
}

/**
 * The key a remote address is counted under: an IPv4 address (also when mapped into IPv6) as
 * itself, an IPv6 address by its /64 prefix (one host usually has a whole /64).
 */
export function addressKey(address: string | undefined): string | undefined {
  if (address === undefined || address === '') return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1];
  if (!address.includes(':')) return address;
  const [head = '', tail] = (address.split('%')[0] ?? '').toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
