/**
 * Issue 16: the resume record is replaceable through the API. `upload(path, { resumeStore })` with
 * the application's own store (here a Map): an aborted run (keepOnAbort) leaves a record naming the
 * upload; the next run finds it, says so through onResume, sends only the chunks the server lacks
 * and removes the record once committed. Loopback TCP, 512 KiB.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { upload, type ResumeEntry, type ResumeStore } from '../../src/api/upload.ts';
import { expectFwError, Harness, KiB, randomFile, removeTempDirs, settle, uploadServer } from './helpers.ts';

const h = new Harness();
afterEach(async () => {
  await h.cleanup();
  await removeTempDirs();
});

class MapResumeStore implements ResumeStore {
  readonly entries = new Map<string, ResumeEntry>();
  find(fingerprint: string): Promise<ResumeEntry | undefined> {
    return Promise.resolve(this.entries.get(fingerprint));
  }
  save(fingerprint: string, entry: ResumeEntry): Promise<void> {
    this.entries.set(fingerprint, entry);
    return Promise.resolve();
  }
  remove(fingerprint: string): Promise<void> {
    this.entries.delete(fingerprint);
    return Promise.resolve();
  }
}

describe('upload() with an application resumeStore', () => {
  it('an aborted run leaves its record in the store; the next run resumes that upload, sends only the missing chunks, and clears the record', async () => {
    const { port } = await uploadServer(h, { memory: true });
    const file = await randomFile(512 * KiB);
    const store = new MapResumeStore();
    const chunkSize = 32 * KiB;
    const abort = new AbortController();
    const first = await settle(upload(file.path, {
      port,
      chunkSize,
      inflight: 1,
      keepOnAbort: true,
      resumeStore: store,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.chunksConfirmed >= 4) abort.abort(new Error('stop here'));
      },
    }));
    expectFwError(first.ok ? undefined : first.error, 'CANCELLED');
    expect(store.entries.size).toBe(1);
    const recorded = [...store.entries.values()][0];
    const resumed: ResumeEntry[] = [];
    const second = await upload(file.path, { port, chunkSize, resumeStore: store, onResume: (entry) => resumed.push(entry) });
    expect(resumed).toEqual([recorded]);
    expect(second.uploadId).toBe(recorded?.uploadId);
    expect(second.sha256).toBe(file.sha256);
    expect(second.stats.chunksSent).toBeLessThanOrEqual(16 - 4);
    expect(store.entries.size).toBe(0);
  });
});
