/**
 * What the uploader reads from: a file path or a byte array (random access: a chunk to re-send is
 * read again), or a Readable / async iterable (sequential: the uploader keeps each chunk it read
 * until the server acknowledged it, so memory stays at in-flight chunks x chunk size).
 */

import { open, type FileHandle } from 'node:fs/promises';
import { FramewireError, invalidArgument } from '../errors.ts';

/**
 * What `upload()` can send: a file path, the bytes themselves, or an async iterable of bytes (give
 * `size`).
 */
export type UploadSource = string | Uint8Array | AsyncIterable<Uint8Array>;

export interface ChunkSource {
  readonly size: number;
  /** True when any byte range can be read again (file, bytes). */
  readonly seekable: boolean;
  /**
   * Reads [offset, offset + length). A sequential source only serves the next range in order and
   * fails with a RangeError otherwise.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function openSource(source: UploadSource, declaredSize: number | undefined): Promise<ChunkSource> {
  if (typeof source === 'string') {
    const fh = await open(source, 'r');
    const { size } = await fh.stat();
    if (declaredSize !== undefined && declaredSize !== size) {
      await fh.close();
      throw invalidArgument(`size ${declaredSize} given, but ${source} has ${size} bytes`);
    }
    return new FileSource(fh, size);
  }
  if (source instanceof Uint8Array) {
    if (declaredSize !== undefined && declaredSize !== source.length) throw invalidArgument(`size ${declaredSize} given for ${source.length} bytes`);
    return new BytesSource(source);
  }
  if (declaredSize === undefined) throw invalidArgument('a stream source needs options.size: the upload declares its size up front');
  return new SequentialSource(source, declaredSize);
}

class FileSource implements ChunkSource {
  readonly seekable = true;
  readonly size: number;
  readonly #fh: FileHandle;

  constructor(fh: FileHandle, size: number) {
    this.#fh = fh;
    this.size = size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = Buffer.allocUnsafe(length);
    let at = 0;
    while (at < length) {
      const { bytesRead } = await this.#fh.read(out, at, length - at, offset + at);
      if (bytesRead === 0) throw new FramewireError('INTERNAL', `the source file shrank: ${offset + at} of ${this.size} bytes`);
      at += bytesRead;
    }
    return out;
  }

  close(): Promise<void> {
    return this.#fh.close();
  }
}

class BytesSource implements ChunkSource {
  readonly seekable = true;
  readonly size: number;
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.size = bytes.length;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return Promise.resolve(this.#bytes.subarray(offset, offset + length));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

class SequentialSource implements ChunkSource {
  readonly seekable = false;
  readonly size: number;
  readonly #iterator: AsyncIterator<Uint8Array>;
  #position = 0;
  #carry: Uint8Array | undefined;

  constructor(source: AsyncIterable<Uint8Array>, size: number) {
    this.#iterator = source[Symbol.asyncIterator]();
    this.size = size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset !== this.#position) throw new RangeError(`sequential source at ${this.#position}, asked for ${offset}`);
    const parts: Uint8Array[] = [];
    let have = 0;
    while (have < length) {
      let piece = this.#carry;
      this.#carry = undefined;
      if (piece === undefined) {
        const r = await this.#iterator.next();
        if (r.done === true) throw new FramewireError('INTERNAL', `the source ended after ${this.#position + have} of ${this.size} declared bytes`);
        piece = r.value;
      }
      const take = Math.min(piece.length, length - have);
      parts.push(piece.subarray(0, take));
      if (take < piece.length) this.#carry = piece.subarray(take);
      have += take;
    }
    this.#position += length;
    if (this.#position === this.size && this.#carry === undefined) {
      const extra = await this.#iterator.next();
      if (extra.done !== true && extra.value.length > 0) throw new FramewireError('INTERNAL', `the source has more than the declared ${this.size} bytes`);
    }
    return parts.length === 1 && parts[0] !== undefined ? parts[0] : Buffer.concat(parts);
  }

  async close(): Promise<void> {
    await this.#iterator.return?.();
  }
}
