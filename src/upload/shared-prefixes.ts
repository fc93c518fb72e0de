/**
 * The object's SHA-256 without a second pass at commit, for the shared directory (shared-blobs.ts):
 * the running prefix hash of the FS store (fs-prefix-hash.ts) over the chunk files this node kept.
 *
 * A node hashes, in the background and from the page cache, the contiguous prefix of the chunks it
 * wrote and recorded itself; at commit only the rest is read back, from the files the metadata
 * names. Chunks kept by another node (a client that moved) end this node's prefix there, so a
 * commit after a move reads more, never wrongly: a chunk file is named by its SHA-256 and never
 * rewritten, and a prefix that names another file than the metadata for any chunk is not used.
 * The prefixes live in memory, at most MAX_PREFIXES uploads per node (the oldest is dropped; its
 * commit reads its chunks back), so uploads that moved to another node cost this one nothing lasting.
 */

import type { UploadGeometry } from './backends.ts';
import { ChunkFilesReader } from './chunk-files-reader.ts';
import { PrefixHash, type WithReader } from './fs-prefix-hash.ts';

/** Uploads whose running prefix hash a node keeps at once. */
export const MAX_PREFIXES = 1024;

interface Prefix {
  /** The file of each chunk this node kept (index → name); the rest is filled in from the metadata at commit. */
  readonly files: (string | undefined)[];
  readonly hash: PrefixHash;
}

export class ChunkFilePrefixes {
  readonly #byUpload = new Map<string, Prefix>();
  readonly #chunkDir: (id: string) => string;

  constructor(chunkDir: (id: string) => string) {
    this.#chunkDir = chunkDir;
  }

  /** Chunk `index` of `upload`, in file `file`, was recorded as stored: hash it when it extends the prefix. */
  kept(upload: UploadGeometry, index: number, file: string): void {
    let prefix = this.#byUpload.get(upload.id);
    if (prefix === undefined) {
      prefix = this.#fresh(upload);
      this.#byUpload.set(upload.id, prefix);
      for (const id of this.#byUpload.keys()) {
        if (this.#byUpload.size <= MAX_PREFIXES) break;
        this.#byUpload.delete(id);
      }
    }
    prefix.files[index] = file;
    prefix.hash.add(index);
  }

  /** The object's SHA-256 (and with `perChunk` each chunk's) from `files`, the metadata's chunk files in order. */
  digest(upload: UploadGeometry, files: readonly string[], perChunk: boolean): Promise<{ sha256: string; chunks?: string[] }> {
    const kept = this.#byUpload.get(upload.id);
    const usable = kept !== undefined && kept.files.every((file, i) => file === undefined || file === files[i]);
    const prefix = usable ? kept : this.#fresh(upload);
    files.forEach((file, i) => (prefix.files[i] = file));
    return prefix.hash.digest(perChunk);
  }

  /** Forgets the upload's prefix (published or deleted). */
  drop(id: string): void {
    this.#byUpload.delete(id);
  }

  #fresh(upload: UploadGeometry): Prefix {
    const files: (string | undefined)[] = [];
    const dir = this.#chunkDir(upload.id);
    const withReader: WithReader = async (fn) => {
      const reader = new ChunkFilesReader(dir, files, upload.chunkSize, upload.size);
      try {
        return await fn((buffer, length, position) => reader.readv([buffer.subarray(0, length)], position));
      } finally {
        await reader.close();
      }
    };
    return { files, hash: new PrefixHash(upload, withReader) };
  }
}
