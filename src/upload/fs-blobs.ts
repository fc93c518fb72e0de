/**
 * Chunk bytes and committed objects on the file system: the UploadBlobStore of backends.ts.
 *
 *   <dataDir>/parts/<id>     the object being received: chunk i at byte i·chunk_size (positioned writes)
 *   <dataDir>/objects/<id>   committed objects: the part file, renamed
 *
 * Each chunk is written into its place in the one part file and fsynced before the state machine
 * records it, so commit neither copies nor rewrites anything: the digest comes mostly from the
 * running prefix hash (fs-prefix-hash.ts) and publishing is one rename into objects/ plus a
 * directory fsync — atomic: the object is whole or absent, whenever the process dies.
 *
 * Bytes of a chunk that was not kept (fenced, bad checksum) stay in its range of the part file
 * unrecorded, are never read as the object's and are overwritten by the chunk that is kept. That
 * relies on the state machine's contract: no write for a stored index, one writer per index.
 */

import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FramewireError } from '../errors.ts';
import type { StagedChunk, UploadBlobStore, UploadGeometry } from './backends.ts';
import { PrefixHash, type ReadAt } from './fs-prefix-hash.ts';
import type { StepHook } from './fs-steps.ts';
import { fsyncDir, ifExists, PositionedWriter } from './fs-util.ts';
import { isUploadId } from './protocol.ts';

/** An open part file, shared by its writers and readers; closed when the last one is done. */
interface Part {
  readonly opened: Promise<FileHandle>;
  users: number;
}

export class FsBlobStore implements UploadBlobStore {
  readonly #dataDir: string;
  readonly #durable: boolean;
  readonly #batch: number;
  readonly #step: StepHook;
  readonly #parts = new Map<string, Part>();
  readonly #prefixes = new Map<string, PrefixHash>();

  constructor(dataDir: string, options: { readonly durable: boolean; readonly writeBatchBytes: number; readonly step: StepHook }) {
    this.#dataDir = dataDir;
    this.#durable = options.durable;
    this.#batch = options.writeBatchBytes;
    this.#step = options.step;
  }

  async prepare(): Promise<void> {
    for (const d of ['parts', 'objects']) await mkdir(join(this.#dataDir, d), { recursive: true });
  }

  async writeChunk(upload: UploadGeometry, index: number, data: AsyncIterable<Uint8Array>): Promise<StagedChunk> {
    await this.#withPart(upload.id, async (fh) => {
      const writer = new PositionedWriter(fh, this.#batch, index * upload.chunkSize);
      try {
        for await (const piece of data) await writer.write(piece);
        await writer.finish();
      } catch (error) {
        await writer.settle();
        throw error;
      }
      if (this.#durable) await fh.datasync();
    });
    this.#step('chunk.written');
    return {
      kept: () => {
        this.#prefix(upload).add(index);
      },
      discard: () => Promise.resolve(),
    };
  }

  digest(upload: UploadGeometry, perChunk: boolean): Promise<{ sha256: string; chunks?: string[] }> {
    return this.#prefix(upload).digest(perChunk);
  }

  async publish(upload: UploadGeometry): Promise<void> {
    this.#prefixes.delete(upload.id);
    const part = this.#partPath(upload.id);
    const size = (await ifExists(() => stat(part)))?.size;
    if (size === undefined && upload.size === 0) await writeFile(part, '');
    else if (size !== upload.size) throw new FramewireError('INTERNAL', `upload ${upload.id}: the part file holds ${size ?? 'no'} bytes, not ${upload.size}`);
    // Every byte was fsynced before its chunk was recorded: the rename is all that is left.
    await rename(part, this.#objectPath(upload.id));
    if (this.#durable) await fsyncDir(join(this.#dataDir, 'objects'));
    this.#step('commit.object-published');
  }

  async openObject(objectId: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    if (!isUploadId(objectId)) return undefined;
    const path = this.#objectPath(objectId);
    return (await ifExists(() => stat(path))) === undefined ? undefined : (createReadStream(path) as AsyncIterable<Buffer>);
  }

  async deleteChunks(id: string): Promise<void> {
    this.#prefixes.delete(id);
    // Writers and readers still holding the file finish on the unlinked inode; the next one opens a new file.
    this.#parts.delete(id);
    await rm(this.#partPath(id), { force: true });
  }

  async withChunks(): Promise<string[]> {
    return ((await ifExists(() => readdir(join(this.#dataDir, 'parts')))) ?? []).filter(isUploadId);
  }

  close(): Promise<void> {
    this.#prefixes.clear();
    return Promise.resolve();
  }

  #prefix(upload: UploadGeometry): PrefixHash {
    let prefix = this.#prefixes.get(upload.id);
    if (prefix === undefined) {
      prefix = new PrefixHash(upload, (fn) => this.#withPart(upload.id, (fh) => fn(readerOf(fh))));
      this.#prefixes.set(upload.id, prefix);
    }
    return prefix;
  }

  async #withPart<T>(id: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    let part = this.#parts.get(id);
    if (part === undefined) {
      part = { opened: this.#open(id), users: 0 };
      this.#parts.set(id, part);
    }
    // Counted before the first await, so that no other user's release closes the file under this one.
    part.users++;
    try {
      return await fn(await part.opened);
    } finally {
      if (--part.users === 0) {
        if (this.#parts.get(id) === part) this.#parts.delete(id);
        void part.opened.then((fh) => fh.close()).catch(() => undefined);
      }
    }
  }

  /** Opens the part file for positioned reads and writes, creating it (durably) if needed. */
  async #open(id: string): Promise<FileHandle> {
    const path = this.#partPath(id);
    let fh: FileHandle;
    try {
      fh = await open(path, 'wx+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return open(path, 'r+');
    }
    try {
      if (this.#durable) await fsyncDir(join(this.#dataDir, 'parts'));
    } catch (error) {
      await fh.close();
      throw error;
    }
    return fh;
  }

  #partPath(id: string): string {
    // Ids become paths only here and in #objectPath, and only ours (FW-UP-50).
    if (!isUploadId(id)) throw new FramewireError('UPLOAD_NOT_FOUND', 'not an upload id');
    return join(this.#dataDir, 'parts', id);
  }

  #objectPath(id: string): string {
    if (!isUploadId(id)) throw new FramewireError('UPLOAD_NOT_FOUND', 'not an object id');
    return join(this.#dataDir, 'objects', id);
  }
}

function readerOf(fh: FileHandle): ReadAt {
  return async (buffer, length, position) => (await fh.read(buffer, 0, length, position)).bytesRead;
}
