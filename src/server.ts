/** L5: `createServer()`, the server's entry point. */

import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Admission, resolveServerLimits, type AdmissionStats, type Admitted, type ServerLimits } from './admission.ts';
import { Connection } from './connection.ts';
import { emitError, emitToApplication } from './emit.ts';
import type { SessionLimits, SessionOptions, StreamHandler } from './session/index.ts';
import { defaultLimits, Guard, routeKind, type StreamService } from './session/index.ts';
import { checkQuicOptions, QuicListener, type CaptureSink, type QuicListenOptions, type QuicTransport } from './transport/index.ts';

/**
 * Options of `createServer()`: the services, a handler for unclaimed streams, TLS, and the session options
 * every connection gets.
 */
export interface ServerOptions extends Omit<SessionOptions, 'role' | 'connectionId'> {
  /** Services that claim OPEN kinds (uploads, event streams, your own). */
  readonly services?: readonly StreamService[];
  /** Called for streams no service claims; absent: such streams fail with NOT_FOUND. */
  readonly onStream?: StreamHandler;
  /** TLS key and certificate (PEM); plain TCP when absent. */
  readonly tls?: tls.TlsOptions;
  /**
   * Connections at once, in any state (default 1024); shorthand for serverLimits.maxConnections.
   * Also the QUIC listener's limit, unless `quic.maxConnections` gives it one of its own.
   */
  readonly maxConnections?: number;
  /** Admission limits of TCP connections: in total, in their handshake, per remote address (src/admission.ts). */
  readonly serverLimits?: Partial<ServerLimits>;
  /**
   * Also serve framewire over QUIC (spec §14): `listen()` binds a UDP port too (`port` 0 picks a
   * free one). Without `identity`, a throw-away one is generated; its peer id is `quicAddress.peerId`.
   * Its `maxConnections` (QUIC connections at once) defaults to the server's `maxConnections`; the
   * TCP admission limits do not count QUIC connections, nor the other way round.
   */
  readonly quic?: QuicListenOptions;
  /** Write each TCP connection's two directions to files `framewire inspect` reads (QUIC connections are not captured). */
  readonly capture?: CaptureSink;
}

/** What a server changes in the session defaults: it closes connections left without a stream (FW-LIMIT-7). */
export const serverSessionDefaults: Partial<SessionLimits> = { unusedConnectionTimeoutMs: 60_000 };

/** The events of a {@link FramewireServer}, as node:net's and node:http2's servers name them. */
export interface ServerEvents {
  /**
   * A client's connection, as soon as it has a session (its handshake may still be running:
   * `connection.ready` says when it is done; a failed one ends in its 'close').
   */
  connection: [connection: Connection];
  /**
   * The listening socket failed (EADDRINUSE at `listen()`, which rejects too; EMFILE on accept …).
   * Emitted only when there is a listener; without one it is logged (src/emit.ts says why).
   */
  error: [error: Error];
  /** Once, when `close()` finished: every connection is closed. */
  close: [];
}

/**
 * A framewire server: accepts TCP (or TLS) connections, runs a session on each and routes every stream to
 * the service that claims its kind. Made by `createServer()`. Emits 'connection', 'error' and 'close'
 * ({@link ServerEvents}); `await using` closes it.
 */
export class FramewireServer extends EventEmitter<ServerEvents> implements AsyncDisposable {
  readonly connections = new Set<Connection>();
  readonly #server: net.Server;
  readonly #options: ServerOptions;
  readonly #limits: Partial<SessionLimits>;
  readonly #handshakeTimeoutMs: number;
  readonly #admission: Admission;
  /** TLS: admitted TCP connections by remote address and port, until their TLS handshake is done. */
  readonly #pendingTls = new Map<string, Admitted>();
  readonly #log: Logger;
  readonly #guard: Guard;
  #nextId = 1;
  readonly #route: StreamHandler;
  #quic: QuicListener | undefined;
  #closed: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    super();
    // Checked here, not at listen(): bad QUIC options fail where they were given.
    if (options.quic !== undefined) checkQuicOptions(options.quic);
    this.#options = options;
    this.#log = options.logger ?? pino({ level: 'silent' });
    this.#guard = new Guard(this.#log, () => undefined);
    this.#limits = { ...serverSessionDefaults, ...options.limits };
    this.#handshakeTimeoutMs = this.#limits.handshakeTimeoutMs ?? defaultLimits.handshakeTimeoutMs;
    const limits = resolveServerLimits({ ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }), ...options.serverLimits });
    this.#admission = new Admission(limits, this.#log, options.tls === undefined, this.#handshakeTimeoutMs);
    const services = options.services ?? [];
    const fallback = options.onStream;
    this.#route = (stream, session) => {
      const service = routeKind(services, stream.kind);
      if (service !== undefined) return service.handle(stream, session);
      if (fallback !== undefined) return fallback(stream, session);
      stream.fail('NOT_FOUND', `no service for stream kind "${stream.kind}"`);
      return undefined;
    };
    if (options.tls === undefined) {
      this.#server = net.createServer({ noDelay: true });
    } else {
      // The handshake deadline covers the TLS handshake too: it runs from the TCP accept.
      this.#server = tls.createServer({ ...options.tls, handshakeTimeout: this.#handshakeTimeoutMs });
      this.#server.on('secureConnection', this.#guard.wrap('TLS connection', (socket: tls.TLSSocket) => {
        this.#onSecure(socket);
      }));
      this.#server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
        this.#log.debug({ err: error.message, address: socket.remoteAddress }, 'TLS handshake failed');
        // With a listener, closing the socket is ours to do (a handshake timeout left it open).
        socket.destroy();
      });
    }
    this.#server.on('error', (error) => {
      // A failed listen() is reported by its rejection; later failures (accept) need the log.
      if (!emitError(this, error) && this.#server.listening) this.#log.error({ err: error }, 'server socket error');
    });
    // Both servers report every TCP connection here, before any TLS.
    this.#server.on('connection', this.#guard.wrap('accepting a connection', (socket: net.Socket) => {
      this.#onTcp(socket);
    }));
  }

  /** Admission counters: admitted, refused (per address, full), evicted (handshaking, unused). */
  get admissionStats(): Readonly<AdmissionStats> {
    return this.#admission.stats;
  }

  /** The admission limits in force. */
  get serverLimits(): ServerLimits {
    return this.#admission.limits;
  }

  #onTcp(socket: net.Socket): void {
    socket.on('error', () => undefined);
    const entry = this.#admission.admit(socket, performance.now());
    if (entry === undefined) return;
    const key = peerKey(socket);
    socket.once('close', () => {
      this.#admission.release(entry);
      if (this.#pendingTls.get(key) === entry) this.#pendingTls.delete(key);
    });
    if (this.#options.tls === undefined) {
      // The session is made when the client first speaks: a silent connection costs a socket and
      // an entry, not a session (its deadline is the admission's).
      socket.once('data', this.#guard.wrap('first bytes of a connection', (chunk: Buffer) => {
        if (!this.#admission.holds(entry)) return;
        // Given back to the stream, so the session's reader sees the bytes first; an explicit pause
        // is only undone by an explicit resume.
        socket.pause();
        socket.unshift(chunk);
        this.#startSession(entry, socket, this.#handshakeTimeLeft(entry));
        socket.resume();
      }));
      return;
    }
    this.#pendingTls.set(key, entry);
  }

  /** What is left of the handshake deadline, which runs from the TCP accept. */
  #handshakeTimeLeft(entry: Admitted): number {
    return Math.max(1, Math.round(this.#handshakeTimeoutMs - (performance.now() - entry.acceptedAt)));
  }

  #onSecure(socket: tls.TLSSocket): void {
    const key = peerKey(socket);
    const entry = this.#pendingTls.get(key);
    this.#pendingTls.delete(key);
    if (entry === undefined) {
      // Evicted or closed while its TLS handshake ran.
      socket.destroy();
      return;
    }
    this.#startSession(entry, socket, this.#handshakeTimeLeft(entry));
  }

  /** A QUIC connection (its own handshake and connection limit are the QUIC listener's). */
  #acceptQuic(transport: QuicTransport): void {
    const connection = new Connection(transport, { ...this.#options, limits: this.#limits, role: 'server', connectionId: `s${(this.#nextId++).toString(36)}`, logger: this.#log }, this.#route);
    this.connections.add(connection);
    void connection.closed.then(() => {
      this.connections.delete(connection);
    });
    emitToApplication(this, 'connection', connection);
  }

  #startSession(entry: Admitted, socket: net.Socket, handshakeTimeoutMs: number): void {
    socket.setNoDelay(true);
    const connectionId = `s${(this.#nextId++).toString(36)}`;
    const tap = this.#options.capture?.open({ id: connectionId, peer: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`, role: 'server' });
    const connection = new Connection(
      socket,
      { ...this.#options, limits: { ...this.#limits, handshakeTimeoutMs }, role: 'server', connectionId, logger: this.#log },
      this.#route,
      tap === undefined ? undefined : { tap },
    );
    entry.connection = connection;
    this.connections.add(connection);
    const address = socket.remoteAddress;
    connection.ready.then(
      () => {
        this.#admission.established(entry);
        connection.session.log.info({ address }, 'connection established');
      },
      () => undefined,
    );
    emitToApplication(this, 'connection', connection);
    void connection.closed.then((end) => {
      this.connections.delete(connection);
      this.#admission.release(entry);
      connection.session.log.info({ address, ...(end.error === undefined ? {} : { code: end.error.code }) }, 'connection closed');
    });
  }

  /** Listens on TCP (and on QUIC when configured); resolves with the TCP address (port 0 picks a free one). */
  async listen(port = 0, host = '127.0.0.1'): Promise<net.AddressInfo> {
    const quic = this.#options.quic;
    if (quic !== undefined && this.#quic === undefined) {
      this.#quic = await QuicListener.listen({ host, ...quic, logger: quic.logger ?? this.#log, maxConnections: quic.maxConnections ?? this.#admission.limits.maxConnections }, (transport) => {
        this.#acceptQuic(transport);
      });
    }
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve(this.#server.address() as net.AddressInfo);
      });
    });
  }

  /** The QUIC endpoint once listening: its UDP port and the peer id clients pin. */
  get quicAddress(): { host: string; port: number; peerId: string } | undefined {
    const q = this.#quic;
    return q === undefined ? undefined : { host: q.host, port: q.port, peerId: q.peerId };
  }

  get address(): net.AddressInfo | undefined {
    return (this.#server.address() as net.AddressInfo | null) ?? undefined;
  }

  /** Graceful shutdown: stop accepting, GOAWAY every connection, wait until all are closed; then 'close'. */
  close(options: { deadlineMs?: number } = {}): Promise<void> {
    this.#closed ??= this.#close(options).then(() => {
      emitToApplication(this, 'close');
    });
    return this.#closed;
  }

  /** `await using server = createServer(…)`: `close()` when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(options: { deadlineMs?: number }): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
    // Connections without a session (silent, or in their TLS handshake) have nothing to finish.
    this.#admission.stop();
    for (const entry of this.#admission.withoutSession()) entry.socket.destroy();
    await Promise.all([...this.connections].map((c) => c.goaway(options)));
    await stopped;
    await this.#quic?.close();
    for (const service of this.#options.services ?? []) await service.close?.();
  }
}

function peerKey(socket: net.Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}

/** Creates a server; call `listen()` to accept connections and `close()` for a graceful shutdown. */
export function createServer(options: ServerOptions): FramewireServer {
  return new FramewireServer(options);
}
