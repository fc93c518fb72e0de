/**
 * Every upload storage backend, for the suites that run against each (parametrised, never copied):
 * store.test.ts (the rules of the state machine), backends.test.ts (the two backend interfaces)
 * and quota.test.ts. A new backend (Redis, issue 19) is one more entry here.
 */

import { FsBlobStore, FsMetaStore, FsUploadStore, MemoryBlobStore, MemoryMetaStore, MemoryUploadStore } from '../../src/upload/index.ts';
import type { UploadBlobStore, UploadMetaStore, UploadStateMachine, UploadStoreOptions } from '../../src/upload/index.ts';
import { tempDir } from './helpers.ts';

export interface BackendParts {
  readonly meta: UploadMetaStore;
  readonly blobs: UploadBlobStore;
}

export interface Backend {
  /** The state machine over this backend, fresh, as an application constructs it. */
  readonly store: (options?: UploadStoreOptions) => Promise<UploadStateMachine>;
  /** The two backend objects alone, fresh and ready: for the interface tests and for wrapping. */
  readonly parts: () => Promise<BackendParts>;
}

const noStep = (): void => undefined;

export const backends: readonly (readonly [string, Backend])[] = [
  [
    'memory',
    {
      store: (options) => Promise.resolve(new MemoryUploadStore(options)),
      parts: () => Promise.resolve({ meta: new MemoryMetaStore(), blobs: new MemoryBlobStore() }),
    },
  ],
  [
    'fs',
    {
      store: async (options) => new FsUploadStore({ dataDir: await tempDir(), ...options }),
      parts: async () => {
        const dir = await tempDir();
        const meta = new FsMetaStore(dir, true, noStep);
        const blobs = new FsBlobStore(dir, { durable: true, writeBatchBytes: 1024 * 1024, step: noStep });
        await meta.prepare();
        await blobs.prepare();
        return { meta, blobs };
      },
    },
  ],
];
