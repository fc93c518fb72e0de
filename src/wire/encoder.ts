/**
 * Encoding. A frame becomes a 20-byte header plus its payload *as is*: the payload is never
 * copied, so a socket can take both with writev. Many small frames are better packed into one
 * buffer (one syscall, one allocation): `FrameBatch` does that and still passes large payloads
 * by reference.
 */

import { payloadBytes, type Frame } from './frame.ts';
import { encodeHeader, writeHeader } from './header.ts';
import { HEADER_SIZE } from './limits.ts';

/** Header and payload, ready for writev; the payload is the caller's own buffer. */
export function encodeFrameParts(frame: Frame): [Buffer, Uint8Array] {
  const payload = payloadBytes(frame);
  return [encodeHeader(frame.type, frame.flags, frame.stream, frame.seq, payload), payload];
}

/** One contiguous copy of the whole frame: for tests, vectors and captures, not the hot path. */
export function encodeFrame(frame: Frame): Buffer {
  const [header, payload] = encodeFrameParts(frame);
  return Buffer.concat([header, payload]);
}

export interface FrameBatchOptions {
  /** Payloads at most this long are copied next to their header; longer ones are referenced. */
  readonly copyThreshold?: number;
  /** Size of each slab that small frames are packed into. */
  readonly slabSize?: number;
}

/**
 * Packs frames for one socket write. Small frames are copied into a slab so that a burst of
 * CREDIT/ACK/small DATA frames costs one buffer; a large payload is referenced, not copied.
 * Bytes handed out by `take()` are never written again, so the socket may hold them as long as it likes.
 */
export class FrameBatch {
  readonly #copyThreshold: number;
  readonly #slabSize: number;
  #slab: Buffer;
  #start = 0;
  #end = 0;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #frames = 0;

  constructor(options: FrameBatchOptions = {}) {
    this.#copyThreshold = options.copyThreshold ?? 1024;
    this.#slabSize = Math.max(options.slabSize ?? 64 * 1024, HEADER_SIZE + this.#copyThreshold);
    this.#slab = Buffer.allocUnsafe(this.#slabSize);
  }

  /** Bytes queued since the last take(). */
  get byteLength(): number {
    return this.#bytes;
  }

  get frameCount(): number {
    return this.#frames;
  }

  push(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): void {
    const small = payload.length <= this.#copyThreshold;
    const need = HEADER_SIZE + (small ? payload.length : 0);
    if (this.#slab.length - this.#end < need) this.#newSlab();
    writeHeader(this.#slab, this.#end, type, flags, stream, seq, payload);
    this.#end += HEADER_SIZE;
    if (small) {
      this.#slab.set(payload, this.#end);
      this.#end += payload.length;
    } else {
      this.#sealSlab();
      this.#chunks.push(payload);
    }
    this.#bytes += HEADER_SIZE + payload.length;
    this.#frames++;
  }

  pushFrame(frame: Frame): void {
    this.push(frame.type, frame.flags, frame.stream, frame.seq, payloadBytes(frame));
  }

  /** The queued bytes as a list for writev (empty when nothing is queued); resets the batch. */
  take(): Uint8Array[] {
    this.#sealSlab();
    const out = this.#chunks;
    this.#chunks = [];
    this.#bytes = 0;
    this.#frames = 0;
    return out;
  }

  #sealSlab(): void {
    if (this.#end > this.#start) {
      this.#chunks.push(this.#slab.subarray(this.#start, this.#end));
      this.#start = this.#end;
    }
  }

  #newSlab(): void {
    this.#sealSlab();
    this.#slab = Buffer.allocUnsafe(this.#slabSize);
    this.#start = 0;
    this.#end = 0;
  }
}
