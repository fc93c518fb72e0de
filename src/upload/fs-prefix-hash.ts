/**
 * The object's SHA-256 without a second pass at commit (issue 17): a running hash over the
 * contiguous prefix of kept chunks of an upload's part file. Chunks arrive in any order and several
 * at once, so the hash cannot ride along with the bytes as they are written; instead, whenever a
 * kept chunk extends the prefix, that chunk (and every kept chunk right after it) is read back —
 * just written, so from the page cache — and hashed, in the background, one read in flight.
 *
 * At commit, `digest()` hashes only what the prefix does not cover yet. The prefix lives in memory:
 * after a restart it starts empty and the first chunks are not "kept" in this life, so commit reads
 * the whole part file back — the fallback. A failed read marks the prefix unusable, which leads to
 * the same fallback; a wrong prefix is impossible because only kept chunks (recorded as stored,
 * never rewritten) are hashed.
 */

import { createHash, type Hash } from 'node:crypto';
import { FramewireError } from '../errors.ts';
import type { UploadGeometry } from './backends.ts';
import { chunkLengthOf } from './protocol.ts';

/** Reads up to `length` bytes at `position` into `buffer`; resolves with the count read. */
export type ReadAt = (buffer: Buffer, length: number, position: number) => Promise<number>;
/** Runs `fn` with the part file open for reading. */
export type WithReader = <T>(fn: (read: ReadAt) => Promise<T>) => Promise<T>;

/** Bytes read back at once. */
const READ_BYTES = 1024 * 1024;

export class PrefixHash {
  readonly #upload: UploadGeometry;
  readonly #withReader: WithReader;
  readonly #hash = createHash('sha256');
  /** Bytes of the part file the hash covers: [0, end). */
  #end = 0;
  /** The chunk that extends the prefix next. */
  #next = 0;
  /** Kept chunks beyond the prefix. */
  readonly #kept = new Set<number>();
  #running: Promise<void> | undefined;
  #broken = false;

  constructor(upload: UploadGeometry, withReader: WithReader) {
    this.#upload = upload;
    this.#withReader = withReader;
  }

  /** Chunk `index` was recorded as stored: its bytes are final. */
  add(index: number): void {
    if (this.#broken || index < this.#next) return;
    this.#kept.add(index);
    this.#kick();
  }

  /**
   * The whole object's SHA-256 (every chunk is stored): the prefix, then the rest read back. With
   * `perChunk`, one read of the whole file that also hashes each chunk on its own.
   */
  async digest(perChunk: boolean): Promise<{ sha256: string; chunks?: string[] }> {
    await this.#running;
    const u = this.#upload;
    if (perChunk) {
      const whole = createHash('sha256');
      const chunks = await this.#withReader(async (read) => {
        const out: string[] = [];
        for (let i = 0; i < u.chunkCount; i++) {
          const own = createHash('sha256');
          await hashRange(read, [whole, own], i * u.chunkSize, chunkLengthOf(u.size, u.chunkSize, i));
          out.push(own.digest('hex'));
        }
        return out;
      });
      return { sha256: whole.digest('hex'), chunks };
    }
    const from = this.#broken ? 0 : this.#end;
    const hash = this.#broken ? createHash('sha256') : this.#hash.copy();
    await this.#withReader((read) => hashRange(read, [hash], from, u.size - from));
    return { sha256: hash.digest('hex') };
  }

  #kick(): void {
    if (this.#running !== undefined || this.#broken || !this.#kept.has(this.#next)) return;
    this.#running = this.#withReader((read) => this.#extend(read)).then(
      () => {
        this.#running = undefined;
        this.#kick();
      },
      () => {
        // Part of a chunk may be in the hash: only a full read gives the digest now.
        this.#running = undefined;
        this.#broken = true;
      },
    );
  }

  async #extend(read: ReadAt): Promise<void> {
    const u = this.#upload;
    while (!this.#broken && this.#kept.has(this.#next)) {
      const length = chunkLengthOf(u.size, u.chunkSize, this.#next);
      await hashRange(read, [this.#hash], this.#end, length);
      this.#kept.delete(this.#next);
      this.#next++;
      this.#end += length;
    }
  }
}

async function hashRange(read: ReadAt, hashes: readonly Hash[], from: number, length: number): Promise<void> {
  if (length <= 0) return;
  const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, length));
  for (let at = from; at < from + length; ) {
    const n = await read(buffer, Math.min(buffer.length, from + length - at), at);
    if (n === 0) throw new FramewireError('INTERNAL', `the part file ends at byte ${at}, before the object's ${from + length}`);
    for (const h of hashes) h.update(buffer.subarray(0, n));
    at += n;
  }
}
