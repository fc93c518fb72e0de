/**
 * The FS backend's manifest (`uploads/<id>/manifest.json`): one upload's record and its version, as
 * snake_case JSON. FsMetaStore replaces it atomically at every change; this file says what it
 * holds and how it maps to the store-neutral UploadRecord.
 */

import { FramewireError } from '../errors.ts';
import type { UploadRecord } from './backends.ts';
import type { UploadState } from './protocol.ts';

/** The manifest as stored. `v` is the format (2: versioned records, chunks in chunks.log); `version` the record's. */
interface Manifest {
  v: 2;
  version: number;
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
  state: UploadState;
  created_at: number;
  expires_at: number;
  ttl_ms: number;
  finished_at?: number;
  object?: { object_id: string; sha256: string; size: number; committed_at: number };
}

export function encodeManifest(r: UploadRecord, version: number): string {
  const m: Manifest = {
    v: 2,
    version,
    id: r.id,
    owner: r.owner,
    size: r.size,
    chunk_size: r.chunkSize,
    chunk_count: r.chunkCount,
    ...(r.sha256 === undefined ? {} : { sha256: r.sha256 }),
    ...(r.metadata === undefined ? {} : { metadata: { ...r.metadata } }),
    ...(r.idempotencyKey === undefined ? {} : { idempotency_key: r.idempotencyKey }),
    ...(r.indexKey === undefined ? {} : { key_hash: r.indexKey }),
    token: r.token,
    state: r.state,
    created_at: r.createdAt,
    expires_at: r.expiresAt,
    ttl_ms: r.ttlMs,
    ...(r.finishedAt === undefined ? {} : { finished_at: r.finishedAt }),
    ...(r.object === undefined
      ? {}
      : { object: { object_id: r.object.objectId, sha256: r.object.sha256, size: r.object.size, committed_at: r.object.committedAt } }),
  };
  return JSON.stringify(m);
}

export function parseManifest(text: string, id: string): { record: UploadRecord; version: number } {
  const m = JSON.parse(text) as Manifest;
  if ((m as { v: unknown }).v !== 2 || m.id !== id || !Number.isSafeInteger(m.version)) throw new FramewireError('INTERNAL', `upload ${id}: unreadable manifest`);
  const record: UploadRecord = {
    id: m.id,
    owner: m.owner,
    size: m.size,
    chunkSize: m.chunk_size,
    chunkCount: m.chunk_count,
    ...(m.sha256 === undefined ? {} : { sha256: m.sha256 }),
    ...(m.metadata === undefined ? {} : { metadata: m.metadata }),
    ...(m.idempotency_key === undefined ? {} : { idempotencyKey: m.idempotency_key }),
    ...(m.key_hash === undefined ? {} : { indexKey: m.key_hash }),
    token: m.token,
    state: m.state,
    createdAt: m.created_at,
    expiresAt: m.expires_at,
    ttlMs: m.ttl_ms,
    ...(m.finished_at === undefined ? {} : { finishedAt: m.finished_at }),
    ...(m.object === undefined
      ? {}
      : { object: { objectId: m.object.object_id, sha256: m.object.sha256, size: m.object.size, committedAt: m.object.committed_at } }),
  };
  return { record, version: m.version };
}
