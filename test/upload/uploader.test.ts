/**
 * The resuming client's own behaviour (spec/UPLOAD.md §11.9): cancellation through AbortSignal
 * deletes the upload (or keeps it on request), another process resumes with the same idempotency
 * key and sends only what is missing, and a wrong declared digest fails cleanly with nothing visible.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { upload } from '../../src/api/upload.ts';
import { getUploadStatus } from '../../src/upload/index.ts';
import { assertNoDebris, expectAbortError, expectFwError, Harness, KiB, MiB, randomFile, removeTempDirs, settle, transports, uploadServer } from './helpers.ts';

describe.each(transports)('resuming uploader over %s', (transport) => {
  const h = new Harness(transport);
  afterEach(async () => {
    await h.cleanup();
    await removeTempDirs();
  });

  it('FW-UP-27 FW-UP-34: aborting through the signal deletes the upload on the server', async () => {
    const { port, dataDir } = await uploadServer(h);
    const file = await randomFile(2 * MiB);
    const controller = new AbortController();
    let uploadId: string | undefined;
    const r = await settle(upload(file.path, {
      port,
      ...h.via(),
      chunkSize: 64 * KiB,
      inflight: 2,
      signal: controller.signal,
      onProgress: (p) => {
        uploadId = p.uploadId;
        if (p.chunksConfirmed >= 5) controller.abort();
      },
    }));
    expectAbortError(r.ok ? undefined : r.error, controller.signal.reason);
    const conn = await h.client({ port });
    expect((await getUploadStatus(conn, uploadId!)).state).toBe('aborted');
    await assertNoDebris(dataDir!, []);
  });

  it('FW-UP-11 FW-UP-31 FW-UP-34: kept on abort, the upload is resumed by another uploader with the same idempotency key, sending only the missing chunks', async () => {
    const { port } = await uploadServer(h);
    const file = await randomFile(MiB);
    const controller = new AbortController();
    let confirmedBefore = 0;
    const first = await settle(upload(file.path, {
      port,
      ...h.via(),
      chunkSize: 64 * KiB,
      inflight: 1,
      idempotencyKey: 'nightly-backup-42',
      keepOnAbort: true,
      signal: controller.signal,
      onProgress: (p) => {
        confirmedBefore = p.chunksConfirmed;
        if (p.chunksConfirmed >= 6) controller.abort();
      },
    }));
    expectAbortError(first.ok ? undefined : first.error, controller.signal.reason);
    const sessions: number[] = [];
    const second = await upload(file.path, { port, ...h.via(), chunkSize: 64 * KiB, idempotencyKey: 'nightly-backup-42', onSession: (s) => sessions.push(s.token) });
    expect(second.sha256).toBe(file.sha256);
    // Taken over with a newer token; only the chunks not stored before were sent.
    expect(sessions[0]).toBeGreaterThan(1);
    expect(second.stats.chunksSent).toBe(16 - confirmedBefore);
    // The same key after commit: the same result, nothing sent.
    const third = await upload(file.path, { port, ...h.via(), chunkSize: 64 * KiB, idempotencyKey: 'nightly-backup-42' });
    expect(third.objectId).toBe(second.objectId);
    expect(third.stats.chunksSent).toBe(0);
  });

  it('FW-UP-26: a declared digest that does not match the bytes fails with DIGEST_MISMATCH, the upload is deleted and nothing is visible', async () => {
    const { port, dataDir } = await uploadServer(h);
    const file = await randomFile(300 * KiB);
    const r = await settle(upload(file.path, { port, ...h.via(), chunkSize: 64 * KiB, sha256: 'b'.repeat(64) }));
    expectFwError(r.ok ? undefined : r.error, 'DIGEST_MISMATCH');
    await assertNoDebris(dataDir!, []);
  });
});
