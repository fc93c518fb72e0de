/**
 * `upload.list` on the wire (spec/UPLOAD.md §11.4.6, FW-UP-60): the caller's unfinished uploads,
 * one page at a time, ordered by upload id, with what a person needs to pick one — progress,
 * expiry, the original name — and nothing that grants anything (no token).
 */

import { FramewireError } from '../errors.ts';
import type { ControlMap } from '../wire/index.ts';
import { invalidContentType, invalidName, MetadataKey } from './metadata.ts';
import { compact, UPLOAD_ID_PATTERN, type UploadState } from './protocol.ts';

/** Most entries in one answer: 64 entries of at most ~600 bytes fit the default 64 KiB frame payload. */
export const MAX_LIST_LIMIT = 64;

/** An `upload.list` request: one page of the caller's unfinished uploads. */
export interface ListRequest {
  /** Entries after this upload id (the last one of the previous page). */
  readonly after?: string;
  /** 1 .. MAX_LIST_LIMIT; default MAX_LIST_LIMIT. */
  readonly limit: number;
}

/** One unfinished upload as `upload.list` reports it: progress, expiry, name; no token. */
export interface UploadListEntry {
  readonly uploadId: string;
  readonly state: UploadState;
  readonly size: number;
  readonly chunkSize: number;
  readonly chunkCount: number;
  readonly storedChunks: number;
  readonly storedBytes: number;
  /** Unix ms. */
  readonly createdAt: number;
  readonly expiresAt: number;
  /** The well-known metadata keys (FW-UP-61), when the upload has them. */
  readonly name?: string;
  readonly contentType?: string;
}

/** One page of `upload.list`. */
export interface UploadListPage {
  readonly uploads: readonly UploadListEntry[];
  /** True when more entries follow the last one: ask again with `after` set to its id. */
  readonly more: boolean;
}

function bad(what: string, why: string): FramewireError {
  return new FramewireError('MALFORMED_PAYLOAD', `${what}: ${why}`);
}

function uintOf(what: string, m: ControlMap, key: string, required: boolean): number | undefined {
  const v = m[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(what, `"${key}" must be an unsigned integer`);
  return v;
}

function idOf(what: string, v: unknown, key: string): string {
  if (typeof v !== 'string' || !UPLOAD_ID_PATTERN.test(v)) throw bad(what, `"${key}" must be an upload id`);
  return v;
}

/** The OPEN meta of an `upload.list` request. */
export function encodeListMeta(r: ListRequest): ControlMap {
  return compact({ after: r.after, limit: r.limit });
}

/** Parses an `upload.list` request's meta; MALFORMED_PAYLOAD when a key is out of bounds. */
export function parseListMeta(meta: ControlMap | undefined): ListRequest {
  const op = 'upload.list';
  const m = meta ?? {};
  const limit = uintOf(op, m, 'limit', false) ?? MAX_LIST_LIMIT;
  if (limit < 1 || limit > MAX_LIST_LIMIT) throw bad(op, `"limit" must be in 1..${MAX_LIST_LIMIT}`);
  const after = m['after'] === undefined ? undefined : idOf(op, m['after'], 'after');
  return compact({ after, limit });
}

/** The DONE trailer answering `upload.list`. */
export function encodeListTrailer(page: UploadListPage): ControlMap {
  return {
    uploads: page.uploads.map((u) =>
      compact({
        upload_id: u.uploadId,
        state: u.state,
        size: u.size,
        chunk_size: u.chunkSize,
        chunk_count: u.chunkCount,
        stored_chunks: u.storedChunks,
        stored_bytes: u.storedBytes,
        created_at: u.createdAt,
        expires_at: u.expiresAt,
        name: u.name,
        content_type: u.contentType,
      }),
    ),
    more: page.more,
  };
}

/** Parses the DONE trailer of `upload.list`; MALFORMED_PAYLOAD when it breaks the schema. */
export function parseListTrailer(t: ControlMap | undefined): UploadListPage {
  const op = 'upload list trailer';
  const m = t ?? {};
  const raw = m['uploads'];
  if (!Array.isArray(raw) || raw.length > MAX_LIST_LIMIT) throw bad(op, `"uploads" must be an array of at most ${MAX_LIST_LIMIT} entries`);
  const more = m['more'];
  if (typeof more !== 'boolean') throw bad(op, '"more" must be a boolean');
  const uploads = raw.map((entry: unknown): UploadListEntry => {
    if (typeof entry !== 'object' || entry === null) throw bad(op, 'each entry must be a map');
    const e = entry as ControlMap;
    const state = e['state'];
    if (state !== 'receiving' && state !== 'committing') throw bad(op, '"state" of a listed upload must be receiving or committing');
    const listedState: UploadState = state;
    const name = e[MetadataKey.name];
    if (name !== undefined && (typeof name !== 'string' || invalidName(name) !== undefined)) throw bad(op, '"name" is not a valid name');
    const contentType = e[MetadataKey.contentType];
    if (contentType !== undefined && (typeof contentType !== 'string' || invalidContentType(contentType) !== undefined)) throw bad(op, '"content_type" is not a media type');
    return compact({
      uploadId: idOf(op, e['upload_id'], 'upload_id'),
      state: listedState,
      size: uintOf(op, e, 'size', true) ?? 0,
      chunkSize: uintOf(op, e, 'chunk_size', true) ?? 0,
      chunkCount: uintOf(op, e, 'chunk_count', true) ?? 0,
      storedChunks: uintOf(op, e, 'stored_chunks', true) ?? 0,
      storedBytes: uintOf(op, e, 'stored_bytes', true) ?? 0,
      createdAt: uintOf(op, e, 'created_at', true) ?? 0,
      expiresAt: uintOf(op, e, 'expires_at', true) ?? 0,
      name,
      contentType,
    });
  });
  return { uploads, more };
}
