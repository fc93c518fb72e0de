/**
 * @chainsafe/libp2p-yamux 8 over a plain node:net socket, outside libp2p.
 *
 * - yamux 8 (with @libp2p/utils 7) calls `Promise.withResolvers`, which Node 20 lacks (it came in
 *   Node 22): a spec-conformant polyfill is installed before the library is loaded.
 * - The muxer wants a libp2p `MessageStream` (event based: `send()` returning false for
 *   backpressure, 'message' / 'drain' / 'close' events). `SocketMessageStream` adapts a socket the
 *   way @libp2p/tcp does: writes go straight to the socket, 'data' becomes `onData`, 'drain' is
 *   forwarded, pause/resume map to the socket's.
 */

import type * as net from 'node:net';

declare global {
  interface PromiseConstructor {
    withResolvers?: unknown;
  }
}

if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor) {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

// Loaded after the polyfill (static imports would be hoisted above it).
const { yamux } = await import('@chainsafe/libp2p-yamux');
const { AbstractMessageStream } = await import('@libp2p/utils');
const { logger } = await import('@libp2p/logger');

type Uint8ArrayListLike = Iterable<Uint8Array> & { readonly byteLength: number };

class SocketMessageStream extends AbstractMessageStream {
  readonly #socket: net.Socket;

  constructor(socket: net.Socket, direction: 'inbound' | 'outbound') {
    super({ log: logger(`bench:yamux:${direction}`), direction, inactivityTimeout: 0, maxReadBufferLength: 64 * 1024 * 1024 });
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.onData(chunk);
    });
    socket.on('drain', () => {
      this.safeDispatchEvent('drain');
    });
    socket.on('end', () => {
      this.onRemoteCloseWrite();
    });
    socket.on('close', () => {
      this.onTransportClosed();
    });
    socket.on('error', (error) => {
      this.abort(error);
    });
  }

  sendData(data: Uint8ArrayListLike): { sentBytes: number; canSendMore: boolean } {
    let sentBytes = 0;
    let canSendMore = true;
    this.#socket.cork();
    for (const buf of data) {
      sentBytes += buf.byteLength;
      canSendMore = this.#socket.write(buf);
      if (!canSendMore) break;
    }
    this.#socket.uncork();
    return { sentBytes, canSendMore };
  }

  sendReset(): void {
    this.#socket.resetAndDestroy();
  }

  sendPause(): void {
    this.#socket.pause();
  }

  sendResume(): void {
    this.#socket.resume();
  }

  override close(): Promise<void> {
    this.#socket.end();
    return Promise.resolve();
  }
}

export type YamuxMuxer = ReturnType<ReturnType<ReturnType<typeof yamux>>['createStreamMuxer']>;
export type YamuxStream = Awaited<ReturnType<YamuxMuxer['createStream']>>;

/** A yamux muxer on `socket`; the client side is 'outbound'. Keep-alive pings are off (no timers in a benchmark). */
export function yamuxOver(socket: net.Socket, direction: 'inbound' | 'outbound'): YamuxMuxer {
  const factory = yamux({
    enableKeepAlive: false,
    maxInboundStreams: 1024,
    streamOptions: { maxReadBufferLength: 64 * 1024 * 1024, inactivityTimeout: 0 },
  })();
  return factory.createStreamMuxer(new SocketMessageStream(socket, direction));
}

/** Calls `cb` with every Uint8Array of a 'message' event's data (a Uint8Array or a Uint8ArrayList). */
export function eachBuffer(data: Uint8Array | Uint8ArrayListLike, cb: (chunk: Uint8Array) => void): void {
  if (data instanceof Uint8Array) cb(data);
  else for (const b of data) cb(b);
}
