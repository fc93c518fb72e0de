/**
 * The committed objects of an upload store, as the read profile (spec/OBJECTS.md, src/objects/)
 * sees them: the blob store's objects and their descriptions, once the store's recovery at start
 * is done (a description left by a crash is removed before anything is served, FW-OBJ-14).
 */

import type { ObjectPage, ObjectReader, ObjectRecord, UploadBlobStore } from './backends.ts';
import { isUploadId } from './protocol.ts';
import type { CommittedObjectStore } from './store.ts';

export class CommittedObjects implements CommittedObjectStore {
  readonly #blobs: UploadBlobStore;
  readonly #ready: Promise<void>;

  constructor(blobs: UploadBlobStore, ready: Promise<void>) {
    this.#blobs = blobs;
    this.#ready = ready;
  }

  async describeObject(objectId: string): Promise<ObjectRecord | undefined> {
    await this.#ready;
    // Anything not shaped like our ids names nothing, and never reaches a path (FW-UP-50).
    return isUploadId(objectId) ? this.#blobs.describe(objectId) : undefined;
  }

  async openObjectReader(objectId: string): Promise<ObjectReader | undefined> {
    await this.#ready;
    return isUploadId(objectId) ? this.#blobs.openReader(objectId) : undefined;
  }

  async listObjects(owner: string, after: string | undefined, limit: number): Promise<ObjectPage> {
    await this.#ready;
    return this.#blobs.listObjects(owner, after, limit);
  }

  async deleteObject(objectId: string): Promise<boolean> {
    await this.#ready;
    return isUploadId(objectId) ? this.#blobs.deleteObject(objectId) : false;
  }
}
