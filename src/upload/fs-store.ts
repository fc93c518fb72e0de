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
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FramewireError } from '../errors.ts';
import { MANIFEST, recoverLayout } from './fs-recovery.ts';
import { CoalescingWriter, fsyncDir, ifExists, writeFileAtomic } from './fs-util.ts';
import { isUploadId, SHA256_HEX_PATTERN, type ChunkHeader, type CommitRequest, type CommittedObject, type CreateRequest, type UploadState } from './protocol.ts';
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

/** The manifest as stored: snake_case JSON, versioned. */
interface Manifest {
  v: 1;
  id: string;
  owner: string;
  size: number;
  chunk_size: number;
  chunk_count: number;
  sha256?: string;
  metadata?: Record<string, string>;
  idempotency_key?: string;
  key_hash?: string;
  token: number;
  state: 'receiving' | 'committed' | 'aborted' | 'expired';
  created_at: number;
  expires_at: number;
  ttl_ms: number;
  finished_at?: number;
  object?: { object_id: string; sha256: string; size: number; committed_at: number };
}

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
      const now = this.options.now();
      const id = randomBytes(16).toString('hex');
      const m: Manifest = {
        v: 1,
        id,
        owner,
        size: request.size,
        chunk_size: request.chunkSize,
        chunk_count: count,
        ...(request.sha256 === undefined ? {} : { sha256: request.sha256 }),
        ...(request.metadata === undefined ? {} : { metadata: { ...request.metadata } }),
        ...(request.idempotencyKey === undefined ? {} : { idempotency_key: request.idempotencyKey }),
        ...(keyHash === undefined ? {} : { key_hash: keyHash }),
        token: 1,
        state: 'receiving',
        created_at: now,
        expires_at: now + this.options.ttlMs,
        ttl_ms: this.options.ttlMs,
      };
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
    };
    return keyHash === undefined ? make() : this.#lock.run(`key:${keyHash}`, make);
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
    const dir = this.#dir(id);
    const expected = [e.m.sha256, request.sha256].filter((x): x is string => x !== undefined);
    // Without a whole-object digest to check against, re-verify each chunk: bit rot on disk must
    // not become a silently wrong object.
    const verifyChunks = expected.length === 0;
    const tmp = join(this.dataDir, 'objects-tmp', `${id}.${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx');
    let published = false;
    try {
      const writer = new CoalescingWriter(fh, 4 * this.#batch);
      const whole = createHash('sha256');
      for (let i = 0; i < e.m.chunk_count; i++) {
        const sha = e.stored.get(i) ?? '';
        const part = verifyChunks ? createHash('sha256') : undefined;
        for await (const piece of createReadStream(join(dir, 'chunks', `${i}.${sha}`), { highWaterMark: this.#batch }) as AsyncIterable<Buffer>) {
          whole.update(piece);
          part?.update(piece);
          await writer.write(piece);
        }
        if (part !== undefined && part.digest('hex') !== sha) {
          throw new FramewireError('DIGEST_MISMATCH', `stored chunk ${i} no longer matches its checksum`, { details: { index: i } });
        }
      }
      await writer.finish();
      const sha256 = whole.digest('hex');
      if (writer.written !== e.m.size) throw new FramewireError('INTERNAL', `assembled ${writer.written} bytes, expected ${e.m.size}`);
      for (const x of expected) {
        if (x !== sha256) throw new FramewireError('DIGEST_MISMATCH', `the assembled object has SHA-256 ${sha256}, expected ${x}`, { details: { sha256 } });
      }
      if (this.#durable) await fh.datasync();
      await fh.close();
      this.#step('commit.object-temp');
      const final = join(this.dataDir, 'objects', id);
      await rename(tmp, final);
      published = true;
      if (this.#durable) await fsyncDir(join(this.dataDir, 'objects'));
      this.#step('commit.object-published');
      return { objectId: id, sha256, size: e.m.size, committedAt: this.options.now() };
    } finally {
      await fh.close().catch(() => undefined);
      if (!published) await rm(tmp, { force: true });
    }
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
    const m = e.m;
    let state: UploadState = m.state;
    if (state === 'receiving' && e.committing) state = 'committing';
    else if (state === 'receiving' && this.options.now() >= m.expires_at) state = 'expired';
    return {
      id: m.id,
      owner: m.owner,
      size: m.size,
      chunkSize: m.chunk_size,
      chunkCount: m.chunk_count,
      ...(m.sha256 === undefined ? {} : { sha256: m.sha256 }),
      ...(m.metadata === undefined ? {} : { metadata: m.metadata }),
      ...(m.idempotency_key === undefined ? {} : { idempotencyKey: m.idempotency_key }),
      token: m.token,
      state,
      createdAt: m.created_at,
      expiresAt: m.expires_at,
      ttlMs: m.ttl_ms,
      stored: new Map(e.stored),
      ...(m.object === undefined
        ? {}
        : { object: { objectId: m.object.object_id, sha256: m.object.sha256, size: m.object.size, committedAt: m.object.committed_at } }),
    };
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
    let m = JSON.parse(text) as Manifest;
    if ((m as { v: unknown }).v !== 1 || m.id !== id) throw new FramewireError('INTERNAL', `upload ${id}: unreadable manifest`);
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
