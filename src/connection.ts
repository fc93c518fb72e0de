/**
 * A session bound to a transport: what `connect()` returns and what a server holds per client.
 * Delegates the stream API to the session and adds what only the transport can do (destroy, the
 * socket over TCP, the peer's proven identity over QUIC).
 */

import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { emitError, emitToApplication } from './emit.ts';
import type { FramewireError } from './errors.ts';
import type { ClientConnection, FrameTransport, OpenOptions, Session, SessionEnd, SessionOptions, StreamHandler, Stream } from './session/index.ts';
import { Session as SessionImpl } from './session/index.ts';
import { QuicTransport, SocketTransport, type SocketTransportOptions } from './transport/index.ts';

/** A transport that can drive a session: TCP (SocketTransport) or QUIC (QuicTransport). */
export interface AttachableTransport extends FrameTransport {
  /** Starts feeding the session the frames that arrive and writing the frames it sends. */
  attach(session: Session): void;
  /** Drops the connection at once, as a network failure would. */
  destroy(): void;
}

/** The events of a {@link Connection}, as node:net and node:http2 name them. */
export interface ConnectionEvents {
  /**
   * The connection ended with this error (the one `closed` reports), just before 'close'. Emitted
   * only when there is a listener: unlike a net.Socket, a Connection without an 'error' listener
   * does not throw it (src/emit.ts says why).
   */
  error: [error: FramewireError];
  /** Once, when the connection is over: with the error it ended with, nothing for a clean end. */
  close: [error?: FramewireError];
}

/**
 * A session bound to a socket: what `connect()` resolves to and what a server holds per client. Opens
 * streams, pings, and ends with `goaway()`, `close()` or `destroy()`; `await using` ends it with
 * `goaway()`. Besides its promises (`ready`, `closed`) it emits 'error' and 'close'
 * ({@link ConnectionEvents}).
 */
export class Connection extends EventEmitter<ConnectionEvents> implements ClientConnection, AsyncDisposable {
  readonly session: Session;
  /** The TCP (or TLS) socket; undefined over QUIC. */
  readonly socket: Duplex | undefined;
  readonly #transport: AttachableTransport;

  constructor(over: Duplex | AttachableTransport, options: SessionOptions, onStream?: StreamHandler, transportOptions?: SocketTransportOptions) {
    super();
    this.socket = over instanceof Duplex ? over : undefined;
    this.#transport = over instanceof Duplex ? new SocketTransport(over, transportOptions) : over;
    try {
      this.session = new SessionImpl(options, this.#transport, onStream);
    } catch (error) {
      // Invalid options (a HELLO that cannot be encoded …): the transport must not outlive the failure.
      this.#transport.destroy();
      throw error;
    }
    this.#transport.attach(this.session);
    void this.session.closed.then((end) => {
      if (end.error === undefined) {
        emitToApplication(this, 'close');
        return;
      }
      emitError(this, end.error);
      emitToApplication(this, 'close', end.error);
    });
  }

  /** 'quic' or 'tcp'. */
  get transport(): 'quic' | 'tcp' {
    return this.#transport instanceof QuicTransport ? 'quic' : 'tcp';
  }

  /** Over QUIC, the peer id its TLS certificate proved (spec FW-QUIC-11); undefined over TCP. */
  get peerId(): string | undefined {
    return this.#transport instanceof QuicTransport ? this.#transport.peerId : undefined;
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

  /** Opens a stream; it may carry data at once, and the peer answers it by kind. */
  open(options: OpenOptions): Stream {
    return this.session.open(options);
  }

  /** Sends a PING and resolves with the round-trip time in milliseconds. */
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

  /** Cuts the connection without a word, as a network failure would. */
  destroy(): void {
    this.#transport.destroy();
  }

  /** `await using connection = await connect(…)`: a graceful `goaway()` when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.goaway();
  }
}
