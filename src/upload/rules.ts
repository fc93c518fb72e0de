/**
 * The checks of the upload profile (spec/UPLOAD.md §11.3–§11.5), as pure functions over a record:
 * what a request may do to an upload in a given state. The state machine (state-machine.ts) runs
 * them before each transition and again at the moment it takes effect; no backend runs them.
 */

import { createHash } from 'node:crypto';
import { FramewireError } from '../errors.ts';
import type { StoredUpload, UploadChunkView, UploadGeometry, UploadRecord } from './backends.ts';
import { chunkLengthOf, type ChunkHeader, type CreateRequest, type UploadState } from './protocol.ts';
import type { ResolvedStoreOptions, UploadInfo, UploadSummary } from './store.ts';

/** Checks a create request against the store's limits (FW-UP-10); BAD_RANGE otherwise. Returns the chunk count. */
export function checkCreate(request: CreateRequest, o: ResolvedStoreOptions): number {
  if (request.size > o.maxSize) throw new FramewireError('BAD_RANGE', `size ${request.size} exceeds the maximum ${o.maxSize}`);
  if (request.chunkSize > o.maxChunkSize) throw new FramewireError('BAD_RANGE', `chunk_size ${request.chunkSize} exceeds the maximum ${o.maxChunkSize}`);
  const count = request.size === 0 ? 0 : Math.ceil(request.size / request.chunkSize);
  if (count > o.maxChunkCount) throw new FramewireError('BAD_RANGE', `${count} chunks exceed the maximum ${o.maxChunkCount}; use larger chunks`);
  return count;
}

/** Same parameters as an earlier create with the same idempotency key (FW-UP-11)? */
export function sameCreate(r: UploadRecord, request: CreateRequest): boolean {
  return r.size === request.size && r.chunkSize === request.chunkSize && r.sha256 === request.sha256;
}

/**
 * Where the idempotency index files an (owner, key) pair: a digest, so that keys are per principal
 * (FW-UP-11) and no client string ever becomes a storage name (FW-UP-50).
 */
export function indexKeyOf(owner: string, idempotencyKey: string): string {
  return createHash('sha256').update(owner).update('\u0000').update(idempotencyKey).digest('hex');
}

/** The state as the profile reports it: an unfinished upload past its expiry is expired, swept or not (FW-UP-41). */
export function effectiveState(r: UploadRecord, now: number): UploadState {
  return r.state === 'receiving' && now >= r.expiresAt ? 'expired' : r.state;
}

/** A finished upload: nothing changes it any more but retention. */
export function isFinal(state: UploadState): boolean {
  return state === 'committed' || state === 'aborted' || state === 'expired';
}

export function geometryOf(r: UploadRecord): UploadGeometry {
  return { id: r.id, size: r.size, chunkSize: r.chunkSize, chunkCount: r.chunkCount };
}

/** Bytes of the stored chunks. */
export function storedBytes(r: UploadRecord, chunks: ReadonlyMap<number, string>): number {
  let n = 0;
  for (const index of chunks.keys()) n += chunkLengthOf(r.size, r.chunkSize, index);
  return n;
}

/** The upload as the store reports it: a snapshot, in its effective state. */
export function infoOf(r: UploadRecord, chunks: ReadonlyMap<number, string>, now: number): UploadInfo {
  return { ...summaryOf(r, now), stored: new Map(chunks) };
}

/** The upload as the store reports it without its chunks: a snapshot, in its effective state. */
export function summaryOf(r: UploadRecord, now: number): UploadSummary {
  const { indexKey: _indexKey, finishedAt: _finishedAt, ...shown } = r;
  return { ...shown, state: effectiveState(r, now) };
}

/** The state check every mutating operation starts with (FW-UP-41, FW-UP-42). */
export function assertReceiving(r: UploadRecord, now: number, op: string): void {
  const state = effectiveState(r, now);
  switch (state) {
    case 'receiving':
      return;
    case 'committing':
    case 'committed':
      // The commit consumed the lease: no writer may change the upload any more.
      throw new FramewireError('LEASE_CONFLICT', `${op}: upload ${r.id} is ${state}`, { details: { state } });
    case 'aborted':
      throw new FramewireError('ABORTED', `${op}: upload ${r.id} was aborted`);
    case 'expired':
      throw new FramewireError('EXPIRED', `${op}: upload ${r.id} expired at ${new Date(r.expiresAt).toISOString()}`);
  }
}

/** Fencing (FW-UP-21): only the current token writes. */
export function assertToken(r: UploadRecord, token: number, op: string): void {
  if (token !== r.token) {
    throw new FramewireError('LEASE_CONFLICT', `${op}: fencing token ${token} is not the current token of upload ${r.id}`, {
      details: { token, current: r.token },
    });
  }
}

/** Geometry of a chunk against the declared object (FW-UP-14); BAD_RANGE otherwise. */
export function assertChunkRange(r: UploadRecord, c: ChunkHeader): void {
  if (c.index >= r.chunkCount) throw new FramewireError('BAD_RANGE', `chunk index ${c.index} outside 0..${r.chunkCount - 1}`);
  const offset = c.index * r.chunkSize;
  const length = Math.min(r.chunkSize, r.size - offset);
  if (c.offset !== offset || c.length !== length) {
    throw new FramewireError('BAD_RANGE', `chunk ${c.index} covers bytes ${offset}..${offset + length}, not ${c.offset}..${c.offset + c.length}`);
  }
}

/** An index stored with another checksum is a conflict (FW-UP-16); checked before any byte is read. `s` is the read of `c.index`. */
export function assertNoConflict(s: UploadChunkView, c: ChunkHeader): void {
  if (s.stored !== undefined && s.stored !== c.sha256) {
    throw new FramewireError('CHUNK_CONFLICT', `chunk ${c.index} is stored with another checksum`, { details: { index: c.index } });
  }
}

/** Every chunk stored (FW-UP-24); INCOMPLETE with the count of missing ones otherwise. */
export function assertComplete(s: StoredUpload): void {
  const missing = s.record.chunkCount - s.chunks.size;
  if (missing > 0) {
    throw new FramewireError('INCOMPLETE', `${missing} of ${s.record.chunkCount} chunks are missing`, { details: { missing } });
  }
}

/** The assembled object against every declared digest (FW-UP-26), and each chunk as read back against its record. */
export function assertDigest(sha256: string, expected: readonly (string | undefined)[], chunks: readonly string[] | undefined, stored: ReadonlyMap<number, string>): void {
  for (const [i, digest] of (chunks ?? []).entries()) {
    if (digest !== stored.get(i)) throw new FramewireError('DIGEST_MISMATCH', `stored chunk ${i} no longer matches its checksum`, { details: { index: i } });
  }
  for (const x of expected) {
    if (x !== undefined && x !== sha256) {
      throw new FramewireError('DIGEST_MISMATCH', `the assembled object has SHA-256 ${sha256}, expected ${x}`, { details: { sha256 } });
    }
  }
}

/**
 * A chunk's bytes as they arrive, counted and hashed on their way to storage (never buffered
 * whole, FW-UP-36). Throws BAD_RANGE as soon as more than `length` bytes arrived, or at the end if
 * fewer did; CHUNK_CHECKSUM at the end if the digest differs (FW-UP-17). A consumer that writes
 * each piece before asking for the next has written every byte when the verdict comes. When
 * `signal` fires it throws at once, even while waiting for the next piece.
 */
export async function* verifiedChunk(chunk: ChunkHeader, data: AsyncIterable<Uint8Array>, signal: AbortSignal): AsyncGenerator<Uint8Array, void, undefined> {
  const hash = createHash('sha256');
  const pieces = data[Symbol.asyncIterator]();
  let received = 0;
  for (let next = await nextUnless(pieces, signal); next.done !== true; next = await nextUnless(pieces, signal)) {
    const piece = next.value;
    received += piece.length;
    if (received > chunk.length) throw new FramewireError('BAD_RANGE', `chunk ${chunk.index}: more than the declared ${chunk.length} bytes`);
    hash.update(piece);
    yield piece;
  }
  signal.throwIfAborted();
  if (received !== chunk.length) throw new FramewireError('BAD_RANGE', `chunk ${chunk.index}: ${received} bytes, ${chunk.length} declared`);
  if (hash.digest('hex') !== chunk.sha256) {
    throw new FramewireError('CHUNK_CHECKSUM', `chunk ${chunk.index}: the bytes do not match their SHA-256`, { details: { index: chunk.index } });
  }
}

/** The next piece, or the signal's reason as soon as it fires (the piece, if it comes later, is dropped). */
function nextUnless(pieces: AsyncIterator<Uint8Array>, signal: AbortSignal): Promise<IteratorResult<Uint8Array>> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const stop = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', stop, { once: true });
    pieces
      .next()
      .finally(() => {
        signal.removeEventListener('abort', stop);
      })
      .then(resolve, reject);
  });
}
