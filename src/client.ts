/** L5: `connect()`, the client's entry point. */

import * as net from 'node:net';
import * as tls from 'node:tls';
import { Connection } from './connection.ts';
import { AbortError, FramewireError, invalidArgument } from './errors.ts';
import type { SessionOptions, StreamHandler } from './session/index.ts';
import { dialQuic, type CaptureSink, type QuicEndpointOptions } from './transport/index.ts';
import { FirstBytes } from './first-bytes.ts';

/**
 * Options of `connect()`: where to connect, TLS, deadlines, and the session options (limits, auth,
 * logger).
 */
export interface ConnectOptions extends Omit<SessionOptions, 'role'> {
  /**
   * `tcp://host:port` or `quic://host:port` (QUIC: spec §14; `?peer=<peer id>` pins the server's
   * identity). Instead of host and port.
   */
  readonly url?: string;
  readonly host?: string;
  readonly port?: number;
  /** Connect over QUIC; `peerId` pins the server's identity (FW-QUIC-11). Implied by a quic:// url. */
  readonly quic?: QuicEndpointOptions & { readonly peerId?: string };
  /** TLS: `true` for defaults, or node:tls options (ca, servername, rejectUnauthorized …). */
  readonly tls?: true | tls.ConnectionOptions;
  /**
   * Aborts the connect and handshake: `connect()` rejects with an `AbortError` (`name`
   * 'AbortError', `cause` the signal's reason, framewire code CANCELLED), at once if the signal was
   * already aborted. After that, aborting closes the connection with that error, as node:net's
   * `signal` option destroys its socket.
   */
  readonly signal?: AbortSignal;
  /** Deadline for TCP connect + handshake. */
  readonly connectTimeoutMs?: number;
  /** Handles streams the server opens (server-initiated streams); refused when absent. */
  readonly onStream?: StreamHandler;
  /** Write the connection's two directions to files `framewire inspect` reads. TCP only: refused for a QUIC target. */
  readonly capture?: CaptureSink;
}

/**
 * Connects and completes the handshake. Rejects with a FramewireError (CONNECTION_REFUSED,
 * CONNECTION_LOST, TIMEOUT, HANDSHAKE, AUTH_FAILED …) whose `cause` is the system error when the
 * socket failed (ECONNREFUSED, ECONNRESET, ETIMEDOUT …), or with an `AbortError` when `signal` fired.
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const { signal, connectTimeoutMs = 10_000, onStream } = options;
  const target = resolveTarget(options);
  const { host, port } = target;
  if (signal?.aborted === true) throw new AbortError('connect aborted', signal);
  const startedAt = performance.now();
  if (target.quic) {
    if (options.capture !== undefined) throw invalidArgument('capture: captures are of TCP connections; a QUIC connection cannot be captured');
    const transport = await withDeadline(dialQuic({ ...options.quic, host, port, ...(target.peerId === undefined ? {} : { peerId: target.peerId }) }), connectTimeoutMs, signal, `quic://${host}:${port}`);
    return handshake(new Connection(transport, { ...options, role: 'client' }, onStream), options, startedAt, `quic://${host}:${port}`);
  }
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s: net.Socket =
      options.tls === undefined
        ? net.connect({ host, port, noDelay: true })
        : tls.connect({ host, port, ...(options.tls === true ? {} : options.tls) });
    const event = options.tls === undefined ? 'connect' : 'secureConnect';
    const timer = setTimeout(() => {
      fail(new FramewireError('TIMEOUT', `connect to ${host}:${port} timed out after ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    const onAbort = function (this: AbortSignal): void {
      fail(new AbortError('connect aborted', this));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      s.off('error', fail);
    };
    function fail(error: Error): void {
      cleanup();
      s.destroy();
      reject(error instanceof FramewireError ? error : connectError(error, `${host}:${port}`));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    s.once('error', fail);
    s.once(event, () => {
      cleanup();
      s.setNoDelay(true);
      resolve(s);
    });
  });
  // Registered before the connection's own reader, so it sees the first bytes first (FW-HS-10).
  const sniffer = new FirstBytes(socket);
  const tap = options.capture?.open({ id: `c${(nextCaptureId++).toString(36)}`, peer: `${host}:${port}`, role: 'client' });
  const connection = new Connection(socket, { ...options, role: 'client' }, onStream, tap === undefined ? undefined : { tap });
  return handshake(connection, options, startedAt, `${host}:${port}`, sniffer);
}

/** Numbers this process's captured client connections, for their file names. */
let nextCaptureId = 0;

/** A failed TCP connect as a FramewireError; the system error stays the `cause`. */
function connectError(error: Error, where: string): FramewireError {
  if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
    return new FramewireError('CONNECTION_REFUSED', `cannot connect to ${where}: nothing accepts connections there (ECONNREFUSED); is the server running?`, { cause: error });
  }
  return new FramewireError('CONNECTION_LOST', `cannot connect to ${where}: ${error.message}`, { cause: error });
}

/** Waits for the HELLO exchange; `connectTimeoutMs` covers it too, and the signal closes the connection. */
async function handshake(connection: Connection, options: ConnectOptions, startedAt: number, where: string, sniffer?: FirstBytes): Promise<Connection> {
  const { signal, connectTimeoutMs = 10_000 } = options;
  const onAbort = function (this: AbortSignal): void {
    connection.close(new AbortError('connection aborted by the application', this));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  void connection.closed.then(() => signal?.removeEventListener('abort', onAbort));
  // connectTimeoutMs covers the handshake too, not only the TCP (and TLS) connect.
  const handshakeTimer = setTimeout(() => {
    connection.close(
      new FramewireError('TIMEOUT', `no HELLO from ${where} within ${connectTimeoutMs} ms${sniffer?.silent === true ? ': it accepted the connection and sent nothing; it may not be a framewire server' : ''}`, {
        details: { phase: 'handshake' },
      }),
    );
  }, Math.max(0, connectTimeoutMs - (performance.now() - startedAt)));
  try {
    await connection.ready;
  } catch (error) {
    // Whatever the session made of a foreign peer's bytes (FRAME_SIZE, mostly), say what it is.
    const foreign = sniffer?.foreign(where);
    throw foreign === undefined ? error : new FramewireError(foreign.code, foreign.message, { cause: error, details: foreign.details });
  } finally {
    clearTimeout(handshakeTimer);
    sniffer?.stop();
  }
  return connection;
}

interface Target {
  readonly host: string;
  readonly port: number;
  readonly quic: boolean;
  readonly peerId: string | undefined;
}

/** Host, port and transport from `url`, or from `host`/`port`/`quic`. */
function resolveTarget(options: ConnectOptions): Target {
  let host = options.host ?? '127.0.0.1';
  let port = options.port;
  let quic = options.quic !== undefined;
  let peerId = options.quic?.peerId;
  if (options.url !== undefined) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw invalidArgument(`url must be tcp://host:port or quic://host:port, got ${options.url}`);
    }
    if (url.protocol !== 'tcp:' && url.protocol !== 'quic:') throw invalidArgument(`url must be tcp://host:port or quic://host:port, got ${options.url}`);
    quic = url.protocol === 'quic:';
    host = url.hostname.replace(/^\[|\]$/g, '');
    port = Number(url.port);
    peerId = url.searchParams.get('peer') ?? peerId;
  }
  if (port === undefined || !Number.isInteger(port) || port <= 0 || port > 65535) throw invalidArgument(`port must be 1..65535, got ${port}`);
  return { host, port, quic, peerId };
}

/** `promise`, or a TIMEOUT / CANCELLED FramewireError (a late success is closed, not leaked). */
async function withDeadline<T extends { destroy(): void }>(promise: Promise<T>, ms: number, signal: AbortSignal | undefined, where: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new FramewireError('TIMEOUT', `connect to ${where} timed out after ${ms} ms`));
    }, ms);
    onAbort = function (this: AbortSignal) {
      reject(new AbortError('connect aborted', this));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, stop]);
  } catch (error) {
    promise.then(
      (late) => {
        late.destroy();
      },
      () => undefined,
    );
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  }
}
