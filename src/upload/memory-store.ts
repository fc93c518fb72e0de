/**
 * An in-memory UploadStore for tests and ephemeral servers: the upload state machine over the
 * memory backends. Same rules as the file-system store, without durability: everything is lost
 * with the process.
 */

import { MemoryBlobStore } from './memory-blobs.ts';
import { MemoryMetaStore } from './memory-meta.ts';
import { UploadStateMachine } from './state-machine.ts';
import type { UploadStoreOptions } from './store.ts';

/** An upload store in memory: the same rules as `FsUploadStore`, lost with the process. For tests and ephemeral servers. */
export class MemoryUploadStore extends UploadStateMachine {
  constructor(options: UploadStoreOptions = {}) {
    // No free-space rule: there is no disk.
    super({ meta: new MemoryMetaStore(), blobs: new MemoryBlobStore() }, options);
  }
}
