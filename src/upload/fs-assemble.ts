/**
 * Commit's heavy half in the FS upload store (spec/UPLOAD.md FW-UP-25, FW-UP-26): the stored chunks
 * are concatenated into a temporary object, which is verified against every declared digest (or,
 * without one, chunk by chunk: bit rot on disk must not become a silently wrong object), fsynced
 * and renamed into objects/. Until that rename nothing is visible; after it the commit happened
 * (recovery records it if the process dies before the manifest says so).
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FramewireError } from '../errors.ts';
import type { FsStoreStep } from './fs-store.ts';
import { CoalescingWriter, fsyncDir } from './fs-util.ts';

export interface Assembly {
  /** Every chunk in index order: its file and the SHA-256 it was stored with. */
  readonly chunks: readonly { readonly path: string; readonly sha256: string }[];
  readonly size: number;
  /** Digests the object must have (the create's and the commit's); empty: verify each chunk instead. */
  readonly expected: readonly string[];
  readonly temp: string;
  readonly final: string;
  readonly batchBytes: number;
  readonly durable: boolean;
  readonly step: (step: FsStoreStep) => void;
}

/** Publishes the object at `final`; returns its SHA-256. Nothing is left at `temp` whatever happens. */
export async function assembleObject(a: Assembly): Promise<string> {
  const verifyChunks = a.expected.length === 0;
  const fh = await open(a.temp, 'wx');
  let published = false;
  try {
    const writer = new CoalescingWriter(fh, 4 * a.batchBytes);
    const whole = createHash('sha256');
    for (const [i, chunk] of a.chunks.entries()) {
      const part = verifyChunks ? createHash('sha256') : undefined;
      for await (const piece of createReadStream(chunk.path, { highWaterMark: a.batchBytes }) as AsyncIterable<Buffer>) {
        whole.update(piece);
        part?.update(piece);
        await writer.write(piece);
      }
      if (part !== undefined && part.digest('hex') !== chunk.sha256) {
        throw new FramewireError('DIGEST_MISMATCH', `stored chunk ${i} no longer matches its checksum`, { details: { index: i } });
      }
    }
    await writer.finish();
    const sha256 = whole.digest('hex');
    if (writer.written !== a.size) throw new FramewireError('INTERNAL', `assembled ${writer.written} bytes, expected ${a.size}`);
    for (const x of a.expected) {
      if (x !== sha256) throw new FramewireError('DIGEST_MISMATCH', `the assembled object has SHA-256 ${sha256}, expected ${x}`, { details: { sha256 } });
    }
    if (a.durable) await fh.datasync();
    await fh.close();
    a.step('commit.object-temp');
    await rename(a.temp, a.final);
    published = true;
    if (a.durable) await fsyncDir(dirname(a.final));
    a.step('commit.object-published');
    return sha256;
  } finally {
    await fh.close().catch(() => undefined);
    if (!published) await rm(a.temp, { force: true });
  }
}
