/**
 * The default UploadStore: plain files under one data directory (spec/UPLOAD.md §11.7).
 *
 *   <dataDir>/uploads/<id>/manifest.json         the session (atomic replace: temp + fsync + rename + dir fsync)
 *   <dataDir>/uploads-tmp/<id>/                  an upload being created; renamed into uploads/ whole
 *   <dataDir>/uploads/<id>/chunks/<i>.<sha256>   stored chunks, immutable once renamed into place
 *   <dataDir>/uploads/<id>/tmp/<i>.<random>      chunks being received; never read, removed on failure and at load
 *   <dataDir>/objects/<id>                       committed objects (atomic rename)
 *   <dataDir>/objects-tmp/<id>.<random>          objects being assembled
 *   <dataDir>/keys/<sha256(owner, key)>          idempotency keys → upload id
 *
 * No client-supplied string ever becomes part of a path: upload ids are server-generated and
 * checked against UPLOAD_ID_PATTERN before use, chunk file names are built from integers and
 * verified hex digests, and idempotency keys are hashed (FW-UP-50).
 *
 * One process owns a data directory: the per-upload lock that serialises token checks, commits and
 * aborts lives in memory. (A store shared by several processes replaces it with a compare-and-set
 * on the manifest; nothing outside this file would change.) After a crash (even SIGKILL) the
 * directory is consistent: an upload directory is renamed into place with its manifest or absent,
 * a chunk is renamed into place after fsync or absent, the object renamed or absent. Recovery at
 * start (fs-recovery.ts) removes every leftover before the store serves anything.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FramewireError } from '../errors.ts';
import { manifestInfo, newManifest, parseManifest, type Manifest } from './fs-manifest.ts';
import { MANIFEST, recoverLayout } from './fs-recovery.ts';
import { assembleObject } from './fs-assemble.ts';
import { CoalescingWriter, fsyncDir, ifExists, writeFileAtomic } from './fs-util.ts';
import { UploadQuota, type FreeBytes } from './quota.ts';
import { chunkLengthOf, isUploadId, SHA256_HEX_PATTERN, type ChunkHeader, type CommitRequest, type CommittedObject, type CreateRequest, type UploadState } from './protocol.ts';
import {
  assertChunkRange,
  assertNoConflict,
  assertReceiving,
  assertToken,
  checkCreate,
  KeyedMutex,
  receiveChunk,
  resolveStoreOptions,
  sameCreate,
  type ChunkWriteResult,
  type ResolvedStoreOptions,
  type UploadInfo,
  type UploadStore,
  type UploadStoreOptions,
} from './store.ts';

export interface FsUploadStoreOptions extends UploadStoreOptions {
  readonly dataDir: string;
  /** fsync files and directories before acknowledging (chunks, manifests, objects). Default true. */
  readonly durable?: boolean;
  /** Chunk bytes collected before one write to disk. Default 1 MiB. */
  readonly writeBatchBytes?: number;
  /**
   * Called at each step of create and commit after which a crash leaves a different state on disk.
   * For crash tests only (test/upload/fixtures/crash-store.ts kills its own process there); unset in
   * production. Synchronous: a SIGKILL sent from it lands before the next file-system call.
   */
  readonly onStep?: (step: FsStoreStep) => void;
  /** Free bytes of the data directory's file system, for the quota's free-space rule. Default: statfs. */
  readonly freeBytes?: FreeBytes;
}

/** The steps `onStep` names, in the order create and commit take them. */
export const fsStoreSteps = [
  'create.staged',
  'create.manifest-temp',
  'create.manifest-written',
  'create.published',
  'create.key-temp',
  'commit.object-temp',
  'commit.object-published',
  'commit.manifest-temp',
  'commit.recorded',
  'commit.chunks-removed',
] as const;
export type FsStoreStep = (typeof fsStoreSteps)[number];

interface Entry {
  m: Manifest;
  /** In memory only: another request is assembling the object. */
  committing: boolean;
  readonly stored: Map<number, string>;
}

const CHUNK_FILE = /^(0|[1-9]\d{0,15})\.([0-9a-f]{64})$/;

export class FsUploadStore implements UploadStore {
  readonly options: ResolvedStoreOptions;
  readonly dataDir: string;
  /** What unfinished uploads hold (FW-UP-37). */
  readonly quota: UploadQuota;
  readonly #durable: boolean;
  readonly #batch: number;
  readonly #step: (step: FsStoreStep) => void;
  readonly #lock = new KeyedMutex();
  readonly #cache = new Map<string, Entry>();
  readonly #loading = new Map<string, Promise<Entry | undefined>>();
  readonly #ready: Promise<void>;

  constructor(options: FsUploadStoreOptions) {
    this.options = resolveStoreOptions(options);
    this.dataDir = options.dataDir;
    this.#durable = options.durable ?? true;
    this.#batch = options.writeBatchBytes ?? 1024 * 1024;
    this.#step = options.onStep ?? (() => undefined);
    this.quota = new UploadQuota(options.quota, options.freeBytes ?? (() => freeBytesOf(this.dataDir)));
    this.#ready = this.#init();
    this.#ready.catch(() => undefined);
  }

  /** Resolves once recovery at start is done (every operation waits for it); rejects if the data directory is unusable. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  async #init(): Promise<void> {
    for (const d of ['uploads', 'objects', 'keys']) await mkdir(join(this.dataDir, d), { recursive: true });
    // Loading an upload that still holds data finishes what a crash interrupted: a commit whose
    // object was published, a removal, temp chunks (FW-UP-51).
    for (const id of await recoverLayout(this.dataDir)) {
      // An unreadable manifest fails that upload's operations (INTERNAL), not the whole store.
      await this.#load(id).catch(() => undefined);
    }
  }

  /** Where a committed object's bytes are (the id must come from a commit result). */
  objectPath(objectId: string): string {
    if (!isUploadId(objectId)) throw new FramewireError('UPLOAD_NOT_FOUND', 'not an object id');
    return join(this.dataDir, 'objects', objectId);
  }

  #dir(id: string): string {
    // The only place an id becomes a path: it must be one of ours (FW-UP-50).
    if (!isUploadId(id)) throw new FramewireError('UPLOAD_NOT_FOUND', 'not an upload id');
    return join(this.dataDir, 'uploads', id);
  }

  // ---- operations ------------------------------------------------------------------------------

  async create(owner: string, request: CreateRequest): Promise<{ info: UploadInfo; created: boolean }> {
    await this.#ready;
    const count = checkCreate(request, this.options);
    const keyHash = request.idempotencyKey === undefined ? undefined : createHash('sha256').update(owner).update('\u0000').update(request.idempotencyKey).digest('hex');
    const make = async (): Promise<{ info: UploadInfo; created: boolean }> => {
      if (keyHash !== undefined) {
        const known = await ifExists(() => readFile(join(this.dataDir, 'keys', keyHash), 'utf8'));
        const knownId = known === undefined ? undefined : (JSON.parse(known) as { upload_id?: unknown }).upload_id;
        if (typeof knownId === 'string' && isUploadId(knownId)) {
          const e = await this.#load(knownId);
          if (e !== undefined) {
            const info = this.#info(e);
            if (!sameCreate(info, request)) throw new FramewireError('IDEMPOTENCY_CONFLICT', 'an upload with this idempotency key exists with other parameters');
            return { info, created: false };
          }
        }
      }
      const id = randomBytes(16).toString('hex');
      await this.quota.admit(id, owner, request.size);
      try {
        return await this.#createAdmitted(id, owner, request, count, keyHash);
      } catch (error) {
        this.quota.finished(id);
        throw error;
      }
    };
    return keyHash === undefined ? make() : this.#lock.run(`key:${keyHash}`, make);
  }

  async #createAdmitted(id: string, owner: string, request: CreateRequest, count: number, keyHash: string | undefined): Promise<{ info: UploadInfo; created: boolean }> {
    const m = newManifest(id, owner, request, count, keyHash, this.options.now(), this.options.ttlMs);
    // Assembled in uploads-tmp/ and renamed into uploads/ whole: an upload directory without its
    // manifest never appears, whenever the process dies (FW-UP-51).
    const staging = join(this.dataDir, 'uploads-tmp', id);
    await mkdir(join(staging, 'chunks'), { recursive: true });
    await mkdir(join(staging, 'tmp'), { recursive: true });
    this.#step('create.staged');
    await writeFileAtomic(join(staging, MANIFEST), JSON.stringify(m), this.#durable, () => {
      this.#step('create.manifest-temp');
    });
    this.#step('create.manifest-written');
    await rename(staging, this.#dir(id));
    if (this.#durable) await fsyncDir(join(this.dataDir, 'uploads'));
    this.#step('create.published');
    // The key is written after the upload exists: a crash in between leaves an upload nobody
    // refers to, which simply expires.
    if (keyHash !== undefined) {
      await writeFileAtomic(join(this.dataDir, 'keys', keyHash), JSON.stringify({ upload_id: id }), this.#durable, () => {
        this.#step('create.key-temp');
      });
    }
    const e: Entry = { m, committing: false, stored: new Map() };
    this.#cache.set(id, e);
    return { info: this.#info(e), created: true };
  }

  async get(id: string): Promise<UploadInfo | undefined> {
    if (!isUploadId(id)) return undefined;
    await this.#ready;
    const e = await this.#load(id);
    return e === undefined ? undefined : this.#info(e);
  }

  async acquire(id: string): Promise<UploadInfo> {
    await this.#ready;
    return this.#lock.run(id, async () => {
      const e = await this.#require(id);
      assertReceiving(this.#info(e), 'acquire');
      const now = this.options.now();
      // Durable before it is granted: a restarted server never hands out a token twice.
      const m: Manifest = { ...e.m, token: e.m.token + 1, expires_at: Math.max(e.m.expires_at, now + this.options.ttlMs) };
      await this.#persist(m);
      e.m = m;
      return this.#info(e);
    });
  }

  async writeChunk(id: string, chunk: ChunkHeader, data: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<ChunkWriteResult> {
    await this.#ready;
    const first = await this.#require(id);
    const before = this.#info(first);
    assertReceiving(before, 'chunk');
    assertToken(before, chunk.token, 'chunk');
    assertChunkRange(before, chunk);
    assertNoConflict(before, chunk);
    if (!SHA256_HEX_PATTERN.test(chunk.sha256)) throw new FramewireError('MALFORMED_PAYLOAD', 'chunk sha256 must be 64 hex digits');
    if (first.stored.has(chunk.index)) {
      // Already stored with this checksum: verify the bytes, keep nothing, rewrite nothing (FW-UP-15).
      await receiveChunk(chunk, data, () => undefined, signal);
      return this.#lock.run(id, async () => {
        const e = await this.#require(id);
        const info = this.#info(e);
        assertToken(info, chunk.token, 'chunk');
        assertNoConflict(info, chunk);
        return { duplicate: true, expiresAt: e.m.expires_at };
      });
    }
    const dir = this.#dir(id);
    const tmp = join(dir, 'tmp', `${chunk.index}.${randomBytes(6).toString('hex')}`);
    const fh: FileHandle = await open(tmp, 'wx');
    const handle = { open: true, kept: false };
    try {
      const writer = new CoalescingWriter(fh, this.#batch);
      await receiveChunk(chunk, data, (piece) => writer.write(piece), signal);
      await writer.finish();
      if (this.#durable) await fh.datasync();
      handle.open = false;
      await fh.close();
      return await this.#lock.run(id, async () => {
        // The fencing check at the moment the chunk becomes durable (FW-UP-21).
        const e = await this.#require(id);
        const info = this.#info(e);
        assertReceiving(info, 'chunk');
        assertToken(info, chunk.token, 'chunk');
        assertNoConflict(info, chunk);
        if (e.stored.has(chunk.index)) return { duplicate: true, expiresAt: e.m.expires_at };
        await rename(tmp, join(dir, 'chunks', `${chunk.index}.${chunk.sha256}`));
        handle.kept = true;
        if (this.#durable) await fsyncDir(join(dir, 'chunks'));
        e.stored.set(chunk.index, chunk.sha256);
        this.quota.chunkStored(id, chunk.length);
        await this.#refreshExpiry(e);
        return { duplicate: false, expiresAt: e.m.expires_at };
      });
    } finally {
      if (handle.open) await fh.close().catch(() => undefined);
      if (!handle.kept) await rm(tmp, { force: true });
    }
  }

  async commit(id: string, request: CommitRequest): Promise<CommittedObject> {
    await this.#ready;
    return this.#lock.run(id, async () => {
      const e = await this.#require(id);
      const info = this.#info(e);
      if (info.object !== undefined) return info.object;
      assertReceiving(info, 'commit');
      assertToken(info, request.token, 'commit');
      const missing = e.m.chunk_count - e.stored.size;
      if (missing > 0) {
        throw new FramewireError('INCOMPLETE', `${missing} of ${e.m.chunk_count} chunks are missing`, { details: { missing } });
      }
      e.committing = true;
      try {
        const object = await this.#assemble(e, request);
        const m: Manifest = {
          ...e.m,
          state: 'committed',
          finished_at: object.committedAt,
          object: { object_id: object.objectId, sha256: object.sha256, size: object.size, committed_at: object.committedAt },
        };
        await this.#persist(m, 'commit.manifest-temp');
        e.m = m;
        this.quota.finished(id);
        this.#step('commit.recorded');
        e.stored.clear();
        await this.#removeData(id);
        this.#step('commit.chunks-removed');
        return object;
      } finally {
        e.committing = false;
      }
    });
  }

  /** Concatenates the chunks into a temp object, verifies, fsyncs and renames it into objects/. */
  async #assemble(e: Entry, request: CommitRequest): Promise<CommittedObject> {
    const id = e.m.id;
    const expected = [e.m.sha256, request.sha256].filter((x): x is string => x !== undefined);
    const chunks = Array.from({ length: e.m.chunk_count }, (_, i) => {
      const sha = e.stored.get(i) ?? '';
      return { path: join(this.#dir(id), 'chunks', `${i}.${sha}`), sha256: sha };
    });
    const sha256 = await assembleObject({
      chunks,
      size: e.m.size,
      expected,
      temp: join(this.dataDir, 'objects-tmp', `${id}.${randomBytes(6).toString('hex')}`),
      final: join(this.dataDir, 'objects', id),
      batchBytes: this.#batch,
      durable: this.#durable,
      step: this.#step,
    });
    return { objectId: id, sha256, size: e.m.size, committedAt: this.options.now() };
  }

  async abort(id: string): Promise<UploadState> {
    await this.#ready;
    return this.#lock.run(id, async () => {
      const e = await this.#require(id);
      const state = this.#info(e).state;
      if (state === 'committed' || state === 'committing') return 'committed';
      if (state === 'receiving') {
        const m: Manifest = { ...e.m, state: 'aborted', finished_at: this.options.now() };
        await this.#persist(m);
        e.m = m;
      } else if (state === 'expired' && e.m.state === 'receiving') {
        await this.#finishExpired(e);
      }
      e.stored.clear();
      this.quota.finished(id);
      await this.#removeData(id);
      return state === 'expired' ? 'expired' : 'aborted';
    });
  }

  async sweep(): Promise<number> {
    await this.#ready;
    const names = (await ifExists(() => readdir(join(this.dataDir, 'uploads')))) ?? [];
    let touched = 0;
    for (const id of names) {
      if (!isUploadId(id)) continue;
      touched += await this.#lock.run(id, () => this.#sweepOne(id));
    }
    return touched;
  }

  async #sweepOne(id: string): Promise<number> {
    const e = await this.#load(id);
    if (e === undefined) return 0;
    const now = this.options.now();
    if (this.#info(e).state === 'expired' && e.m.state === 'receiving') {
      await this.#finishExpired(e);
      e.stored.clear();
      this.quota.finished(id);
      await this.#removeData(id);
      return 1;
    }
    if (e.m.state !== 'receiving' && now - (e.m.finished_at ?? now) >= this.options.retainMs) {
      // The key first: a crash in between leaves an upload without key, which the next sweep
      // forgets, never a key naming an upload that is gone.
      if (e.m.key_hash !== undefined && /^[0-9a-f]{64}$/.test(e.m.key_hash)) await rm(join(this.dataDir, 'keys', e.m.key_hash), { force: true });
      await rm(this.#dir(id), { recursive: true, force: true });
      this.#cache.delete(id);
      return 1;
    }
    return 0;
  }

  async openObject(objectId: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    if (!isUploadId(objectId)) return undefined;
    const path = this.objectPath(objectId);
    const exists = await ifExists(() => stat(path));
    return exists === undefined ? undefined : (createReadStream(path) as AsyncIterable<Buffer>);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  // ---- state -----------------------------------------------------------------------------------

  #info(e: Entry): UploadInfo {
    return manifestInfo(e.m, e.stored, e.committing, this.options.now());
  }

  async #require(id: string): Promise<Entry> {
    const e = await this.#load(id);
    if (e === undefined) throw new FramewireError('UPLOAD_NOT_FOUND', `no upload ${id}`);
    return e;
  }

  #load(id: string): Promise<Entry | undefined> {
    const cached = this.#cache.get(id);
    if (cached !== undefined) return Promise.resolve(cached);
    let loading = this.#loading.get(id);
    if (loading === undefined) {
      loading = this.#loadFromDisk(id).finally(() => this.#loading.delete(id));
      this.#loading.set(id, loading);
    }
    return loading;
  }

  /** Reads an upload back (after a restart): manifest, stored chunks; removes leftovers of interrupted work. */
  async #loadFromDisk(id: string): Promise<Entry | undefined> {
    const dir = this.#dir(id);
    const text = await ifExists(() => readFile(join(dir, MANIFEST), 'utf8'));
    if (text === undefined) return undefined;
    let m = parseManifest(text, id);
    const e: Entry = { m, committing: false, stored: new Map() };
    if (m.state === 'receiving') {
      const objectPath = join(this.dataDir, 'objects', id);
      if ((await ifExists(() => stat(objectPath))) !== undefined) {
        // The process died between publishing the object and recording the commit: the object
        // was verified before its rename, so the commit happened. Record it.
        const hash = createHash('sha256');
        for await (const piece of createReadStream(objectPath) as AsyncIterable<Buffer>) hash.update(piece);
        const now = this.options.now();
        m = { ...m, state: 'committed', finished_at: now, object: { object_id: id, sha256: hash.digest('hex'), size: m.size, committed_at: now } };
        await this.#persist(m);
        e.m = m;
        await this.#removeData(id);
      } else {
        await rm(join(dir, 'tmp'), { recursive: true, force: true });
        await mkdir(join(dir, 'tmp'), { recursive: true });
        for (const name of (await ifExists(() => readdir(join(dir, 'chunks')))) ?? []) {
          const match = CHUNK_FILE.exec(name);
          const index = Number(match?.[1]);
          if (match?.[2] === undefined || index >= m.chunk_count || e.stored.has(index)) continue;
          e.stored.set(index, match[2]);
        }
        let stored = 0;
        for (const index of e.stored.keys()) stored += chunkLengthOf(m.size, m.chunk_size, index);
        this.quota.restore(id, m.owner, m.size, stored);
      }
    } else {
      // A terminal upload keeps no data; finish a removal the crash interrupted.
      await this.#removeData(id);
    }
    const raced = this.#cache.get(id);
    if (raced !== undefined) return raced;
    this.#cache.set(id, e);
    return e;
  }

  async #persist(m: Manifest, step?: FsStoreStep): Promise<void> {
    const beforeRename = step === undefined ? undefined : () => { this.#step(step); };
    await writeFileAtomic(join(this.#dir(m.id), MANIFEST), JSON.stringify(m), this.#durable, beforeRename);
  }

  /** Extends the expiry on activity; persisted lazily (when a quarter TTL of extension is pending), reported only once durable. */
  async #refreshExpiry(e: Entry): Promise<void> {
    const wanted = this.options.now() + this.options.ttlMs;
    if (wanted - e.m.expires_at < this.options.ttlMs / 4) return;
    const m: Manifest = { ...e.m, expires_at: wanted };
    await this.#persist(m);
    e.m = m;
  }

  async #finishExpired(e: Entry): Promise<void> {
    const m: Manifest = { ...e.m, state: 'expired', finished_at: this.options.now() };
    await this.#persist(m);
    e.m = m;
  }

  async #removeData(id: string): Promise<void> {
    const dir = this.#dir(id);
    await rm(join(dir, 'chunks'), { recursive: true, force: true });
    await rm(join(dir, 'tmp'), { recursive: true, force: true });
  }
}

async function freeBytesOf(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}
