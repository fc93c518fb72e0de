/**
 * The default UploadStore: the upload state machine over the file-system backends, in one data
 * directory (spec/UPLOAD.md §11.9):
 *
 *   uploads/<id>/manifest.json, uploads/<id>/chunks.log, uploads-tmp/, keys/   metadata (fs-meta.ts)
 *   parts/<id>, objects/<id>                                                   bytes (fs-blobs.ts)
 *
 * No client-supplied string ever becomes part of a path: upload ids are server-generated and checked
 * against UPLOAD_ID_PATTERN before use, and idempotency keys are hashed (FW-UP-50). One process owns
 * a data directory. After a crash (even SIGKILL) the directory is consistent — an upload directory
 * is renamed into place with its manifest or absent, a chunk is recorded after its bytes were
 * fsynced or not at all, the object is renamed whole or absent — and recovery at start (before the
 * store serves anything) removes every leftover and settles interrupted commits.
 */

import { statfs } from 'node:fs/promises';
import { FsBlobStore } from './fs-blobs.ts';
import { FsMetaStore } from './fs-meta.ts';
import type { StepHook } from './fs-steps.ts';
import type { FreeBytes } from './quota.ts';
import { UploadStateMachine } from './state-machine.ts';
import type { UploadStoreOptions } from './store.ts';

/** Options of `FsUploadStore`: its data directory, whether writes are fsynced, and the common store options. */
export interface FsUploadStoreOptions extends UploadStoreOptions {
  /** The directory that holds uploads, parts, objects and idempotency keys; created if missing. */
  readonly dataDir: string;
  /** fsync files and directories before acknowledging (chunks, manifests, objects). Default true. */
  readonly durable?: boolean;
  /** Chunk bytes collected before one write to disk. Default 1 MiB. */
  readonly writeBatchBytes?: number;
  /**
   * Called at each step of create, chunk and commit after which a crash leaves a different state
   * on disk (fs-steps.ts). For crash tests only; unset in production.
   *
   * @internal
   */
  readonly onStep?: StepHook;
  /** Free bytes of the data directory's file system, for the quota's free-space rule. Default: statfs. */
  readonly freeBytes?: FreeBytes;
}

/**
 * The file-system upload store: metadata in a manifest and chunk journal per upload, bytes written in
 * place into one part file and fsynced before they are acknowledged, objects published by rename.
 * Survives restarts of the process.
 */
export class FsUploadStore extends UploadStateMachine {
  /** The data directory this store owns. */
  readonly dataDir: string;

  constructor(options: FsUploadStoreOptions) {
    const durable = options.durable ?? true;
    const step: StepHook = options.onStep ?? (() => undefined);
    const meta = new FsMetaStore(options.dataDir, durable, step);
    const blobs = new FsBlobStore(options.dataDir, { durable, writeBatchBytes: options.writeBatchBytes ?? 1024 * 1024, step });
    super(
      {
        meta,
        blobs,
        freeBytes: options.freeBytes ?? (() => freeBytesOf(options.dataDir)),
        prepare: async () => {
          await meta.prepare();
          await blobs.prepare();
        },
      },
      options,
    );
    this.dataDir = options.dataDir;
  }
}

async function freeBytesOf(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}
