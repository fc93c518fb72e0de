/** L5: `createServer()`, the server's entry point. */

import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Connection } from './connection.ts';
import type { SessionOptions, StreamHandler } from './session/index.ts';
import { routeKind, type StreamService } from './session/index.ts';
import { QuicListener, type QuicListenOptions, type QuicTransport } from './transport/index.ts';

export interface ServerOptions extends Omit<SessionOptions, 'role' | 'connectionId'> {
  /** Services that claim OPEN kinds (uploads, event streams, your own). */
  readonly services?: readonly StreamService[];
  /** Called for streams no service claims; absent: such streams fail with NOT_FOUND. */
  readonly onStream?: StreamHandler;
  /** TLS key and certificate (PEM); plain TCP when absent. */
  readonly tls?: tls.TlsOptions;
  /** Connections accepted at once; more are closed at accept (default 1024). */
  readonly maxConnections?: number;
  /**
   * Also serve framewire over QUIC (spec §14): `listen()` binds a UDP port too (`port` 0 picks a
   * free one). Without `identity`, a throw-away one is generated; its peer id is `quicAddress.peerId`.
   */
  readonly quic?: QuicListenOptions;
}

export class FramewireServer {
  readonly connections = new Set<Connection>();
  readonly #server: net.Server;
  readonly #options: ServerOptions;
  readonly #log: Logger;
  #nextId = 1;
  readonly #route: StreamHandler;
  #quic: QuicListener | undefined;

  constructor(options: ServerOptions) {
    this.#options = options;
    this.#log = options.logger ?? pino({ level: 'silent' });
    const services = options.services ?? [];
    const fallback = options.onStream;
    this.#route = (stream, session) => {
      const service = routeKind(services, stream.kind);
      if (service !== undefined) return service.handle(stream, session);
      if (fallback !== undefined) return fallback(stream, session);
      stream.fail('NOT_FOUND', `no service for stream kind "${stream.kind}"`);
      return undefined;
    };
    const onSocket = (socket: net.Socket): void => {
      this.#accept(socket);
    };
    this.#server = options.tls === undefined ? net.createServer({ noDelay: true }, onSocket) : tls.createServer(options.tls, onSocket);
    this.#server.maxConnections = options.maxConnections ?? 1024;
  }

  #accept(over: net.Socket | QuicTransport): void {
    if (over instanceof net.Socket) over.setNoDelay(true);
    const connection = new Connection(over, { ...this.#options, role: 'server', connectionId: `s${(this.#nextId++).toString(36)}`, logger: this.#log }, this.#route);
    this.connections.add(connection);
    void connection.closed.then(() => {
      this.connections.delete(connection);
    });
  }

  /** Listens on TCP (and on QUIC when configured); resolves with the TCP address (port 0 picks a free one). */
  async listen(port = 0, host = '127.0.0.1'): Promise<net.AddressInfo> {
    const quic = this.#options.quic;
    if (quic !== undefined && this.#quic === undefined) {
      this.#quic = await QuicListener.listen({ host, ...quic, logger: quic.logger ?? this.#log, maxConnections: this.#options.maxConnections ?? 1024 }, (transport) => {
        this.#accept(transport);
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

  /** Graceful shutdown: stop accepting, GOAWAY every connection, wait until all are closed. */
  async close(options: { deadlineMs?: number } = {}): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
    await Promise.all([...this.connections].map((c) => c.goaway(options)));
    await stopped;
    await this.#quic?.close();
    for (const service of this.#options.services ?? []) await service.close?.();
  }
}

export function createServer(options: ServerOptions): FramewireServer {
  return new FramewireServer(options);
}
