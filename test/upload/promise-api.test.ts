/**
 * Issue 12, item 1, beyond Stream.write: every API that returns a promise rejects and never throws.
 * The memory store's create() checked its limits before its first await, so a request over them
 * threw synchronously; upload() read its options before its first await.
 */

import { describe, expect, it } from 'vitest';
import { MemoryUploadStore, upload } from '../../src/api/upload.ts';

describe('Promise APIs of the upload side reject, never throw', () => {
  it('MemoryUploadStore.create over the size limit rejects with BAD_RANGE', async () => {
    const store = new MemoryUploadStore({ maxSize: 1000 });
    let created: Promise<unknown> | undefined;
    expect(() => (created = store.create('p', { size: 2000, chunkSize: 100 }))).not.toThrow();
    await expect(created).rejects.toMatchObject({ code: 'BAD_RANGE' });
  });

  it('MemoryUploadStore.get with a clock that throws rejects', async () => {
    let broken = false;
    const store = new MemoryUploadStore({
      now: () => {
        if (broken) throw new Error('clock broken');
        return Date.now();
      },
    });
    const { info } = await store.create('p', { size: 10, chunkSize: 10 });
    broken = true;
    let got: Promise<unknown> | undefined;
    expect(() => (got = store.get(info.id))).not.toThrow();
    await expect(got).rejects.toThrow('clock broken');
  });

  it('upload() without options rejects', async () => {
    let uploading: Promise<unknown> | undefined;
    expect(() => (uploading = upload(Buffer.from('x'), undefined as never))).not.toThrow();
    await expect(uploading).rejects.toThrow();
  });
});
