/**
 * FW-UP-60 and FW-UP-61 through the public API: `upload.list` shows a principal its own unfinished
 * uploads only, pages in id order, and drops finished ones; the well-known metadata keys are
 * validated on both sides and come back in the listing.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { abortUpload, commitUpload, createUpload, listUploads, MAX_LIST_LIMIT, parseCreateMeta, putChunk } from '../../src/upload/index.ts';
import { expectFwError, Harness, removeTempDirs, settle, sha256Hex, uploadServer } from './helpers.ts';

const h = new Harness();
afterEach(async () => {
  await h.cleanup();
  await removeTempDirs();
});

describe('upload.list', () => {
  it('FW-UP-60 FW-UP-30: each principal sees its own unfinished uploads, in id order, paged; committed and aborted ones drop out', async () => {
    const { port } = await uploadServer(h, { memory: true, authenticate: (c) => (typeof c === 'string' ? { id: c } : false) });
    const alice = await h.client({ port, auth: 'alice' });
    const mallory = await h.client({ port, auth: 'mallory' });
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await createUpload(alice, { size: 10, chunkSize: 10, metadata: { name: `f${i}.txt`, content_type: 'text/plain' } }));
    await createUpload(mallory, { size: 10, chunkSize: 10 });
    const data = Buffer.alloc(10, 1);
    const done = mine[0]!;
    await putChunk(alice, done.uploadId, { index: 0, offset: 0, length: 10, sha256: sha256Hex(data), token: 1 }, data);
    await commitUpload(alice, done.uploadId, { token: 1 });
    await abortUpload(alice, mine[1]!.uploadId);
    const live = mine.slice(2).map((u) => u.uploadId).sort();

    const first = await listUploads(alice, { limit: 2 });
    expect(first.more).toBe(true);
    const second = await listUploads(alice, { limit: 2, after: first.uploads.at(-1)!.uploadId });
    expect(second.more).toBe(false);
    const all = [...first.uploads, ...second.uploads];
    expect(all.map((u) => u.uploadId)).toEqual(live);
    expect(all[0]).toMatchObject({ state: 'receiving', size: 10, chunkCount: 1, storedChunks: 0, contentType: 'text/plain' });
    expect(all.map((u) => u.name).sort()).toEqual(['f2.txt', 'f3.txt', 'f4.txt']);
    expect((await listUploads(mallory)).uploads).toHaveLength(1);
    expect((await listUploads(mallory)).uploads[0]!.uploadId).not.toBe(live[0]);
  });

  it('FW-UP-60: limit is 1..64 at the limit; FW-UP-61: name and content_type are validated at create', async () => {
    const { port } = await uploadServer(h, { memory: true });
    const conn = await h.client({ port });
    expect((await listUploads(conn, { limit: MAX_LIST_LIMIT })).uploads).toEqual([]);
    for (const limit of [0, MAX_LIST_LIMIT + 1]) expectFwError(await settle(listUploads(conn, { limit })).then((r) => (r.ok ? undefined : r.error)), 'MALFORMED_PAYLOAD');
    const good = { size: 1, chunk_size: 1 };
    expect(parseCreateMeta({ ...good, metadata: { name: 'é'.repeat(127) + 'a', content_type: 'video/mp4' } }).metadata?.['name']).toHaveLength(128);
    for (const metadata of [{ name: 'é'.repeat(128) }, { name: 'a/b' }, { name: '.' }, { name: 'tab\there' }, { name: '' }, { content_type: 'text' }, { content_type: `a/${'b'.repeat(126)}` }]) {
      expect(() => parseCreateMeta({ ...good, metadata }), JSON.stringify(metadata)).toThrow(/MALFORMED|metadata/u);
    }
    const refused = await settle(createUpload(conn, { size: 1, chunkSize: 1, metadata: { name: '../../etc/passwd' } }));
    expectFwError(refused.ok ? undefined : refused.error, 'MALFORMED_PAYLOAD');
  });
});
