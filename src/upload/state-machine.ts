/**
 * The upload state machine (spec/UPLOAD.md §11.3–§11.7, §11.9): every transition of an upload,
 * written once, over a metadata store with compare-and-set and a blob store (backends.ts).
 *
 *   create ─► receiving ─► committing ─► committed        (commit: verified, then published)
 *                 │  ▲          │
 *                 │  └──────────┘                         (digest mismatch, failure: back, token kept)
 *                 ├─► aborted                             (abort: the data is deleted)
 *                 └─► expired                             (expiry: immediate; the sweeper deletes the data)
 *   committed | aborted | expired ─► forgotten            (after the retention)
 *
 * Each transition reads the record, checks the rules (rules.ts) and writes the next record with a
 * compare-and-set on the version it read; on a concurrent change it reads again and decides again.
 * A chunk is recorded with the same condition, which is the fencing check at the moment the chunk
 * becomes stored (FW-UP-21). A chunk write reads only the record and that chunk's entry
 * (UploadMetaStore.getChunk), never the whole set, so its cost does not grow with the chunks
 * stored. The commit and the settling of an interrupted one are in commits.ts, which every other
 * transition waits for while it runs.
 *
 * What one process serialises in memory, on top: the commits of an upload (commits.ts), the
 * writers of one chunk index (a second waits and then finds the chunk stored, FW-UP-18), and the
 * creates of one idempotency key. Several processes sharing a backend stay correct through the
 * compare-and-set, and their commits are serialised by the backend's commit lock (a lease in Redis).
 */

import { randomBytes } from 'node:crypto';
import { FramewireError, isFramewireError } from '../errors.ts';
import type { CommitLock, StagedChunk, StoredUpload, UploadBlobStore, UploadChunkView, UploadMetaStore, UploadRecord, VersionedUpload } from './backends.ts';
import { UploadCommits } from './commits.ts';
import { ChunkSlots } from './chunk-slots.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { CommittedObjects } from './committed-objects.ts';
import { listUnfinished } from './list-unfinished.ts';
import { isUploadId, SHA256_HEX_PATTERN, type ChunkHeader, type CommitRequest, type CommittedObject, type CreateRequest, type UploadState } from './protocol.ts';
import { contention, MAX_RACES, requireChunk, requireRecord } from './records.ts';
import { UploadQuota, type FreeBytes } from './quota.ts';
import {
  assertChunkRange,
  assertNoConflict,
  assertReceiving,
  assertToken,
  checkCreate,
  effectiveState,
  geometryOf,
  indexKeyOf,
  infoOf,
  isFinal,
  sameCreate,
  storedBytes,
  summaryOf,
  verifiedChunk,
} from './rules.ts';
import {
  resolveStoreOptions,
  type ChunkWriteResult,
  type CommittedObjectStore,
  type ResolvedStoreOptions,
  type UploadInfo,
  type UploadStore,
  type UploadStoreOptions,
  type UploadSummary,
} from './store.ts';

/** The storage an `UploadStateMachine` runs over: a metadata store and a blob store. */
export interface UploadBackends {
  /** Records, stored chunks, idempotency index. */
  readonly meta: UploadMetaStore;
  /** Chunk bytes and committed objects. */
  readonly blobs: UploadBlobStore;
  /** Free bytes of the storage, for the quota's free-space rule; absent for storage without a disk. */
  readonly freeBytes?: FreeBytes;
  /** Runs once before recovery and before any operation (the FS backends make and clean their directories). */
  readonly prepare?: () => Promise<void>;
  /** Serialises commits across processes sharing the backends; absent: one process owns them. */
  readonly commitLock?: CommitLock;
}

const oneProcess: CommitLock = { run: (_id, fn) => fn() };

/**
 * An `UploadStore` made of the profile's rules over any pair of backends (`UploadBackends`):
 * `FsUploadStore` and `MemoryUploadStore` are this over their backends; construct it yourself over
 * your own `UploadMetaStore` and `UploadBlobStore` to keep uploads elsewhere.
 */
export class UploadStateMachine implements UploadStore {
  readonly options: ResolvedStoreOptions;
  /** What unfinished uploads hold (FW-UP-37). */
  readonly quota: UploadQuota;
  readonly #meta: UploadMetaStore;
  readonly #blobs: UploadBlobStore;
  readonly #ready: Promise<void>;
  /** The commit transitions, and the commits in progress in this process. */
  readonly #commits: UploadCommits;
  /** One chunk writer per index at a time; older tokens are stopped, not waited for. */
  readonly #slots = new ChunkSlots();
  /** One create per idempotency key at a time. */
  readonly #serial = new KeyedMutex();
  /** The committed objects, for the read profile (spec/OBJECTS.md). */
  readonly objects: CommittedObjectStore;

  constructor(backends: UploadBackends, options: UploadStoreOptions = {}) {
    this.options = resolveStoreOptions(options);
    this.quota = new UploadQuota(options.quota, backends.freeBytes);
    this.#meta = backends.meta;
    this.#blobs = backends.blobs;
    this.#commits = new UploadCommits({
      meta: backends.meta,
      blobs: backends.blobs,
      commitLock: backends.commitLock ?? oneProcess,
      now: () => this.options.now(),
      dropData: (id) => this.#dropData(id),
    });
    const prepare = backends.prepare ?? (() => Promise.resolve());
    this.#ready = prepare().then(() => this.#recover());
    this.#ready.catch(() => undefined);
    this.objects = new CommittedObjects(backends.blobs, this.#ready);
  }

  /** Resolves once recovery at start is done (every operation waits for it); rejects if the storage is unusable. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  // ---- create, read, acquire -------------------------------------------------------------------

  async create(owner: string, request: CreateRequest): Promise<{ info: UploadInfo; created: boolean }> {
    await this.#ready;
    const chunkCount = checkCreate(request, this.options);
    if (request.idempotencyKey === undefined) return this.#createNew(owner, request, chunkCount, undefined);
    const indexKey = indexKeyOf(owner, request.idempotencyKey);
    return this.#serial.run(`key:${indexKey}`, async () => {
      for (let attempt = 0; attempt < MAX_RACES; attempt++) {
        const id = await this.#meta.findKey(indexKey);
        const existing = id === undefined ? undefined : await this.#meta.get(id);
        if (existing !== undefined) {
          // A replayed create (FW-UP-11): never a new upload, so never refused by the quota.
          if (!sameCreate(existing.record, request)) throw new FramewireError('IDEMPOTENCY_CONFLICT', 'an upload with this idempotency key exists with other parameters');
          return { info: infoOf(existing.record, existing.chunks, this.options.now()), created: false };
        }
        const made = await this.#createNew(owner, request, chunkCount, indexKey);
        if (made.created) return made;
        // Another process created an upload under this key meanwhile: answer with that one.
      }
      throw contention('the idempotency key');
    });
  }

  async #createNew(owner: string, request: CreateRequest, chunkCount: number, indexKey: string | undefined): Promise<{ info: UploadInfo; created: boolean }> {
    const id = randomBytes(16).toString('hex');
    const now = this.options.now();
    const record: UploadRecord = {
      id,
      owner,
      size: request.size,
      chunkSize: request.chunkSize,
      chunkCount,
      ...(request.sha256 === undefined ? {} : { sha256: request.sha256 }),
      ...(request.metadata === undefined ? {} : { metadata: { ...request.metadata } }),
      ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
      ...(indexKey === undefined ? {} : { indexKey }),
      token: 1,
      state: 'receiving',
      createdAt: now,
      expiresAt: now + this.options.ttlMs,
      ttlMs: this.options.ttlMs,
    };
    await this.quota.admit(id, owner, request.size);
    let created = false;
    try {
      created = await this.#meta.create(record);
    } finally {
      if (!created) this.quota.finished(id);
    }
    return { info: infoOf(record, new Map(), now), created };
  }

  async get(id: string): Promise<UploadInfo | undefined> {
    if (!isUploadId(id)) return undefined;
    await this.#ready;
    const s = await this.#meta.get(id);
    return s === undefined ? undefined : infoOf(s.record, s.chunks, this.options.now());
  }

  /** {@inheritDoc UploadStore.summary} */
  async summary(id: string): Promise<UploadSummary | undefined> {
    if (!isUploadId(id)) return undefined;
    await this.#ready;
    const s = await this.#meta.getRecord(id);
    return s === undefined ? undefined : summaryOf(s.record, this.options.now());
  }

  /** Grants a new fencing token, durably, and extends the expiry (FW-UP-20, FW-UP-40). */
  async acquire(id: string): Promise<UploadInfo> {
    await this.#ready;
    const c = await this.#change(id, () => this.#settled(id), (s, now) => {
      assertReceiving(s.record, now, 'acquire');
      return { ...s.record, token: s.record.token + 1, expiresAt: Math.max(s.record.expiresAt, now + this.options.ttlMs) };
    });
    // Writers with older tokens will be refused when they record their chunks: stop them now.
    this.#slots.fence(id, c.record.token);
    return infoOf(c.record, c.chunks, this.options.now());
  }

  // ---- chunks ----------------------------------------------------------------------------------

  async writeChunk(id: string, chunk: ChunkHeader, data: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<ChunkWriteResult> {
    await this.#ready;
    const s = await this.#requireChunk(id, chunk.index);
    // In the order of FW-UP-23: state, token, range, conflict.
    assertReceiving(s.record, this.options.now(), 'chunk');
    assertToken(s.record, chunk.token, 'chunk');
    assertChunkRange(s.record, chunk);
    assertNoConflict(s, chunk);
    if (!SHA256_HEX_PATTERN.test(chunk.sha256)) throw new FramewireError('MALFORMED_PAYLOAD', 'chunk sha256 must be 64 hex digits');
    return this.#slots.run(id, chunk.index, chunk.token, (fenced, waited) => {
      const stop = signal === undefined ? fenced : AbortSignal.any([signal, fenced]);
      // The record just read is current unless another writer of this index ran meanwhile.
      return this.#placeChunk(id, chunk, verifiedChunk(chunk, data, stop), waited ? undefined : s);
    });
  }

  /**
   * With the index to itself: write the (verified) bytes, then record the chunk if the record still
   * allows it. `read` (the record the chunk was checked against) spares a read: the compare-and-set
   * that records the chunk finds out if it changed since.
   */
  async #placeChunk(id: string, chunk: ChunkHeader, verified: AsyncIterable<Uint8Array>, read: UploadChunkView | undefined): Promise<ChunkWriteResult> {
    const s = read ?? (await this.#requireChunk(id, chunk.index));
    this.#assertWritable(s, chunk);
    if (s.stored !== undefined) {
      // Stored with this checksum: verify the bytes, keep nothing, rewrite nothing (FW-UP-15).
      await drain(verified);
      const now = await this.#settledChunk(id, chunk.index);
      this.#assertWritable(now, chunk);
      return { duplicate: true, expiresAt: now.record.expiresAt };
    }
    let staged: StagedChunk;
    try {
      staged = await this.#blobs.writeChunk(geometryOf(s.record), chunk.index, verified, chunk.sha256);
    } catch (error) {
      throw await this.#explain(id, chunk, error);
    }
    let recorded: UploadChunkView | undefined;
    try {
      recorded = await this.#recordChunk(id, chunk, s);
    } catch (error) {
      await staged.discard();
      await this.#dropDataIfFinal(id);
      throw error;
    }
    if (recorded === undefined) {
      await staged.discard();
      return { duplicate: true, expiresAt: (await this.#requireChunk(id, chunk.index)).record.expiresAt };
    }
    staged.kept();
    this.quota.chunkStored(id, chunk.length);
    return { duplicate: false, expiresAt: await this.#extendExpiry(id, chunk, recorded) };
  }

  /**
   * The fencing check at the moment the chunk becomes stored (FW-UP-21): added on the version of
   * `checked` first, read again only after a concurrent change. Answers the record the chunk was
   * added on, or undefined when it was stored meanwhile.
   */
  async #recordChunk(id: string, chunk: ChunkHeader, checked: UploadChunkView): Promise<UploadChunkView | undefined> {
    let s = checked;
    for (let attempt = 0; attempt < MAX_RACES; attempt++) {
      if (attempt > 0) s = await this.#settledChunk(id, chunk.index);
      this.#assertWritable(s, chunk);
      if (s.stored !== undefined) return undefined;
      if ((await this.#meta.addChunk(id, s.version, chunk.index, chunk.sha256)) === 'added') return s;
    }
    throw contention(id);
  }

  /**
   * Activity extends the expiry: persisted when a quarter TTL of extension is pending, reported once
   * durable (FW-UP-40). Decided first on the record the chunk was just added on (current then, by
   * the compare-and-set), so most chunks need no read: only an extension reads (the per-chunk read:
   * the record is all it needs) and writes.
   */
  async #extendExpiry(id: string, chunk: ChunkHeader, current: UploadChunkView): Promise<number> {
    const ttl = this.options.ttlMs;
    const extended = (s: VersionedUpload, now: number): UploadRecord | undefined => {
      const wanted = now + ttl;
      if (effectiveState(s.record, now) !== 'receiving' || wanted - s.record.expiresAt < ttl / 4) return undefined;
      return { ...s.record, expiresAt: wanted };
    };
    if (extended(current, this.options.now()) === undefined) return current.record.expiresAt;
    return (await this.#change(id, () => this.#settledChunk(id, chunk.index), extended)).record.expiresAt;
  }

  #assertWritable(s: UploadChunkView, chunk: ChunkHeader): void {
    assertReceiving(s.record, this.options.now(), 'chunk');
    assertToken(s.record, chunk.token, 'chunk');
    assertNoConflict(s, chunk);
  }

  /** A storage failure while the upload was taken over, aborted or committed is reported as that, not as INTERNAL. */
  async #explain(id: string, chunk: ChunkHeader, error: unknown): Promise<unknown> {
    if (isFramewireError(error)) return error;
    const s = await this.#meta.getChunk(id, chunk.index).catch(() => undefined);
    if (s === undefined) return error;
    try {
      this.#assertWritable(s, chunk);
    } catch (refusal) {
      await this.#dropDataIfFinal(id);
      return refusal;
    }
    return error;
  }

  // ---- commit ----------------------------------------------------------------------------------

  /** Verified, atomic, idempotent (FW-UP-24 … FW-UP-26); one at a time per upload in this process. */
  async commit(id: string, request: CommitRequest): Promise<CommittedObject> {
    await this.#ready;
    return this.#commits.commit(id, request);
  }

  // ---- abort, expiry, retention ----------------------------------------------------------------

  /**
   * Deletes the data; answers the state the upload ends in (FW-UP-27, FW-UP-28). It decides on the
   * record alone, so it costs the same however many chunks are stored (settling an interrupted
   * commit first still reads what that needs, FW-UP-51).
   */
  async abort(id: string): Promise<UploadState> {
    await this.#ready;
    const c = await this.#change(id, () => this.#commits.settledBy(id, () => requireRecord(this.#meta, id)), (s, now) => {
      if (s.record.state !== 'receiving') return undefined;
      return { ...s.record, state: effectiveState(s.record, now) === 'expired' ? 'expired' : 'aborted', finishedAt: now };
    });
    const final = effectiveState(c.record, this.options.now());
    if (final === 'committed' || final === 'committing') return 'committed';
    this.#slots.fence(id, Infinity);
    await this.#dropData(id);
    return final === 'expired' ? 'expired' : 'aborted';
  }

  /** {@inheritDoc UploadStore.listUnfinished} */
  async listUnfinished(owner: string, after: string | undefined, limit: number): Promise<{ readonly uploads: readonly UploadInfo[]; readonly more: boolean }> {
    await this.#ready;
    return listUnfinished(this.#meta, owner, after, limit, this.options.now());
  }

  /** Deletes the data of expired uploads, forgets finished ones after their retention (FW-UP-43); returns how many it touched. */
  async sweep(): Promise<number> {
    await this.#ready;
    let touched = 0;
    for (const id of await this.#meta.ids()) touched += await this.#sweepOne(id);
    return touched;
  }

  async #sweepOne(id: string): Promise<number> {
    const s = await this.#meta.get(id);
    if (s === undefined) return 0;
    const now = this.options.now();
    const r = s.record;
    if (r.state === 'receiving' && effectiveState(r, now) === 'expired') {
      // Changed meanwhile (an abort, say): the next sweep looks again.
      if (!(await this.#meta.update(id, s.version, { ...r, state: 'expired', finishedAt: now }))) return 0;
      await this.#dropData(id);
      return 1;
    }
    if (isFinal(r.state) && now - (r.finishedAt ?? now) >= this.options.retainMs) {
      await this.#meta.delete(id);
      return 1;
    }
    return 0;
  }

  async #dropData(id: string): Promise<void> {
    this.quota.finished(id);
    await this.#meta.clearChunks(id);
    await this.#blobs.deleteChunks(id);
  }

  /** A writer that lost the race against abort, expiry or commit may have recreated chunk data: remove it. */
  async #dropDataIfFinal(id: string): Promise<void> {
    const s = await this.#meta.getRecord(id).catch(() => undefined);
    if (s !== undefined && isFinal(s.record.state)) await this.#blobs.deleteChunks(id);
  }

  // ---- objects, lifecycle ----------------------------------------------------------------------

  openObject(objectId: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    return isUploadId(objectId) ? this.#blobs.openObject(objectId) : Promise.resolve(undefined);
  }

  close(): Promise<void> {
    return this.#blobs.close();
  }

  /** At start: count what unfinished uploads hold, settle interrupted commits, finish interrupted removals (FW-UP-51). */
  async #recover(): Promise<void> {
    for (const id of await this.#meta.ids()) {
      // An unreadable record, or one that cannot be settled now, fails that upload's operations
      // (INTERNAL) when they come, not the whole store.
      await this.#recoverOne(id).catch(() => undefined);
    }
    for (const id of await this.#blobs.withChunks()) {
      const s = await this.#meta.get(id).catch(() => 'unreadable' as const);
      if (s === undefined || (s !== 'unreadable' && isFinal(s.record.state))) await this.#blobs.deleteChunks(id);
    }
  }

  async #recoverOne(id: string): Promise<void> {
    const s = await this.#meta.get(id);
    if (s === undefined) return;
    if (isFinal(s.record.state)) {
      await this.#meta.clearChunks(id);
      return;
    }
    this.quota.restore(id, s.record.owner, s.record.size, storedBytes(s.record, s.chunks));
    await this.#commits.settleAlone(id, (state) => !isFinal(state));
  }

  // ---- reading and changing records ------------------------------------------------------------

  #requireChunk(id: string, index: number): Promise<UploadChunkView> {
    return requireChunk(this.#meta, id, index);
  }

  #settled(id: string): Promise<StoredUpload> {
    return this.#commits.settled(id);
  }

  /** The per-chunk read once no commit is in progress: what a chunk's path reads again after a change. */
  #settledChunk(id: string, index: number): Promise<UploadChunkView> {
    return this.#commits.settledBy(id, () => requireChunk(this.#meta, id, index));
  }

  /**
   * Compare-and-set: `decide` returns the next record (or undefined: no change) and is asked again,
   * on a new `read`, after a concurrent change. Answers what was read, with the record it ended with.
   */
  async #change<T extends VersionedUpload>(id: string, read: () => Promise<T>, decide: (s: T, now: number) => UploadRecord | undefined): Promise<Omit<T, 'version'>> {
    for (let attempt = 0; attempt < MAX_RACES; attempt++) {
      const s = await read();
      const next = decide(s, this.options.now());
      if (next === undefined) return s;
      if (await this.#meta.update(id, s.version, next)) return { ...s, record: next };
    }
    throw contention(id);
  }
}

async function drain(data: AsyncIterable<Uint8Array>): Promise<void> {
  const it = data[Symbol.asyncIterator]();
  while (!(await it.next()).done);
}
