/**
 * Reading an upload's record for a transition (state-machine.ts, commits.ts): an unknown or
 * malformed id is UPLOAD_NOT_FOUND, and a transition that keeps losing the compare-and-set race
 * to concurrent changes gives up after MAX_RACES reads with INTERNAL rather than loop.
 */

import { FramewireError, isFramewireError } from '../errors.ts';
import type { StoredUpload, UploadChunkView, UploadMetaStore, VersionedUpload } from './backends.ts';
import { isUploadId } from './protocol.ts';

/** How often one operation re-reads after a concurrent change before giving up with INTERNAL. */
export const MAX_RACES = 64;

/** The upload's record and chunks; UPLOAD_NOT_FOUND if there is none. */
export function requireUpload(meta: UploadMetaStore, id: string): Promise<StoredUpload> {
  return required(id, () => meta.get(id));
}

/** The upload's record and what is stored for chunk `index` (the per-chunk read); UPLOAD_NOT_FOUND if there is none. */
export function requireChunk(meta: UploadMetaStore, id: string, index: number): Promise<UploadChunkView> {
  return required(id, () => meta.getChunk(id, index));
}

/** The upload's record alone (what decides a transition that changes no chunk); UPLOAD_NOT_FOUND if there is none. */
export function requireRecord(meta: UploadMetaStore, id: string): Promise<VersionedUpload> {
  return required(id, () => meta.getRecord(id));
}

async function required<T>(id: string, read: () => Promise<T | undefined>): Promise<T> {
  const s = isUploadId(id) ? await read() : undefined;
  if (s === undefined) throw notFound(id);
  return s;
}

export function notFound(id: string): FramewireError {
  return new FramewireError('UPLOAD_NOT_FOUND', `no upload ${id}`);
}

/** MAX_RACES concurrent changes while one operation was deciding. */
export function contention(what: string): FramewireError {
  return new FramewireError('INTERNAL', `upload ${what} changed ${MAX_RACES} times while one operation was deciding`);
}

/** `details.reason` of the INTERNAL error of a metadata store that cannot be reached now (Redis down): retry later. */
export const STORE_UNAVAILABLE = 'store_unavailable';

export function isStoreUnavailable(error: unknown): boolean {
  return isFramewireError(error) && error.details?.['reason'] === STORE_UNAVAILABLE;
}
