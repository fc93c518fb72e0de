/**
 * Two nodes writing the same chunk index of one upload (issue 19; spec/UPLOAD.md §11.9): the
 * writer on node A (token 1) is still streaming chunk 0 when the client, moved to node B, takes
 * the upload over (token 2) and stores chunk 0 with other bytes. A's bytes then arrive whole. In
 * one part file (the single-process FS layout) they would land on top of B's stored chunk; in the
 * shared directory each write has a file of its own, A is fenced (LEASE_CONFLICT), and the object
 * is made of what the metadata recorded: B's bytes.
 * Cost: two stores on the shared test redis-server, a few KiB: well under 1 s.
 */

import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisUploadStore } from '../../src/upload/index.ts';
import { expectFwError, readAllBytes, removeTempDirs, settle, sha256Hex, tempDir } from '../upload/helpers.ts';
import { redisServerBinary, sharedRedis, stopSharedRedis } from './server.ts';

const stores: RedisUploadStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await removeTempDirs();
});
afterAll(stopSharedRedis);

describe.skipIf(redisServerBinary === undefined)('two nodes, one chunk index', () => {
  it('FW-UP-21 FW-UP-50: a fenced writer that finishes late on node A leaves node B\'s stored chunk and the object intact', async () => {
    const url = (await sharedRedis()).url;
    const dataDir = await tempDir('fw-two-writers-');
    const keyPrefix = `fw-two-${randomBytes(4).toString('hex')}:`;
    const [a, b] = [0, 1].map(() => new RedisUploadStore({ redis: url, dataDir, keyPrefix }));
    stores.push(a!, b!);
    const old = Buffer.alloc(4096, 0xaa);
    const fresh = Buffer.alloc(4096, 0xbb);
    const { info } = await a!.create('alice', { size: 4096, chunkSize: 4096 });

    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield old.subarray(0, 1000);
      await held;
      yield old.subarray(1000);
    }
    const late = settle(a!.writeChunk(info.id, { index: 0, offset: 0, length: 4096, sha256: sha256Hex(old), token: 1 }, slow()));

    const taken = await b!.acquire(info.id);
    expect(taken.token).toBe(2);
    async function* whole(): AsyncGenerator<Uint8Array> {
      await Promise.resolve();
      yield fresh;
    }
    await b!.writeChunk(info.id, { index: 0, offset: 0, length: 4096, sha256: sha256Hex(fresh), token: 2 }, whole());
    release();
    const r = await late;
    expectFwError(r.ok ? undefined : r.error, 'LEASE_CONFLICT');

    const object = await b!.commit(info.id, { token: 2, sha256: sha256Hex(fresh) });
    expect(object.sha256).toBe(sha256Hex(fresh));
    expect(await readAllBytes((await a!.openObject(info.id))!)).toEqual(fresh);
  });
});
