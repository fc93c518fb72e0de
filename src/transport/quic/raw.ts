/**
 * Raw QUIC for test peers: a QUIC connection whose streams are plain byte pipes, with none of the
 * framewire mapping of quic-transport.ts on top. The conformance runner needs exactly this to
 * follow §14 where a case behaves and to break it where a case must (a frame of the wrong stream
 * on a QUIC stream, a FIN inside a frame, a RESET_STREAM for a live stream). The library's calls
 * stay here: every call is guarded, writes on one stream are serialised (the binding's writes must
 * not overlap), and a failure arrives as a rejection with the library's message, never a throw.
 */

import { FramewireError } from '../../errors.ts';
import type { QuicConnection, QuicStream } from './binding.ts';
import { dialConnection } from './endpoint.ts';
import { guarded } from './failure.ts';

/** One QUIC stream as a byte pipe in each direction. */
export interface RawQuicStream {
  /** The QUIC stream id (0 is the client's first bidirectional stream, then 4, 8, …). */
  readonly quicId: number;
  /** Up to `maxLen` bytes; null once the peer finished its half (FIN); rejects on RESET_STREAM or connection loss. */
  read(maxLen: number): Promise<Uint8Array | null>;
  /** Queues bytes after every earlier write (and never after finish or reset). */
  write(bytes: Uint8Array): Promise<void>;
  /** FIN after every queued write. */
  finish(): Promise<void>;
  /** RESET_STREAM (application code 0) after every queued write was handed to the library. */
  reset(): Promise<void>;
  /** STOP_SENDING (application code 0). */
  stopReading(): Promise<void>;
}

/** A raw QUIC connection: open and accept streams, watch it end, cut it. */
export interface RawQuicConnection {
  /** The peer's identity as its TLS handshake proved it (libp2p peer id). */
  readonly peerId: string;
  /** Opens the next bidirectional stream; opens run one after another, so QUIC ids follow call order. */
  openStream(): Promise<RawQuicStream>;
  /** The next bidirectional stream the peer opened, in QUIC id order. */
  acceptStream(): Promise<RawQuicStream>;
  /** Resolves when the connection is over, for any reason. */
  closed(): Promise<void>;
  /** CONNECTION_CLOSE at once, and the UDP endpoint released. */
  close(): void;
}

export interface RawQuicDialOptions {
  readonly host: string;
  readonly port: number;
  /** The server's peer id to pin: another identity fails the connect with AUTH_FAILED. */
  readonly peerId?: string;
}

/** Dials a QUIC connection without the framewire mapping (for test peers only). */
export async function dialRawQuic(options: RawQuicDialOptions): Promise<RawQuicConnection> {
  const { connection, peerId, release } = await dialConnection(options);
  return new RawConnection(connection, peerId, release);
}

class RawConnection implements RawQuicConnection {
  readonly peerId: string;
  readonly #connection: QuicConnection;
  readonly #release: () => void;
  #opening: Promise<unknown> = Promise.resolve();
  #opened = 0;
  #accepted = 0;
  #closed = false;

  constructor(connection: QuicConnection, peerId: string, release: () => void) {
    this.#connection = connection;
    this.peerId = peerId;
    this.#release = release;
  }

  openStream(): Promise<RawQuicStream> {
    const next = this.#opening.then(() => guarded(() => this.#connection.outboundStream()));
    this.#opening = next.catch(() => undefined);
    const quicId = 4 * this.#opened++;
    return next.then((stream) => new RawStream(stream, quicId));
  }

  acceptStream(): Promise<RawQuicStream> {
    // The server's bidirectional streams: ids 1, 5, 9, … (RFC 9000 §2.1), accepted in order.
    const quicId = 4 * this.#accepted++ + 1;
    return guarded(() => this.#connection.inboundStream()).then((stream) => new RawStream(stream, quicId));
  }

  closed(): Promise<void> {
    return guarded(() => this.#connection.closed());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#connection.abort();
    } catch {
      // Already closed by the peer: nothing to abort.
    }
    this.#release();
  }
}

class RawStream implements RawQuicStream {
  readonly quicId: number;
  readonly #stream: QuicStream;
  #tail: Promise<unknown> = Promise.resolve();
  #ended = false;

  constructor(stream: QuicStream, quicId: number) {
    this.#stream = stream;
    this.quicId = quicId;
  }

  read(maxLen: number): Promise<Uint8Array | null> {
    return guarded(() => this.#stream.read(maxLen));
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#ended) return Promise.reject(new FramewireError('STREAM_CLOSED', `QUIC stream ${this.quicId}: write after finish or reset`));
    return this.#then(() => this.#stream.write(bytes));
  }

  finish(): Promise<void> {
    return this.#end(() => this.#stream.finishWrite());
  }

  reset(): Promise<void> {
    return this.#end(() => this.#stream.resetWrite());
  }

  stopReading(): Promise<void> {
    return guarded(() => this.#stream.stopRead());
  }

  #end(call: () => Promise<void>): Promise<void> {
    if (this.#ended) return Promise.resolve();
    this.#ended = true;
    return this.#then(call);
  }

  /** Runs `call` after every earlier operation settled. */
  #then(call: () => Promise<void>): Promise<void> {
    const next = this.#tail.then(() => guarded(call));
    this.#tail = next.catch(() => undefined);
    return next;
  }
}
