/**
 * Several server nodes, one truth (issue 19; spec/UPLOAD.md §11.9): two `framewire serve --redis`
 * processes share a real redis-server (append-only, fsync always) and a chunk directory. A client
 * cut from node A resumes on node B through a proxy that sends every new connection to the other
 * node; node A is SIGKILLed mid-upload; the two nodes race to commit; Redis restarts mid-upload.
 * Without persistence (a second, in-process setup), a Redis restart loses the sessions: the client
 * gets UPLOAD_NOT_FOUND and no object appears, never a wrong one.
 *
 * Cost: one redis-server, two node processes started once (plus one restart of A after its
 * SIGKILL), uploads of 2 MiB: about 10 s on the loaded 2-core machine, most of it node start-up.
 */

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { upload } from '../../src/api/upload.ts';
import { abortUpload, commitUpload, createUpload, getUploadStatus, putChunk, RedisUploadStore, SharedDirBlobStore } from '../../src/upload/index.ts';
import { expectFwError, FaultProxy, Harness, KiB, MiB, randomFile, readAllBytes, removeTempDirs, settle, sha256Hex, tempDir, uploadServer } from '../upload/helpers.ts';
import { startNode, stopNode, type Node } from './cluster.ts';
import { RedisServer, redisServerBinary } from './server.ts';

const h = new Harness();
const proxies: FaultProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await h.cleanup();
});

const CHUNK = 128 * KiB;

/**
 * `bytes` as an upload source that stops after `at` bytes until `release()`: the test decides what
 * happens between the acknowledged first part and the rest (a Redis restart), without racing it.
 */
function gated(bytes: Buffer, at: number): { source: AsyncIterable<Uint8Array>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  async function* source(): AsyncGenerator<Uint8Array> {
    yield bytes.subarray(0, at);
    await gate;
    yield bytes.subarray(at);
  }
  return { source: source(), release };
}

describe.skipIf(redisServerBinary === undefined)('a cluster of two nodes on one Redis and one chunk directory', () => {
  let redis: RedisServer;
  let dataDir: string;
  let a: Node | undefined;
  let b: Node | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start({ persistent: true });
    dataDir = await tempDir('fw-cluster-');
    [a, b] = await Promise.all([startNode(redis.url, dataDir), startNode(redis.url, dataDir)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a, b].flatMap((n) => (n === undefined ? [] : [stopNode(n, 'SIGTERM')])));
    await redis.destroy();
    await removeTempDirs();
  });

  const nodeA = (): Node => a!;
  const nodeB = (): Node => b!;

  /** A proxy: connection 0 goes to `first`, every later one to `then`; connection 0 is cut after `cutAfterBytes`. */
  async function movingProxy(first: () => number, then: () => number, cutAfterBytes?: number): Promise<FaultProxy> {
    const proxy = new FaultProxy((n) => (n === 0 ? first() : then()), (n) => (n === 0 && cutAfterBytes !== undefined ? { cutAfterBytes } : {}));
    proxies.push(proxy);
    await proxy.listen();
    return proxy;
  }

  async function objectBytes(id: string): Promise<Buffer> {
    const blobs = new SharedDirBlobStore({ dir: dataDir, storedChunks: () => Promise.resolve(undefined) });
    return readAllBytes((await blobs.openObject(id))!);
  }

  it('FW-UP-31 FW-UP-25: an upload begun on node A, cut, is resumed on node B and committed byte-identical', async () => {
    const file = await randomFile(2 * MiB);
    const proxy = await movingProxy(() => nodeA().port, () => nodeB().port, 700 * KiB);
    const r = await upload(file.path, { port: proxy.port, chunkSize: CHUNK, inflight: 2, retry: { initialDelayMs: 20 } });
    expect(proxy.cuts).toBe(1);
    expect(r.stats.reconnects).toBeGreaterThanOrEqual(1);
    // Chunks node A acknowledged were not sent again to B: at most the in-flight ones were.
    expect(r.stats.chunksResent).toBeLessThanOrEqual(2);
    expect(r.sha256).toBe(file.sha256);
    expect(sha256Hex(await objectBytes(r.objectId))).toBe(file.sha256);
    for (const port of [nodeA().port, nodeB().port]) {
      const status = await getUploadStatus(await h.client({ port }), r.uploadId);
      expect(status.state).toBe('committed');
      expect(status.object?.sha256).toBe(file.sha256);
    }
  });

  it('FW-UP-31: node A SIGKILLed mid-upload: the client resumes on node B and commits byte-identical', async () => {
    const file = await randomFile(2 * MiB);
    const proxy = await movingProxy(() => nodeA().port, () => nodeB().port);
    const { source, release } = gated(file.bytes, 5 * CHUNK);
    let killed: Promise<void> | undefined;
    const r = await upload(source, {
      size: file.bytes.length,
      port: proxy.port,
      chunkSize: CHUNK,
      inflight: 2,
      retry: { initialDelayMs: 20 },
      onProgress: (p) => {
        // Five chunks acknowledged by node A, the rest held back until A is dead.
        if (p.chunksConfirmed === 5) killed ??= stopNode(nodeA(), 'SIGKILL').then(release);
      },
    });
    await killed;
    expect(nodeA().child.signalCode).toBe('SIGKILL');
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);
    expect(sha256Hex(await objectBytes(r.objectId))).toBe(file.sha256);
    a = await startNode(redis.url, dataDir);
  }, 60_000);

  it('FW-UP-25 FW-UP-28: the two nodes race to commit (and to abort) one upload: one object, one answer', async () => {
    const [onA, onB] = [await h.client({ port: nodeA().port }), await h.client({ port: nodeB().port })];
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 251));
    const up = await createUpload(onA, { size: bytes.length, chunkSize: 1000 });
    for (let i = 0; i < 3; i++) {
      const data = bytes.subarray(i * 1000, (i + 1) * 1000);
      await putChunk(i % 2 === 0 ? onA : onB, up.uploadId, { index: i, offset: i * 1000, length: 1000, sha256: sha256Hex(data), token: 1 }, data);
    }
    const commits = await Promise.all(Array.from({ length: 6 }, (_, i) => settle(commitUpload(i % 2 === 0 ? onA : onB, up.uploadId, { token: 1 }))));
    const answers = commits.map((c) => (c.ok ? JSON.stringify(c.value) : `ERROR ${String(c.error)}`));
    expect(new Set(answers).size).toBe(1);
    const object = (await getUploadStatus(onB, up.uploadId)).object!;
    expect(answers[0]).toBe(JSON.stringify(object));
    expect(await readdir(join(dataDir, 'objects'))).toContain(up.uploadId);
    expect(await objectBytes(up.uploadId)).toEqual(bytes);
    await expect(readdir(join(dataDir, 'chunks', up.uploadId))).rejects.toThrow(/ENOENT/);

    // Commit on one node racing abort on the other: every answer agrees with the final state.
    const second = await createUpload(onB, { size: 1000, chunkSize: 1000 });
    await putChunk(onA, second.uploadId, { index: 0, offset: 0, length: 1000, sha256: sha256Hex(bytes.subarray(0, 1000)), token: 1 }, bytes.subarray(0, 1000));
    const runs = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? settle(commitUpload(onA, second.uploadId, { token: 1 })) : settle(abortUpload(onB, second.uploadId))));
    const results = await Promise.all(runs);
    const final = await getUploadStatus(onA, second.uploadId);
    for (const [i, r] of results.entries()) {
      if (final.state === 'committed') {
        if (i % 2 === 0) expect(r.ok && JSON.stringify(r.value)).toBe(JSON.stringify(final.object));
        else expectFwError(r.ok ? undefined : r.error, 'ALREADY_COMMITTED');
      } else {
        expect(final.state).toBe('aborted');
        if (i % 2 === 0) expectFwError(r.ok ? undefined : r.error, 'ABORTED');
        else expect(r.ok && r.value).toEqual({ state: 'aborted' });
      }
    }
  });

  it('FW-UP-31: Redis restarted mid-upload (append-only, fsync always): the client retries and the object is byte-identical', async () => {
    const file = await randomFile(2 * MiB);
    const proxy = await movingProxy(() => nodeA().port, () => nodeB().port);
    const { source, release } = gated(file.bytes, 6 * CHUNK);
    let restarted: Promise<void> | undefined;
    let restartedAt = Infinity;
    const retried: string[] = [];
    const r = await upload(source, {
      size: file.bytes.length,
      port: proxy.port,
      chunkSize: CHUNK,
      inflight: 2,
      retry: { initialDelayMs: 50, maxAttempts: 20 },
      onRetry: (e) => retried.push(e.error.code),
      onProgress: (p) => {
        // The first six chunks are acknowledged (in Redis); the rest waits for the restart.
        if (p.chunksConfirmed === 6) {
          restarted ??= redis.restart().then(() => {
            restartedAt = Date.now();
            release();
          });
        }
      },
    });
    await restarted;
    // The rest and the commit went through the restarted Redis, which knew the session from its append-only file.
    expect(r.committedAt).toBeGreaterThanOrEqual(restartedAt);
    expect(r.stats.chunksResent).toBe(0);
    expect(sha256Hex(await objectBytes(r.objectId))).toBe(file.sha256);
    // Whatever failed while Redis was down failed with a retryable code.
    expect(retried.every((code) => code === 'INTERNAL' || code === 'CONNECTION_LOST')).toBe(true);
  }, 60_000);
});

describe.skipIf(redisServerBinary === undefined)('Redis without persistence', () => {
  it('FW-UP-31: a restart loses the sessions: the client gets UPLOAD_NOT_FOUND, and no object appears', async () => {
    const redis = await RedisServer.start({ persistent: false });
    const dataDir = await tempDir('fw-volatile-');
    const store = new RedisUploadStore({ redis: redis.url, dataDir });
    try {
      const { port } = await uploadServer(h, { store });
      const bytes = Buffer.from(Array.from({ length: 64 * KiB }, (_, i) => i % 249));
      const { source, release } = gated(bytes, 3 * 8 * KiB);
      let restarted: Promise<void> | undefined;
      let uploadId: string | undefined;
      const r = await settle(upload(source, {
        size: bytes.length,
        port,
        chunkSize: 8 * KiB,
        inflight: 1,
        retry: { initialDelayMs: 50, maxAttempts: 20 },
        onProgress: (p) => {
          uploadId = p.uploadId;
          if (p.chunksConfirmed === 3) restarted ??= redis.restart().then(release);
        },
      }));
      await restarted;
      expect(restarted).toBeDefined();
      expectFwError(r.ok ? undefined : r.error, 'UPLOAD_NOT_FOUND');
      expect(await store.openObject(uploadId!)).toBeUndefined();
      expect(await readdir(join(dataDir, 'objects'))).toEqual([]);
    } finally {
      await h.cleanup();
      await store.close();
      await redis.destroy();
      await removeTempDirs();
    }
  }, 60_000);
});
