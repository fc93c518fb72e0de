/** L5: `connect()`, the client's entry point. */

import * as net from 'node:net';
import * as tls from 'node:tls';
import { Connection } from './connection.ts';
import { FramewireError } from './errors.ts';
import type { SessionOptions, StreamHandler } from './session/index.ts';

export interface ConnectOptions extends Omit<SessionOptions, 'role'> {
  readonly host?: string;
  readonly port: number;
  /** TLS: `true` for defaults, or node:tls options (ca, servername, rejectUnauthorized …). */
  readonly tls?: true | tls.ConnectionOptions;
  /** Aborts the connect and handshake; after that, closes the connection. */
  readonly signal?: AbortSignal;
  /** Deadline for TCP connect + handshake. */
  readonly connectTimeoutMs?: number;
  /** Handles streams the server opens (server-initiated streams); refused when absent. */
  readonly onStream?: StreamHandler;
}

/** Connects and completes the handshake. Rejects with a FramewireError (CONNECTION_LOST, HANDSHAKE, AUTH_FAILED …). */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const { host = '127.0.0.1', port, signal, connectTimeoutMs = 10_000, onStream } = options;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError(`port must be 1..65535, got ${port}`);
  if (signal?.aborted === true) throw new FramewireError('CANCELLED', 'connect aborted', { cause: signal.reason });
  const startedAt = performance.now();
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s: net.Socket =
      options.tls === undefined
        ? net.connect({ host, port, noDelay: true })
        : tls.connect({ host, port, ...(options.tls === true ? {} : options.tls) });
    const event = options.tls === undefined ? 'connect' : 'secureConnect';
    const timer = setTimeout(() => {
      fail(new FramewireError('TIMEOUT', `connect to ${host}:${port} timed out after ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    const onAbort = (): void => {
      fail(new FramewireError('CANCELLED', 'connect aborted', { cause: signal?.reason }));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      s.off('error', fail);
    };
    function fail(error: Error): void {
      cleanup();
      s.destroy();
      reject(error instanceof FramewireError ? error : new FramewireError('CONNECTION_LOST', `cannot connect to ${host}:${port}: ${error.message}`, { cause: error }));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    s.once('error', fail);
    s.once(event, () => {
      cleanup();
      s.setNoDelay(true);
      resolve(s);
    });
  });
  const connection = new Connection(socket, { ...options, role: 'client' }, onStream);
  const onAbort = (): void => {
    connection.close(new FramewireError('CANCELLED', 'aborted by the application'));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  void connection.closed.then(() => signal?.removeEventListener('abort', onAbort));
  // connectTimeoutMs covers the handshake too, not only the TCP (and TLS) connect.
  const handshakeTimer = setTimeout(() => {
    connection.close(new FramewireError('TIMEOUT', `handshake with ${host}:${port} not done within ${connectTimeoutMs} ms`));
  }, Math.max(0, connectTimeoutMs - (performance.now() - startedAt)));
  try {
    await connection.ready;
  } finally {
    clearTimeout(handshakeTimer);
  }
  return connection;
}
