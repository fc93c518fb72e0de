/**
 * Chunk bytes and committed objects on the file system: the UploadBlobStore of backends.ts.
 *
 *   <dataDir>/parts/<id>     the object being received: chunk i at byte i·chunk_size (positioned writes)
 *   <dataDir>/objects/<id>   committed objects: the part file, renamed
 *   <dataDir>/objects/<id>.json  each object's description (ObjectRecord), written before the rename
 *
 * Each chunk is written into its place in the one part file and fsynced before the state machine
 * records it, so commit neither copies nor rewrites anything: the digest comes mostly from the
 * running prefix hash (fs-prefix-hash.ts) and publishing is one rename into objects/ plus a
 * directory fsync — atomic: the object is whole or absent, whenever the process dies.
 *
 * Bytes of a chunk that was not kept (fenced, bad checksum) stay in its range of the part file
 * unrecorded, are never read as the object's and are overwritten by the chunk that is kept. That
 * relies on the state machine's contract: no write for a stored index, one writer per index.
 *
 * An object is described (served by the read profile, spec/OBJECTS.md) only when both its bytes and
 * its description exist: publish writes the description first (atomic replace) and renames the part
 * second; delete removes the bytes first. A description left alone by a crash between the two
 * steps is removed when the upload's data is dropped, and at start (prepare).
 */

import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FramewireError } from '../errors.ts';
import type { ObjectPage, ObjectReader, ObjectRecord, StagedChunk, UploadBlobStore, UploadGeometry } from './backends.ts';
import { PrefixHash, type ReadAt } from './fs-prefix-hash.ts';
import type { StepHook } from './fs-steps.ts';
import { fsyncDir, ifExists, PositionedWriter, writeFileAtomic } from './fs-util.ts';
import { decodeObjectRecord, encodeObjectRecord, scanObjectPage } from './object-record.ts';
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
    // No commit runs yet: a description without its object is what a crash between the two steps
    // of publish (or of delete) left; a commit that is settled or repeated writes it again.
    for (const id of await this.#described()) {
      if ((await ifExists(() => stat(this.#objectPath(id)))) === undefined) await rm(this.#recordPath(id), { force: true });
    }
  }

  async writeChunk(upload: UploadGeometry, index: number, data: AsyncIterable<Uint8Array>): Promise<StagedChunk> {
    await this.#withPart(upload.id, async (fh) => {
      await PositionedWriter.pipe(fh, this.#batch, index * upload.chunkSize, data);
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

  async publish(upload: UploadGeometry, record: ObjectRecord): Promise<void> {
    this.#prefixes.delete(upload.id);
    const part = this.#partPath(upload.id);
    const size = (await ifExists(() => stat(part)))?.size;
    if (size === undefined && upload.size === 0) await writeFile(part, '');
    else if (size !== upload.size) throw new FramewireError('INTERNAL', `upload ${upload.id}: the part file holds ${size ?? 'no'} bytes, not ${upload.size}`);
    // The description first: an object is never visible without it (FW-OBJ-14).
    await writeFileAtomic(this.#recordPath(upload.id), encodeObjectRecord(record), this.#durable);
    this.#step('commit.record-written');
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

  async describe(objectId: string): Promise<ObjectRecord | undefined> {
    if (!isUploadId(objectId)) return undefined;
    const text = await ifExists(() => readFile(this.#recordPath(objectId), 'utf8'));
    if (text === undefined || (await ifExists(() => stat(this.#objectPath(objectId)))) === undefined) return undefined;
    return decodeObjectRecord(text, objectId);
  }

  async openReader(objectId: string): Promise<ObjectReader | undefined> {
    const record = await this.describe(objectId);
    if (record === undefined) return undefined;
    const fh = await ifExists(() => open(this.#objectPath(objectId), 'r'));
    if (fh === undefined) return undefined;
    return {
      size: record.size,
      readv: async (into, position) => (await fh.readv(into, position)).bytesRead,
      close: () => fh.close(),
    };
  }

  async listObjects(owner: string, after: string | undefined, limit: number): Promise<ObjectPage> {
    // A scan of the directory per page: the reference store keeps no index by owner.
    return scanObjectPage(await this.#described(), (id) => this.describe(id), owner, after, limit);
  }

  async deleteObject(objectId: string): Promise<boolean> {
    if (!isUploadId(objectId)) return false;
    const path = this.#objectPath(objectId);
    const existed = (await ifExists(async () => {
      await unlink(path);
      return true;
    })) ?? false;
    this.#step('delete.object-removed');
    await rm(this.#recordPath(objectId), { force: true });
    if (this.#durable) await fsyncDir(join(this.#dataDir, 'objects'));
    return existed;
  }

  async deleteChunks(id: string): Promise<void> {
    this.#prefixes.delete(id);
    // Writers and readers still holding the file finish on the unlinked inode; the next one opens a new file.
    this.#parts.delete(id);
    await rm(this.#partPath(id), { force: true });
    if ((await ifExists(() => stat(this.#objectPath(id)))) === undefined) await rm(this.#recordPath(id), { force: true });
  }

  async #described(): Promise<string[]> {
    const names = (await ifExists(() => readdir(join(this.#dataDir, 'objects')))) ?? [];
    return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)).filter(isUploadId);
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

  #recordPath(id: string): string {
    return `${this.#objectPath(id)}.json`;
  }
}

function readerOf(fh: FileHandle): ReadAt {
  return async (buffer, length, position) => (await fh.read(buffer, 0, length, position)).bytesRead;
}
