/**
 * The store conformance suite: every rule of the upload state machine, tested once and run against
 * every backend (backends.ts): idempotent create, chunks verified before they are kept, duplicates
 * and conflicts, one writer per index, fencing checked at the moment of durability, commit
 * verified/atomic/idempotent and settled after a failure, a commit in progress fencing the others,
 * abort, expiry and its lazy extension, the sweeper. Then what only the FS backend has: a restart
 * (a new store on the same directory), crash leftovers, the part file renamed into place, and no
 * client string as a path.
 */

import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FsUploadStore, type UploadStore } from '../../src/api/upload.ts';
import type { ChunkHeader, UploadBlobStore, UploadMetaStore } from '../../src/upload/index.ts';
import { UploadStateMachine, UploadSweeper } from '../../src/upload/index.ts';
import { backends } from './backends.ts';
import { expectFwError, listFiles, readAllBytes, removeTempDirs, settle, sha256Hex, tempDir, within } from './helpers.ts';

afterEach(removeTempDirs);

const CHUNK = 1000;
const bytes = Buffer.from(Array.from({ length: 2500 }, (_, i) => (i * 7) % 251));
const pieceOf = (i: number): Buffer => bytes.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, bytes.length));
const header = (i: number, token = 1, data = pieceOf(i)): ChunkHeader => ({ index: i, offset: i * CHUNK, length: data.length, sha256: sha256Hex(data), token });
async function* feed(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) {
    await Promise.resolve();
    yield p;
  }
}

interface Clock {
  t: number;
}

/** A gate a test opens by hand: pieces wait for it, never for a clock. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { open, opened };
}

const halves = (b: Buffer): Buffer[] => [b.subarray(0, b.length >> 1), b.subarray(b.length >> 1)];

/** Yields `parts`, waiting for `before` before the last one. */
async function* held(before: Promise<void>, ...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const [i, p] of parts.entries()) {
    if (i === parts.length - 1) await before;
    yield p;
  }
}

describe.each(backends)('UploadStore conformance: %s', (_name, backend) => {
  const options = (clock: Clock): { ttlMs: number; retainMs: number; now: () => number } => ({ ttlMs: 10_000, retainMs: 5000, now: () => clock.t });
  const make = (clock: Clock): Promise<UploadStateMachine> => backend.store(options(clock));
  /** The state machine over this backend's parts, changed by `wrap` (a failing disk, a slow one). */
  const wrapped = async (clock: Clock, wrap: (meta: UploadMetaStore, blobs: UploadBlobStore) => { meta: UploadMetaStore; blobs: UploadBlobStore }): Promise<UploadStateMachine> => {
    const { meta, blobs } = await backend.parts();
    return new UploadStateMachine(wrap(meta, blobs), options(clock));
  };
  const storeAll = async (store: UploadStore, id: string, token = 1): Promise<void> => {
    for (const i of [0, 1, 2]) await store.writeChunk(id, header(i, token), feed(pieceOf(i)));
  };

  it('FW-UP-11: create with an idempotency key returns the same upload; other parameters are IDEMPOTENCY_CONFLICT; keys are per owner', async () => {
    const clock = { t: 1_000_000 };
    const store = await make(clock);
    const a = await store.create('alice', { size: 2500, chunkSize: CHUNK, idempotencyKey: 'k1' });
    const b = await store.create('alice', { size: 2500, chunkSize: CHUNK, idempotencyKey: 'k1' });
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.info.id).toBe(a.info.id);
    expect(a.info.id).toMatch(/^[0-9a-f]{32}$/);
    const other = await settle(store.create('alice', { size: 2501, chunkSize: CHUNK, idempotencyKey: 'k1' }));
    expectFwError(other.ok ? undefined : other.error, 'IDEMPOTENCY_CONFLICT');
    const c = await store.create('bob', { size: 2500, chunkSize: CHUNK, idempotencyKey: 'k1' });
    expect(c.info.id).not.toBe(a.info.id);
    expect(a.info).toMatchObject({ chunkCount: 3, token: 1, state: 'receiving', expiresAt: 1_010_000, ttlMs: 10_000 });
  });

  it('FW-UP-14 FW-UP-15 FW-UP-16 FW-UP-17: chunks out of order; duplicate acknowledged without rewrite; conflict; bad checksum and bad length keep nothing', async () => {
    const store = await make({ t: 0 });
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    expect(await store.writeChunk(info.id, header(2), feed(pieceOf(2)))).toMatchObject({ duplicate: false });
    expect(await store.writeChunk(info.id, header(0), feed(pieceOf(0).subarray(0, 10), pieceOf(0).subarray(10)))).toMatchObject({ duplicate: false });
    expect(await store.writeChunk(info.id, header(0), feed(pieceOf(0)))).toMatchObject({ duplicate: true });
    const other = Buffer.alloc(CHUNK, 1);
    const conflict = await settle(store.writeChunk(info.id, header(0, 1, other), feed(other)));
    expectFwError(conflict.ok ? undefined : conflict.error, 'CHUNK_CONFLICT');
    const corrupt = Buffer.from(pieceOf(1));
    corrupt[5]! ^= 1;
    const bad = await settle(store.writeChunk(info.id, header(1), feed(corrupt)));
    expectFwError(bad.ok ? undefined : bad.error, 'CHUNK_CHECKSUM');
    const short = await settle(store.writeChunk(info.id, header(1), feed(pieceOf(1).subarray(1))));
    expectFwError(short.ok ? undefined : short.error, 'BAD_RANGE');
    const long = await settle(store.writeChunk(info.id, header(1), feed(pieceOf(1), Buffer.alloc(1))));
    expectFwError(long.ok ? undefined : long.error, 'BAD_RANGE');
    const range = await settle(store.writeChunk(info.id, { ...header(1), offset: 5 }, feed(pieceOf(1))));
    expectFwError(range.ok ? undefined : range.error, 'BAD_RANGE');
    const beyond = await settle(store.writeChunk(info.id, { ...header(1), index: 3 }, feed(pieceOf(1))));
    expectFwError(beyond.ok ? undefined : beyond.error, 'BAD_RANGE');
    const now = await store.get(info.id);
    expect([...now!.stored.keys()].sort()).toEqual([0, 2]);
    // The summary (what authorises each chunk) is the same upload without its chunks.
    const { stored: _stored, ...summary } = now!;
    expect(await store.summary(info.id)).toEqual(summary);
    expect(await store.summary('0'.repeat(32))).toBeUndefined();
    const early = await settle(store.commit(info.id, { token: 1 }));
    expectFwError(early.ok ? undefined : early.error, 'INCOMPLETE');
    await store.writeChunk(info.id, header(1), feed(pieceOf(1)));
    const object = await store.commit(info.id, { token: 1, sha256: sha256Hex(bytes) });
    expect(object).toMatchObject({ objectId: info.id, sha256: sha256Hex(bytes), size: 2500 });
    expect(await readAllBytes((await store.openObject(object.objectId))!)).toEqual(bytes);
    // FW-UP-25: idempotent commit, whatever token.
    expect(await store.commit(info.id, { token: 7 })).toEqual(object);
    const late = await settle(store.writeChunk(info.id, header(1), feed(pieceOf(1))));
    expectFwError(late.ok ? undefined : late.error, 'LEASE_CONFLICT');
  });

  it('FW-UP-21: fencing is checked when the chunk becomes durable: a writer fenced mid-chunk keeps nothing', async () => {
    const store = await make({ t: 0 });
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let midChunk!: () => void;
    const writerMidChunk = new Promise<void>((r) => { midChunk = r; });
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield pieceOf(0).subarray(0, 500);
      // The store took the first half and asks for more: the write is under way, past its checks.
      midChunk();
      await gate;
      yield pieceOf(0).subarray(500);
    }
    const writing = settle(store.writeChunk(info.id, header(0, 1), slow()));
    // Waited for, not for 20 ms: on a loaded machine the acquire could come before the write
    // started, which the write's first check refuses, and the test would pass without fencing mid-chunk.
    await writerMidChunk;
    const taken = await store.acquire(info.id);
    expect(taken.token).toBe(2);
    release();
    const result = await writing;
    expectFwError(result.ok ? undefined : result.error, 'LEASE_CONFLICT');
    expect((await store.get(info.id))!.stored.size).toBe(0);
    // The new holder writes; the old token stays fenced; commit needs the current token.
    await store.writeChunk(info.id, header(0, 2), feed(pieceOf(0)));
    const old = await settle(store.writeChunk(info.id, header(1, 1), feed(pieceOf(1))));
    expectFwError(old.ok ? undefined : old.error, 'LEASE_CONFLICT');
    await store.writeChunk(info.id, header(1, 2), feed(pieceOf(1)));
    await store.writeChunk(info.id, header(2, 2), feed(pieceOf(2)));
    const oldCommit = await settle(store.commit(info.id, { token: 1 }));
    expectFwError(oldCommit.ok ? undefined : oldCommit.error, 'LEASE_CONFLICT');
    expect((await store.commit(info.id, { token: 2 })).sha256).toBe(sha256Hex(bytes));
  });

  it('FW-UP-21 FW-UP-22: a writer stuck mid-chunk (a dead connection) is stopped when it is fenced or the upload aborted; the new token writes its index without waiting', async () => {
    const store = await make({ t: 0 });
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    const never = new Promise<void>(() => undefined);
    const stuck = settle(store.writeChunk(info.id, header(0, 1), held(never, ...halves(pieceOf(0)))));
    await store.acquire(info.id);
    expect(await within(store.writeChunk(info.id, header(0, 2), feed(pieceOf(0))), 5000, 'the new holder')).toMatchObject({ duplicate: false });
    const fenced = await within(stuck, 5000, 'the fenced writer');
    expectFwError(fenced.ok ? undefined : fenced.error, 'LEASE_CONFLICT');
    const other = settle(store.writeChunk(info.id, header(1, 2), held(never, ...halves(pieceOf(1)))));
    expect(await store.abort(info.id)).toBe('aborted');
    const aborted = await within(other, 5000, 'the writer of an aborted upload');
    expectFwError(aborted.ok ? undefined : aborted.error, 'ABORTED');
  });

  it('FW-UP-26: a wrong whole-object digest is DIGEST_MISMATCH and publishes nothing', async () => {
    const store = await make({ t: 0 });
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK, sha256: 'a'.repeat(64) });
    for (const i of [0, 1, 2]) await store.writeChunk(info.id, header(i), feed(pieceOf(i)));
    const r = await settle(store.commit(info.id, { token: 1 }));
    expectFwError(r.ok ? undefined : r.error, 'DIGEST_MISMATCH');
    expect(await store.openObject(info.id)).toBeUndefined();
    expect((await store.get(info.id))!.state).toBe('receiving');
  });

  it('FW-UP-27: abort deletes the data; aborting again reports aborted; a committed upload cannot be aborted', async () => {
    const store = await make({ t: 0 });
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    await store.writeChunk(info.id, header(0), feed(pieceOf(0)));
    expect(await store.abort(info.id)).toBe('aborted');
    expect(await store.abort(info.id)).toBe('aborted');
    const after = await settle(store.writeChunk(info.id, header(1), feed(pieceOf(1))));
    expectFwError(after.ok ? undefined : after.error, 'ABORTED');
    expect((await store.get(info.id))!.stored.size).toBe(0);
    const done = await store.create('o', { size: 1000, chunkSize: CHUNK });
    await store.writeChunk(done.info.id, header(0), feed(pieceOf(0)));
    await store.commit(done.info.id, { token: 1 });
    expect(await store.abort(done.info.id)).toBe('committed');
    expect(await store.openObject(done.info.id)).toBeDefined();
  });

  it('FW-UP-40 FW-UP-41 FW-UP-43: past its TTL an upload is EXPIRED before any sweep; the sweep deletes its data; finished uploads are forgotten after retention', async () => {
    const clock = { t: 0 };
    const store = await make(clock);
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK, idempotencyKey: 'x' });
    await store.writeChunk(info.id, header(0), feed(pieceOf(0)));
    clock.t = 10_001;
    expect((await store.get(info.id))!.state).toBe('expired');
    const w = await settle(store.writeChunk(info.id, header(1), feed(pieceOf(1))));
    expectFwError(w.ok ? undefined : w.error, 'EXPIRED');
    const a = await settle(store.acquire(info.id));
    expectFwError(a.ok ? undefined : a.error, 'EXPIRED');
    const sweeper = new UploadSweeper(store, 1000);
    expect(await sweeper.runOnce()).toBe(1);
    expect((await store.get(info.id))!.state).toBe('expired');
    expect((await store.get(info.id))!.stored.size).toBe(0);
    clock.t += 5000;
    await sweeper.runOnce();
    expect(await store.get(info.id)).toBeUndefined();
    // The key went with it: the same key creates a new upload.
    const again = await store.create('o', { size: 2500, chunkSize: CHUNK, idempotencyKey: 'x' });
    expect(again.created).toBe(true);
    await sweeper.stop();
  });

  it('FW-UP-40: activity extends the expiry, and acquire grants increasing tokens', async () => {
    const clock = { t: 0 };
    const store = await make(clock);
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    clock.t = 9000;
    const taken = await store.acquire(info.id);
    expect(taken.token).toBe(2);
    expect(taken.expiresAt).toBe(19_000);
    expect((await store.acquire(info.id)).token).toBe(3);
  });

  it('FW-UP-11: creates racing with one idempotency key make one upload', async () => {
    const store = await make({ t: 0 });
    const all = await Promise.all(Array.from({ length: 5 }, () => store.create('o', { size: 2500, chunkSize: CHUNK, idempotencyKey: 'same' })));
    expect(new Set(all.map((r) => r.info.id)).size).toBe(1);
    expect(all.filter((r) => r.created)).toHaveLength(1);
  });

  it('FW-UP-18: two writers of one index at once both end acknowledged, one as a duplicate; a corrupt writer racing a good one leaves the good bytes', async () => {
    const store = await make({ t: 0 });
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    const g = gate();
    const both = [store.writeChunk(info.id, header(0), held(g.opened, pieceOf(0).subarray(0, 10), pieceOf(0).subarray(10))), store.writeChunk(info.id, header(0), feed(pieceOf(0)))];
    g.open();
    expect((await Promise.all(both)).map((r) => r.duplicate).sort()).toEqual([false, true]);
    // Index 1: the corrupt writer first and slow, the good one behind it. Index 2: the other way round.
    for (const [index, corruptFirst] of [[1, true], [2, false]] as const) {
      const good = pieceOf(index);
      const bad = Buffer.from(good);
      bad[100]! ^= 1;
      const h = gate();
      const first = settle(store.writeChunk(info.id, header(index), held(h.opened, ...halves(corruptFirst ? bad : good))));
      const second = settle(store.writeChunk(info.id, header(index), feed(corruptFirst ? good : bad)));
      h.open();
      const [corrupt, kept] = corruptFirst ? [await first, await second] : [await second, await first];
      expectFwError(corrupt.ok ? undefined : corrupt.error, 'CHUNK_CHECKSUM');
      expect(kept).toMatchObject({ ok: true, value: { duplicate: false } });
    }
    expect((await store.commit(info.id, { token: 1 })).sha256).toBe(sha256Hex(bytes));
    expect(await readAllBytes((await store.openObject(info.id))!)).toEqual(bytes);
  });

  it('FW-UP-27 FW-UP-41: abort of an expired upload answers expired and deletes its data', async () => {
    const clock = { t: 0 };
    const store = await make(clock);
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    await store.writeChunk(info.id, header(0), feed(pieceOf(0)));
    clock.t = 10_000;
    expect(await store.abort(info.id)).toBe('expired');
    expect(await store.get(info.id)).toMatchObject({ state: 'expired', stored: new Map() });
    expect(store.quota.usage('o').uploads).toBe(0);
  });

  it('FW-UP-40: a stored chunk extends the expiry once a quarter TTL of extension is pending, and reports the durable value', async () => {
    const clock = { t: 0 };
    const store = await make(clock);
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    clock.t = 2000;
    expect((await store.writeChunk(info.id, header(0), feed(pieceOf(0)))).expiresAt).toBe(10_000);
    clock.t = 2500;
    expect((await store.writeChunk(info.id, header(1), feed(pieceOf(1)))).expiresAt).toBe(12_500);
    expect((await store.get(info.id))!.expiresAt).toBe(12_500);
    // A duplicate is activity too, but extends nothing: it reports what is recorded.
    clock.t = 3000;
    expect((await store.writeChunk(info.id, header(1), feed(pieceOf(1))))).toEqual({ duplicate: true, expiresAt: 12_500 });
  });

  it('FW-UP-26: after DIGEST_MISMATCH the upload keeps its chunks and token, and a commit with the right digest succeeds', async () => {
    const store = await make({ t: 0 });
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    await storeAll(store, info.id);
    const wrong = await settle(store.commit(info.id, { token: 1, sha256: 'c'.repeat(64) }));
    expectFwError(wrong.ok ? undefined : wrong.error, 'DIGEST_MISMATCH');
    expect(await store.get(info.id)).toMatchObject({ state: 'receiving', token: 1 });
    expect((await store.get(info.id))!.stored.size).toBe(3);
    expect((await store.commit(info.id, { token: 1, sha256: sha256Hex(bytes) })).size).toBe(2500);
  });

  it('FW-UP-25: commits racing each other answer the same object', async () => {
    const store = await make({ t: 0 });
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    await storeAll(store, info.id);
    const objects = await Promise.all([1, 2, 3].map(() => store.commit(info.id, { token: 1 })));
    expect(objects[1]).toEqual(objects[0]);
    expect(objects[2]).toEqual(objects[0]);
  });

  it('FW-UP-21 FW-UP-28: a commit in progress fences chunks out, and acquire and abort wait for its outcome', async () => {
    const g = gate();
    const recorded = gate();
    const store = await wrapped({ t: 0 }, (meta, blobs) => ({
      meta: {
        ...bound(meta),
        update: async (id, version, next) => {
          const done = await meta.update(id, version, next);
          if (done && next.state === 'committing') recorded.open();
          return done;
        },
      },
      blobs: { ...bound(blobs), digest: async (u, perChunk) => { await g.opened; return blobs.digest(u, perChunk); } },
    }));
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    await storeAll(store, info.id);
    const committing = store.commit(info.id, { token: 1 });
    await recorded.opened;
    expect((await store.get(info.id))!.state).toBe('committing');
    const chunk = await settle(store.writeChunk(info.id, header(0), feed(pieceOf(0))));
    expect(expectFwError(chunk.ok ? undefined : chunk.error, 'LEASE_CONFLICT').details).toEqual({ state: 'committing' });
    const acquire = settle(store.acquire(info.id));
    const abort = store.abort(info.id);
    g.open();
    const object = await committing;
    expect(expectFwError(((await acquire) as { ok: false; error: unknown }).error, 'LEASE_CONFLICT').details).toEqual({ state: 'committed' });
    expect(await abort).toBe('committed');
    expect((await store.get(info.id))!.object).toEqual(object);
  });

  it('FW-UP-25 FW-UP-51: a commit that fails before publishing leaves the upload receiving; the next commit publishes it', async () => {
    let failures = 1;
    const store = await wrapped({ t: 0 }, (meta, blobs) => ({
      meta,
      blobs: { ...bound(blobs), publish: (u, r) => (failures-- > 0 ? Promise.reject(new Error('disk full')) : blobs.publish(u, r)) },
    }));
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    await storeAll(store, info.id);
    await expect(store.commit(info.id, { token: 1 })).rejects.toThrow('disk full');
    expect(await store.get(info.id)).toMatchObject({ state: 'receiving', token: 1 });
    expect(await store.openObject(info.id)).toBeUndefined();
    expect((await store.commit(info.id, { token: 1 })).sha256).toBe(sha256Hex(bytes));
  });

  it('FW-UP-25 FW-UP-51: a commit that published the object but could not record it is settled by the object', async () => {
    let failures = 1;
    const store = await wrapped({ t: 0 }, (meta, blobs) => ({
      blobs,
      meta: { ...bound(meta), update: (id, version, next) => (next.state === 'committed' && failures-- > 0 ? Promise.reject(new Error('disk full')) : meta.update(id, version, next)) },
    }));
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    await storeAll(store, info.id);
    await expect(store.commit(info.id, { token: 1 })).rejects.toThrow('disk full');
    expect((await store.get(info.id))!.state).toBe('committing');
    const object = await store.commit(info.id, { token: 9 });
    expect(object).toMatchObject({ objectId: info.id, sha256: sha256Hex(bytes), size: 2500 });
    expect(await store.get(info.id)).toMatchObject({ state: 'committed', object, stored: new Map() });
    expect(store.quota.usage('o').uploads).toBe(0);
  });
});

/** An object's methods, bound, so that a test can replace one of them with a spread. */
function bound<T extends object>(target: T): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.getOwnPropertyNames(Object.getPrototypeOf(target))) {
    const value = (target as Record<string, unknown>)[key];
    if (key !== 'constructor' && typeof value === 'function') out[key] = (value as (...a: unknown[]) => unknown).bind(target);
  }
  return out as T;
}

describe('FsUploadStore specifics', () => {
  it('FW-UP-31 FW-UP-51: a new store on the same directory (a restarted server) knows the upload, its chunks and its token; what a crash mid-chunk leaves is harmless', async () => {
    const dataDir = await tempDir();
    const first = new FsUploadStore({ dataDir });
    const { info } = await first.create('o', { size: 2500, chunkSize: CHUNK });
    await first.writeChunk(info.id, header(0), feed(pieceOf(0)));
    await first.acquire(info.id);
    // What a crash mid-chunk leaves behind: bytes of chunk 1 in its place of the part file, never
    // recorded, and the record of a chunk cut short in the journal.
    const part = await open(join(dataDir, 'parts', info.id), 'r+');
    await part.write(Buffer.alloc(CHUNK, 0xee), 0, CHUNK, CHUNK);
    await part.close();
    const journal = join(dataDir, 'uploads', info.id, 'chunks.log');
    const whole = await readFile(journal, 'latin1');
    await appendFile(journal, `1 ${sha256Hex(pieceOf(1)).slice(0, 20)}`);
    const second = new FsUploadStore({ dataDir });
    const known = await second.get(info.id);
    expect(known).toMatchObject({ token: 2, state: 'receiving' });
    expect([...known!.stored.entries()]).toEqual([[0, sha256Hex(pieceOf(0))]]);
    expect(await readFile(journal, 'latin1')).toBe(whole);
    const fenced = await settle(second.writeChunk(info.id, header(1, 1), feed(pieceOf(1))));
    expectFwError(fenced.ok ? undefined : fenced.error, 'LEASE_CONFLICT');
    await second.writeChunk(info.id, header(1, 2), feed(pieceOf(1)));
    await second.writeChunk(info.id, header(2, 2), feed(pieceOf(2)));
    expect((await second.commit(info.id, { token: 2 })).sha256).toBe(sha256Hex(bytes));
    const files = await listFiles(dataDir);
    expect(files).toEqual([`objects/${info.id}`, `objects/${info.id}.json`, `uploads/${info.id}/manifest.json`]);
  });

  it('FW-UP-51: a crash after the object was published but before the commit was recorded is completed at load', async () => {
    const dataDir = await tempDir();
    const first = new FsUploadStore({ dataDir });
    const { info } = await first.create('o', { size: 1000, chunkSize: CHUNK });
    await first.writeChunk(info.id, header(0), feed(pieceOf(0)));
    // Simulate: the rename into objects/ happened, then the process died.
    await writeFile(join(dataDir, 'objects', info.id), pieceOf(0));
    const second = new FsUploadStore({ dataDir });
    const known = await second.get(info.id);
    expect(known?.state).toBe('committed');
    expect(known?.object?.sha256).toBe(sha256Hex(pieceOf(0)));
    expect(await second.commit(info.id, { token: 1 })).toEqual(known?.object);
  });

  it('issue 17: commit renames the part file into objects/: the object is the inode the chunks were written into, never a copy', async () => {
    const dataDir = await tempDir();
    const store = new FsUploadStore({ dataDir });
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    for (const i of [2, 0, 1]) await store.writeChunk(info.id, header(i), feed(pieceOf(i)));
    const part = await stat(join(dataDir, 'parts', info.id));
    expect((await store.commit(info.id, { token: 1 })).sha256).toBe(sha256Hex(bytes));
    expect((await stat(join(dataDir, 'objects', info.id))).ino).toBe(part.ino);
    expect(await readdir(join(dataDir, 'parts'))).toEqual([]);
  });

  it('FW-UP-26: without a declared digest, commit reads each chunk back: a chunk corrupted at rest is DIGEST_MISMATCH', async () => {
    const dataDir = await tempDir();
    const store = new FsUploadStore({ dataDir });
    const { info } = await store.create('o', { size: 2500, chunkSize: CHUNK });
    for (const i of [0, 1, 2]) await store.writeChunk(info.id, header(i), feed(pieceOf(i)));
    const part = await open(join(dataDir, 'parts', info.id), 'r+');
    await part.write(Buffer.of(pieceOf(1)[7]! ^ 1), 0, 1, CHUNK + 7);
    await part.close();
    const r = await settle(store.commit(info.id, { token: 1 }));
    expect(expectFwError(r.ok ? undefined : r.error, 'DIGEST_MISMATCH').details).toEqual({ index: 1 });
    expect(await store.openObject(info.id)).toBeUndefined();
  });

  it('FW-UP-50: ids that are not ours never reach the file system', async () => {
    const dataDir = await tempDir();
    await mkdir(join(dataDir, 'uploads', 'x'), { recursive: true });
    const store = new FsUploadStore({ dataDir });
    for (const id of ['../../etc/passwd', '..', 'x', `${'a'.repeat(31)}/`, 'A'.repeat(32), `${'0'.repeat(32)}\u0000`]) {
      expect(await store.get(id)).toBeUndefined();
      const r = await settle(store.commit(id, { token: 1 }));
      expectFwError(r.ok ? undefined : r.error, 'UPLOAD_NOT_FOUND');
      expect(await store.openObject(id)).toBeUndefined();
    }
    // Idempotency keys are hashed, never used as names.
    const { info } = await store.create('o', { size: 1, chunkSize: 1, idempotencyKey: '../../../../tmp/evil' });
    const keys = await readdir(join(dataDir, 'keys'));
    expect(keys).toEqual([createHash('sha256').update('o').update('\u0000').update('../../../../tmp/evil').digest('hex')]);
    expect(info.id).toMatch(/^[0-9a-f]{32}$/);
  });
});
