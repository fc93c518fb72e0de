/**
 * The two backend interfaces under the upload state machine (src/upload/backends.ts), tested on
 * every backend (backends.ts): what the state machine relies on, stated as behaviour — the
 * compare-and-set of a record, the conditional chunk add, the idempotency index, enumeration; and
 * for bytes: a chunk written, kept or discarded, the digest of what was kept, an atomic publish.
 * A new backend passes these before it meets store.test.ts.
 */

import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ObjectRecord, UploadGeometry, UploadRecord } from '../../src/upload/index.ts';
import { backends } from './backends.ts';
import { readAllBytes, removeTempDirs, settle } from './helpers.ts';

afterEach(removeTempDirs);

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function record(id: string, extra: Partial<UploadRecord> = {}): UploadRecord {
  return { id, owner: 'o', size: 10, chunkSize: 4, chunkCount: 3, token: 1, state: 'receiving', createdAt: 0, expiresAt: 1000, ttlMs: 1000, ...extra };
}

const ID = (n: number): string => n.toString(16).padStart(32, '0');

async function* pieces(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) {
    await Promise.resolve();
    yield p;
  }
}

async function* failing(first: Uint8Array): AsyncGenerator<Uint8Array> {
  yield first;
  await Promise.resolve();
  throw new Error('checksum');
}

describe.each(backends)('UploadMetaStore: %s', (_name, backend) => {
  it('a record is created once, read back with a version, and replaced only by a compare-and-set on that version', async () => {
    const { meta } = await backend.parts();
    expect(await meta.get(ID(1))).toBeUndefined();
    expect(await meta.create(record(ID(1)))).toBe(true);
    const first = (await meta.get(ID(1)))!;
    expect(first.record).toEqual(record(ID(1)));
    expect(first.chunks.size).toBe(0);
    expect(await meta.update(ID(1), first.version, record(ID(1), { token: 2 }))).toBe(true);
    // The version it was read at is gone: a second writer deciding on it loses.
    expect(await meta.update(ID(1), first.version, record(ID(1), { token: 99 }))).toBe(false);
    const second = (await meta.get(ID(1)))!;
    expect(second.record.token).toBe(2);
    expect(second.version).not.toBe(first.version);
    expect(await meta.update(ID(2), 1, record(ID(2)))).toBe(false);
    expect(await meta.get(ID(2))).toBeUndefined();
  });

  it('a chunk is added only while the record has the version it was checked against, once per index; adding does not change the version', async () => {
    const { meta } = await backend.parts();
    await meta.create(record(ID(1)));
    const v = (await meta.get(ID(1)))!.version;
    expect(await meta.addChunk(ID(1), v, 2, hex('c'))).toBe('added');
    expect(await meta.addChunk(ID(1), v, 0, hex('a'))).toBe('added');
    expect(await meta.addChunk(ID(1), v, 2, hex('other'))).toBe('present');
    const s = (await meta.get(ID(1)))!;
    expect(s.version).toBe(v);
    expect([...s.chunks.entries()].sort()).toEqual([[0, hex('a')], [2, hex('c')]]);
    await meta.update(ID(1), v, record(ID(1), { token: 2 }));
    expect(await meta.addChunk(ID(1), v, 1, hex('b'))).toBe('stale');
    expect(await meta.addChunk(ID(2), 1, 1, hex('b'))).toBe('stale');
    await meta.clearChunks(ID(1));
    expect((await meta.get(ID(1)))!.chunks.size).toBe(0);
    expect((await meta.get(ID(1)))!.record.token).toBe(2);
  });

  it('getChunk reads the record, its version and one chunk entry, as get would answer them; getRecord the record and version', async () => {
    const { meta } = await backend.parts();
    expect(await meta.getChunk(ID(1), 0)).toBeUndefined();
    expect(await meta.getRecord(ID(1))).toBeUndefined();
    await meta.create(record(ID(1)));
    const v = (await meta.get(ID(1)))!.version;
    expect(await meta.getChunk(ID(1), 2)).toEqual({ record: record(ID(1)), version: v, stored: undefined });
    await meta.addChunk(ID(1), v, 2, hex('c'));
    expect(await meta.getChunk(ID(1), 2)).toEqual({ record: record(ID(1)), version: v, stored: hex('c') });
    expect((await meta.getChunk(ID(1), 0))!.stored).toBeUndefined();
    await meta.update(ID(1), v, record(ID(1), { token: 2 }));
    const after = (await meta.getChunk(ID(1), 2))!;
    expect(after.version).toBe((await meta.get(ID(1)))!.version);
    expect(after.version).not.toBe(v);
    expect(after.record.token).toBe(2);
    expect(await meta.getRecord(ID(1))).toEqual({ record: after.record, version: after.version });
    await meta.clearChunks(ID(1));
    expect((await meta.getChunk(ID(1), 2))!.stored).toBeUndefined();
    await meta.delete(ID(1));
    expect(await meta.getChunk(ID(1), 2)).toBeUndefined();
    expect(await meta.getRecord(ID(1))).toBeUndefined();
  });

  it('the idempotency index names one existing upload per key; deleting the upload frees its key', async () => {
    const { meta } = await backend.parts();
    const key = hex('alice\u0000k');
    expect(await meta.findKey(key)).toBeUndefined();
    expect(await meta.create(record(ID(1), { indexKey: key }))).toBe(true);
    expect(await meta.findKey(key)).toBe(ID(1));
    expect(await meta.create(record(ID(2), { indexKey: key }))).toBe(false);
    expect(await meta.get(ID(2))).toBeUndefined();
    const raced = await Promise.all([ID(3), ID(4)].map((id) => meta.create(record(id, { indexKey: hex('race') }))));
    expect(raced.filter(Boolean)).toHaveLength(1);
    await meta.delete(ID(1));
    expect(await meta.get(ID(1))).toBeUndefined();
    expect(await meta.findKey(key)).toBeUndefined();
    expect(await meta.create(record(ID(5), { indexKey: key }))).toBe(true);
    expect((await meta.ids()).sort()).toEqual([raced[0] === true ? ID(3) : ID(4), ID(5)].sort());
  });
});

describe.each(backends)('UploadBlobStore: %s', (_name, backend) => {
  const u: UploadGeometry = { id: ID(7), size: 10, chunkSize: 4, chunkCount: 3 };
  const bytes = Buffer.from('0123456789');
  const chunk = (i: number): Buffer => bytes.subarray(i * 4, Math.min(i * 4 + 4, 10));
  const described = (g: UploadGeometry, content: Buffer, owner = 'o'): ObjectRecord => ({
    objectId: g.id,
    owner,
    size: g.size,
    sha256: sha(content),
    committedAt: 5,
    unitSize: g.chunkSize,
    unitDigests: Buffer.concat(Array.from({ length: g.chunkCount }, (_, i) => createHash('sha256').update(content.subarray(i * g.chunkSize, (i + 1) * g.chunkSize)).digest())),
  });

  it('kept chunks, in any order, make the object; a discarded or failed write leaves nothing of itself in it; publish is all at once', async () => {
    const { blobs, record } = await backend.parts();
    const keep = async (index: number, ...parts: Uint8Array[]): Promise<void> => {
      const staged = await blobs.writeChunk(u, index, pieces(...parts), sha(Buffer.concat(parts)));
      await record?.(u, index, Buffer.concat(parts));
      staged.kept();
    };
    await keep(2, chunk(2));
    await (await blobs.writeChunk(u, 0, pieces(Buffer.from('XXXX')), hex('XXXX'))).discard();
    const failed = await settle(blobs.writeChunk(u, 1, failing(Buffer.from('YY')), sha(chunk(1))));
    expect(failed.ok).toBe(false);
    await keep(0, chunk(0).subarray(0, 1), chunk(0).subarray(1));
    await keep(1, chunk(1));
    expect(await blobs.withChunks()).toEqual([u.id]);
    expect(await blobs.openObject(u.id)).toBeUndefined();
    expect(await blobs.digest(u, false)).toEqual({ sha256: sha(bytes) });
    expect(await blobs.digest(u, true)).toEqual({ sha256: sha(bytes), chunks: [0, 1, 2].map((i) => sha(chunk(i))) });
    expect(await blobs.describe(u.id)).toBeUndefined();
    await blobs.publish(u, described(u, bytes));
    expect(await readAllBytes((await blobs.openObject(u.id))!)).toEqual(bytes);
    expect(await blobs.describe(u.id)).toEqual(described(u, bytes));
    expect(await blobs.withChunks()).toEqual([]);
  });

  it('an empty object publishes; deleting an upload\'s chunks is idempotent and leaves objects alone', async () => {
    const { blobs, record } = await backend.parts();
    const empty: UploadGeometry = { id: ID(8), size: 0, chunkSize: 4, chunkCount: 0 };
    expect((await blobs.digest(empty, false)).sha256).toBe(sha(Buffer.alloc(0)));
    await blobs.publish(empty, described(empty, Buffer.alloc(0)));
    expect((await readAllBytes((await blobs.openObject(empty.id))!)).length).toBe(0);
    const staged = await blobs.writeChunk(u, 0, pieces(chunk(0)), sha(chunk(0)));
    await record?.(u, 0, chunk(0));
    staged.kept();
    await blobs.deleteChunks(u.id);
    await blobs.deleteChunks(u.id);
    expect(await blobs.withChunks()).toEqual([]);
    expect(await blobs.openObject(empty.id)).toBeDefined();
    expect(await blobs.openObject(ID(9))).toBeUndefined();
  });

  it('spec/OBJECTS.md: a published object is described, read at any position, listed by owner in id order, deleted once', async () => {
    const { blobs, record } = await backend.parts();
    const geometries = [ID(3), ID(1), ID(2), ID(4)].map((id) => ({ ...u, id }));
    for (const [i, g] of geometries.entries()) {
      for (let c = 0; c < 3; c++) {
        const staged = await blobs.writeChunk(g, c, pieces(chunk(c)), sha(chunk(c)));
        await record?.(g, c, chunk(c));
        staged.kept();
      }
      await blobs.publish(g, described(g, bytes, i === 3 ? 'other' : 'o'));
    }
    const reader = (await blobs.openReader(ID(2)))!;
    const into = [Buffer.alloc(2), Buffer.alloc(4)];
    expect(reader.size).toBe(10);
    expect(await reader.readv(into, 3)).toBe(6);
    expect(Buffer.concat(into).toString()).toBe('345678');
    expect(await reader.readv(into, 7)).toBe(3);
    expect(Buffer.concat(into).toString()).toBe('789678');
    expect(await reader.readv(into, 10)).toBe(0);
    await reader.close();
    const first = await blobs.listObjects('o', undefined, 2);
    expect(first.objects.map((o) => o.objectId)).toEqual([ID(1), ID(2)]);
    expect(first.more).toBe(true);
    const rest = await blobs.listObjects('o', ID(2), 2);
    expect(rest.objects.map((o) => o.objectId)).toEqual([ID(3)]);
    expect(rest.more).toBe(false);
    expect((await blobs.listObjects('other', undefined, 10)).objects.map((o) => o.objectId)).toEqual([ID(4)]);
    expect(await blobs.deleteObject(ID(2))).toBe(true);
    expect(await blobs.deleteObject(ID(2))).toBe(false);
    expect(await blobs.describe(ID(2))).toBeUndefined();
    expect(await blobs.openReader(ID(2))).toBeUndefined();
    expect(await blobs.openObject(ID(2))).toBeUndefined();
    expect((await blobs.listObjects('o', undefined, 10)).objects.map((o) => o.objectId)).toEqual([ID(1), ID(3)]);
  });
});
