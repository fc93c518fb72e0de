/**
 * Two connected in-memory Duplex streams, like a socketpair: for tests that need a transport
 * without the kernel. Bytes cross asynchronously, optionally cut into small pieces so decoders
 * see frames split at arbitrary points.
 */

import { Duplex } from 'node:stream';

/** Options of `createMemoryPair()`. */
export interface MemoryPairOptions {
  /** Deliver at most this many bytes per chunk (default: whole writes). */
  readonly maxChunk?: number;
}

class MemoryEnd extends Duplex {
  peer!: MemoryEnd;
  readonly #maxChunk: number;

  constructor(maxChunk: number) {
    super({ allowHalfOpen: false });
    this.#maxChunk = maxChunk;
  }

  override _read(): void {
    // Data is pushed by the peer's writes.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    setImmediate(() => {
      for (let at = 0; at < chunk.length; at += this.#maxChunk) {
        this.peer.push(chunk.subarray(at, Math.min(chunk.length, at + this.#maxChunk)));
      }
      callback();
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    setImmediate(() => {
      this.peer.push(null);
      callback();
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    setImmediate(() => {
      if (!this.peer.destroyed) this.peer.destroy();
    });
    callback(error);
  }
}

/**
 * Two connected in-memory duplex streams, a socket pair without the network: for tests and for running
 * sessions in one process.
 */
export function createMemoryPair(options: MemoryPairOptions = {}): [Duplex, Duplex] {
  const maxChunk = options.maxChunk ?? Number.MAX_SAFE_INTEGER;
  const a = new MemoryEnd(maxChunk);
  const b = new MemoryEnd(maxChunk);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
