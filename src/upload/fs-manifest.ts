/**
 * The FS backend's manifest (`uploads/<id>/manifest.json`): one upload's record and its version as
 * JSON, `{"v": 2, "version": n, "record": {...}}`. FsMetaStore replaces it atomically at every
 * change. `v` is the layout (2: versioned records, chunks in chunks.log and parts/); a manifest of
 * another layout is unreadable, which fails that upload's operations, not the store.
 */

import { FramewireError } from '../errors.ts';
import type { UploadRecord } from './backends.ts';

export function encodeManifest(record: UploadRecord, version: number): string {
  return JSON.stringify({ v: 2, version, record });
}

export function parseManifest(text: string, id: string): { record: UploadRecord; version: number } {
  const m = JSON.parse(text) as { v?: unknown; version?: unknown; record?: Partial<UploadRecord> };
  if (m.v !== 2 || m.record?.id !== id || typeof m.version !== 'number' || !Number.isSafeInteger(m.version)) {
    throw new FramewireError('INTERNAL', `upload ${id}: unreadable manifest`);
  }
  return { record: m.record as UploadRecord, version: m.version };
}
