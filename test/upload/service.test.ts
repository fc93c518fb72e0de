/**
 * The upload profile on the wire, one operation per stream (spec/UPLOAD.md §11.3), driven with the
 * single-operation client functions so the tests can misbehave: chunks out of order, duplicated
 * and concurrent; corrupted; out of range; another principal; over the limits; two writers racing;
 * an expired session; a slow disk slowing the sender.
 */

import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FsUploadStore, MemoryUploadStore } from '../../src/api/upload.ts';
import { bitmapHas, createUpload, getUploadStatus, putChunk, abortUpload, commitUpload, uploadWith, UploadKind, type ChunkHeader, type UploadInfo } from '../../src/upload/index.ts';
import { assertNoDebris, expectFwError, Harness, KiB, listFiles, MiB, prng, randomFile, readAllBytes, recordingConnector, removeTempDirs, settle, sha256Hex, sleep, tempDir, uploadServer, wrapChunks } from './helpers.ts';

const h = new Harness();
afterEach(async () => {
  await h.cleanup();
  await removeTempDirs();
});

function chunkOf(bytes: Buffer, chunkSize: number, index: number, token: number): { header: ChunkHeader; data: Buffer } {
  const data = bytes.subarray(index * chunkSize, Math.min((index + 1) * chunkSize, bytes.length));
  return { header: { index, offset: index * chunkSize, length: data.length, sha256: sha256Hex(data), token }, data };
}

describe('upload profile over TCP', () => {
  it('FW-UP-13 FW-UP-15 FW-UP-16: chunks shuffled, duplicated and 8 at once commit byte-identical; the same index with other bytes is CHUNK_CONFLICT', async () => {
    const { port, dataDir, store } = await uploadServer(h);
    const conn = await h.client({ port });
    const chunkSize = 64 * KiB;
    const file = await randomFile(2 * MiB + 4321);
    const created = await createUpload(conn, { size: file.bytes.length, chunkSize, sha256: file.sha256 });
    expect(created).toMatchObject({ state: 'receiving', token: 1, created: true, chunkCount: 33, storedChunks: 0 });
    const rnd = prng(42);
    const order = Array.from({ length: created.chunkCount }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    // Every fourth chunk is sent twice, some of them concurrently with their twin.
    const plan = order.flatMap((i) => (i % 4 === 0 ? [i, i] : [i]));
    let next = 0;
    const acks: { index: number; duplicate: boolean }[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < plan.length) {
          const { header, data } = chunkOf(file.bytes, chunkSize, plan[next++]!, 1);
          acks.push(await putChunk(conn, created.uploadId, header, data));
        }
      }),
    );
    expect(acks.filter((a) => a.duplicate)).toHaveLength(plan.length - created.chunkCount);
    const other = Buffer.alloc(chunkSize, 7);
    const conflict = await settle(putChunk(conn, created.uploadId, { index: 3, offset: 3 * chunkSize, length: chunkSize, sha256: sha256Hex(other), token: 1 }, other));
    expectFwError(conflict.ok ? undefined : conflict.error, 'CHUNK_CONFLICT');
    const status = await getUploadStatus(conn, created.uploadId);
    expect(status.storedChunks).toBe(33);
    expect(status.storedBytes).toBe(file.bytes.length);
    const object = await commitUpload(conn, created.uploadId, { token: 1 });
    expect(object.sha256).toBe(file.sha256);
    expect(sha256Hex(await readAllBytes((await store.openObject(object.objectId))!))).toBe(file.sha256);
    await assertNoDebris(dataDir!, [object.objectId]);
  });

  it('FW-UP-17: a chunk whose bytes fail their checksum is CHUNK_CHECKSUM (retryable) and nothing of it is kept', async () => {
    const { port, dataDir } = await uploadServer(h);
    const conn = await h.client({ port });
    const file = await randomFile(256 * KiB);
    const created = await createUpload(conn, { size: file.bytes.length, chunkSize: 128 * KiB });
    const { header, data } = chunkOf(file.bytes, 128 * KiB, 1, 1);
    const corrupt = Buffer.from(data);
    corrupt[1000]! ^= 0xff;
    const r = await settle(putChunk(conn, created.uploadId, header, corrupt));
    const error = expectFwError(r.ok ? undefined : r.error, 'CHUNK_CHECKSUM');
    expect(error.retryable).toBe(true);
    expect(error.remote).toBe(true);
    const status = await getUploadStatus(conn, created.uploadId);
    expect(status.storedChunks).toBe(0);
    expect((await listFiles(dataDir!)).filter((f) => f.includes('/tmp/') || f.includes('/chunks/'))).toEqual([]);
    await putChunk(conn, created.uploadId, header, data);
    expect(bitmapHas((await getUploadStatus(conn, created.uploadId)).stored, 1)).toBe(true);
  });

  it('FW-UP-2 FW-UP-3 FW-UP-10 FW-UP-14: malformed meta, unknown ids, out-of-range chunks and oversize uploads get their codes', async () => {
    const { port } = await uploadServer(h, { memory: true });
    const conn = await h.client({ port });
    const bad = await settle(createUpload(conn, { size: 10, chunkSize: 0 }));
    expectFwError(bad.ok ? undefined : bad.error, 'MALFORMED_PAYLOAD');
    const huge = await settle(createUpload(conn, { size: 2 ** 52, chunkSize: 1024 }));
    expectFwError(huge.ok ? undefined : huge.error, 'BAD_RANGE');
    for (const id of ['0'.repeat(32), '../x', 'ABC']) {
      const r = await settle(getUploadStatus(conn, id));
      expectFwError(r.ok ? undefined : r.error, 'UPLOAD_NOT_FOUND');
    }
    const created = await createUpload(conn, { size: 100, chunkSize: 64 });
    const data = Buffer.alloc(36, 1);
    const r1 = await settle(putChunk(conn, created.uploadId, { index: 1, offset: 64, length: 37, sha256: sha256Hex(data), token: 1 }, data));
    expectFwError(r1.ok ? undefined : r1.error, 'BAD_RANGE');
    const r2 = await settle(putChunk(conn, created.uploadId, { index: 2, offset: 128, length: 36, sha256: sha256Hex(data), token: 1 }, data));
    expectFwError(r2.ok ? undefined : r2.error, 'BAD_RANGE');
    const raw = conn.open({ kind: UploadKind.chunk, target: created.uploadId, meta: { index: 'one' } });
    await raw.end().catch(() => undefined);
    const o = await raw.outcome;
    expectFwError(o.status === 'failed' ? o.error : undefined, 'MALFORMED_PAYLOAD');
    const withData = conn.open({ kind: UploadKind.status, target: created.uploadId });
    await withData.write(Buffer.from('nope')).catch(() => undefined);
    await withData.end().catch(() => undefined);
    const o2 = await withData.outcome;
    expectFwError(o2.status === 'failed' ? o2.error : undefined, 'PROTOCOL_ERROR');
  });

  it('FW-UP-30: only the principal that created an upload may see, resume, write, commit or abort it; to others it does not exist', async () => {
    const { port } = await uploadServer(h, { memory: true, authenticate: (c) => (typeof c === 'string' ? { id: c } : false) });
    const alice = await h.client({ port, auth: 'alice' });
    const mallory = await h.client({ port, auth: 'mallory' });
    const created = await createUpload(alice, { size: 10, chunkSize: 10 });
    const data = Buffer.alloc(10, 3);
    const attempts: Promise<unknown>[] = [
      getUploadStatus(mallory, created.uploadId),
      getUploadStatus(mallory, created.uploadId, { acquire: true }),
      putChunk(mallory, created.uploadId, { index: 0, offset: 0, length: 10, sha256: sha256Hex(data), token: 1 }, data),
      commitUpload(mallory, created.uploadId, { token: 1 }),
      abortUpload(mallory, created.uploadId),
    ];
    // The same answer as for an id nobody ever created: not a hint that alice's exists.
    const unknown = 'f'.repeat(32);
    const never = await settle(getUploadStatus(mallory, unknown));
    const neverError = expectFwError(never.ok ? undefined : never.error, 'UPLOAD_NOT_FOUND');
    for (const attempt of attempts) {
      const r = await settle(attempt);
      const e = expectFwError(r.ok ? undefined : r.error, 'UPLOAD_NOT_FOUND');
      expect(e.message.replace(created.uploadId, unknown)).toBe(neverError.message);
      expect(e.details).toEqual(neverError.details);
    }
    // Idempotency keys are per principal: mallory's replay of alice's key makes her own upload.
    const a = await createUpload(alice, { size: 10, chunkSize: 10, idempotencyKey: 'k' });
    const m = await createUpload(mallory, { size: 10, chunkSize: 10, idempotencyKey: 'k' });
    expect(m.uploadId).not.toBe(a.uploadId);
    expect((await getUploadStatus(alice, created.uploadId)).state).toBe('receiving');
  });

  it('FW-UP-35: chunks in flight over the limit are refused with LIMIT_EXCEEDED and retry_after_ms; the uploader waits and goes on', async () => {
    // The held chunk is in flight once its bytes reach the store: the test waits for that, not for a fixed time.
    let reachedStore = (): void => undefined;
    const held1 = new Promise<void>((resolve) => { reachedStore = resolve; });
    const store = wrapChunks(new MemoryUploadStore(), async function* (data) {
      for await (const bytes of data) {
        reachedStore();
        yield bytes;
      }
    });
    const { port } = await uploadServer(h, { store, service: { limits: { maxChunksInFlightPerUpload: 1, maxUploadsPerConnection: 1, retryAfterMs: 30 } } });
    const conn = await h.client({ port });
    const created = await createUpload(conn, { size: 200 * KiB, chunkSize: 100 * KiB });
    const second = await createUpload(conn, { size: 10, chunkSize: 10 });
    const file = Buffer.alloc(200 * KiB, 9);
    // Hold one chunk stream open: half its bytes, no DONE.
    const { header } = chunkOf(file, 100 * KiB, 0, 1);
    const held = conn.open({ kind: UploadKind.chunk, target: created.uploadId, meta: { ...header } });
    await held.write(file.subarray(0, 50 * KiB));
    await held1;
    const r = await settle(putChunk(conn, created.uploadId, chunkOf(file, 100 * KiB, 1, 1).header, file.subarray(100 * KiB)));
    const e = expectFwError(r.ok ? undefined : r.error, 'LIMIT_EXCEEDED');
    expect(e.retryAfterMs).toBe(30);
    expect(e.retryable).toBe(true);
    const ten = Buffer.alloc(10, 1);
    const r2 = await settle(putChunk(conn, second.uploadId, { index: 0, offset: 0, length: 10, sha256: sha256Hex(ten), token: 1 }, ten));
    expect(expectFwError(r2.ok ? undefined : r2.error, 'LIMIT_EXCEEDED').message).toMatch(/uploads in flight/);
    held.cancel();
    // The resuming uploader meets the same limit with 4 in flight and simply waits its turn.
    const { connect } = recordingConnector(h, port);
    const bytes = (await randomFile(640 * KiB)).bytes;
    const result = await uploadWith(connect, bytes, { chunkSize: 64 * KiB, inflight: 4 });
    expect(result.sha256).toBe(sha256Hex(bytes));
    expect(result.stats.reconnects).toBe(0);
    expect(result.stats.chunksResent).toBe(0);
  });

  it('FW-UP-20 FW-UP-21 FW-UP-22: two writers race on one upload: the one that took over finishes, the fenced one fails with LEASE_CONFLICT, the object is byte-identical', async () => {
    const { port, dataDir } = await uploadServer(h);
    const file = await randomFile(2 * MiB);
    const a = recordingConnector(h, port);
    const b = recordingConnector(h, port);
    let bStarted: Promise<unknown> | undefined;
    let uploadId: string | undefined;
    const aDone = settle(
      uploadWith(a.connect, file.path, {
        chunkSize: 64 * KiB,
        inflight: 2,
        onProgress: (p) => {
          uploadId = p.uploadId;
          // Writer B joins when A is a quarter through.
          if (bStarted === undefined && p.chunksConfirmed >= 8) bStarted = settle(uploadWith(b.connect, file.path, { chunkSize: 64 * KiB, inflight: 2, uploadId: p.uploadId }));
        },
      }),
    );
    const ra = await aDone;
    const rb = (await bStarted) as Awaited<ReturnType<typeof settle<Awaited<ReturnType<typeof uploadWith>>>>>;
    expect(rb.ok).toBe(true);
    if (!rb.ok) return;
    expect(rb.value.sha256).toBe(file.sha256);
    if (ra.ok) expect(ra.value.objectId).toBe(rb.value.objectId);
    else expectFwError(ra.error, 'LEASE_CONFLICT');
    expect(uploadId).toBe(rb.value.uploadId);
    await assertNoDebris(dataDir!, [rb.value.objectId]);
  });

  it('FW-UP-40 FW-UP-41 FW-UP-12: the TTL is told to the client; an expired session answers EXPIRED before and after the sweep', async () => {
    const clock = { t: 1_700_000_000_000 };
    const { port, service } = await uploadServer(h, { memory: true, ttlMs: 60_000, now: () => clock.t });
    const conn = await h.client({ port });
    const created = await createUpload(conn, { size: 20, chunkSize: 10 });
    expect(created.ttlMs).toBe(60_000);
    expect(created.expiresAt).toBe(clock.t + 60_000);
    const data = Buffer.alloc(10, 5);
    const ack = await putChunk(conn, created.uploadId, { index: 0, offset: 0, length: 10, sha256: sha256Hex(data), token: 1 }, data);
    expect(ack.expiresAt).toBe(clock.t + 60_000);
    clock.t += 60_001;
    const r = await settle(putChunk(conn, created.uploadId, { index: 1, offset: 10, length: 10, sha256: sha256Hex(data), token: 1 }, data));
    expectFwError(r.ok ? undefined : r.error, 'EXPIRED');
    expect((await getUploadStatus(conn, created.uploadId)).state).toBe('expired');
    const c = await settle(commitUpload(conn, created.uploadId, { token: 1 }));
    expectFwError(c.ok ? undefined : c.error, 'EXPIRED');
    await service.store.sweep();
    const { connect } = recordingConnector(h, port);
    const resumed = await settle(uploadWith(connect, Buffer.alloc(20, 5), { chunkSize: 10, uploadId: created.uploadId }));
    expectFwError(resumed.ok ? undefined : resumed.error, 'EXPIRED');
  });

  it('FW-UP-36: a disk slower than the network slows the sender; the server buffers a window, not the chunk', async () => {
    const dataDir = await tempDir();
    const inner = new FsUploadStore({ dataDir });
    let maxBuffered = 0;
    let pieces = 0;
    const probe: { server?: { connections: Set<{ session: { bufferedBytes: number } }> } } = {};
    const slow = wrapChunks(inner, async function* (data) {
      for await (const piece of data) {
        for (const c of probe.server?.connections ?? []) maxBuffered = Math.max(maxBuffered, c.session.bufferedBytes);
        pieces++;
        await sleep(2);
        yield piece;
      }
    });
    const { port, server } = await uploadServer(h, { store: slow });
    probe.server = server;
    const conn = await h.client({ port, settings: { maxFramePayload: 16 * KiB } });
    const size = 4 * MiB;
    const created = await createUpload(conn, { size, chunkSize: size });
    const bytes = (await randomFile(size)).bytes;
    const started = performance.now();
    const { header } = chunkOf(bytes, size, 0, 1);
    await putChunk(conn, created.uploadId, header, bytes);
    const elapsed = performance.now() - started;
    // The acknowledgement waits for the (slow) disk: at least 2 ms per piece it received.
    expect(pieces).toBeGreaterThanOrEqual(16);
    expect(elapsed).toBeGreaterThan(pieces * 2 * 0.9);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(header.sha256);
    expect(maxBuffered).toBeLessThanOrEqual(2 * MiB);
  });
});

export type { UploadInfo };
