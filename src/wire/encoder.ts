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
  /** Where written-out slabs wait for reuse (see takeForWrite); default: one pool for the whole process. */
  readonly pool?: SlabPool;
}

/**
 * Slabs written out and free for reuse, shared by every FrameBatch of the process so that the
 * memory kept is bounded per process, not per connection (a server may hold thousands of idle
 * connections). Only slabs of one size are pooled together.
 */
export class SlabPool {
  readonly #capacity: number;
  readonly #free = new Map<number, Buffer[]>();
  #count = 0;

  /** Keeps at most `capacity` slabs in all. */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Slabs waiting for reuse. */
  get size(): number {
    return this.#count;
  }

  take(size: number): Buffer | undefined {
    const slab = this.#free.get(size)?.pop();
    if (slab !== undefined) this.#count--;
    return slab;
  }

  give(slab: Buffer): void {
    if (this.#count >= this.#capacity) return;
    let list = this.#free.get(slab.length);
    if (list === undefined) {
      list = [];
      this.#free.set(slab.length, list);
    }
    list.push(slab);
    this.#count++;
  }
}

/** The default pool: 32 slabs of 64 KiB are 2 MiB kept for the whole process. */
export const sharedSlabPool = new SlabPool(32);

/** A slab and the takes that still reference it. */
interface Slab {
  readonly buffer: Buffer;
  /** Takes handed out and not yet reported written; take() never reports, so its slabs never return. */
  pending: number;
  /** No longer the slab being filled. */
  retired: boolean;
}

/** What takeForWrite() hands out: the bytes, and the call to make once the OS has taken them. */
export interface TakenFrames {
  readonly chunks: Uint8Array[];
  readonly written: () => void;
}

/**
 * Packs frames for one socket write. Small frames are copied into a slab so that a burst of
 * CREDIT/ACK/small DATA frames costs one buffer; a large payload is referenced, not copied.
 * Bytes handed out are never written again while they may be in use: after take(), never; after
 * takeForWrite(), not before `written()` was called, when a full slab is reused instead of a new
 * one allocated. Slabs are external memory: allocating them at hundreds of MB/s, with little
 * other garbage to trigger scavenges, made V8 run GCs for "external memory pressure" (bench/e2e).
 */
export class FrameBatch {
  readonly #copyThreshold: number;
  readonly #slabSize: number;
  readonly #pool: SlabPool;
  /** The slab being filled; none until the first frame, so an idle batch holds no memory. */
  #slab: Slab | undefined;
  #start = 0;
  #end = 0;
  #chunks: Uint8Array[] = [];
  /** Slabs the chunks since the last take refer to. */
  #chunkSlabs: Slab[] = [];
  #bytes = 0;
  #frames = 0;

  constructor(options: FrameBatchOptions = {}) {
    this.#copyThreshold = options.copyThreshold ?? 1024;
    this.#slabSize = Math.max(options.slabSize ?? 64 * 1024, HEADER_SIZE + this.#copyThreshold);
    this.#pool = options.pool ?? sharedSlabPool;
  }

  /** Payloads up to this many bytes are copied by push(): the caller may reuse their buffers at once. */
  get copyThreshold(): number {
    return this.#copyThreshold;
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
    if (this.#slab === undefined || this.#slab.buffer.length - this.#end < need) this.#newSlab();
    const slab = this.#slab!.buffer;
    writeHeader(slab, this.#end, type, flags, stream, seq, payload);
    this.#end += HEADER_SIZE;
    if (small) {
      slab.set(payload, this.#end);
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

  /** The queued bytes as a list for writev (empty when nothing is queued); resets the batch. Its slabs are never reused. */
  take(): Uint8Array[] {
    const taken = this.#take();
    for (const s of taken.slabs) s.pending = Infinity;
    return taken.chunks;
  }

  /** Like take(); call `written()` once the bytes were written out, and their slabs may be reused. */
  takeForWrite(): TakenFrames {
    const { chunks, slabs } = this.#take();
    for (const s of slabs) s.pending++;
    let done = false;
    return {
      chunks,
      written: () => {
        if (done) return;
        done = true;
        for (const s of slabs) {
          s.pending--;
          this.#maybeReuse(s);
        }
      },
    };
  }

  #take(): { chunks: Uint8Array[]; slabs: Slab[] } {
    this.#sealSlab();
    const taken = { chunks: this.#chunks, slabs: this.#chunkSlabs };
    this.#chunks = [];
    this.#chunkSlabs = [];
    this.#bytes = 0;
    this.#frames = 0;
    return taken;
  }

  #sealSlab(): void {
    const slab = this.#slab;
    if (slab !== undefined && this.#end > this.#start) {
      this.#chunks.push(slab.buffer.subarray(this.#start, this.#end));
      if (this.#chunkSlabs.at(-1) !== slab) this.#chunkSlabs.push(slab);
      this.#start = this.#end;
    }
  }

  #newSlab(): void {
    this.#sealSlab();
    const old = this.#slab;
    this.#slab = { buffer: this.#pool.take(this.#slabSize) ?? Buffer.allocUnsafeSlow(this.#slabSize), pending: 0, retired: false };
    this.#start = 0;
    this.#end = 0;
    if (old === undefined) return;
    old.retired = true;
    // Sealed chunks of the old slab not yet taken still count: it waits for their take.
    if (this.#chunkSlabs.at(-1) !== old) this.#maybeReuse(old);
  }

  #maybeReuse(slab: Slab): void {
    if (slab.pending !== 0 || !slab.retired) return;
    // Given away: a later written() of a stale take must not find it again.
    slab.pending = Infinity;
    this.#pool.give(slab.buffer);
  }
}
