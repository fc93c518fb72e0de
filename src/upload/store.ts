/**
 * `UploadStore`: what the protocol code (service.ts) asks of upload storage (spec/UPLOAD.md §11.9).
 *
 * The service parses requests, authorises and applies per-connection limits; a store owns every
 * state transition. There is one implementation of the transitions, `UploadStateMachine`
 * (state-machine.ts), over two small backend interfaces (backends.ts); `FsUploadStore` and
 * `MemoryUploadStore` are that machine over the file-system and the in-memory backends. Its
 * invariants:
 *
 * - a chunk is acknowledged only once durably stored, and only if its bytes match its checksum;
 * - a chunk is kept only if the writer's fencing token equals the upload's current token, checked
 *   at that very moment (FW-UP-21): a compare-and-set on the record's version;
 * - a stored chunk is never rewritten; the same index with another checksum is CHUNK_CONFLICT;
 * - commit is verified, atomic and idempotent; abort and expiry delete the data.
 *
 * Stores throw FramewireError with the profile's codes; anything else is reported as INTERNAL.
 */

import type { ChunkHeader, CommitRequest, CommittedObject, CreateRequest, UploadState } from './protocol.ts';
import type { ObjectPage, ObjectReader, ObjectRecord } from './backends.ts';
import type { UploadQuotaLimits } from './quota.ts';
import { checkInteger } from '../arguments.ts';

/**
 * An upload without its stored chunks: what `UploadStore.summary` reads for each chunk's
 * authorisation, in work that does not grow with the chunks stored. A snapshot.
 */
export interface UploadSummary {
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
  readonly object?: CommittedObject;
}

/** Everything a store knows about one upload. A snapshot: later changes do not show in it. */
export interface UploadInfo extends UploadSummary {
  /** Stored chunks: index → SHA-256 (hex) of the chunk's bytes. */
  readonly stored: ReadonlyMap<number, string>;
}

/** What a store reports for a stored chunk. */
export interface ChunkWriteResult {
  readonly duplicate: boolean;
  readonly expiresAt: number;
}

/**
 * Where upload sessions, their chunks and committed objects live. `FsUploadStore` and `MemoryUploadStore`
 * implement it; the rules every store keeps are in the comment at the top of store.ts.
 */
export interface UploadStore {
  /**
   * Creates an upload owned by `owner` with token 1. With an idempotency key, a second create by
   * the same owner with the same key returns the existing upload (created: false) if its
   * parameters are equal, or fails with IDEMPOTENCY_CONFLICT (FW-UP-11).
   */
  create(owner: string, request: CreateRequest): Promise<{ readonly info: UploadInfo; readonly created: boolean }>;
  /**
   * The upload, or undefined when unknown (never created, or forgotten after its retention). Its
   * cost grows with the stored chunks (it lists them): not a per-chunk read.
   */
  get(id: string): Promise<UploadInfo | undefined>;
  /** The upload as `get` reports it without its stored chunks, or undefined: the per-chunk read (authorisation). */
  summary(id: string): Promise<UploadSummary | undefined>;
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
  /** The owner's unfinished (receiving, committing) uploads with ids after `after`, in id order, at most `limit` (FW-UP-60). */
  listUnfinished(owner: string, after: string | undefined, limit: number): Promise<{ readonly uploads: readonly UploadInfo[]; readonly more: boolean }>;
  /** Deletes the data of expired uploads and forgets finished ones after their retention; returns how many it touched. */
  sweep(): Promise<number>;
  /** The bytes of a committed object, or undefined. */
  openObject(objectId: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** Releases what the store holds open. */
  close(): Promise<void>;
}

/**
 * What the object read profile (spec/OBJECTS.md, src/objects/) asks of the store that committed
 * the objects. It decides nothing: ownership is the read service's check.
 */
export interface CommittedObjectStore {
  /** The object's description, or undefined when there is no such object (or no such id form). */
  describeObject(objectId: string): Promise<ObjectRecord | undefined>;
  /** Positioned reads of the object's bytes, or undefined when there is no such object. */
  openObjectReader(objectId: string): Promise<ObjectReader | undefined>;
  /** Up to `limit` of `owner`'s objects after `after`, in object-id order. */
  listObjects(owner: string, after: string | undefined, limit: number): Promise<ObjectPage>;
  /** Removes the object and its description; false when there was none. */
  deleteObject(objectId: string): Promise<boolean>;
}

/** Options every store takes: time to live, retention, size limits and the aggregate quota. */
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

/** A store's options with every default applied. */
export interface ResolvedStoreOptions {
  readonly ttlMs: number;
  readonly retainMs: number;
  readonly maxSize: number;
  readonly maxChunkSize: number;
  readonly maxChunkCount: number;
  /** The store's clock, in milliseconds since the epoch. */
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
  for (const key of ['ttlMs', 'retainMs', 'maxSize', 'maxChunkSize', 'maxChunkCount'] as const) checkInteger(`upload store option ${key}`, r[key], 1);
  return r;
}
