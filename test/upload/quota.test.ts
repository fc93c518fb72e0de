/**
 * Upload creation is bounded (spec/UPLOAD.md FW-UP-37): unfinished uploads per principal and in
 * total, the bytes a principal declared, and the free storage, each tested at its limit against
 * both stores; room comes back when an upload is committed, aborted or expired and swept; a
 * restarted FS store counts what it finds. Over the wire the refusal is LIMIT_EXCEEDED with
 * retry_after_ms, before anything is created — the attack of issue 12 (thousands of creates of
 * 2^40 bytes each on one connection) stops at the per-principal bound.
 */

import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FsUploadStore } from '../../src/api/upload.ts';
import { abortUpload, createUpload } from '../../src/upload/index.ts';
import { backends } from './backends.ts';
import { expectFwError, Harness, removeTempDirs, settle, tempDir, uploadServer } from './helpers.ts';

const h = new Harness();
afterEach(async () => {
  await h.cleanup();
  await removeTempDirs();
});

async function refused(p: Promise<unknown>, limit: string): Promise<void> {
  const r = await settle(p);
  const e = expectFwError(r.ok ? undefined : r.error, 'LIMIT_EXCEEDED');
  expect(e.retryAfterMs).toBe(30_000);
  expect(e.details).toEqual({ limit });
}

const errorsOf = (rs: readonly ({ ok: true } | { ok: false; error: unknown })[]): unknown[] => rs.flatMap((r) => (r.ok ? [] : [r.error]));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield b;
}

describe.each(backends)('UploadQuota in the %s store', (_name, { store: make }) => {
  it('FW-UP-37: unfinished uploads per principal, at the limit; room comes back on commit, abort and expiry', async () => {
    const clock = { t: 1000 };
    const store = await make({ quota: { maxUploadsPerPrincipal: 3 }, ttlMs: 10_000, now: () => clock.t });
    const a = await store.create('alice', { size: 1, chunkSize: 1 });
    const b = await store.create('alice', { size: 0, chunkSize: 1 });
    const c = await store.create('alice', { size: 5, chunkSize: 5 });
    await refused(store.create('alice', { size: 1, chunkSize: 1 }), 'maxUploadsPerPrincipal');
    // Another principal has its own budget; a replayed create (idempotency key) is not a new upload.
    const k = await store.create('bob', { size: 1, chunkSize: 1, idempotencyKey: 'k' });
    expect((await store.create('bob', { size: 1, chunkSize: 1, idempotencyKey: 'k' })).info.id).toBe(k.info.id);
    expect(store.quota.usage('bob').uploads).toBe(1);
    // Commit frees a slot.
    await store.writeChunk(a.info.id, { index: 0, offset: 0, length: 1, sha256: sha(Buffer.of(7)), token: 1 }, once(Buffer.of(7)));
    await store.commit(a.info.id, { token: 1 });
    const d = await store.create('alice', { size: 1, chunkSize: 1 });
    await refused(store.create('alice', { size: 1, chunkSize: 1 }), 'maxUploadsPerPrincipal');
    // Abort frees one.
    await store.abort(b.info.id);
    await store.create('alice', { size: 1, chunkSize: 1 });
    await refused(store.create('alice', { size: 1, chunkSize: 1 }), 'maxUploadsPerPrincipal');
    // Expiry frees them once the data is deleted (sweep), not before.
    clock.t += 10_000;
    await refused(store.create('alice', { size: 1, chunkSize: 1 }), 'maxUploadsPerPrincipal');
    expect(await store.sweep()).toBeGreaterThanOrEqual(3);
    expect(store.quota.usage('alice')).toEqual({ uploads: 0, declared: 0, outstanding: 0 });
    await store.create('alice', { size: 1, chunkSize: 1 });
    expect([c.info.id, d.info.id]).toHaveLength(2);
  });

  it('FW-UP-37: unfinished uploads in total, at the limit', async () => {
    const store = await make({ quota: { maxUploads: 2 } });
    await store.create('a', { size: 1, chunkSize: 1 });
    await store.create('b', { size: 1, chunkSize: 1 });
    await refused(store.create('c', { size: 1, chunkSize: 1 }), 'maxUploads');
  });

  it('FW-UP-37: declared bytes per principal, at the limit', async () => {
    const store = await make({ quota: { maxDeclaredBytesPerPrincipal: 1000 } });
    await store.create('alice', { size: 600, chunkSize: 100 });
    await store.create('alice', { size: 400, chunkSize: 100 });
    await refused(store.create('alice', { size: 1, chunkSize: 1 }), 'maxDeclaredBytesPerPrincipal');
    await store.create('alice', { size: 0, chunkSize: 1 });
    await store.create('bob', { size: 1000, chunkSize: 100 });
    expect(store.quota.usage('alice').declared).toBe(1000);
  });
});

describe('UploadQuota: free storage (FS store)', () => {
  it('FW-UP-37: what unfinished uploads still have to write must fit in the free space minus the reserve; stored chunks count as written', async () => {
    let free = 10_000;
    const store = new FsUploadStore({ dataDir: await tempDir(), durable: false, freeBytes: () => Promise.resolve(free), quota: { minFreeBytes: 1000 } });
    const a = await store.create('alice', { size: 6000, chunkSize: 1000 });
    await refused(store.create('bob', { size: 3001, chunkSize: 1000 }), 'minFreeBytes');
    await store.create('bob', { size: 3000, chunkSize: 1000 });
    await refused(store.create('bob', { size: 1, chunkSize: 1 }), 'minFreeBytes');
    // One chunk of a stored: it took 1000 bytes of the disk, and a owes 1000 bytes less.
    const piece = Buffer.alloc(1000, 1);
    await store.writeChunk(a.info.id, { index: 0, offset: 0, length: 1000, sha256: sha(piece), token: 1 }, once(piece));
    free -= 1000;
    await refused(store.create('bob', { size: 1, chunkSize: 1 }), 'minFreeBytes');
    free += 1000; // someone else freed space
    await store.create('bob', { size: 1000, chunkSize: 1000 });
    expect(store.quota.usage()).toEqual({ uploads: 3, declared: 10_000, outstanding: 9000 });
  });

  it('FW-UP-37: the real statfs of the data directory applies when no figure is injected', async () => {
    const store = new FsUploadStore({ dataDir: await tempDir(), durable: false, quota: { minFreeBytes: 2 ** 52 } });
    await refused(store.create('alice', { size: 0, chunkSize: 1 }), 'minFreeBytes');
    expect(await readdir(join(store.dataDir, 'uploads'))).toEqual([]);
  });

  it('FW-UP-37 FW-UP-31: a restarted store counts the unfinished uploads it finds, with their stored bytes', async () => {
    const dataDir = await tempDir();
    const first = new FsUploadStore({ dataDir, durable: false });
    const a = await first.create('alice', { size: 2000, chunkSize: 1000 });
    await first.create('alice', { size: 10, chunkSize: 10 });
    const piece = Buffer.alloc(1000, 2);
    await first.writeChunk(a.info.id, { index: 1, offset: 1000, length: 1000, sha256: sha(piece), token: 1 }, once(piece));
    const second = new FsUploadStore({ dataDir, durable: false, quota: { maxUploadsPerPrincipal: 2 } });
    await second.ready;
    expect(second.quota.usage('alice')).toEqual({ uploads: 2, declared: 2010, outstanding: 1010 });
    await refused(second.create('alice', { size: 1, chunkSize: 1 }), 'maxUploadsPerPrincipal');
  });
});

describe('UploadQuota over the wire', () => {
  it('FW-UP-37: one connection creating uploads of 2^40 bytes each stops at the per-principal bound with LIMIT_EXCEEDED + retry_after_ms, and nothing more is created', async () => {
    const store = new FsUploadStore({ dataDir: await tempDir(), durable: false, freeBytes: () => Promise.resolve(2 ** 50) });
    const { port } = await uploadServer(h, { store });
    const conn = await h.client({ port });
    const results = await Promise.all(Array.from({ length: 100 }, () => settle(createUpload(conn, { size: 2 ** 40, chunkSize: 2 ** 26 }))));
    // The default per-principal byte quota (1 TiB) lets exactly one such upload in.
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const error of errorsOf(results)) {
      const e = expectFwError(error, 'LIMIT_EXCEEDED');
      expect(e.retryAfterMs).toBe(30_000);
      expect(e.remote).toBe(true);
    }
    const big = results.find((r) => r.ok);
    await abortUpload(conn, big?.ok === true ? big.value.uploadId : '');
    // Small ones: the count per principal (64) is the bound.
    const small = await Promise.all(Array.from({ length: 70 }, () => settle(createUpload(conn, { size: 1, chunkSize: 1 }))));
    expect(small.filter((r) => r.ok)).toHaveLength(64);
    for (const error of errorsOf(small)) expect(expectFwError(error, 'LIMIT_EXCEEDED').details).toEqual({ limit: 'maxUploadsPerPrincipal' });
    // The aborted one and the 64: nothing else reached the disk.
    expect(await readdir(join(store.dataDir, 'uploads'))).toHaveLength(65);
  });
});
