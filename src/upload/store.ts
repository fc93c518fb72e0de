/**
 * `UploadStore`: where upload sessions, their chunks and committed objects live (spec/UPLOAD.md §11.7).
 *
 * The protocol code (service.ts) parses requests, authorises and applies limits; the store owns
 * every state transition and enforces the invariants that make uploads safe, so a new store (a
 * shared one for several server processes) can be added without touching protocol code:
 *
 * - a chunk is acknowledged only once durably stored, and only if its bytes match its checksum;
 * - a chunk is made durable only if the writer's fencing token equals the upload's current token,
 *   checked at that very moment (FW-UP-21): in-process under a per-upload lock; a shared store does
 *   the same with a compare-and-set on the manifest (token, state) and a conditional put of the chunk;
 * - a stored chunk is never rewritten; the same index with another checksum is CHUNK_CONFLICT;
 * - commit is verified, atomic and idempotent; abort and expiry delete the data.
 *
 * Stores throw FramewireError with the profile's codes; anything else is reported as INTERNAL.
 */

import { createHash } from 'node:crypto';
import { FramewireError } from '../errors.ts';
import type { ChunkHeader, CommitRequest, CommittedObject, CreateRequest, UploadState } from './protocol.ts';
import type { UploadQuotaLimits } from './quota.ts';

/** Everything a store knows about one upload. A snapshot: later changes do not show in it. */
export interface UploadInfo {
  readonly id: string;
  /** The principal id of the creator: only it may resume, commit or abort (FW-UP-30). */
  readonly owner: string;
  readonly size: number;
  readonly chunkSize: number;
  readonly chunkCount: number;
  readonly sha256?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly idempotencyKey?: string;
  /** The current fencing token (FW-UP-20). */
  readonly token: number;
  /** Effective state: an unfinished upload past its expiry reads as `expired` even before the sweeper ran. */
  readonly state: UploadState;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly ttlMs: number;
  /** Stored chunks: index → SHA-256 (hex) of the chunk's bytes. */
  readonly stored: ReadonlyMap<number, string>;
  readonly object?: CommittedObject;
}

export interface ChunkWriteResult {
  readonly duplicate: boolean;
  readonly expiresAt: number;
}

export interface UploadStore {
  /**
   * Creates an upload owned by `owner` with token 1. With an idempotency key, a second create by
   * the same owner with the same key returns the existing upload (created: false) if its
   * parameters are equal, or fails with IDEMPOTENCY_CONFLICT (FW-UP-11).
   */
  create(owner: string, request: CreateRequest): Promise<{ readonly info: UploadInfo; readonly created: boolean }>;
  /** The upload, or undefined when unknown (never created, or forgotten after its retention). */
  get(id: string): Promise<UploadInfo | undefined>;
  /** Grants a new fencing token (current + 1), durably, and returns the upload (FW-UP-20). */
  acquire(id: string): Promise<UploadInfo>;
  /**
   * Reads the chunk's bytes from `data` as they arrive (never buffering the whole chunk), verifies
   * length and SHA-256, then — atomically with respect to acquire/commit/abort — checks the token
   * and the upload's state and makes the chunk durable. Nothing of a rejected chunk is kept.
   */
  writeChunk(id: string, chunk: ChunkHeader, data: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<ChunkWriteResult>;
  /** Verifies completeness and the digest, publishes the object atomically; idempotent (FW-UP-25). */
  commit(id: string, request: CommitRequest): Promise<CommittedObject>;
  /**
   * Deletes the upload's data; returns the final state: `aborted`, or `committed`/`expired` if it
   * was too late. Serialised with commit, so the answer is the state the upload ends in (FW-UP-28).
   */
  abort(id: string): Promise<UploadState>;
  /** Deletes the data of expired uploads and forgets finished ones after their retention; returns how many it touched. */
  sweep(): Promise<number>;
  /** The bytes of a committed object, or undefined. */
  openObject(objectId: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  close(): Promise<void>;
}

export interface UploadStoreOptions {
  /** How long an unfinished upload lives after its last activity (create, acquire, stored chunk). Default 24 h. */
  readonly ttlMs?: number;
  /** How long a finished (committed, aborted, expired) upload is remembered for status and commit-twice. Default 24 h. */
  readonly retainMs?: number;
  /** Largest declared object size. Default 2^50 (1 PiB). */
  readonly maxSize?: number;
  /** Largest chunk size. Default 64 MiB. */
  readonly maxChunkSize?: number;
  /** Most chunks per upload (the stored bitmap must fit a control payload). Default 1 Mi. */
  readonly maxChunkCount?: number;
  /** Budgets of unfinished uploads, per principal and in total (FW-UP-37); see UploadQuota. */
  readonly quota?: Partial<UploadQuotaLimits>;
  /** Wall clock in Unix ms; injected by tests. Default Date.now. */
  readonly now?: () => number;
}

export interface ResolvedStoreOptions {
  readonly ttlMs: number;
  readonly retainMs: number;
  readonly maxSize: number;
  readonly maxChunkSize: number;
  readonly maxChunkCount: number;
  readonly now: () => number;
}

export const defaultStoreOptions = {
  ttlMs: 24 * 3600 * 1000,
  retainMs: 24 * 3600 * 1000,
  maxSize: 2 ** 50,
  maxChunkSize: 64 * 1024 * 1024,
  maxChunkCount: 1_048_576,
} as const;

export function resolveStoreOptions(o: UploadStoreOptions): ResolvedStoreOptions {
  const r: ResolvedStoreOptions = {
    ttlMs: o.ttlMs ?? defaultStoreOptions.ttlMs,
    retainMs: o.retainMs ?? defaultStoreOptions.retainMs,
    maxSize: o.maxSize ?? defaultStoreOptions.maxSize,
    maxChunkSize: o.maxChunkSize ?? defaultStoreOptions.maxChunkSize,
    maxChunkCount: Math.min(o.maxChunkCount ?? defaultStoreOptions.maxChunkCount, 1_048_576),
    now: o.now ?? Date.now,
  };
  for (const key of ['ttlMs', 'retainMs', 'maxSize', 'maxChunkSize', 'maxChunkCount'] as const) {
    const v = r[key];
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`upload store option ${key} must be a positive integer, got ${v}`);
  }
  return r;
}

/** Checks a create request against the store's limits (FW-UP-10); BAD_RANGE otherwise. */
export function checkCreate(request: CreateRequest, o: ResolvedStoreOptions): number {
  if (request.size > o.maxSize) throw new FramewireError('BAD_RANGE', `size ${request.size} exceeds the maximum ${o.maxSize}`);
  if (request.chunkSize > o.maxChunkSize) throw new FramewireError('BAD_RANGE', `chunk_size ${request.chunkSize} exceeds the maximum ${o.maxChunkSize}`);
  const count = request.size === 0 ? 0 : Math.ceil(request.size / request.chunkSize);
  if (count > o.maxChunkCount) throw new FramewireError('BAD_RANGE', `${count} chunks exceed the maximum ${o.maxChunkCount}; use larger chunks`);
  return count;
}

/** Same parameters as an earlier create with the same idempotency key? */
export function sameCreate(info: UploadInfo, r: CreateRequest): boolean {
  return info.size === r.size && info.chunkSize === r.chunkSize && info.sha256 === r.sha256;
}

/** The state checks every mutating operation starts with (FW-UP-41, FW-UP-42). */
export function assertReceiving(info: UploadInfo, op: string): void {
  switch (info.state) {
    case 'receiving':
      return;
    case 'committing':
    case 'committed':
      // The commit consumed the lease: no writer may change the upload any more.
      throw new FramewireError('LEASE_CONFLICT', `${op}: upload ${info.id} is ${info.state}`, { details: { state: info.state } });
    case 'aborted':
      throw new FramewireError('ABORTED', `${op}: upload ${info.id} was aborted`);
    case 'expired':
      throw new FramewireError('EXPIRED', `${op}: upload ${info.id} expired at ${new Date(info.expiresAt).toISOString()}`);
  }
}

/** Fencing (FW-UP-21): only the current token writes. */
export function assertToken(info: UploadInfo, token: number, op: string): void {
  if (token !== info.token) {
    throw new FramewireError('LEASE_CONFLICT', `${op}: fencing token ${token} is not the current token of upload ${info.id}`, {
      details: { token, current: info.token },
    });
  }
}

/** Geometry of a chunk against the declared object (FW-UP-14); BAD_RANGE otherwise. */
export function assertChunkRange(info: UploadInfo, c: ChunkHeader): void {
  if (c.index >= info.chunkCount) throw new FramewireError('BAD_RANGE', `chunk index ${c.index} outside 0..${info.chunkCount - 1}`);
  const offset = c.index * info.chunkSize;
  const length = Math.min(info.chunkSize, info.size - offset);
  if (c.offset !== offset || c.length !== length) {
    throw new FramewireError('BAD_RANGE', `chunk ${c.index} covers bytes ${offset}..${offset + length}, not ${c.offset}..${c.offset + c.length}`);
  }
}

/** Before any byte is read: an index stored with another checksum is a conflict (FW-UP-16). */
export function assertNoConflict(info: UploadInfo, c: ChunkHeader): void {
  const existing = info.stored.get(c.index);
  if (existing !== undefined && existing !== c.sha256) {
    throw new FramewireError('CHUNK_CONFLICT', `chunk ${c.index} is stored with another checksum`, { details: { index: c.index } });
  }
}

/**
 * Consumes a chunk's bytes, handing each piece to `sink` (which may await: that is the disk's
 * backpressure reaching the network), counting and hashing them. Fails with BAD_RANGE as soon as
 * more than `length` bytes arrive, or at the end if fewer did; with CHUNK_CHECKSUM if the digest
 * differs (FW-UP-17). Returns when every piece was handed to the sink.
 */
export async function receiveChunk(
  chunk: ChunkHeader,
  data: AsyncIterable<Uint8Array>,
  sink: (piece: Uint8Array) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const hash = createHash('sha256');
  let received = 0;
  for await (const piece of data) {
    signal?.throwIfAborted();
    received += piece.length;
    if (received > chunk.length) throw new FramewireError('BAD_RANGE', `chunk ${chunk.index}: more than the declared ${chunk.length} bytes`);
    hash.update(piece);
    await sink(piece);
  }
  signal?.throwIfAborted();
  if (received !== chunk.length) throw new FramewireError('BAD_RANGE', `chunk ${chunk.index}: ${received} bytes, ${chunk.length} declared`);
  const digest = hash.digest('hex');
  if (digest !== chunk.sha256) {
    throw new FramewireError('CHUNK_CHECKSUM', `chunk ${chunk.index}: the bytes do not match their SHA-256`, { details: { index: chunk.index } });
  }
}

/** One async mutex per key: the in-process form of the compare-and-set a shared store would use. */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
