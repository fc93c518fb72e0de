/**
 * Positioned reads across an object's chunk files in the shared directory (shared-blobs.ts): unit
 * `i` is the file `files[i]`, `unitSize` bytes long but the last. Reads move forward, one file open
 * at a time. Serves the read profile and the running prefix hash (shared-prefixes.ts), which reads
 * only the units it names.
 */

import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FramewireError } from '../errors.ts';
import type { ObjectReader } from './backends.ts';

/** Positioned reads across an object's chunk files (each `unitSize` bytes but the last). */
export class ChunkFilesReader implements ObjectReader {
  readonly size: number;
  readonly #dir: string;
  readonly #files: readonly (string | undefined)[];
  readonly #unitSize: number;
  /** Reads move forward: one chunk file open at a time. */
  #current: { readonly unit: number; readonly fh: FileHandle } | undefined;

  constructor(dir: string, files: readonly (string | undefined)[], unitSize: number, size: number) {
    this.#dir = dir;
    this.#files = files;
    this.#unitSize = unitSize;
    this.size = size;
  }

  async readv(into: readonly Uint8Array[], position: number): Promise<number> {
    let total = 0;
    for (const buffer of into) {
      let filled = 0;
      while (filled < buffer.length && position < this.size) {
        const unit = Math.floor(position / this.#unitSize);
        const offset = position - unit * this.#unitSize;
        const want = Math.min(buffer.length - filled, this.#unitSize - offset, this.size - position);
        const { bytesRead } = await (await this.#file(unit)).read(buffer, filled, want, offset);
        if (bytesRead === 0) throw new FramewireError('INTERNAL', `object chunk file ${this.#files[unit] ?? unit} is shorter than its unit`);
        filled += bytesRead;
        position += bytesRead;
      }
      total += filled;
      if (filled < buffer.length) break;
    }
    return total;
  }

  async close(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    await current?.fh.close();
  }

  async #file(unit: number): Promise<FileHandle> {
    if (this.#current?.unit === unit) return this.#current.fh;
    const name = this.#files[unit];
    if (name === undefined) throw new FramewireError('INTERNAL', `object has no chunk file ${unit}`);
    await this.close();
    const fh = await open(join(this.#dir, name), 'r');
    this.#current = { unit, fh };
    return fh;
  }
}
