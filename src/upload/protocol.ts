/**
 * The upload profile on the wire (spec/UPLOAD.md): OPEN kinds, meta keys, trailer keys, their
 * types and bounds, and the parsers both sides use. One place for every key name, so the spec,
 * the service and the client cannot drift apart.
 *
 * Every parser throws MALFORMED_PAYLOAD (a stream error here: the session has already accepted the
 * OPEN) for a known key of the wrong type or out of bounds, and ignores unknown keys (FW-CTRL-4).
 */

import { FramewireError } from '../errors.ts';
import { encodedAsFloat, type ControlMap } from '../wire/index.ts';
import { metadataProblem } from './metadata.ts';

/** OPEN kinds of the profile, one per operation (FW-UP-1). */
export const UploadKind = {
  create: 'upload.create',
  status: 'upload.status',
  chunk: 'upload.chunk',
  commit: 'upload.commit',
  abort: 'upload.abort',
  list: 'upload.list',
} as const;
/** The name of an upload operation's stream kind. */
export type UploadKindName = keyof typeof UploadKind;

/** Upload ids are server-generated: 128 random bits as 32 lowercase hex digits (FW-UP-3). */
export const UPLOAD_ID_PATTERN = /^[0-9a-f]{32}$/;
/** SHA-256 digests travel as 64 lowercase hex digits. */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

export const MAX_IDEMPOTENCY_KEY = 128;
export const MAX_METADATA_ENTRIES = 32;
export const MAX_METADATA_KEY = 128;
export const MAX_METADATA_VALUE = 1024;
/** The stored-chunk bitmap is one bin value (FW-CTRL-3: <= 1 MiB), so chunk counts are bounded well below that. */
export const MAX_CHUNK_COUNT_CEILING = 1_048_576;

/** The state of an upload (spec/UPLOAD.md §11.3). */
export type UploadState = 'receiving' | 'committing' | 'committed' | 'aborted' | 'expired';

export function isUploadId(value: string): boolean {
  return UPLOAD_ID_PATTERN.test(value);
}

function bad(op: string, why: string): FramewireError {
  return new FramewireError('MALFORMED_PAYLOAD', `${op}: ${why}`);
}

function uint(op: string, map: ControlMap, key: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = map[key];
  if (v === undefined) return undefined;
  // A float, even 2.0, is not a uint (PROTOCOL.md §5.3, FW-CTRL-6).
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max || encodedAsFloat(map, key)) throw bad(op, `"${key}" must be an unsigned integer <= ${max}`);
  return v;
}

function str(op: string, map: ControlMap, key: string, maxLength: number, pattern?: RegExp): string | undefined {
  const v = map[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > maxLength) throw bad(op, `"${key}" must be a string of at most ${maxLength} characters`);
  if (pattern !== undefined && !pattern.test(v)) throw bad(op, `"${key}" has the wrong format`);
  return v;
}

function bool(op: string, map: ControlMap, key: string): boolean | undefined {
  const v = map[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw bad(op, `"${key}" must be a boolean`);
  return v;
}

function required<T>(op: string, key: string, v: T | undefined): T {
  if (v === undefined) throw bad(op, `required key "${key}" is missing`);
  return v;
}

function isPlainMap(v: unknown): v is ControlMap {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** Drops undefined values, for exactOptionalPropertyTypes and FW-CTRL-9 (absent, never nil). */
export function compact<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]: Exclude<T[K], undefined> };
}

// ---- requests (OPEN meta) ----------------------------------------------------------------------

/**
 * The create request (spec/UPLOAD.md §11.4.1): size, chunk size and optional digest, metadata and
 * idempotency key.
 */
export interface CreateRequest {
  readonly size: number;
  readonly chunkSize: number;
  readonly sha256?: string;
  readonly idempotencyKey?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export function encodeCreateMeta(r: CreateRequest): ControlMap {
  return compact({ size: r.size, chunk_size: r.chunkSize, sha256: r.sha256, idempotency_key: r.idempotencyKey, metadata: r.metadata });
}

export function parseCreateMeta(meta: ControlMap | undefined): CreateRequest {
  const op = UploadKind.create;
  const m = meta ?? {};
  const size = required(op, 'size', uint(op, m, 'size'));
  const chunkSize = required(op, 'chunk_size', uint(op, m, 'chunk_size'));
  if (chunkSize === 0) throw bad(op, '"chunk_size" must be at least 1');
  const sha256 = str(op, m, 'sha256', 64, SHA256_HEX_PATTERN);
  const idempotencyKey = str(op, m, 'idempotency_key', MAX_IDEMPOTENCY_KEY);
  if (idempotencyKey?.length === 0) throw bad(op, '"idempotency_key" must not be empty');
  const rawMetadata = m['metadata'];
  let metadata: Record<string, string> | undefined;
  if (rawMetadata !== undefined) {
    if (!isPlainMap(rawMetadata)) throw bad(op, '"metadata" must be a map');
    const entries = Object.entries(rawMetadata);
    if (entries.length > MAX_METADATA_ENTRIES) throw bad(op, `"metadata" has more than ${MAX_METADATA_ENTRIES} entries`);
    metadata = {};
    for (const [k, v] of entries) {
      if (k.length > MAX_METADATA_KEY || typeof v !== 'string' || v.length > MAX_METADATA_VALUE) {
        throw bad(op, `"metadata" entries must be strings (keys <= ${MAX_METADATA_KEY}, values <= ${MAX_METADATA_VALUE} characters)`);
      }
      metadata[k] = v;
    }
    const problem = metadataProblem(metadata);
    if (problem !== undefined) throw bad(op, `"metadata": ${problem}`);
  }
  return compact({ size, chunkSize, sha256, idempotencyKey, metadata });
}

export interface StatusRequest {
  /** Take over the upload: the server grants a new fencing token (FW-UP-20). */
  readonly acquire: boolean;
}

export function encodeStatusMeta(r: StatusRequest): ControlMap {
  return r.acquire ? { acquire: true } : {};
}

export function parseStatusMeta(meta: ControlMap | undefined): StatusRequest {
  return { acquire: bool(UploadKind.status, meta ?? {}, 'acquire') ?? false };
}

/** Which chunk a chunk stream carries, its length and SHA-256, and the writer's fencing token. */
export interface ChunkHeader {
  readonly index: number;
  readonly offset: number;
  readonly length: number;
  readonly sha256: string;
  readonly token: number;
}

export function encodeChunkMeta(c: ChunkHeader): ControlMap {
  return { index: c.index, offset: c.offset, length: c.length, sha256: c.sha256, token: c.token };
}

export function parseChunkMeta(meta: ControlMap | undefined): ChunkHeader {
  const op = UploadKind.chunk;
  const m = meta ?? {};
  return {
    index: required(op, 'index', uint(op, m, 'index')),
    offset: required(op, 'offset', uint(op, m, 'offset')),
    length: required(op, 'length', uint(op, m, 'length')),
    sha256: required(op, 'sha256', str(op, m, 'sha256', 64, SHA256_HEX_PATTERN)),
    token: required(op, 'token', uint(op, m, 'token')),
  };
}

/** The commit request: the fencing token and, optionally, the object's SHA-256 to verify. */
export interface CommitRequest {
  readonly token: number;
  readonly sha256?: string;
}

export function encodeCommitMeta(r: CommitRequest): ControlMap {
  return compact({ token: r.token, sha256: r.sha256 });
}

export function parseCommitMeta(meta: ControlMap | undefined): CommitRequest {
  const op = UploadKind.commit;
  const m = meta ?? {};
  return compact({ token: required(op, 'token', uint(op, m, 'token')), sha256: str(op, m, 'sha256', 64, SHA256_HEX_PATTERN) });
}

// ---- answers (DONE trailers) -------------------------------------------------------------------

/** A committed object: its id, size, SHA-256 and when it was committed. */
export interface CommittedObject {
  readonly objectId: string;
  readonly sha256: string;
  readonly size: number;
  /** Unix ms. */
  readonly committedAt: number;
}

/** What create and status report (FW-UP-12): the whole client-visible state of an upload. */
export interface UploadStatus {
  readonly uploadId: string;
  readonly state: UploadState;
  readonly size: number;
  readonly chunkSize: number;
  readonly chunkCount: number;
  /** Unix ms after which an unfinished upload is expired (FW-UP-40). */
  readonly expiresAt: number;
  readonly ttlMs: number;
  /** Bit i (MSB first in byte i >> 3) set = chunk i is durably stored. */
  readonly stored: Uint8Array;
  readonly storedChunks: number;
  readonly storedBytes: number;
  readonly sha256?: string;
  /** Present when a token was granted (create, status with acquire). */
  readonly token?: number;
  /** create only: false when an idempotency key matched an existing upload. */
  readonly created?: boolean;
  readonly object?: CommittedObject;
}

export function encodeStatusTrailer(s: UploadStatus): ControlMap {
  return compact({
    upload_id: s.uploadId,
    state: s.state,
    size: s.size,
    chunk_size: s.chunkSize,
    chunk_count: s.chunkCount,
    expires_at: s.expiresAt,
    ttl_ms: s.ttlMs,
    stored: s.stored,
    stored_chunks: s.storedChunks,
    stored_bytes: s.storedBytes,
    sha256: s.sha256,
    token: s.token,
    created: s.created,
    object: s.object === undefined ? undefined : encodeCommitTrailer(s.object),
  });
}

const STATES: readonly UploadState[] = ['receiving', 'committing', 'committed', 'aborted', 'expired'];

export function parseStatusTrailer(t: ControlMap | undefined): UploadStatus {
  const op = 'upload status trailer';
  const m = t ?? {};
  const state = required(op, 'state', str(op, m, 'state', 16));
  if (!(STATES as readonly string[]).includes(state)) throw bad(op, `unknown state "${state}"`);
  const stored = m['stored'];
  if (!(stored instanceof Uint8Array)) throw bad(op, '"stored" must be binary');
  const chunkCount = required(op, 'chunk_count', uint(op, m, 'chunk_count'));
  if (stored.length !== bitmapBytes(chunkCount)) throw bad(op, '"stored" has the wrong length');
  const obj = m['object'];
  return compact({
    uploadId: required(op, 'upload_id', str(op, m, 'upload_id', 32, UPLOAD_ID_PATTERN)),
    state: state as UploadState,
    size: required(op, 'size', uint(op, m, 'size')),
    chunkSize: required(op, 'chunk_size', uint(op, m, 'chunk_size')),
    chunkCount,
    expiresAt: required(op, 'expires_at', uint(op, m, 'expires_at')),
    ttlMs: required(op, 'ttl_ms', uint(op, m, 'ttl_ms')),
    stored,
    storedChunks: required(op, 'stored_chunks', uint(op, m, 'stored_chunks')),
    storedBytes: required(op, 'stored_bytes', uint(op, m, 'stored_bytes')),
    sha256: str(op, m, 'sha256', 64, SHA256_HEX_PATTERN),
    token: uint(op, m, 'token'),
    created: bool(op, m, 'created'),
    object: obj === undefined ? undefined : parseCommitTrailer(isPlainMap(obj) ? obj : undefined),
  });
}

/** The answer to a chunk: stored durably (or a duplicate of a stored one), and the upload's new expiry. */
export interface ChunkAck {
  readonly index: number;
  /** True when the chunk was already stored with the same checksum: acknowledged, not rewritten (FW-UP-15). */
  readonly duplicate: boolean;
  readonly expiresAt: number;
}

export function encodeChunkTrailer(a: ChunkAck): ControlMap {
  return { index: a.index, stored: true, duplicate: a.duplicate, expires_at: a.expiresAt };
}

export function parseChunkTrailer(t: ControlMap | undefined): ChunkAck {
  const op = 'upload chunk trailer';
  const m = t ?? {};
  if (bool(op, m, 'stored') !== true) throw bad(op, '"stored" must be true');
  return {
    index: required(op, 'index', uint(op, m, 'index')),
    duplicate: bool(op, m, 'duplicate') ?? false,
    expiresAt: required(op, 'expires_at', uint(op, m, 'expires_at')),
  };
}

export function encodeCommitTrailer(c: CommittedObject): ControlMap {
  return { object_id: c.objectId, sha256: c.sha256, size: c.size, committed_at: c.committedAt };
}

export function parseCommitTrailer(t: ControlMap | undefined): CommittedObject {
  const op = 'upload commit trailer';
  const m = t ?? {};
  return {
    objectId: required(op, 'object_id', str(op, m, 'object_id', 256)),
    sha256: required(op, 'sha256', str(op, m, 'sha256', 64, SHA256_HEX_PATTERN)),
    size: required(op, 'size', uint(op, m, 'size')),
    committedAt: required(op, 'committed_at', uint(op, m, 'committed_at')),
  };
}

/** The answer to an abort: the upload's final state. */
export interface AbortAck {
  /** `aborted`, or `expired` when the upload had expired first (a committed one answers ALREADY_COMMITTED). */
  readonly state: UploadState;
}

export function encodeAbortTrailer(a: AbortAck): ControlMap {
  return { state: a.state };
}

export function parseAbortTrailer(t: ControlMap | undefined): AbortAck {
  const op = 'upload abort trailer';
  const state = required(op, 'state', str(op, t ?? {}, 'state', 16));
  if (!(STATES as readonly string[]).includes(state)) throw bad(op, `unknown state "${state}"`);
  return { state: state as UploadState };
}

// ---- geometry and the stored-chunk bitmap ------------------------------------------------------

/** How many chunks an upload of `size` bytes has with chunks of `chunkSize`. */
export function chunkCountOf(size: number, chunkSize: number): number {
  return size === 0 ? 0 : Math.ceil(size / chunkSize);
}

/** The exact byte length of chunk `index` (the last one may be short). */
export function chunkLengthOf(size: number, chunkSize: number, index: number): number {
  return Math.min(chunkSize, size - index * chunkSize);
}

export function bitmapBytes(chunkCount: number): number {
  return Math.ceil(chunkCount / 8);
}

export function bitmapFrom(chunkCount: number, indexes: Iterable<number>): Uint8Array {
  const out = new Uint8Array(bitmapBytes(chunkCount));
  for (const i of indexes) out[i >> 3] = (out[i >> 3] ?? 0) | (0x80 >> (i & 7));
  return out;
}

export function bitmapHas(bitmap: Uint8Array, index: number): boolean {
  return ((bitmap[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0;
}
