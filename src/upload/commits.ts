/**
 * The commit of an upload (spec/UPLOAD.md §11.6, FW-UP-24 … FW-UP-26) and the settling of one that
 * was interrupted (FW-UP-51): the transitions receiving ─► committing ─► committed, and back to
 * receiving when the object was not published. Part of the state machine (state-machine.ts), which
 * runs every other transition and waits here (`settled`) while a commit is in progress.
 *
 * `committing` is recorded durably before the object is assembled, so it fences out chunk writers,
 * acquire and abort; if the process dies there, the published object (or its absence) decides the
 * outcome. One process serialises the commits of an upload in memory (a later commit, acquire or
 * abort waits for the one in progress and answers with its outcome, FW-UP-25, FW-UP-28); processes
 * sharing a backend serialise them with the backend's commit lock, without which a process finding
 * an upload `committing` could not tell a commit running elsewhere from one that died.
 */

import { createHash } from 'node:crypto';
import type { CommitLock, StoredUpload, UploadBlobStore, UploadMetaStore, UploadRecord, VersionedUpload } from './backends.ts';
import { objectRecordOf } from './object-record.ts';
import { isUploadId, type CommitRequest, type CommittedObject, type UploadState } from './protocol.ts';
import { contention, isStoreUnavailable, MAX_RACES, notFound, requireUpload } from './records.ts';
import { assertComplete, assertDigest, assertReceiving, assertToken, geometryOf } from './rules.ts';

/** What the commits need of their state machine. */
export interface CommitsHost {
  readonly meta: UploadMetaStore;
  readonly blobs: UploadBlobStore;
  /** Serialises commits across processes. */
  readonly commitLock: CommitLock;
  now(): number;
  /** The upload is finished: release its quota, forget its chunks and delete their data. */
  dropData(id: string): Promise<void>;
}

export class UploadCommits {
  readonly #host: CommitsHost;
  /** Commits in progress in this process, by upload id; they settle (never reject) when the commit ends. */
  readonly #running = new Map<string, Promise<void>>();

  constructor(host: CommitsHost) {
    this.#host = host;
  }

  /** Verified, atomic, idempotent (FW-UP-24 … FW-UP-26); one at a time per upload in this process. */
  async commit(id: string, request: CommitRequest): Promise<CommittedObject> {
    if (!isUploadId(id)) throw notFound(id);
    for (let running = this.#running.get(id); running !== undefined; running = this.#running.get(id)) await running;
    let finish!: () => void;
    this.#running.set(id, new Promise<void>((resolve) => { finish = resolve; }));
    try {
      return await this.#host.commitLock.run(id, () => this.#commit(id, request));
    } finally {
      this.#running.delete(id);
      finish();
    }
  }

  /** The record once no commit of this process is in progress on it, and none is left half-done. */
  settled(id: string): Promise<StoredUpload> {
    return this.settledBy(id, () => requireUpload(this.#host.meta, id));
  }

  /** As `settled`, read by `read` (which throws UPLOAD_NOT_FOUND if there is none): the per-chunk read on a chunk's path. */
  async settledBy<T extends VersionedUpload>(id: string, read: () => Promise<T>): Promise<T> {
    for (let attempt = 0; attempt < MAX_RACES; attempt++) {
      const running = this.#running.get(id);
      if (running !== undefined) {
        await running;
        continue;
      }
      const s = await read();
      if (s.record.state !== 'committing') return s;
      if (!this.#running.has(id)) await this.settleAlone(id, (state) => state === 'committing');
    }
    throw contention(id);
  }

  /** #settle once no commit of any process runs on the upload, on the record as it is then (if `which` still holds). */
  async settleAlone(id: string, which: (state: UploadState) => boolean): Promise<void> {
    const { meta, commitLock } = this.#host;
    await commitLock.run(id, async () => {
      const s = await meta.get(id);
      if (s !== undefined && which(s.record.state)) await this.#settle(s);
    });
  }

  async #commit(id: string, request: CommitRequest): Promise<CommittedObject> {
    const { meta, blobs } = this.#host;
    const s = await this.#enterCommitting(id, request);
    if (s.record.state === 'committed' && s.record.object !== undefined) return s.record.object;
    const geometry = geometryOf(s.record);
    const expected = [s.record.sha256, request.sha256];
    let published = false;
    try {
      // Without a declared digest, each chunk is read back against its own: corruption at rest
      // must not become a silently wrong object (FW-UP-26).
      const digest = await blobs.digest(geometry, expected.every((x) => x === undefined));
      assertDigest(digest.sha256, expected, digest.chunks, s.chunks);
      const object: CommittedObject = { objectId: id, sha256: digest.sha256, size: s.record.size, committedAt: this.#host.now() };
      await blobs.publish(geometry, objectRecordOf(s.record, s.chunks, object));
      published = true;
      for (let attempt = 0; attempt < MAX_RACES; attempt++) {
        if (await this.#recordCommitted(await requireUpload(meta, id), object)) return object;
      }
      throw contention(id);
    } catch (error) {
      // The metadata store is unreachable: no change can be made now (trying would only add its
      // wait to this answer); the record stays committing and the next commit settles it (#settle).
      if (isStoreUnavailable(error)) throw error;
      // Not published: the upload is receiving again, with its chunks and token (FW-UP-26). Published
      // but not recorded: the record stays committing and the object decides (#settle).
      if (!published) await this.#reopen(id).catch(() => undefined);
      throw await this.#ifLost(id, published, error);
    }
  }

  /**
   * The record vanished under the commit (Redis restarted without persistence): the session is
   * lost, and so is what it left. The answer is UPLOAD_NOT_FOUND, as for any lost session, and the
   * storage agrees with it: the chunk data, or the object this commit had just published, is
   * deleted, so the client starts a new upload rather than leave an object no session owns.
   */
  async #ifLost(id: string, published: boolean, error: unknown): Promise<unknown> {
    const { meta, blobs } = this.#host;
    const s = await meta.get(id).catch(() => null);
    if (s !== undefined) return error;
    try {
      if (published) await blobs.deleteObject(id);
      await this.#host.dropData(id);
    } catch {
      // Left for recovery at the next start (chunk data no record owns), or as an object (§11.9).
    }
    return notFound(id);
  }

  /** Checks the commit and records `committing` (or finds the upload committed already). */
  async #enterCommitting(id: string, request: CommitRequest): Promise<StoredUpload> {
    for (let attempt = 0; attempt < MAX_RACES; attempt++) {
      const s = await requireUpload(this.#host.meta, id);
      if (s.record.state === 'committed' && s.record.object !== undefined) return s;
      if (s.record.state === 'committing') {
        // This commit holds the commit lock: a failed or crashed one left it.
        await this.#settle(s);
        continue;
      }
      assertReceiving(s.record, this.#host.now(), 'commit');
      assertToken(s.record, request.token, 'commit');
      assertComplete(s);
      const committing: UploadRecord = { ...s.record, state: 'committing' };
      if (await this.#host.meta.update(id, s.version, committing)) return { ...s, record: committing };
    }
    throw contention(id);
  }

  async #recordCommitted(s: StoredUpload, object: CommittedObject): Promise<boolean> {
    const committed: UploadRecord = { ...s.record, state: 'committed', finishedAt: object.committedAt, object };
    if (!(await this.#host.meta.update(s.record.id, s.version, committed))) return false;
    await this.#host.dropData(s.record.id);
    return true;
  }

  async #reopen(id: string): Promise<void> {
    const meta = this.#host.meta;
    for (let attempt = 0; attempt < MAX_RACES; attempt++) {
      const s = await requireUpload(meta, id);
      if (s.record.state !== 'committing' || (await meta.update(id, s.version, { ...s.record, state: 'receiving' }))) return;
    }
  }

  /**
   * A record that no commit of any process is working on, left `committing` (or, from an earlier
   * layout, `receiving`) with or without its object: the object was verified before it was
   * published, so if it exists the commit happened and only its digest is not on record — read it
   * back; if not, the upload is receiving again (FW-UP-51).
   */
  async #settle(s: StoredUpload): Promise<void> {
    const { meta, blobs } = this.#host;
    const bytes = await blobs.openObject(s.record.id);
    if (bytes === undefined) {
      if (s.record.state === 'committing') await meta.update(s.record.id, s.version, { ...s.record, state: 'receiving' });
      return;
    }
    // Published with its description, which holds the verified digest (publish writes it first).
    const described = await blobs.describe(s.record.id);
    if (described !== undefined) {
      await this.#recordCommitted(s, { objectId: s.record.id, sha256: described.sha256, size: s.record.size, committedAt: described.committedAt });
      return;
    }
    const hash = createHash('sha256');
    for await (const piece of bytes) hash.update(piece);
    await this.#recordCommitted(s, { objectId: s.record.id, sha256: hash.digest('hex'), size: s.record.size, committedAt: this.#host.now() });
  }
}
