/**
 * A committed object's description (backends.ts ObjectRecord) as the FS store keeps it beside the
 * object's bytes (`objects/<id>.json`), and the unit digests built from the upload's chunk digests.
 * Decoding checks every field: a damaged file is an INTERNAL failure of that object, never a wrong answer.
 */

import { FramewireError } from '../errors.ts';
import type { ObjectPage, ObjectRecord, UploadRecord } from './backends.ts';
import { SHA256_HEX_PATTERN, type CommittedObject } from './protocol.ts';

/** The description published with a committed upload's object (spec/OBJECTS.md §15.7). */
export function objectRecordOf(r: UploadRecord, chunks: ReadonlyMap<number, string>, object: CommittedObject): ObjectRecord {
  return {
    objectId: object.objectId,
    owner: r.owner,
    size: object.size,
    sha256: object.sha256,
    committedAt: object.committedAt,
    ...(r.metadata === undefined ? {} : { metadata: r.metadata }),
    unitSize: r.chunkSize,
    unitDigests: unitDigestsOf(chunks, r.chunkCount),
  };
}

/** The upload's chunk digests (index → hex), in index order, as 32-byte values concatenated. */
export function unitDigestsOf(chunks: ReadonlyMap<number, string>, chunkCount: number): Uint8Array {
  const out = Buffer.alloc(chunkCount * 32);
  for (let i = 0; i < chunkCount; i++) {
    const hex = chunks.get(i);
    if (hex === undefined) throw new FramewireError('INTERNAL', `chunk ${i} has no digest at commit`);
    out.write(hex, i * 32, 32, 'hex');
  }
  return out;
}

export function encodeObjectRecord(r: ObjectRecord): string {
  return JSON.stringify({
    objectId: r.objectId,
    owner: r.owner,
    size: r.size,
    sha256: r.sha256,
    committedAt: r.committedAt,
    ...(r.metadata === undefined ? {} : { metadata: r.metadata }),
    unitSize: r.unitSize,
    unitDigests: Buffer.from(r.unitDigests).toString('base64'),
  });
}

export function decodeObjectRecord(text: string, objectId: string): ObjectRecord {
  const bad = (why: string): FramewireError => new FramewireError('INTERNAL', `the description of object ${objectId} is damaged: ${why}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (typeof v !== 'object' || v === null) throw bad('not an object');
  const o = v as Record<string, unknown>;
  const uint = (key: string): number => {
    const x = o[key];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw bad(key);
    return x;
  };
  const size = uint('size');
  const unitSize = uint('unitSize');
  const committedAt = uint('committedAt');
  if (o['objectId'] !== objectId) throw bad('objectId');
  if (typeof o['owner'] !== 'string') throw bad('owner');
  if (typeof o['sha256'] !== 'string' || !SHA256_HEX_PATTERN.test(o['sha256'])) throw bad('sha256');
  if (typeof o['unitDigests'] !== 'string' || unitSize < 1) throw bad('unitDigests');
  const unitDigests = Buffer.from(o['unitDigests'], 'base64');
  if (unitDigests.length !== Math.ceil(size / unitSize) * 32) throw bad('unitDigests length');
  const metadata = o['metadata'];
  if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null || Object.values(metadata).some((x) => typeof x !== 'string'))) throw bad('metadata');
  return {
    objectId,
    owner: o['owner'],
    size,
    sha256: o['sha256'],
    committedAt,
    ...(metadata === undefined ? {} : { metadata: metadata as Record<string, string> }),
    unitSize,
    unitDigests,
  };
}

/**
 * One page of `owner`'s objects among `ids` (every described object, in any order): those after
 * `after`, in id order, at most `limit`. A store without an index by owner scans with this.
 */
export async function scanObjectPage(ids: readonly string[], describe: (id: string) => Promise<ObjectRecord | undefined>, owner: string, after: string | undefined, limit: number): Promise<ObjectPage> {
  const candidates = ids.filter((id) => after === undefined || id > after).sort();
  const objects: ObjectRecord[] = [];
  for (const [i, id] of candidates.entries()) {
    const record = await describe(id);
    if (record?.owner !== owner) continue;
    objects.push(record);
    if (objects.length === limit) return { objects, more: i < candidates.length - 1 };
  }
  return { objects, more: false };
}
