/**
 * Chunk bytes and committed objects in a directory that several server nodes share (issue 19):
 * the UploadBlobStore of backends.ts for a cluster, next to the Redis metadata store.
 *
 *   <dir>/chunks/<id>/<index>.<sha256>   a chunk, written whole under a temporary name, then linked here
 *   <dir>/chunks/<id>/.tmp-<nonce>        a chunk being written
 *   <dir>/objects/<id>/                   a committed object: the upload's chunk directory, renamed,
 *   <dir>/objects/<id>/manifest.json      with the list of its chunk files in order
 *   <dir>/objects/<id>/record.json        and its description (spec/OBJECTS.md): the two appear together
 *
 * The file-system store (fs-blobs.ts) writes every chunk into one part file, which is safe because
 * one process owns the directory and runs one writer per chunk index. Nodes of a cluster cannot
 * promise that: a writer on a node that lost the upload may still be writing an index that the new
 * node has stored. So no write here ever touches bytes that another writer may keep: each write
 * goes to a file of its own, and only once its bytes are whole and durable does it get its final
 * name — which names the content (its SHA-256), so two writers of the same index either made the
 * same file (same bytes) or different files. Which file is the chunk is the metadata's word: the
 * SHA-256 recorded for the index (`storedChunks`). A file that was not kept stays until the
 * upload's chunk data is deleted, and is never read as the object's.
 *
 * Each chunk is written as the FS store writes its part file (pieces coalesced into large writes,
 * one in flight, then fdatasync) and named by the SHA-256 its bytes were verified against as they
 * arrived (the state machine's check): no second hash. The object's digest comes mostly from a
 * running hash over the chunks this node kept (shared-prefixes.ts), so commit reads back only what
 * that does not cover.
 *
 * Publishing writes the manifest and the description and renames the directory into objects/:
 * atomic, zero copy, and a second publish of the same upload (another node, after a lost answer)
 * finds the object there. Deleting renames it out of objects/ first, for the same reason.
 */

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FramewireError } from '../errors.ts';
import type { ObjectPage, ObjectReader, ObjectRecord, StagedChunk, UploadBlobStore, UploadGeometry } from './backends.ts';
import { ChunkFilesReader } from './chunk-files-reader.ts';
import { fsyncDir, ifExists, PositionedWriter, writeFileAtomic } from './fs-util.ts';
import { decodeObjectRecord, encodeObjectRecord, scanObjectPage } from './object-record.ts';
import { isUploadId, SHA256_HEX_PATTERN } from './protocol.ts';
import { ChunkFilePrefixes } from './shared-prefixes.ts';

/** The SHA-256 recorded for each stored chunk of an upload (the metadata store's word), or undefined if it has none. */
export type StoredChunks = (id: string) => Promise<ReadonlyMap<number, string> | undefined>;

const MANIFEST = 'manifest.json';
const RECORD = 'record.json';
const TEMP_PREFIX = '.tmp-';

interface Manifest {
  readonly size: number;
  readonly files: readonly string[];
}

export interface SharedDirBlobStoreOptions {
  /** The directory every node mounts. */
  readonly dir: string;
  /** fsync chunk files, the manifest and directories before acknowledging. Default true. */
  readonly durable?: boolean;
  /** Bytes collected before one write to a chunk file. Default 1 MiB, as the FS store's. */
  readonly writeBatchBytes?: number;
  readonly storedChunks: StoredChunks;
}

export class SharedDirBlobStore implements UploadBlobStore {
  readonly #dir: string;
  readonly #durable: boolean;
  readonly #batch: number;
  readonly #stored: StoredChunks;
  readonly #prefixes = new ChunkFilePrefixes((id) => this.#chunkDir(id));

  constructor(options: SharedDirBlobStoreOptions) {
    this.#dir = options.dir;
    this.#durable = options.durable ?? true;
    this.#batch = options.writeBatchBytes ?? 1024 * 1024;
    this.#stored = options.storedChunks;
  }

  async prepare(): Promise<void> {
    for (const d of ['chunks', 'objects']) await mkdir(join(this.#dir, d), { recursive: true });
  }

  async writeChunk(upload: UploadGeometry, index: number, data: AsyncIterable<Uint8Array>, sha256: string): Promise<StagedChunk> {
    if (!SHA256_HEX_PATTERN.test(sha256)) throw new FramewireError('INTERNAL', 'a chunk digest must be 64 hex digits');
    const dir = this.#chunkDir(upload.id);
    const name = `${index}.${sha256}`;
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const fh = await open(temp, 'wx');
    try {
      try {
        // Reaching the end means the bytes matched `sha256` (data throws otherwise).
        await PositionedWriter.pipe(fh, this.#batch, 0, data);
        if (this.#durable) await fh.datasync();
      } finally {
        await fh.close();
      }
      try {
        // Never replaces: an existing file of that name holds these very bytes.
        await link(temp, join(dir, name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    } finally {
      await rm(temp, { force: true });
    }
    if (this.#durable) await fsyncDir(dir);
    // Kept or not, the file stays until the upload's chunk data goes: a writer of the same bytes
    // on another node may have linked the same name and be keeping it.
    return {
      kept: () => {
        this.#prefixes.kept(upload, index, name);
      },
      discard: () => Promise.resolve(),
    };
  }

  async digest(upload: UploadGeometry, perChunk: boolean): Promise<{ sha256: string; chunks?: string[] }> {
    return this.#prefixes.digest(upload, await this.#files(upload), perChunk);
  }

  async publish(upload: UploadGeometry, record: ObjectRecord): Promise<void> {
    this.#prefixes.drop(upload.id);
    const files = await this.#files(upload);
    const dir = this.#chunkDir(upload.id);
    await mkdir(dir, { recursive: true });
    const manifest: Manifest = { size: upload.size, files };
    await writeFileAtomic(join(dir, MANIFEST), JSON.stringify(manifest), this.#durable);
    await writeFileAtomic(join(dir, RECORD), encodeObjectRecord(record), this.#durable);
    const target = this.#objectDir(upload.id);
    try {
      await rename(dir, target);
    } catch (error) {
      // Published already (a second commit after a lost answer): the object is the one in place.
      if ((await this.#manifest(upload.id)) === undefined) throw error;
      await rm(dir, { recursive: true, force: true });
      return;
    }
    if (this.#durable) await fsyncDir(join(this.#dir, 'objects'));
    // Files of chunks that were not kept rode along: they are not the object's.
    const keep = new Set([...files, MANIFEST, RECORD]);
    for (const name of await readdir(target)) if (!keep.has(name)) await rm(join(target, name), { force: true });
  }

  async openObject(objectId: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    if (!isUploadId(objectId)) return undefined;
    const manifest = await this.#manifest(objectId);
    if (manifest === undefined) return undefined;
    const dir = this.#objectDir(objectId);
    return (async function* concatenated() {
      for (const file of manifest.files) yield* createReadStream(join(dir, file)) as AsyncIterable<Buffer>;
    })();
  }

  async describe(objectId: string): Promise<ObjectRecord | undefined> {
    if (!isUploadId(objectId)) return undefined;
    const text = await ifExists(() => readFile(join(this.#objectDir(objectId), RECORD), 'utf8'));
    return text === undefined ? undefined : decodeObjectRecord(text, objectId);
  }

  async openReader(objectId: string): Promise<ObjectReader | undefined> {
    const record = await this.describe(objectId);
    const manifest = record === undefined ? undefined : await this.#manifest(objectId);
    if (record === undefined || manifest === undefined) return undefined;
    return new ChunkFilesReader(this.#objectDir(objectId), manifest.files, record.unitSize, record.size);
  }

  async listObjects(owner: string, after: string | undefined, limit: number): Promise<ObjectPage> {
    // A scan of the directory per page, as the file-system store does: no index by owner.
    const names = (await ifExists(() => readdir(join(this.#dir, 'objects')))) ?? [];
    return scanObjectPage(names.filter(isUploadId), (id) => this.describe(id), owner, after, limit);
  }

  async deleteObject(objectId: string): Promise<boolean> {
    if (!isUploadId(objectId)) return false;
    // Out of objects/ in one rename, so no node ever reads half an object; then removed.
    const doomed = join(this.#dir, 'chunks', `${TEMP_PREFIX}deleted-${objectId}-${randomBytes(4).toString('hex')}`);
    const moved = (await ifExists(async () => {
      await rename(this.#objectDir(objectId), doomed);
      return true;
    })) ?? false;
    if (!moved) return false;
    if (this.#durable) await fsyncDir(join(this.#dir, 'objects'));
    await rm(doomed, { recursive: true, force: true });
    return true;
  }

  async deleteChunks(id: string): Promise<void> {
    this.#prefixes.drop(id);
    await rm(this.#chunkDir(id), { recursive: true, force: true });
  }

  async withChunks(): Promise<string[]> {
    return ((await ifExists(() => readdir(join(this.#dir, 'chunks')))) ?? []).filter(isUploadId);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The file of each chunk, in order, as the metadata records it. */
  async #files(upload: UploadGeometry): Promise<string[]> {
    if (upload.chunkCount === 0) return [];
    const stored = await this.#stored(upload.id);
    const files: string[] = [];
    for (let i = 0; i < upload.chunkCount; i++) {
      const sha = stored?.get(i);
      if (sha === undefined) throw new FramewireError('INTERNAL', `upload ${upload.id}: chunk ${i} is not recorded as stored`);
      files.push(`${i}.${sha}`);
    }
    return files;
  }

  async #manifest(id: string): Promise<Manifest | undefined> {
    const text = await ifExists(() => readFile(join(this.#objectDir(id), MANIFEST), 'utf8'));
    if (text === undefined) return undefined;
    const m = JSON.parse(text) as Partial<Manifest>;
    const files = m.files;
    if (typeof m.size !== 'number' || !Array.isArray(files) || !files.every((f) => typeof f === 'string' && CHUNK_FILE.test(f))) {
      throw new FramewireError('INTERNAL', `object ${id}: unreadable manifest`);
    }
    return { size: m.size, files };
  }

  #chunkDir(id: string): string {
    // Ids become paths only here and in #objectDir, and only ours (FW-UP-50).
    if (!isUploadId(id)) throw new FramewireError('UPLOAD_NOT_FOUND', 'not an upload id');
    return join(this.#dir, 'chunks', id);
  }

  #objectDir(id: string): string {
    if (!isUploadId(id)) throw new FramewireError('UPLOAD_NOT_FOUND', 'not an object id');
    return join(this.#dir, 'objects', id);
  }
}

const CHUNK_FILE = new RegExp(`^(0|[1-9][0-9]*)\\.${SHA256_HEX_PATTERN.source.replace(/^\^|\$$/g, '')}$`);
