/**
 * Upload metadata in memory (tests, ephemeral servers): the UploadMetaStore of backends.ts over two
 * maps. Every method decides synchronously, so each compare-and-set is atomic by construction.
 */

import type { AddChunkResult, StoredUpload, UploadChunkView, UploadMetaStore, UploadRecord, VersionedUpload } from './backends.ts';

interface Entry {
  record: UploadRecord;
  version: number;
  readonly chunks: Map<number, string>;
}

export class MemoryMetaStore implements UploadMetaStore {
  readonly #uploads = new Map<string, Entry>();
  readonly #keys = new Map<string, string>();

  get(id: string): Promise<StoredUpload | undefined> {
    const e = this.#uploads.get(id);
    return Promise.resolve(e === undefined ? undefined : { record: e.record, version: e.version, chunks: e.chunks });
  }

  getRecord(id: string): Promise<VersionedUpload | undefined> {
    const e = this.#uploads.get(id);
    return Promise.resolve(e === undefined ? undefined : { record: e.record, version: e.version });
  }

  getChunk(id: string, index: number): Promise<UploadChunkView | undefined> {
    const e = this.#uploads.get(id);
    return Promise.resolve(e === undefined ? undefined : { record: e.record, version: e.version, stored: e.chunks.get(index) });
  }

  create(record: UploadRecord): Promise<boolean> {
    const key = record.indexKey;
    const named = key === undefined ? undefined : this.#keys.get(key);
    if (named !== undefined && this.#uploads.has(named)) return Promise.resolve(false);
    this.#uploads.set(record.id, { record, version: 1, chunks: new Map() });
    if (key !== undefined) this.#keys.set(key, record.id);
    return Promise.resolve(true);
  }

  update(id: string, version: number, next: UploadRecord): Promise<boolean> {
    const e = this.#uploads.get(id);
    if (e?.version !== version) return Promise.resolve(false);
    e.record = next;
    e.version++;
    return Promise.resolve(true);
  }

  addChunk(id: string, version: number, index: number, sha256: string): Promise<AddChunkResult> {
    const e = this.#uploads.get(id);
    if (e?.version !== version) return Promise.resolve('stale');
    if (e.chunks.has(index)) return Promise.resolve('present');
    e.chunks.set(index, sha256);
    return Promise.resolve('added');
  }

  clearChunks(id: string): Promise<void> {
    this.#uploads.get(id)?.chunks.clear();
    return Promise.resolve();
  }

  delete(id: string): Promise<void> {
    const key = this.#uploads.get(id)?.record.indexKey;
    if (key !== undefined && this.#keys.get(key) === id) this.#keys.delete(key);
    this.#uploads.delete(id);
    return Promise.resolve();
  }

  findKey(indexKey: string): Promise<string | undefined> {
    return Promise.resolve(this.#keys.get(indexKey));
  }

  ids(): Promise<string[]> {
    return Promise.resolve([...this.#uploads.keys()]);
  }
}
