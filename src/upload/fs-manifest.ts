/**
 * The FS upload store's manifest (`uploads/<id>/manifest.json`): one upload's durable record, as
 * snake_case JSON with a version. The store replaces it atomically at every state change; this
 * file says what it holds and how it maps to the store-neutral UploadInfo.
 */

import { FramewireError } from '../errors.ts';
import type { CreateRequest, UploadState } from './protocol.ts';
import type { UploadInfo } from './store.ts';

/** The manifest as stored: snake_case JSON, versioned. */
export interface Manifest {
  v: 1;
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
  state: 'receiving' | 'committed' | 'aborted' | 'expired';
  created_at: number;
  expires_at: number;
  ttl_ms: number;
  finished_at?: number;
  object?: { object_id: string; sha256: string; size: number; committed_at: number };
}

/** The manifest of a new upload: token 1, receiving, expiring `ttlMs` from `now`. */
export function newManifest(id: string, owner: string, request: CreateRequest, chunkCount: number, keyHash: string | undefined, now: number, ttlMs: number): Manifest {
  return {
    v: 1,
    id,
    owner,
    size: request.size,
    chunk_size: request.chunkSize,
    chunk_count: chunkCount,
    ...(request.sha256 === undefined ? {} : { sha256: request.sha256 }),
    ...(request.metadata === undefined ? {} : { metadata: { ...request.metadata } }),
    ...(request.idempotencyKey === undefined ? {} : { idempotency_key: request.idempotencyKey }),
    ...(keyHash === undefined ? {} : { key_hash: keyHash }),
    token: 1,
    state: 'receiving',
    created_at: now,
    expires_at: now + ttlMs,
    ttl_ms: ttlMs,
  };
}

export function parseManifest(text: string, id: string): Manifest {
  const m = JSON.parse(text) as Manifest;
  if ((m as { v: unknown }).v !== 1 || m.id !== id) throw new FramewireError('INTERNAL', `upload ${id}: unreadable manifest`);
  return m;
}

/** The upload as the store reports it: an unfinished upload past its expiry reads as expired (FW-UP-41). */
export function manifestInfo(m: Manifest, stored: ReadonlyMap<number, string>, committing: boolean, now: number): UploadInfo {
  let state: UploadState = m.state;
  if (state === 'receiving' && committing) state = 'committing';
  else if (state === 'receiving' && now >= m.expires_at) state = 'expired';
  return {
    id: m.id,
    owner: m.owner,
    size: m.size,
    chunkSize: m.chunk_size,
    chunkCount: m.chunk_count,
    ...(m.sha256 === undefined ? {} : { sha256: m.sha256 }),
    ...(m.metadata === undefined ? {} : { metadata: m.metadata }),
    ...(m.idempotency_key === undefined ? {} : { idempotencyKey: m.idempotency_key }),
    token: m.token,
    state,
    createdAt: m.created_at,
    expiresAt: m.expires_at,
    ttlMs: m.ttl_ms,
    stored: new Map(stored),
    ...(m.object === undefined
      ? {}
      : { object: { objectId: m.object.object_id, sha256: m.object.sha256, size: m.object.size, committedAt: m.object.committed_at } }),
  };
}
