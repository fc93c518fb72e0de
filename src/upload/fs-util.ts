/**
 * Durable file-system primitives for the FS upload store: fsync of files and directories, atomic
 * replace (write temp + fsync + rename + fsync dir), and a writer that coalesces small pieces into
 * large positioned writes while keeping at most one write in flight.
 */

import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Makes a directory's entries (created, renamed, removed files) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The suffix of writeFileAtomic's temporary files: `<name>.tmp-<12 hex digits>`; recovery removes them. */
export const ATOMIC_TEMP = /\.tmp-[0-9a-f]{12}$/;

/**
 * Replaces `path` with `data` atomically: readers see the old or the new content, never a mix.
 * `beforeRename` runs once the temporary file is written (and synced): the crash tests stop there.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, durable: boolean, beforeRename?: () => void): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(data);
    if (durable) await fh.datasync();
  } catch (error) {
    await fh.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await fh.close();
  try {
    beforeRename?.();
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  if (durable) await fsyncDir(dirname(path));
}

/** ENOENT as undefined; every other error rethrown. */
export async function ifExists<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Writes pieces at consecutive positions of a file from `position` on (positioned writes: several
 * writers may fill different ranges of one file at once). Pieces are collected until `batchBytes`,
 * then written with one writev while the next batch collects; `write()` waits only when a batch is
 * full and the previous write has not finished. Memory: at most two batches (plus what the caller
 * holds), and the disk's pace reaches the network through the awaiting caller.
 */
export class PositionedWriter {
  readonly #fh: FileHandle;
  readonly #batchBytes: number;
  #position: number;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #inflight: Promise<void> | undefined;

  constructor(fh: FileHandle, batchBytes: number, position: number) {
    this.#fh = fh;
    this.#batchBytes = batchBytes;
    this.#position = position;
  }

  /**
   * Writes every piece of `data` from `position` on and waits for the disk; on a failure (of the
   * source or of a write) lets the write in flight settle before rethrowing, so the file may be closed.
   */
  static async pipe(fh: FileHandle, batchBytes: number, position: number, data: AsyncIterable<Uint8Array>): Promise<void> {
    const writer = new PositionedWriter(fh, batchBytes, position);
    try {
      for await (const piece of data) await writer.write(piece);
      await writer.finish();
    } catch (error) {
      await writer.settle();
      throw error;
    }
  }

  async write(piece: Uint8Array): Promise<void> {
    if (piece.length === 0) return;
    this.#pending.push(piece);
    this.#pendingBytes += piece.length;
    if (this.#pendingBytes >= this.#batchBytes) await this.#flush();
  }

  /** Writes everything still pending and waits for it. */
  async finish(): Promise<void> {
    await this.#flush();
    await this.#inflight;
    this.#inflight = undefined;
  }

  /** After a failure: waits for the write in flight, whatever its outcome, so the file may be closed. */
  async settle(): Promise<void> {
    await this.#inflight?.catch(() => undefined);
  }

  async #flush(): Promise<void> {
    if (this.#inflight !== undefined) await this.#inflight;
    this.#inflight = undefined;
    if (this.#pendingBytes === 0) return;
    const batch = this.#pending;
    const at = this.#position;
    this.#position += this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    const p = this.#writeAll(batch, at);
    // Surfaced by the next flush/finish; never an unhandled rejection in between.
    p.catch(() => undefined);
    this.#inflight = p;
  }

  async #writeAll(batch: Uint8Array[], at: number): Promise<void> {
    const { bytesWritten } = await this.#fh.writev(batch, at);
    const rest = Buffer.concat(batch).subarray(bytesWritten);
    // A short write (rare on regular files): write the rest in place.
    for (let done = 0; done < rest.length; ) {
      done += (await this.#fh.write(rest, done, rest.length - done, at + bytesWritten + done)).bytesWritten;
    }
  }
}
