/**
 * Chunk bytes and committed objects in memory (tests, ephemeral servers): the UploadBlobStore of
 * backends.ts over two maps. A chunk's pieces are copied as they arrive and become part of the
 * upload only when the state machine keeps them; nothing survives the process.
 */

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ObjectPage, ObjectReader, ObjectRecord, StagedChunk, UploadBlobStore, UploadGeometry } from './backends.ts';

export class MemoryBlobStore implements UploadBlobStore {
  readonly #chunks = new Map<string, Map<number, Buffer>>();
  readonly #objects = new Map<string, { readonly bytes: Buffer; readonly record: ObjectRecord }>();

  async writeChunk(upload: UploadGeometry, index: number, data: AsyncIterable<Uint8Array>): Promise<StagedChunk> {
    const pieces: Buffer[] = [];
    for await (const piece of data) pieces.push(Buffer.from(piece));
    const bytes = Buffer.concat(pieces);
    return {
      kept: () => {
        const held = this.#chunks.get(upload.id) ?? new Map<number, Buffer>();
        this.#chunks.set(upload.id, held.set(index, bytes));
      },
      discard: () => Promise.resolve(),
    };
  }

  digest(upload: UploadGeometry, perChunk: boolean): Promise<{ sha256: string; chunks?: string[] }> {
    const parts = this.#parts(upload);
    const sha256 = createHash('sha256');
    for (const part of parts) sha256.update(part);
    const chunks = perChunk ? parts.map((part) => createHash('sha256').update(part).digest('hex')) : undefined;
    return Promise.resolve({ sha256: sha256.digest('hex'), ...(chunks === undefined ? {} : { chunks }) });
  }

  publish(upload: UploadGeometry, record: ObjectRecord): Promise<void> {
    this.#objects.set(upload.id, { bytes: Buffer.concat(this.#parts(upload)), record });
    this.#chunks.delete(upload.id);
    return Promise.resolve();
  }

  openObject(objectId: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const bytes = this.#objects.get(objectId)?.bytes;
    return Promise.resolve(bytes === undefined ? undefined : (Readable.from([bytes]) as AsyncIterable<Uint8Array>));
  }

  describe(objectId: string): Promise<ObjectRecord | undefined> {
    return Promise.resolve(this.#objects.get(objectId)?.record);
  }

  openReader(objectId: string): Promise<ObjectReader | undefined> {
    const bytes = this.#objects.get(objectId)?.bytes;
    if (bytes === undefined) return Promise.resolve(undefined);
    return Promise.resolve({
      size: bytes.length,
      readv: (into: readonly Uint8Array[], position: number) => {
        let at = position;
        for (const view of into) at += bytes.copy(view, 0, at, Math.min(bytes.length, at + view.length));
        return Promise.resolve(at - position);
      },
      close: () => Promise.resolve(),
    });
  }

  listObjects(owner: string, after: string | undefined, limit: number): Promise<ObjectPage> {
    const ids = [...this.#objects.keys()].filter((id) => (after === undefined || id > after) && this.#objects.get(id)?.record.owner === owner).sort();
    const objects = ids.slice(0, limit).flatMap((id) => this.#objects.get(id)?.record ?? []);
    return Promise.resolve({ objects, more: ids.length > limit });
  }

  deleteObject(objectId: string): Promise<boolean> {
    return Promise.resolve(this.#objects.delete(objectId));
  }

  deleteChunks(id: string): Promise<void> {
    this.#chunks.delete(id);
    return Promise.resolve();
  }

  withChunks(): Promise<string[]> {
    return Promise.resolve([...this.#chunks.keys()]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #parts(upload: UploadGeometry): Buffer[] {
    const held = this.#chunks.get(upload.id);
    return Array.from({ length: upload.chunkCount }, (_, i) => held?.get(i) ?? Buffer.alloc(0));
  }
}
