/**
 * A session bound to a socket: what `connect()` returns and what a server holds per client.
 * Delegates the stream API to the session and adds what only the socket can do (destroy, address).
 */

import type { Duplex } from 'node:stream';
import type { FramewireError } from './errors.ts';
import type { ClientConnection, OpenOptions, Session, SessionEnd, SessionOptions, StreamHandler, Stream } from './session/index.ts';
import { Session as SessionImpl } from './session/index.ts';
import { SocketTransport, type SocketTransportOptions } from './transport/index.ts';

export class Connection implements ClientConnection {
  readonly session: Session;
  readonly socket: Duplex;
  readonly #transport: SocketTransport;

  constructor(socket: Duplex, options: SessionOptions, onStream?: StreamHandler, transportOptions?: SocketTransportOptions) {
    this.socket = socket;
    this.#transport = new SocketTransport(socket, transportOptions);
    this.session = new SessionImpl(options, this.#transport, onStream);
    this.#transport.attach(this.session);
  }

  get id(): string {
    return this.session.id;
  }

  get ready(): Promise<void> {
    return this.session.ready;
  }

  get closed(): Promise<SessionEnd> {
    return this.session.closed;
  }

  /** False once the connection failed, closed, or is going away (GOAWAY sent or received). */
  get isOpen(): boolean {
    return this.session.isOpen;
  }

  open(options: OpenOptions): Stream {
    return this.session.open(options);
  }

  ping(): Promise<number> {
    return this.session.ping();
  }

  /** Graceful: GOAWAY, in-flight streams finish (or fail with TIMEOUT at the deadline), then close. */
  goaway(options?: { deadlineMs?: number; message?: string }): Promise<void> {
    return this.session.goaway(options);
  }

  /** Closes now; with an error, the peer receives it as ERROR on stream 0. */
  close(error?: FramewireError): void {
    this.session.close(error);
  }

  /** Cuts the socket without a word, as a network failure would. */
  destroy(): void {
    this.#transport.destroy();
  }
}
