/**
 * Object read profile scaffolding: a server with an upload store and the ObjectService over its
 * committed objects (memory or FS), objects committed straight through the store (fast, no
 * network), and a store wrapper that observes the service's reads of the object bytes.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { FramewireServer } from '../../src/index.ts';
import { ObjectService, type ObjectLimits } from '../../src/objects/index.ts';
import { FsUploadStore, MemoryUploadStore, UploadService, type CommittedObjectStore, type ObjectReader, type UploadStateMachine } from '../../src/upload/index.ts';
import type { Harness } from '../integration/helpers.ts';
import { tempDir } from '../upload/helpers.ts';

export { FaultProxy, randomFile, readAllBytes, removeTempDirs, sha256File, sha256Hex, tempDir } from '../upload/helpers.ts';
export { Harness, KiB, MiB, expectAbortError, expectFwError, prng, settle, waitFor, within } from '../integration/helpers.ts';

export interface ObjectServerSetup {
  readonly port: number;
  readonly server: FramewireServer;
  readonly store: UploadStateMachine;
  readonly service: ObjectService;
}

/** Two principals, as `serve --tokens` gives them: the token names the principal. */
export const byToken = (auth: unknown): unknown => {
  const token = (auth as { token?: unknown } | undefined)?.token;
  return typeof token === 'string' ? { id: token } : undefined;
};

/** A server with uploads and the read profile on loopback; FS store unless `memory`. */
export async function objectServer(
  h: Harness,
  options: { memory?: boolean; dataDir?: string; limits?: Partial<ObjectLimits>; objects?: (inner: CommittedObjectStore) => CommittedObjectStore; authenticate?: (auth: unknown) => unknown } = {},
): Promise<ObjectServerSetup> {
  const store: UploadStateMachine = options.memory === true ? new MemoryUploadStore() : new FsUploadStore({ dataDir: options.dataDir ?? (await tempDir()), durable: false });
  const service = new ObjectService({ objects: options.objects?.(store.objects) ?? store.objects, ...(options.limits === undefined ? {} : { limits: options.limits }) });
  const uploads = new UploadService({ store, sweepIntervalMs: 0 });
  const { port, server } = await h.server({ services: [uploads, service], ...(options.authenticate === undefined ? {} : { authenticate: options.authenticate }) });
  return { port, server, store, service };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function* once(piece: Uint8Array): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield piece;
}

/** Commits `bytes` as an object of `owner` (a principal id, e.g. "anonymous" or "id:alice") straight through the store. */
export async function commitObject(store: UploadStateMachine, owner: string, bytes: Uint8Array, chunkSize: number, metadata?: Record<string, string>): Promise<string> {
  const { info } = await store.create(owner, { size: bytes.length, chunkSize, ...(metadata === undefined ? {} : { metadata }) });
  for (let i = 0; i < info.chunkCount; i++) {
    const piece = bytes.subarray(i * chunkSize, Math.min((i + 1) * chunkSize, bytes.length));
    await store.writeChunk(info.id, { index: i, offset: i * chunkSize, length: piece.length, sha256: sha(piece), token: 1 }, once(piece));
  }
  return (await store.commit(info.id, { token: 1 })).objectId;
}

export function randomBytesOf(size: number): Buffer {
  return randomBytes(size);
}

/** What the service did with the object bytes: reads made, bytes read, readers closed. */
export interface ReadProbe {
  readvCalls: number;
  bytesRead: number;
  opened: number;
  closed: number;
  /** When set, each readv after the first waits for it. */
  gate: Promise<void> | undefined;
}

export function probing(probe: ReadProbe): (inner: CommittedObjectStore) => CommittedObjectStore {
  return (inner) => ({
    describeObject: (id) => inner.describeObject(id),
    listObjects: (owner, after, limit) => inner.listObjects(owner, after, limit),
    deleteObject: (id) => inner.deleteObject(id),
    openObjectReader: async (id) => {
      const reader = await inner.openObjectReader(id);
      if (reader === undefined) return undefined;
      probe.opened++;
      const wrapped: ObjectReader = {
        size: reader.size,
        readv: async (into, position) => {
          if (probe.readvCalls++ > 0 && probe.gate !== undefined) await probe.gate;
          const n = await reader.readv(into, position);
          probe.bytesRead += n;
          return n;
        },
        close: async () => {
          probe.closed++;
          await reader.close();
        },
      };
      return wrapped;
    },
  });
}
