/**
 * Redis SIGKILLed between an upload's `committing` and `committed` (issue 19; spec/UPLOAD.md §11.9,
 * "Redis during a commit"). The commit is held at its blob step — just before the object is
 * published, or just after — by a blob store that waits there until the test has killed Redis: no
 * sleep decides the order. Then Redis comes back with its append-only file (the commit retried over
 * the wire gets the normal answer, one byte-identical object), comes back empty (UPLOAD_NOT_FOUND,
 * no object), stays down (INTERNAL, retryable, within a bound), or hangs with the connection open
 * (SIGSTOP: INTERNAL within the command timeout, then the retry commits once it runs again); and
 * the resuming client (upload()) rides a commit cut off by a Redis restart out by itself.
 *
 * The commit lease is 60 s here, longer than a test may take: a retried commit that waited for the
 * dead commit's lease to expire, instead of finding it released, would time the test out.
 * Cost: one redis-server per case, 3 KiB uploads: about 1 s per case, 6-7 s for the file (8 cases).
 */

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { upload } from '../../src/api/upload.ts';
import type { Redis } from 'ioredis';
import { commitUpload, getUploadStatus, RedisUploadStore, UploadStateMachine, type ObjectRecord, type UploadBlobStore, type UploadGeometry } from '../../src/upload/index.ts';
import { redisUploadBackends } from '../../src/upload/redis-backends.ts';
import { expectFwError, Harness, readAllBytes, removeTempDirs, settle, sha256Hex, tempDir, uploadServer } from '../upload/helpers.ts';
import { RedisServer, redisServerBinary } from './server.ts';

const h = new Harness();
afterEach(async () => {
  await h.cleanup();
  await removeTempDirs();
});

const LEASE_MS = 60_000;
/** The command timeout of the hanging-Redis case (the store's default is 5 s). */
const HANG_TIMEOUT_MS = 500;
const CHUNK = 1000;
const bytes = Buffer.from(Array.from({ length: 3 * CHUNK }, (_, i) => (i * 13) % 251));

type HoldAt = 'before publish' | 'after publish';

/** The blob store of the Redis store, holding the first publish (before or after it) until `release()`. */
class HeldBlobs implements UploadBlobStore {
  readonly #inner: UploadBlobStore;
  readonly #at: HoldAt;
  #held = false;
  #arrived!: () => void;
  #release!: () => void;
  readonly reached = new Promise<void>((resolve) => { this.#arrived = resolve; });
  readonly #gate = new Promise<void>((resolve) => { this.#release = resolve; });

  constructor(inner: UploadBlobStore, at: HoldAt) {
    this.#inner = inner;
    this.#at = at;
  }

  release(): void {
    this.#release();
  }

  async publish(upload: UploadGeometry, record: ObjectRecord): Promise<void> {
    const hold = !this.#held;
    this.#held = true;
    if (hold && this.#at === 'before publish') await this.#hold();
    await this.#inner.publish(upload, record);
    if (hold && this.#at === 'after publish') await this.#hold();
  }

  async #hold(): Promise<void> {
    this.#arrived();
    await this.#gate;
  }

  writeChunk: UploadBlobStore['writeChunk'] = (...a) => this.#inner.writeChunk(...a);
  digest: UploadBlobStore['digest'] = (...a) => this.#inner.digest(...a);
  openObject: UploadBlobStore['openObject'] = (...a) => this.#inner.openObject(...a);
  describe: UploadBlobStore['describe'] = (...a) => this.#inner.describe(...a);
  openReader: UploadBlobStore['openReader'] = (...a) => this.#inner.openReader(...a);
  listObjects: UploadBlobStore['listObjects'] = (...a) => this.#inner.listObjects(...a);
  deleteObject: UploadBlobStore['deleteObject'] = (...a) => this.#inner.deleteObject(...a);
  deleteChunks: UploadBlobStore['deleteChunks'] = (...a) => this.#inner.deleteChunks(...a);
  withChunks: UploadBlobStore['withChunks'] = (...a) => this.#inner.withChunks(...a);
  close: UploadBlobStore['close'] = () => this.#inner.close();
}

interface Setup {
  readonly redis: RedisServer;
  readonly conn: Redis;
  readonly dataDir: string;
  readonly store: UploadStateMachine;
  readonly blobs: HeldBlobs;
  readonly port: number;
  readonly id: string;
}

/** A Redis store over a held blob store, served on a port, with a complete 3-chunk upload ready to commit. */
async function setUp(persistent: boolean, at: HoldAt, commandTimeoutMs?: number): Promise<Setup> {
  const redis = await RedisServer.start({ persistent });
  const dataDir = await tempDir('fw-commit-crash-');
  const { backends, redis: conn } = redisUploadBackends({ redis: redis.url, dataDir, commitLeaseMs: LEASE_MS, ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }) });
  const blobs = new HeldBlobs(backends.blobs, at);
  const store = new UploadStateMachine({ ...backends, blobs });
  const { port } = await uploadServer(h, { store });
  const { info } = await store.create('anonymous', { size: bytes.length, chunkSize: CHUNK });
  for (let i = 0; i < 3; i++) {
    const data = bytes.subarray(i * CHUNK, (i + 1) * CHUNK);
    await store.writeChunk(info.id, { index: i, offset: i * CHUNK, length: CHUNK, sha256: sha256Hex(data), token: 1 }, once(data));
  }
  return { redis, conn, dataDir, store, blobs, port, id: info.id };
}

async function tearDown(s: Setup): Promise<void> {
  await h.cleanup();
  await s.store.close();
  s.conn.disconnect();
  await s.redis.destroy();
}

async function* once(data: Uint8Array): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield data;
}

/**
 * Starts a commit over the wire, waits until it is held at its blob step (record `committing`),
 * then SIGKILLs Redis (or SIGSTOPs it: a Redis that hangs with the connection open).
 */
async function commitAndKill(s: Setup, how: 'SIGKILL' | 'SIGSTOP' = 'SIGKILL'): Promise<{ first: Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> }> {
  const client = await h.client({ port: s.port });
  const first = settle(commitUpload(client, s.id, { token: 1 }));
  await s.blobs.reached;
  expect(JSON.parse((await s.conn.hget(`fw:up:${s.id}`, 'rec'))!)).toMatchObject({ state: 'committing' });
  if (how === 'SIGKILL') await s.redis.kill();
  else process.kill(s.redis.pid!, 'SIGSTOP');
  return { first };
}

/** The retried commit gets what a commit answers, and there is one object, byte-identical, and no lease left. */
async function expectCommittedOnce(s: Setup): Promise<void> {
  const client = await h.client({ port: s.port });
  const answer = await commitUpload(client, s.id, { token: 1 });
  expect(answer).toMatchObject({ objectId: s.id, sha256: sha256Hex(bytes), size: bytes.length });
  // The answer is the object's record, whichever commit published it; a further retry repeats it.
  expect((await s.store.objects.describeObject(s.id))?.committedAt).toBe(answer.committedAt);
  expect(await commitUpload(client, s.id, { token: 1 })).toEqual(answer);
  expect((await getUploadStatus(client, s.id)).object).toEqual(answer);
  expect(sha256Hex(await readAllBytes((await s.store.openObject(s.id))!))).toBe(sha256Hex(bytes));
  expect(await dirs(s)).toEqual({ objects: [s.id], chunks: [] });
  expect(await s.conn.exists(`fw:commit:${s.id}`)).toBe(0);
}

async function dirs(s: Setup): Promise<{ objects: string[]; chunks: string[] }> {
  return { objects: await readdir(join(s.dataDir, 'objects')), chunks: await readdir(join(s.dataDir, 'chunks')) };
}

describe.skipIf(redisServerBinary === undefined)('Redis SIGKILLed while a commit is in progress', () => {
  it.each<HoldAt>(['before publish', 'after publish'])('FW-UP-25 FW-UP-31: restarted with its append-only file (held %s): INTERNAL while down, then the retried commit answers as a commit does, one byte-identical object', async (at) => {
    const s = await setUp(true, at);
    try {
      const { first } = await commitAndKill(s);
      const t0 = performance.now();
      s.blobs.release();
      const failed = await first;
      const failedAfterMs = performance.now() - t0;
      const error = expectFwError(failed.ok ? undefined : failed.error, 'INTERNAL');
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/Redis/);
      // Bounded: two reconnects refused (100 + 200 ms of backoff) and the round trips around them.
      expect(failedAfterMs).toBeLessThan(5000);

      await s.redis.restart();
      // The dead commit's lease (60 s) was released once Redis was back, so the retry does not wait it out.
      await expectCommittedOnce(s);
    } finally {
      await tearDown(s);
    }
  }, 30_000);

  it('FW-UP-33: the resuming client (upload()) rides it out: its commit fails with INTERNAL, Redis restarts (append-only) at its first retry, and its resume returns the object', async () => {
    const s = await setUp(true, 'after publish');
    try {
      let restarted: Promise<void> | undefined;
      const retried: string[] = [];
      const uploading = upload(once(bytes), {
        size: bytes.length,
        port: s.port,
        chunkSize: CHUNK,
        retry: { initialDelayMs: 20, maxAttempts: 10 },
        onRetry: (e) => {
          retried.push(e.error.code);
          restarted ??= s.redis.restart();
        },
      });
      await s.blobs.reached;
      await s.redis.kill();
      s.blobs.release();
      const r = await uploading;
      await restarted;
      expect(retried[0]).toBe('INTERNAL');
      expect(r.sha256).toBe(sha256Hex(bytes));
      expect(r.objectId).toBe(r.uploadId);
      expect((await s.store.objects.describeObject(r.objectId))?.sha256).toBe(sha256Hex(bytes));
      expect(sha256Hex(await readAllBytes((await s.store.openObject(r.objectId))!))).toBe(sha256Hex(bytes));
      // The upload made by setUp is not committed: the client's is the one object.
      expect((await dirs(s)).objects).toEqual([r.objectId]);
    } finally {
      await tearDown(s);
    }
  }, 30_000);

  it.each<HoldAt>(['before publish', 'after publish'])('FW-UP-31: restarted without persistence (held %s): the session is lost, the commit answers UPLOAD_NOT_FOUND and leaves no object and no chunk data', async (at) => {
    const s = await setUp(false, at);
    try {
      const { first } = await commitAndKill(s);
      await s.redis.restart();
      s.blobs.release();
      expectFwError(await first.then((r) => (r.ok ? undefined : r.error)), 'UPLOAD_NOT_FOUND');
      const client = await h.client({ port: s.port });
      expectFwError(await commitUpload(client, s.id, { token: 1 }).catch((e: unknown) => e), 'UPLOAD_NOT_FOUND');
      expect(await s.store.openObject(s.id)).toBeUndefined();
      expect(await dirs(s)).toEqual({ objects: [], chunks: [] });
    } finally {
      await tearDown(s);
    }
  }, 30_000);

  it('FW-UP-31: left down, a commit in progress and every new one fail with INTERNAL (retryable) within the bound, never hang', async () => {
    const s = await setUp(true, 'before publish');
    try {
      const { first } = await commitAndKill(s);
      s.blobs.release();
      const client = await h.client({ port: s.port });
      for (const attempt of [first, settle(commitUpload(client, s.id, { token: 1 })), settle(commitUpload(client, s.id, { token: 1 }))]) {
        const t0 = performance.now();
        const r = await attempt;
        expect(expectFwError(r.ok ? undefined : r.error, 'INTERNAL').retryable).toBe(true);
        expect(performance.now() - t0).toBeLessThan(5000);
      }
      expect(await dirs(s)).toEqual({ objects: [], chunks: [s.id] });
    } finally {
      await tearDown(s);
    }
  }, 30_000);

  it('FW-UP-31: hanging (SIGSTOP, the connection stays open): the commit in progress and a new one fail with INTERNAL (retryable) within the command timeout; once Redis runs again the retry commits, one byte-identical object', async () => {
    const s = await setUp(true, 'before publish', HANG_TIMEOUT_MS);
    try {
      const { first } = await commitAndKill(s, 'SIGSTOP');
      s.blobs.release();
      const client = await h.client({ port: s.port });
      for (const attempt of [first, settle(commitUpload(client, s.id, { token: 1 }))]) {
        const t0 = performance.now();
        const r = await attempt;
        const error = expectFwError(r.ok ? undefined : r.error, 'INTERNAL');
        expect(error.retryable).toBe(true);
        expect(error.details).toEqual({ reason: 'store_unavailable' });
        expect(performance.now() - t0).toBeLessThan(HANG_TIMEOUT_MS + 4000);
      }
      process.kill(s.redis.pid!, 'SIGCONT');
      await expectCommittedOnce(s);
    } finally {
      process.kill(s.redis.pid!, 'SIGCONT');
      await tearDown(s);
    }
  }, 30_000);

  it('FW-UP-31: hanging when a commit starts: INTERNAL within the command timeout, and the lease its unanswered SET took once Redis runs again does not hold the retry up', async () => {
    const s = await setUp(true, 'before publish', HANG_TIMEOUT_MS);
    try {
      s.blobs.release();
      process.kill(s.redis.pid!, 'SIGSTOP');
      // To the store itself: over the wire, the service's read of the record would time out first.
      const failed = await settle(s.store.commit(s.id, { token: 1 }));
      expect(expectFwError(failed.ok ? undefined : failed.error, 'INTERNAL').details).toEqual({ reason: 'store_unavailable' });
      process.kill(s.redis.pid!, 'SIGCONT');
      await expectCommittedOnce(s);
    } finally {
      process.kill(s.redis.pid!, 'SIGCONT');
      await tearDown(s);
    }
  }, 30_000);

  it('the limits are checked where they are given: commandTimeoutMs 0, 1.5 or NaN and commitLeaseMs 2 are INVALID_ARGUMENT; 1 and 3 are accepted', async () => {
    const dataDir = await tempDir('fw-commit-crash-options-');
    const make = (o: { commandTimeoutMs?: number; commitLeaseMs?: number }): RedisUploadStore => new RedisUploadStore({ redis: 'redis://127.0.0.1:1', dataDir, ...o });
    for (const commandTimeoutMs of [0, 1.5, Number.NaN]) expectFwError(catching(() => make({ commandTimeoutMs })), 'INVALID_ARGUMENT');
    expectFwError(catching(() => make({ commitLeaseMs: 2 })), 'INVALID_ARGUMENT');
    await make({ commandTimeoutMs: 1, commitLeaseMs: 3 }).close();
  });
});

function catching(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
