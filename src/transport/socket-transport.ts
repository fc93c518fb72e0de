/**
 * Binds a session to one ordered byte stream (a node:net or node:tls socket, or the in-memory
 * pair): frames out through a FrameBatch and corked writes, bytes in through the incremental
 * decoder, socket backpressure passed to the scheduler. The only place bytes meet a session.
 */

import type { Duplex } from 'node:stream';
import { FramewireError } from '../errors.ts';
import type { FrameTransport, Session } from '../session/index.ts';
import { FrameBatch, FrameDecoder, HANDSHAKE_MAX_PAYLOAD } from '../wire/index.ts';
import type { ConnectionTap } from './capture.ts';

/** Options of the socket transport under a `Connection`. */
export interface SocketTransportOptions {
  /** Only for deliberately broken peers in conformance tests. */
  readonly skipCrc?: boolean;
  /** Sees every byte in both directions, as they cross the socket (a capture for `framewire inspect`). */
  readonly tap?: ConnectionTap;
}

export class SocketTransport implements FrameTransport {
  readonly #socket: Duplex;
  // Payloads up to 16 KiB are copied (packed frames among them: see FrameTransport.copyLimit);
  // written slabs go back to the process-wide pool.
  readonly #batch = new FrameBatch({ copyThreshold: 16 * 1024, slabSize: 64 * 1024 });
  readonly #decoder: FrameDecoder;
  readonly #tap: ConnectionTap | undefined;
  #session: Session | undefined;
  #closed = false;

  constructor(socket: Duplex, options: SocketTransportOptions = {}) {
    this.#socket = socket;
    this.#tap = options.tap;
    // keepPieces: socket chunks are never reused, so frames that straddle reads are not copied.
    this.#decoder = new FrameDecoder({ maxPayload: HANDSHAKE_MAX_PAYLOAD, skipCrc: options.skipCrc ?? false, keepPieces: true }, (frame) => {
      this.#session?.receive(frame);
    });
  }

  /** Connects the socket's events to the session and starts the handshake. */
  attach(session: Session): void {
    this.#session = session;
    const socket = this.#socket;
    // Every listener runs behind the session's guard: an exception closes this connection (INTERNAL), not the process.
    socket.on('data', (chunk: Buffer) => {
      session.guard('socket data', () => {
        this.#tap?.received(chunk);
        try {
          this.#decoder.push(chunk);
        } catch (error) {
          session.transportError(error);
        }
      });
    });
    socket.on('drain', () => {
      session.guard('socket drain', () => {
        session.writable();
      });
    });
    socket.on('end', () => {
      session.guard('socket end', () => {
        try {
          this.#decoder.end();
        } catch (error) {
          session.transportClosed(error);
          return;
        }
        session.transportClosed(new FramewireError('CONNECTION_LOST', 'the peer closed the connection'));
      });
    });
    socket.on('error', (error) => {
      session.guard('socket error', () => {
        session.transportClosed(error);
      });
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#tap?.close();
      session.guard('socket close', () => {
        session.transportClosed(new FramewireError('CONNECTION_LOST', 'the connection closed'));
      });
    });
    session.start();
  }

  write(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): void {
    this.#batch.push(type, flags, stream, seq, payload);
  }

  get copyLimit(): number {
    return this.#batch.copyThreshold;
  }

  flush(): void {
    if (this.#batch.byteLength === 0 || this.#closed) return;
    // Written in order: the last write's callback means the socket is done with all of them,
    // and the batch may reuse their slabs (with an error too: then nothing more is written).
    const { chunks, written } = this.#batch.takeForWrite();
    const socket = this.#socket;
    if (this.#tap !== undefined) for (const chunk of chunks) this.#tap.sent(chunk);
    if (chunks.length === 1) {
      socket.write(chunks[0], written);
      return;
    }
    // One writev for header/payload pairs and packed small frames.
    socket.cork();
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) socket.write(chunks[i]);
    socket.write(chunks[last], written);
    socket.uncork();
  }

  get bufferedBytes(): number {
    return this.#socket.writableLength + this.#batch.byteLength;
  }

  setMaxPayload(maxPayload: number): void {
    this.#decoder.setMaxPayload(maxPayload);
  }

  /** Bytes the decoder holds for an incomplete frame. */
  get decoderBufferedBytes(): number {
    return this.#decoder.bufferedBytes;
  }

  get partialFrameBytes(): number {
    return this.#decoder.bufferedBytes;
  }

  get framesDecoded(): number {
    return this.#decoder.frameCount + this.#decoder.ignoredFrames;
  }

  close(): void {
    if (this.#closed) return;
    // Flush before marking closed: flush() writes nothing once #closed is set.
    this.flush();
    this.#closed = true;
    this.#socket.end();
    // A peer that never reads must not keep the socket open forever.
    const timer = setTimeout(() => this.#socket.destroy(), 2000);
    timer.unref();
  }

  /** Cuts the connection at once, as a network failure would (for tests and fault injection). */
  destroy(): void {
    this.#closed = true;
    this.#socket.destroy();
  }
}
