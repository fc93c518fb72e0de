/**
 * The shared-directory blob store's running digest (src/upload/shared-prefixes.ts; issue 19): commit
 * reads back only what the running hash of the chunks a node kept does not cover; chunks kept on
 * another node, or a kept file that is not the one the metadata names, are read from the metadata's
 * files, never taken from the prefix. The metadata is a map here (what Redis holds in a cluster).
 * Cost: a few KiB of files, well under 1 s.
 */

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SharedDirBlobStore, type UploadGeometry } from '../../src/upload/index.ts';
import { removeTempDirs, sha256Hex, tempDir } from './helpers.ts';

afterEach(removeTempDirs);

const u: UploadGeometry = { id: 'ab'.repeat(16), size: 10, chunkSize: 4, chunkCount: 3 };
const bytes = Buffer.from('0123456789');
const chunk = (i: number): Buffer => bytes.subarray(i * 4, Math.min(i * 4 + 4, 10));

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield b;
}

/** Nodes over one directory and one metadata map (index → SHA-256 of the kept chunk). */
async function cluster(): Promise<{ dir: string; recorded: Map<number, string>; node: () => SharedDirBlobStore }> {
  const dir = await tempDir('fw-shared-blobs-');
  const recorded = new Map<number, string>();
  const node = (): SharedDirBlobStore => new SharedDirBlobStore({ dir, storedChunks: () => Promise.resolve(recorded) });
  await node().prepare();
  return { dir, recorded, node };
}

/** Writes chunk `index` with `content` on `node`, records it and calls kept(), as the state machine does. */
async function keep(node: SharedDirBlobStore, recorded: Map<number, string>, index: number, content: Buffer): Promise<void> {
  const staged = await node.writeChunk(u, index, once(content), sha256Hex(content));
  recorded.set(index, sha256Hex(content));
  staged.kept();
}

describe('SharedDirBlobStore digest', () => {
  it('chunks kept on two nodes: either node computes the object\'s digest, whole and per chunk', async () => {
    const { recorded, node } = await cluster();
    const [a, b] = [node(), node()];
    await keep(a, recorded, 2, chunk(2));
    await keep(b, recorded, 1, chunk(1));
    await keep(a, recorded, 0, chunk(0));
    for (const n of [a, b]) {
      expect(await n.digest(u, false)).toEqual({ sha256: sha256Hex(bytes) });
      expect(await n.digest(u, true)).toEqual({ sha256: sha256Hex(bytes), chunks: [0, 1, 2].map((i) => sha256Hex(chunk(i))) });
    }
  });

  it('the digest comes from the running hash: a chunk file changed at rest after it was hashed is not read again, except per chunk', async () => {
    const { dir, recorded, node } = await cluster();
    const a = node();
    for (const i of [0, 1, 2]) await keep(a, recorded, i, chunk(i));
    expect((await a.digest(u, false)).sha256).toBe(sha256Hex(bytes));
    // Corruption at rest: the per-chunk digest (what commit asks for without a declared digest) finds it.
    await writeFile(join(dir, 'chunks', u.id, `1.${sha256Hex(chunk(1))}`), 'XXXX');
    expect((await a.digest(u, false)).sha256).toBe(sha256Hex(bytes));
    const perChunk = await a.digest(u, true);
    expect(perChunk.chunks?.[1]).toBe(sha256Hex(Buffer.from('XXXX')));
    // Another node has no running hash of this upload: it reads every file.
    expect((await node().digest(u, false)).sha256).not.toBe(sha256Hex(bytes));
  });

  it('a kept file that is not the one the metadata names for its chunk is not used: the digest is the metadata\'s object', async () => {
    const { recorded, node } = await cluster();
    const [a, b] = [node(), node()];
    const other = Buffer.from('abcd');
    await keep(a, recorded, 0, other);
    await keep(a, recorded, 1, chunk(1));
    await keep(a, recorded, 2, chunk(2));
    expect((await a.digest(u, false)).sha256).toBe(sha256Hex(Buffer.concat([other, chunk(1), chunk(2)])));
    // The metadata now names node B's file for chunk 0 (as after a reopened upload): A's prefix no longer holds.
    await keep(b, recorded, 0, chunk(0));
    expect((await a.digest(u, false)).sha256).toBe(sha256Hex(bytes));
  });
});
