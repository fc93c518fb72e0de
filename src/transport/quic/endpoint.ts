/**
 * QUIC endpoints: a listener that hands each accepted connection to the server as a QuicTransport,
 * and a dialer for clients. Authentication at this level is the libp2p TLS identity (spec
 * FW-QUIC-11): a client may pin the server's peer id; the server learns each client's peer id.
 * Library calls that can hang (the server's close) are bounded.
 */

import type { Logger } from 'pino';
import { FramewireError } from '../../errors.ts';
import { loadQuicBinding, type QuicBinding, type QuicConnection, type QuicServer } from './binding.ts';
import { checkQuicOptions, quinnConfig, type QuicTransportOptions } from './config.ts';
import { bounded, classifyQuicFailure, guarded } from './failure.ts';
import { generateQuicIdentity, peerIdOfAddress, type QuicIdentity } from './identity.ts';
import { QuicTransport, type QuicTransportTuning } from './quic-transport.ts';

/**
 * QUIC options of a client (`connect({ quic })`) and the base of the server's: our identity, what to pin,
 * and the transport's tuning.
 */
export interface QuicEndpointOptions extends QuicTransportOptions, QuicTransportTuning {
  /** Our TLS identity; a throw-away one is generated when absent. */
  readonly identity?: QuicIdentity;
  /** @internal The QUIC library (default: the binding package); tests pass a wrapped one to inject failures. */
  readonly binding?: QuicBinding;
}

/** QUIC options of `createServer({ quic })`: where to listen (UDP), our identity, and limits. */
export interface QuicListenOptions extends QuicEndpointOptions {
  readonly host?: string;
  readonly port?: number;
  /** Connections held at once; more are closed at accept (default 1024, in `createServer()` the server's `maxConnections`; at least 1). */
  readonly maxConnections?: number;
  /** How long close() waits for the library to release the socket (default 2 s; 0..2^31-1 ms). */
  readonly closeTimeoutMs?: number;
}

export class QuicListener {
  readonly port: number;
  readonly host: string;
  /** The peer id clients pin (what `serve` prints). */
  readonly peerId: string;
  readonly #server: QuicServer;
  readonly #closeTimeoutMs: number;
  readonly #log: Logger | undefined;
  #open = 0;
  #closed = false;

  private constructor(server: QuicServer, host: string, peerId: string, options: QuicListenOptions) {
    this.#server = server;
    this.host = host;
    this.port = server.port();
    this.peerId = peerId;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    this.#log = options.logger;
  }

  /** Binds the UDP socket and accepts connections until close(); each becomes a transport for `onConnection`. */
  static async listen(options: QuicListenOptions, onConnection: (transport: QuicTransport) => void): Promise<QuicListener> {
    // Here and not only in each accepted connection's transport, where a throw would come too late.
    checkQuicOptions(options);
    const binding = options.binding ?? loadQuicBinding();
    const identity = options.identity ?? (await generateQuicIdentity());
    const host = options.host ?? '127.0.0.1';
    let server: QuicServer;
    try {
      server = new binding.Server(new binding.QuinnConfig(quinnConfig(identity, options)), host, options.port ?? 0);
    } catch (error) {
      throw new FramewireError('INTERNAL', `QUIC: cannot listen on ${host}:${options.port ?? 0}: ${error instanceof Error ? error.message : String(error)}`, { cause: error, retryable: false });
    }
    const listener = new QuicListener(server, host, identity.peerId, options);
    listener.#accept(options, onConnection);
    return listener;
  }

  #accept(options: QuicListenOptions, onConnection: (transport: QuicTransport) => void): void {
    const max = options.maxConnections ?? 1024;
    guarded(() => this.#server.inboundConnection()).then(
      (connection) => {
        if (this.#closed) {
          connection.abort();
          return;
        }
        if (this.#open >= max) {
          connection.abort();
        } else {
          this.#open++;
          const transport = new QuicTransport(connection, 'server', { ...options, onGone: () => this.#open-- });
          try {
            onConnection(transport);
          } catch (error) {
            this.#log?.error({ err: error }, 'QUIC: connection handler threw');
            transport.destroy();
          }
        }
        this.#accept(options, onConnection);
      },
      (error: unknown) => {
        if (this.#closed) return;
        // A failed handshake of one client ends that attempt only; the endpoint goes on accepting.
        const message = error instanceof Error ? error.message : String(error);
        if (/server closed/i.test(message)) return;
        this.#log?.info({ err: message }, 'QUIC: incoming connection failed');
        this.#accept(options, onConnection);
      },
    );
  }

  /** Closes the endpoint (connections get CONNECTION_CLOSE); bounded even when the library hangs. */
  async close(): Promise<'done' | 'timeout' | 'failed'> {
    if (this.#closed) return 'done';
    this.#closed = true;
    const outcome = await bounded(() => this.#server.abort(), this.#closeTimeoutMs);
    if (outcome !== 'done') this.#log?.warn({ outcome }, 'QUIC: the endpoint did not close cleanly');
    return outcome;
  }
}

export interface QuicDialOptions extends QuicEndpointOptions {
  readonly host: string;
  readonly port: number;
  /** The server's peer id: any other identity fails the connect with AUTH_FAILED (FW-QUIC-11). */
  readonly peerId?: string;
}

let clientIdentity: Promise<QuicIdentity> | undefined;

/** Connects a QUIC connection (one UDP endpoint of its own, released with the connection). */
export async function dialQuic(options: QuicDialOptions): Promise<QuicTransport> {
  const { connection, release } = await dialConnection(options);
  return new QuicTransport(connection, 'client', { ...options, onGone: release });
}

/**
 * A QUIC connection on a UDP endpoint of its own, the server's identity checked against the pin:
 * the connection, the identity the server proved, and how to release the endpoint.
 */
export async function dialConnection(options: QuicDialOptions): Promise<{ connection: QuicConnection; peerId: string; release: () => void }> {
  checkQuicOptions(options);
  const binding = options.binding ?? loadQuicBinding();
  const identity = options.identity ?? (await (clientIdentity ??= generateQuicIdentity()));
  let client;
  try {
    client = new binding.Client(new binding.QuinnConfig(quinnConfig(identity, options)), options.host.includes(':') ? 1 : 0);
  } catch (error) {
    throw new FramewireError('INTERNAL', `QUIC: cannot create an endpoint: ${error instanceof Error ? error.message : String(error)}`, { cause: error, retryable: false });
  }
  const endpoint = client;
  const release = (): void => {
    try {
      endpoint.abort();
    } catch {
      // Already closed: nothing to release.
    }
  };
  let connection;
  try {
    connection = await guarded(() => endpoint.outboundConnection(options.host, options.port));
  } catch (error) {
    release();
    const failure = classifyQuicFailure(error, 'connect', 0).error;
    throw new FramewireError('CONNECTION_LOST', `cannot connect to quic://${options.host}:${options.port}: ${failure.message}`, { cause: error });
  }
  let peerId = '';
  try {
    peerId = peerIdOfAddress(connection.remoteMultiaddr());
  } catch {
    // No address from the library: the identity is unknown, and a pin then fails below.
  }
  if (options.peerId !== undefined && peerId !== options.peerId) {
    connection.abort();
    release();
    throw new FramewireError('AUTH_FAILED', `quic://${options.host}:${options.port} proved identity ${peerId}, not the pinned ${options.peerId}`);
  }
  return { connection, peerId, release };
}
