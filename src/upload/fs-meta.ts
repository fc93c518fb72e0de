/**
 * Upload metadata on the file system: the UploadMetaStore of backends.ts.
 *
 *   <dataDir>/uploads/<id>/manifest.json   the record and its version (atomic replace: temp + fsync + rename + dir fsync)
 *   <dataDir>/uploads/<id>/chunks.log      the stored chunks, appended (fs-journal.ts)
 *   <dataDir>/uploads-tmp/<id>/            an upload being created; renamed into uploads/ whole
 *   <dataDir>/keys/<index key>             idempotency index: {"upload_id"}; the key is a digest (FW-UP-50)
 *
 * One process owns a data directory, so the compare-and-set is a check of the cached version under
 * an in-process lock per upload (and per key for create); records are cached once read.
 */

import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FramewireError } from '../errors.ts';
import type { AddChunkResult, StoredUpload, UploadChunkView, UploadMetaStore, UploadRecord, VersionedUpload } from './backends.ts';
import { appendChunk, JOURNAL, readJournal } from './fs-journal.ts';
import { encodeManifest, parseManifest } from './fs-manifest.ts';
import { cleanLayout, MANIFEST } from './fs-recovery.ts';
import type { FsStoreStep, StepHook } from './fs-steps.ts';
import { fsyncDir, ifExists, writeFileAtomic } from './fs-util.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { isUploadId, SHA256_HEX_PATTERN, type UploadState } from './protocol.ts';

interface Entry {
  record: UploadRecord;
  version: number;
  readonly chunks: Map<number, string>;
}

/** The crash-test steps around a manifest replace, by the state it records. */
const UPDATE_STEPS: Partial<Record<UploadState, readonly [FsStoreStep, FsStoreStep]>> = {
  committing: ['commit.committing-temp', 'commit.committing'],
  committed: ['commit.manifest-temp', 'commit.recorded'],
};

export class FsMetaStore implements UploadMetaStore {
  readonly #dataDir: string;
  readonly #durable: boolean;
  readonly #step: StepHook;
  readonly #lock = new KeyedMutex();
  readonly #cache = new Map<string, Entry>();
  readonly #loading = new Map<string, Promise<Entry | undefined>>();

  constructor(dataDir: string, durable: boolean, step: StepHook) {
    this.#dataDir = dataDir;
    this.#durable = durable;
    this.#step = step;
  }

  /** Makes the directories and removes what interrupted creates and replaces left (fs-recovery.ts). */
  async prepare(): Promise<void> {
    for (const d of ['uploads', 'uploads-tmp', 'keys']) await mkdir(join(this.#dataDir, d), { recursive: true });
    await cleanLayout(this.#dataDir);
  }

  async get(id: string): Promise<StoredUpload | undefined> {
    const e = await this.#load(id);
    return e === undefined ? undefined : { record: e.record, version: e.version, chunks: e.chunks };
  }

  async getRecord(id: string): Promise<VersionedUpload | undefined> {
    const e = await this.#load(id);
    return e === undefined ? undefined : { record: e.record, version: e.version };
  }

  /** From the cached entry: the journal is read once, when the upload is first loaded. */
  async getChunk(id: string, index: number): Promise<UploadChunkView | undefined> {
    const e = await this.#load(id);
    return e === undefined ? undefined : { record: e.record, version: e.version, stored: e.chunks.get(index) };
  }

  create(record: UploadRecord): Promise<boolean> {
    const key = record.indexKey;
    const make = async (): Promise<boolean> => {
      const named = key === undefined ? undefined : await this.findKey(key);
      if (named !== undefined && (await this.#load(named)) !== undefined) return false;
      await this.#createDir(record);
      // The key is written after the upload exists: a crash in between leaves an upload nobody
      // refers to, which simply expires.
      if (key !== undefined) {
        await writeFileAtomic(this.#keyPath(key), JSON.stringify({ upload_id: record.id }), this.#durable, () => {
          this.#step('create.key-temp');
        });
      }
      this.#cache.set(record.id, { record, version: 1, chunks: new Map() });
      return true;
    };
    return key === undefined ? make() : this.#lock.run(`key:${key}`, make);
  }

  /** Assembled in uploads-tmp/ and renamed into uploads/ whole: an upload directory without its manifest never appears (FW-UP-51). */
  async #createDir(record: UploadRecord): Promise<void> {
    const staging = join(this.#dataDir, 'uploads-tmp', record.id);
    await mkdir(staging, { recursive: true });
    this.#step('create.staged');
    // Made durable by the directory fsync of the manifest's atomic replace.
    await writeFile(join(staging, JOURNAL), '');
    await writeFileAtomic(join(staging, MANIFEST), encodeManifest(record, 1), this.#durable, () => {
      this.#step('create.manifest-temp');
    });
    this.#step('create.manifest-written');
    await rename(staging, this.#path(record.id));
    if (this.#durable) await fsyncDir(join(this.#dataDir, 'uploads'));
    this.#step('create.published');
  }

  update(id: string, version: number, next: UploadRecord): Promise<boolean> {
    return this.#lock.run(id, async () => {
      const e = await this.#load(id);
      if (e?.version !== version) return false;
      const steps = UPDATE_STEPS[next.state];
      const beforeRename = steps === undefined ? undefined : () => { this.#step(steps[0]); };
      await writeFileAtomic(join(this.#path(id), MANIFEST), encodeManifest(next, version + 1), this.#durable, beforeRename);
      e.record = next;
      e.version = version + 1;
      if (steps !== undefined) this.#step(steps[1]);
      return true;
    });
  }

  addChunk(id: string, version: number, index: number, sha256: string): Promise<AddChunkResult> {
    return this.#lock.run(id, async () => {
      const e = await this.#load(id);
      if (e?.version !== version) return 'stale';
      if (e.chunks.has(index)) return 'present';
      if (!SHA256_HEX_PATTERN.test(sha256)) throw new FramewireError('INTERNAL', 'a chunk digest must be 64 hex digits');
      await appendChunk(join(this.#path(id), JOURNAL), index, sha256, this.#durable);
      e.chunks.set(index, sha256);
      this.#step('chunk.recorded');
      return 'added';
    });
  }

  clearChunks(id: string): Promise<void> {
    return this.#lock.run(id, async () => {
      const e = await this.#load(id);
      if (e === undefined) return;
      await rm(join(this.#path(id), JOURNAL), { force: true });
      e.chunks.clear();
      if (e.record.state === 'committed') this.#step('commit.chunks-removed');
    });
  }

  delete(id: string): Promise<void> {
    return this.#lock.run(id, async () => {
      const key = (await this.#load(id))?.record.indexKey;
      // The key first: a crash in between leaves an upload without key, which the next sweep
      // forgets, never a key naming an upload that is gone.
      if (key !== undefined && (await this.findKey(key)) === id) await rm(this.#keyPath(key), { force: true });
      await rm(this.#path(id), { recursive: true, force: true });
      this.#cache.delete(id);
    });
  }

  async findKey(indexKey: string): Promise<string | undefined> {
    const text = await ifExists(() => readFile(this.#keyPath(indexKey), 'utf8'));
    const id = text === undefined ? undefined : (JSON.parse(text) as { upload_id?: unknown }).upload_id;
    return typeof id === 'string' && isUploadId(id) ? id : undefined;
  }

  async ids(): Promise<string[]> {
    return ((await ifExists(() => readdir(join(this.#dataDir, 'uploads')))) ?? []).filter(isUploadId);
  }

  #path(id: string): string {
    // The only place an id becomes a path: it must be one of ours (FW-UP-50).
    if (!isUploadId(id)) throw new FramewireError('UPLOAD_NOT_FOUND', 'not an upload id');
    return join(this.#dataDir, 'uploads', id);
  }

  #keyPath(indexKey: string): string {
    if (!SHA256_HEX_PATTERN.test(indexKey)) throw new FramewireError('INTERNAL', 'an index key must be 64 hex digits');
    return join(this.#dataDir, 'keys', indexKey);
  }

  #load(id: string): Promise<Entry | undefined> {
    const cached = this.#cache.get(id);
    if (cached !== undefined) return Promise.resolve(cached);
    let loading = this.#loading.get(id);
    if (loading === undefined) {
      loading = this.#read(id).finally(() => this.#loading.delete(id));
      this.#loading.set(id, loading);
    }
    return loading;
  }

  async #read(id: string): Promise<Entry | undefined> {
    const dir = this.#path(id);
    const text = await ifExists(() => readFile(join(dir, MANIFEST), 'utf8'));
    if (text === undefined) return undefined;
    const { record, version } = parseManifest(text, id);
    const chunks = await readJournal(join(dir, JOURNAL), record.chunkCount, this.#durable);
    const raced = this.#cache.get(id);
    if (raced !== undefined) return raced;
    const e: Entry = { record, version, chunks };
    this.#cache.set(id, e);
    return e;
  }
}
