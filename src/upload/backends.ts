/**
 * The two storage interfaces under the upload state machine (spec/UPLOAD.md §11.9, "Stores").
 *
 * The rules of the profile — idempotent create, fencing, chunk acceptance, commit, abort, expiry,
 * quota — live once, in state-machine.ts. A backend only keeps data and answers two kinds of
 * question atomically, so that a new backend (Redis, issue 19) is a page of code per interface:
 *
 * - `UploadMetaStore`: one versioned record per upload, its set of stored chunks and the index of
 *   idempotency keys. Every change of a record is a compare-and-set on its version; a chunk is
 *   added only while the record still has the version the state machine checked. That single
 *   condition is what makes the fencing rule (FW-UP-21) hold across processes: acquire, commit,
 *   abort and expiry all change the version, so a chunk checked against an older record is refused.
 * - `UploadBlobStore`: the chunk bytes and the committed objects: write a chunk durably, compute the
 *   object's digest, publish the object atomically with its description (ObjectRecord), read,
 *   list and delete objects (the read profile, spec/OBJECTS.md), delete an upload's chunk data.
 *
 * Neither decides anything: no state, token or expiry is interpreted below this line.
 */

import type { UploadState } from './protocol.ts';
import type { UploadInfo } from './store.ts';

/**
 * One upload's durable record, store-neutral: what the state machine reports (UploadInfo) without
 * the stored chunks, which a backend keeps apart, plus what only storage needs.
 */
export interface UploadRecord extends Omit<UploadInfo, 'stored' | 'state'> {
  /** As recorded; the state machine derives `expired` from `expiresAt` (FW-UP-41). */
  readonly state: UploadState;
  /** The key under which the idempotency index names this upload (a digest, never the client's string). */
  readonly indexKey?: string;
  /** When the upload reached a final state (retention counts from here). */
  readonly finishedAt?: number;
}

/** A record as read, with the version a compare-and-set must name. */
export interface VersionedUpload {
  readonly record: UploadRecord;
  /** Changes with every update of the record (not with an added chunk). */
  readonly version: number;
}

/** A record as read, with its version and the stored chunks: what status, commit and recovery read. */
export interface StoredUpload extends VersionedUpload {
  /** Stored chunks: index → SHA-256 (hex). A live view: copy it to keep it across an await. */
  readonly chunks: ReadonlyMap<number, string>;
}

/** A record as read, with its version and what is stored for one chunk index: what a chunk write reads. */
export interface UploadChunkView extends VersionedUpload {
  /** The SHA-256 (hex) stored for that index, or undefined while it is not stored. */
  readonly stored: string | undefined;
}

/** What `UploadMetaStore.addChunk` did: `added`, `present` (stored already) or `stale` (the record changed). */
export type AddChunkResult = 'added' | 'present' | 'stale';

/**
 * Upload metadata for the state machine: versioned records changed only by compare-and-set, their
 * stored chunks and the idempotency index. Implement it (with an `UploadBlobStore`) to keep uploads
 * somewhere new; the rules stay in `UploadStateMachine`.
 */
export interface UploadMetaStore {
  /**
   * The upload with all its stored chunks, or undefined when there is none (never created, or
   * deleted). Its cost grows with the stored chunks: the state machine reads it for whole-upload
   * operations (status, acquire, commit, listing, recovery), never per chunk.
   */
  get(id: string): Promise<StoredUpload | undefined>;
  /**
   * The upload's record and version with only what is stored for chunk `index`, or undefined when
   * there is no upload: the read of every chunk write, so its cost must not grow with the stored
   * chunks (a chunk write would otherwise cost O(chunks), and an upload O(chunks²)). One atomic
   * read: the record, version and chunk entry are of one moment, as `get` would have answered.
   */
  getChunk(id: string, index: number): Promise<UploadChunkView | undefined>;
  /** The upload's record and version without its chunks, or undefined: as cheap as `getChunk`. */
  getRecord(id: string): Promise<VersionedUpload | undefined>;
  /**
   * Creates the record (its first version) with no stored chunks, unless `indexKey` already names
   * an upload that exists: then nothing is created and the answer is false. Atomic per key.
   */
  create(record: UploadRecord): Promise<boolean>;
  /** Replaces the record if its version is still `version`; false if it changed (or is gone). */
  update(id: string, version: number, next: UploadRecord): Promise<boolean>;
  /**
   * Adds chunk `index` if the record's version is still `version` and the index is not stored:
   * `added` (durably), `present` (stored already, by any digest) or `stale` (the record changed).
   * Like `getChunk`, it is per chunk: it touches the one entry, never the whole set.
   */
  addChunk(id: string, version: number, index: number, sha256: string): Promise<AddChunkResult>;
  /** Forgets every stored chunk of the upload (its record stays). */
  clearChunks(id: string): Promise<void>;
  /** Forgets the upload: its idempotency key first, then the record and its chunks. */
  delete(id: string): Promise<void>;
  /** The id the idempotency index names under `indexKey` (the upload may be gone since). */
  findKey(indexKey: string): Promise<string | undefined>;
  /** Every upload id the store holds (for the sweeper and recovery at start). */
  ids(): Promise<string[]>;
}

/**
 * Serialises the commits of one upload across the processes that share a store (a cluster's
 * nodes). One process serialises them in memory without it; the Redis store brings a lease.
 */
export interface CommitLock {
  /** Runs `fn` while no other process runs a commit (or settles one) of upload `id`. */
  run<T>(id: string, fn: () => Promise<T>): Promise<T>;
}

/** What a blob store needs to know of an upload to place its chunks. */
export interface UploadGeometry {
  /** The upload's id. */
  readonly id: string;
  /** The object's size in bytes. */
  readonly size: number;
  /** Bytes per chunk (the last chunk may be shorter). */
  readonly chunkSize: number;
  /** Chunks in the object. */
  readonly chunkCount: number;
}

/**
 * A committed object's description, published with its bytes and kept as long as they are
 * (spec/OBJECTS.md §15.7): what `objects.stat` and `objects.list` answer. Its unit digests are the
 * upload's chunk digests, verified as each chunk arrived.
 */
export interface ObjectRecord {
  readonly objectId: string;
  /** The principal id of the upload's creator: only it sees the object (FW-OBJ-4). */
  readonly owner: string;
  readonly size: number;
  readonly sha256: string;
  readonly committedAt: number;
  readonly metadata?: Readonly<Record<string, string>>;
  /** The size of every digest unit but the last (the upload's chunk size). */
  readonly unitSize: number;
  /** The SHA-256 of each unit, 32 bytes each, concatenated. */
  readonly unitDigests: Uint8Array;
}

/** Positioned reads of one published object; close it when done. */
export interface ObjectReader {
  readonly size: number;
  /** Fills `into` in order with the bytes from `position` on (one scattered read); resolves with the count read, short only at the end. */
  readv(into: readonly Uint8Array[], position: number): Promise<number>;
  /** Releases the file (or whatever the reader holds). */
  close(): Promise<void>;
}

/** A page of one owner's objects, in object-id order. */
export interface ObjectPage {
  readonly objects: readonly ObjectRecord[];
  /** True when objects after the last one of the page may exist. */
  readonly more: boolean;
}

/** A chunk whose bytes are durable but not yet part of the upload. */
export interface StagedChunk {
  /** The chunk was recorded as stored: it is part of the object from now on. Never fails. */
  kept(): void;
  /** The chunk may not be kept (fenced, aborted …): forget its bytes. */
  discard(): Promise<void>;
}

/**
 * Upload bytes for the state machine: chunks written durably, the object's digest, atomic publication,
 * reading objects back. It decides nothing; `UploadStateMachine` calls it under its rules.
 */
export interface UploadBlobStore {
  /**
   * Writes chunk `index` from `data` and makes it durable. `data` throws when the bytes turn out
   * wrong (length, or a SHA-256 other than `sha256`); then nothing of the chunk is kept, and if it
   * ends, the bytes are verified: a store may use `sha256` without hashing again. The state machine
   * calls this only for an index that is not stored and that no other call of this process is writing.
   */
  writeChunk(upload: UploadGeometry, index: number, data: AsyncIterable<Uint8Array>, sha256: string): Promise<StagedChunk>;
  /**
   * The SHA-256 of the object the kept chunks make (every chunk is stored when this is called);
   * with `perChunk`, also each chunk's SHA-256 as read back, to find corruption at rest.
   */
  digest(upload: UploadGeometry, perChunk: boolean): Promise<{ readonly sha256: string; readonly chunks?: readonly string[] }>;
  /**
   * Makes the object visible under the upload's id, all at once, with its description: an object is
   * described (describe) only once both are in place; the upload's chunk data goes with it.
   */
  publish(upload: UploadGeometry, record: ObjectRecord): Promise<void>;
  /** The bytes of a published object, or undefined. */
  openObject(objectId: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** The description of a published object whose bytes exist, or undefined. */
  describe(objectId: string): Promise<ObjectRecord | undefined>;
  /** Positioned reads of a published, described object, or undefined. */
  openReader(objectId: string): Promise<ObjectReader | undefined>;
  /** Up to `limit` of `owner`'s described objects whose ids sort after `after`, in id order. */
  listObjects(owner: string, after: string | undefined, limit: number): Promise<ObjectPage>;
  /** Removes a published object and its description for good (bytes first); false when there was none. */
  deleteObject(objectId: string): Promise<boolean>;
  /** Deletes the upload's chunk data (not its object) and a description whose object never appeared; idempotent. */
  deleteChunks(id: string): Promise<void>;
  /** Ids of uploads that hold chunk data (recovery removes what no unfinished upload owns). */
  withChunks(): Promise<string[]>;
  /** Releases what the store holds open (files, connections); the store is not used after. */
  close(): Promise<void>;
}
