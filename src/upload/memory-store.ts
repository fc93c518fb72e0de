/**
 * An in-memory UploadStore for tests and ephemeral servers. Same semantics as the file-system
 * store (tokens checked at the moment a chunk is kept, nothing of a rejected chunk kept, atomic
 * idempotent commit, expiry), without durability: everything is lost with the process.
 */

import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { FramewireError } from '../errors.ts';
import type { ChunkHeader, CommitRequest, CommittedObject, CreateRequest, UploadState } from './protocol.ts';
import { UploadQuota } from './quota.ts';
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

interface Entry {
  info: UploadInfo;
  /** Terminal state reached at (for retention), Unix ms. */
  finishedAt: number | undefined;
  readonly chunks: Map<number, Uint8Array>;
}

export class MemoryUploadStore implements UploadStore {
  readonly options: ResolvedStoreOptions;
  /** What unfinished uploads hold (FW-UP-37); no free-space rule: there is no disk. */
  readonly quota: UploadQuota;
  readonly #uploads = new Map<string, Entry>();
  readonly #keys = new Map<string, string>();
  readonly #objects = new Map<string, Uint8Array>();
  readonly #lock = new KeyedMutex();

  constructor(options: UploadStoreOptions = {}) {
    this.options = resolveStoreOptions(options);
    this.quota = new UploadQuota(options.quota);
  }

  /** Test hook: the committed bytes of an object. */
  object(objectId: string): Uint8Array | undefined {
    return this.#objects.get(objectId);
  }

  /** Test hook: bytes held for unfinished uploads (chunks), to check that nothing is left behind. */
  get heldBytes(): number {
    let n = 0;
    for (const e of this.#uploads.values()) for (const c of e.chunks.values()) n += c.length;
    return n;
  }

  create(owner: string, request: CreateRequest): Promise<{ info: UploadInfo; created: boolean }> {
    const count = checkCreate(request, this.options);
    const keyId = request.idempotencyKey === undefined ? undefined : `${owner}\u0000${request.idempotencyKey}`;
    return this.#lock.run<{ info: UploadInfo; created: boolean }>(`key:${keyId ?? ''}`, async () => {
      if (keyId !== undefined) {
        const existingId = this.#keys.get(keyId);
        const existing = existingId === undefined ? undefined : this.#effective(existingId);
        if (existing !== undefined) {
          if (!sameCreate(existing.info, request)) {
            throw new FramewireError('IDEMPOTENCY_CONFLICT', 'an upload with this idempotency key exists with other parameters');
          }
          return { info: existing.info, created: false };
        }
      }
      const id = randomBytes(16).toString('hex');
      await this.quota.admit(id, owner, request.size);
      const now = this.options.now();
      const info: UploadInfo = {
        id,
        owner,
        size: request.size,
        chunkSize: request.chunkSize,
        chunkCount: count,
        ...(request.sha256 === undefined ? {} : { sha256: request.sha256 }),
        ...(request.metadata === undefined ? {} : { metadata: request.metadata }),
        ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
        token: 1,
        state: 'receiving',
        createdAt: now,
        expiresAt: now + this.options.ttlMs,
        ttlMs: this.options.ttlMs,
        stored: new Map(),
      };
      this.#uploads.set(id, { info, finishedAt: undefined, chunks: new Map() });
      if (keyId !== undefined) this.#keys.set(keyId, id);
      return { info: snapshot(info), created: true };
    });
  }

  get(id: string): Promise<UploadInfo | undefined> {
    const e = this.#effective(id);
    return Promise.resolve(e === undefined ? undefined : snapshot(e.info));
  }

  acquire(id: string): Promise<UploadInfo> {
    return this.#lock.run(id, () => {
      const e = this.#require(id);
      assertReceiving(e.info, 'acquire');
      const now = this.options.now();
      e.info = { ...e.info, token: e.info.token + 1, expiresAt: Math.max(e.info.expiresAt, now + this.options.ttlMs) };
      return Promise.resolve(snapshot(e.info));
    });
  }

  async writeChunk(id: string, chunk: ChunkHeader, data: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<ChunkWriteResult> {
    const first = this.#require(id);
    assertReceiving(first.info, 'chunk');
    assertToken(first.info, chunk.token, 'chunk');
    assertChunkRange(first.info, chunk);
    assertNoConflict(first.info, chunk);
    // The "temp file": pieces held aside until the chunk is verified and the token re-checked.
    const pieces: Uint8Array[] = [];
    const duplicate = first.info.stored.has(chunk.index);
    await receiveChunk(chunk, data, (p) => { if (!duplicate) pieces.push(Uint8Array.from(p)); }, signal);
    return this.#lock.run<ChunkWriteResult>(id, () => {
      const e = this.#require(id);
      assertReceiving(e.info, 'chunk');
      assertToken(e.info, chunk.token, 'chunk');
      assertNoConflict(e.info, chunk);
      const now = this.options.now();
      if (e.info.stored.has(chunk.index)) {
        return Promise.resolve({ duplicate: true, expiresAt: e.info.expiresAt });
      }
      e.chunks.set(chunk.index, Buffer.concat(pieces));
      this.quota.chunkStored(id, chunk.length);
      const stored = new Map(e.info.stored).set(chunk.index, chunk.sha256);
      e.info = { ...e.info, stored, expiresAt: Math.max(e.info.expiresAt, now + this.options.ttlMs) };
      return Promise.resolve({ duplicate: false, expiresAt: e.info.expiresAt });
    });
  }

  commit(id: string, request: CommitRequest): Promise<CommittedObject> {
    return this.#lock.run(id, () => {
      const e = this.#require(id);
      if (e.info.state === 'committed' && e.info.object !== undefined) return Promise.resolve(e.info.object);
      assertReceiving(e.info, 'commit');
      assertToken(e.info, request.token, 'commit');
      if (e.info.stored.size !== e.info.chunkCount) {
        throw new FramewireError('INCOMPLETE', `${e.info.chunkCount - e.info.stored.size} of ${e.info.chunkCount} chunks are missing`, {
          details: { missing: e.info.chunkCount - e.info.stored.size },
        });
      }
      const parts: Uint8Array[] = [];
      for (let i = 0; i < e.info.chunkCount; i++) parts.push(e.chunks.get(i) ?? new Uint8Array(0));
      const bytes = Buffer.concat(parts);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      for (const expected of [e.info.sha256, request.sha256]) {
        if (expected !== undefined && expected !== sha256) {
          throw new FramewireError('DIGEST_MISMATCH', `the assembled object has SHA-256 ${sha256}, expected ${expected}`, { details: { sha256 } });
        }
      }
      const now = this.options.now();
      const object: CommittedObject = { objectId: id, sha256, size: bytes.length, committedAt: now };
      this.#objects.set(id, bytes);
      e.chunks.clear();
      this.quota.finished(id);
      e.info = { ...e.info, state: 'committed', object };
      e.finishedAt = now;
      return Promise.resolve(object);
    });
  }

  abort(id: string): Promise<UploadState> {
    return this.#lock.run(id, () => {
      const e = this.#effective(id);
      if (e === undefined) throw new FramewireError('UPLOAD_NOT_FOUND', `no upload ${id}`);
      if (e.info.state === 'receiving' || e.info.state === 'aborted') {
        e.chunks.clear();
        this.quota.finished(id);
        if (e.info.state === 'receiving') {
          e.info = { ...e.info, state: 'aborted', stored: new Map() };
          e.finishedAt = this.options.now();
        }
        return Promise.resolve<UploadState>('aborted');
      }
      return Promise.resolve(e.info.state);
    });
  }

  async sweep(): Promise<number> {
    let touched = 0;
    for (const id of [...this.#uploads.keys()]) {
      touched += await this.#lock.run(id, () => Promise.resolve(this.#sweepOne(id)));
    }
    return touched;
  }

  #sweepOne(id: string): number {
    const e = this.#effective(id);
    if (e === undefined) return 0;
    const now = this.options.now();
    if (e.info.state === 'expired' && e.finishedAt === undefined) {
      e.chunks.clear();
      this.quota.finished(id);
      e.info = { ...e.info, stored: new Map() };
      e.finishedAt = now;
      return 1;
    }
    if (e.finishedAt !== undefined && now - e.finishedAt >= this.options.retainMs) {
      this.#uploads.delete(id);
      if (e.info.idempotencyKey !== undefined) this.#keys.delete(`${e.info.owner}\u0000${e.info.idempotencyKey}`);
      return 1;
    }
    return 0;
  }

  openObject(objectId: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const bytes = this.#objects.get(objectId);
    if (bytes === undefined) return Promise.resolve(undefined);
    return Promise.resolve(Readable.from([bytes]) as AsyncIterable<Uint8Array>);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The entry with expiry applied (an unfinished upload past expiresAt reads as expired). */
  #effective(id: string): Entry | undefined {
    const e = this.#uploads.get(id);
    if (e === undefined) return undefined;
    if (e.info.state === 'receiving' && this.options.now() >= e.info.expiresAt) {
      e.info = { ...e.info, state: 'expired' };
    }
    return e;
  }

  #require(id: string): Entry {
    const e = this.#effective(id);
    if (e === undefined) throw new FramewireError('UPLOAD_NOT_FOUND', `no upload ${id}`);
    return e;
  }
}

function snapshot(info: UploadInfo): UploadInfo {
  return { ...info, stored: new Map(info.stored) };
}
