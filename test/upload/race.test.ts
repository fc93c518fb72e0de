/**
 * Commit racing abort (spec/UPLOAD.md FW-UP-28): ten commits and ten aborts of one complete upload
 * in parallel, over TCP, against every store (backends.ts) and in both interleavings. Whoever wins, every answer
 * must agree with the state the upload ends in: committed → every commit the same object, every
 * abort ALREADY_COMMITTED; aborted → every abort {state: aborted}, every commit ABORTED.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { abortUpload, commitUpload, createUpload, getUploadStatus, putChunk } from '../../src/upload/index.ts';
import { backends } from './backends.ts';
import { Harness, readAllBytes, removeTempDirs, settle, sha256Hex, uploadServer } from './helpers.ts';

const h = new Harness();
afterEach(async () => {
  await h.cleanup();
  await removeTempDirs();
});

const cases = backends.flatMap(([name]) => [[name, 'commit first'], [name, 'abort first']] as const);
const storeNamed = async (name: string) => backends.find(([n]) => n === name)![1].store();

describe('commit racing abort', () => {
  it.each(cases)('FW-UP-28 FW-UP-25 FW-UP-27: %s store, %s: 10 commits and 10 aborts in parallel, every answer consistent with the final state', async (store, order) => {
    const setup = await uploadServer(h, { store: await storeNamed(store) });
    const conn = await h.client({ port: setup.port });
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 253));
    const up = await createUpload(conn, { size: bytes.length, chunkSize: 1000 });
    for (let i = 0; i < 3; i++) {
      const data = bytes.subarray(i * 1000, (i + 1) * 1000);
      await putChunk(conn, up.uploadId, { index: i, offset: i * 1000, length: 1000, sha256: sha256Hex(data), token: 1 }, data);
    }
    const kinds = Array.from({ length: 10 }, () => (order === 'commit first' ? (['commit', 'abort'] as const) : (['abort', 'commit'] as const))).flat();
    // Opened in this order, all before any answer arrives.
    const runs = kinds.map((kind): Promise<unknown> => (kind === 'commit' ? commitUpload(conn, up.uploadId, { token: 1 }) : abortUpload(conn, up.uploadId)));
    const answers = await Promise.all(runs.map(async (run, i) => ({ kind: kinds[i]!, r: await settle(run) })));
    const final = await getUploadStatus(conn, up.uploadId);
    const describe = (r: (typeof answers)[number]['r']): string => (r.ok ? `DONE ${JSON.stringify(r.value)}` : `ERROR ${(r.error as { code?: string }).code ?? String(r.error)}`);
    const seen = answers.map((a) => `${a.kind}: ${describe(a.r)}`);
    if (final.state === 'committed') {
      const object = final.object!;
      expect(seen).toEqual(answers.map((a) => (a.kind === 'commit' ? `commit: DONE ${JSON.stringify(object)}` : 'abort: ERROR ALREADY_COMMITTED')));
      expect(sha256Hex(await readAllBytes((await setup.store.openObject(object.objectId))!))).toBe(sha256Hex(bytes));
    } else {
      expect(final.state).toBe('aborted');
      expect(seen).toEqual(answers.map((a) => (a.kind === 'commit' ? 'commit: ERROR ABORTED' : 'abort: DONE {"state":"aborted"}')));
      expect(await setup.store.openObject(up.uploadId)).toBeUndefined();
    }
  });

  it.each(backends.map(([name]) => name))('FW-UP-25 FW-UP-12: %s store: an acquire that waited for a commit in progress answers the committed status, not LEASE_CONFLICT', async (store) => {
    const setup = await uploadServer(h, { store: await storeNamed(store) });
    const conn = await h.client({ port: setup.port });
    const data = Buffer.alloc(1000, 5);
    const up = await createUpload(conn, { size: 1000, chunkSize: 1000 });
    await putChunk(conn, up.uploadId, { index: 0, offset: 0, length: 1000, sha256: sha256Hex(data), token: 1 }, data);
    const runs = [commitUpload(conn, up.uploadId, { token: 1 }), ...Array.from({ length: 5 }, () => getUploadStatus(conn, up.uploadId, { acquire: true }))] as Promise<unknown>[];
    const [commit, ...acquires] = await Promise.all(runs.map((r) => settle(r)));
    expect(commit?.ok).toBe(true);
    for (const a of acquires) {
      expect(a.ok).toBe(true);
      expect(a.ok && (a.value as { state: string; token?: number })).toMatchObject({ state: 'committed' });
      expect(a.ok && (a.value as { token?: number }).token).toBeUndefined();
    }
  });
});
