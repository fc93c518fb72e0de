/**
 * The happy path over TCP and QUIC loopback, FS and memory stores: upload() of a file, bytes and a stream,
 * progress reporting, commit visible atomically and committing twice (spec/UPLOAD.md).
 */

import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { upload } from '../../src/api/upload.ts';
import { commitUpload, getUploadStatus, type UploadProgress } from '../../src/upload/index.ts';
import { assertNoDebris, Harness, KiB, MiB, randomFile, readAllBytes, removeTempDirs, sha256File, sha256Hex, transports, uploadServer } from './helpers.ts';

describe.each(transports)('upload over %s loopback', (transport) => {
  const h = new Harness(transport);
  afterEach(async () => {
    await h.cleanup();
    await removeTempDirs();
  });

  it('FW-UP-14 FW-UP-25 FW-UP-32: a 3 MiB file in 64 KiB chunks commits byte-identical to the FS store, with progress', async () => {
    const { port, store, dataDir } = await uploadServer(h);
    const file = await randomFile(3 * MiB + 123);
    const progress: UploadProgress[] = [];
    const result = await upload(file.path, { port, ...h.via(), chunkSize: 64 * KiB, inflight: 4, onProgress: (p) => progress.push(p) });
    expect(result.sha256).toBe(file.sha256);
    expect(result.size).toBe(file.bytes.length);
    expect(result.stats.chunksResent).toBe(0);
    const obj = await store.openObject(result.objectId);
    expect(sha256Hex(await readAllBytes(obj!))).toBe(file.sha256);
    expect(await sha256File(`${dataDir!}/objects/${result.objectId}`)).toBe(file.sha256);
    const last = progress.at(-1)!;
    expect(last).toMatchObject({ bytesConfirmed: file.bytes.length, chunksConfirmed: 49, totalChunks: 49, totalBytes: file.bytes.length });
    // Monotonic progress.
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.bytesConfirmed).toBeGreaterThanOrEqual(progress[i - 1]!.bytesConfirmed);
    await assertNoDebris(dataDir!, [result.objectId]);
  });

  it('FW-UP-25: committing twice returns the same result; status reports committed', async () => {
    const { port } = await uploadServer(h, { memory: true });
    const file = await randomFile(200 * KiB);
    const result = await upload(file.bytes, { port, ...h.via(), chunkSize: 64 * KiB });
    const conn = await h.client({ port });
    const again = await commitUpload(conn, result.uploadId, { token: 1 });
    expect(again).toEqual({ objectId: result.objectId, sha256: result.sha256, size: result.size, committedAt: result.committedAt });
    const status = await getUploadStatus(conn, result.uploadId);
    expect(status.state).toBe('committed');
    expect(status.object?.sha256).toBe(file.sha256);
  });

  it('FW-UP-32: a Readable source with a declared size, and an empty object', async () => {
    const { port, store } = await uploadServer(h);
    const file = await randomFile(700 * KiB);
    const stream = Readable.from((function* () {
      for (let at = 0; at < file.bytes.length; at += 10_000) yield file.bytes.subarray(at, at + 10_000);
    })());
    const result = await upload(stream, { port, ...h.via(), size: file.bytes.length, chunkSize: 64 * KiB, inflight: 3 });
    expect(result.sha256).toBe(file.sha256);
    const empty = await upload(new Uint8Array(0), { port, ...h.via() });
    expect(empty.size).toBe(0);
    expect(empty.sha256).toBe(sha256Hex(new Uint8Array(0)));
    expect((await readAllBytes((await store.openObject(empty.objectId))!)).length).toBe(0);
  });
});
