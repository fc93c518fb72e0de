/**
 * The server side of the upload profile (spec/UPLOAD.md): a StreamService claiming `upload.*`.
 * It parses each operation's OPEN meta, identifies and authorises the principal, applies the
 * per-connection and per-upload limits, hands the work to the UploadStore and answers with DONE
 * and a trailer, or ERROR with a registered code. It holds no upload state of its own.
 */

import type { Logger } from 'pino';
import { checkIntegers } from '../arguments.ts';
import { FramewireError, isFramewireError } from '../errors.ts';
import { defaultPrincipalId, type PrincipalId, type Session, type Stream, type StreamService } from '../session/index.ts';
import type { ControlMap } from '../wire/index.ts';
import {
  bitmapFrom,
  compact,
  encodeAbortTrailer,
  encodeChunkTrailer,
  encodeCommitTrailer,
  encodeStatusTrailer,
  isUploadId,
  parseChunkMeta,
  parseCommitMeta,
  parseCreateMeta,
  parseStatusMeta,
  UploadKind,
  type UploadStatus,
} from './protocol.ts';
import { encodeListTrailer, parseListMeta, type UploadListEntry } from './listing.ts';
import { MetadataKey } from './metadata.ts';
import type { UploadInfo, UploadStore, UploadSummary } from './store.ts';
import { UploadSweeper } from './sweeper.ts';

/** Limits the upload service enforces per request (spec/UPLOAD.md §11.6). */
export interface UploadLimits {
  /** Chunk streams in flight for one upload, over all connections (FW-UP-35). Default 16. */
  readonly maxChunksInFlightPerUpload: number;
  /** Chunk streams in flight on one connection. Default 32. */
  readonly maxChunksInFlightPerConnection: number;
  /** Distinct uploads with chunk streams in flight on one connection. Default 8. */
  readonly maxUploadsPerConnection: number;
  /** The retry_after_ms hint sent with LIMIT_EXCEEDED. Default 200. */
  readonly retryAfterMs: number;
}

/** The default of every upload service limit. */
export const defaultUploadLimits: UploadLimits = {
  maxChunksInFlightPerUpload: 16,
  maxChunksInFlightPerConnection: 32,
  maxUploadsPerConnection: 8,
  retryAfterMs: 200,
};

/** The operation an `authorize` hook is asked about. */
export type UploadOperation = 'create' | 'status' | 'acquire' | 'chunk' | 'commit' | 'abort' | 'list';

/** What an `authorize` hook learns about a request. */
export interface AuthorizeContext {
  readonly op: UploadOperation;
  /** What the server's authenticate hook returned for this connection. */
  readonly principal: unknown;
  readonly principalId: string;
  /**
   * Absent for create and list. Without its stored chunks: a chunk is authorised on every write,
   * and reading them would make each chunk cost O(chunks); `UploadStore.get` has them.
   */
  readonly upload?: UploadSummary;
}

/** Options of `UploadService`: its store, limits, principal mapping, authorisation hook and sweeper. */
export interface UploadServiceOptions {
  readonly store: UploadStore;
  readonly limits?: Partial<UploadLimits>;
  /**
   * Maps `session.principal` to a stable id; uploads belong to the id that created them (FW-UP-30).
   * Default `defaultPrincipalId`; an undefined id is refused with FORBIDDEN.
   */
  readonly principalId?: PrincipalId;
  /** Extra policy, after the owner check: return false to refuse with FORBIDDEN. */
  readonly authorize?: (ctx: AuthorizeContext) => boolean | Promise<boolean>;
  /** Sweeper interval; 0 disables the built-in sweeper. Default 60 s. */
  readonly sweepIntervalMs?: number;
  /** Logger for the sweeper (per-stream logs use the session's logger). */
  readonly logger?: Logger;
}

interface ConnectionUsage {
  chunks: number;
  readonly uploads: Map<string, number>;
}

/**
 * The server side of resumable uploads (spec/UPLOAD.md): claims the `upload.*` stream kinds, checks
 * requests and ownership, and keeps the data in its store. Add it to `createServer({ services })`.
 */
export class UploadService implements StreamService {
  readonly kinds = ['upload.'] as const;
  readonly store: UploadStore;
  readonly limits: UploadLimits;
  /** @internal The expiry sweeper, when `sweepIntervalMs` is not 0. */
  readonly sweeper: UploadSweeper | undefined;
  readonly #principalId: PrincipalId;
  readonly #authorize: UploadServiceOptions['authorize'];
  readonly #perConnection = new WeakMap<Session, ConnectionUsage>();
  readonly #perUpload = new Map<string, number>();

  constructor(options: UploadServiceOptions) {
    this.store = options.store;
    this.limits = { ...defaultUploadLimits, ...options.limits };
    checkIntegers('upload limit', this.limits);
    this.#principalId = options.principalId ?? defaultPrincipalId;
    this.#authorize = options.authorize;
    const every = options.sweepIntervalMs ?? 60_000;
    this.sweeper = every > 0 ? new UploadSweeper(this.store, every, options.logger) : undefined;
    this.sweeper?.start();
  }

  /** Handles one upload stream (create, status, chunk, commit or abort). */
  handle(stream: Stream, session: Session): Promise<void> {
    const log = session.log.child(compact({ upload: stream.target, kind: stream.kind, stream: stream.id }));
    let work: Promise<void>;
    switch (stream.kind) {
      case UploadKind.create:
        work = this.#control(stream, () => this.#create(stream, session));
        break;
      case UploadKind.status:
        work = this.#control(stream, () => this.#status(stream, session));
        break;
      case UploadKind.commit:
        work = this.#control(stream, () => this.#commit(stream, session));
        break;
      case UploadKind.abort:
        work = this.#control(stream, () => this.#abort(stream, session));
        break;
      case UploadKind.list:
        work = this.#control(stream, () => this.#list(stream, session));
        break;
      case UploadKind.chunk:
        work = this.#chunk(stream, session);
        break;
      default:
        stream.fail('NOT_FOUND', `unknown upload operation "${stream.kind}"`);
        return Promise.resolve();
    }
    return work.catch((error: unknown) => {
      this.#fail(stream, error, log);
    });
  }

  async close(): Promise<void> {
    await this.sweeper?.stop();
  }

  // ---- operations ------------------------------------------------------------------------------

  /** Control operations carry no DATA: wait for the request's DONE, do the work, answer with a trailer. */
  async #control(stream: Stream, work: () => Promise<ControlMap>): Promise<void> {
    for await (const piece of stream.chunks()) {
      if (piece.length > 0) throw new FramewireError('PROTOCOL_ERROR', `${stream.kind} carries no DATA (FW-UP-2)`);
    }
    const trailer = await work();
    await stream.end(trailer);
  }

  async #create(stream: Stream, session: Session): Promise<ControlMap> {
    const request = parseCreateMeta(stream.meta);
    const principalId = this.#identify(session);
    await this.#policy({ op: 'create', principal: session.principal, principalId });
    const { info, created } = await this.store.create(principalId, request);
    // A replayed create is a resume: it takes over with a fresh token (FW-UP-11, FW-UP-20).
    const current = created || info.state !== 'receiving' ? info : await this.store.acquire(info.id);
    session.log.debug({ upload: info.id, created, size: info.size, chunkSize: info.chunkSize }, 'upload create');
    return encodeStatusTrailer({ ...statusOf(current, current.state === 'receiving'), created });
  }

  async #status(stream: Stream, session: Session): Promise<ControlMap> {
    const { acquire } = parseStatusMeta(stream.meta);
    if (!acquire) return encodeStatusTrailer(statusOf(await this.#authorized(stream, session, 'status', (id) => this.store.get(id)), false));
    // Authorised on the record alone: the acquire reads the stored chunks, once (§11.9).
    const info = await this.#authorized(stream, session, 'acquire', (id) => this.store.summary(id));
    /** A committed upload answers with its object (and its chunks), as a status does. */
    const ifCommitted = async (): Promise<ControlMap | undefined> => {
      const now = await this.store.get(info.id);
      return now?.state === 'committed' ? encodeStatusTrailer(statusOf(now, false)) : undefined;
    };
    if (info.state === 'committed') {
      const answer = await ifCommitted();
      if (answer !== undefined) return answer;
    }
    let taken: UploadInfo;
    try {
      taken = await this.store.acquire(info.id);
    } catch (error) {
      // A commit in progress finished while this acquire waited for it: a committed upload answers
      // with its object, as if the acquire had come a moment later (§11.4.2).
      const answer = await ifCommitted();
      if (answer !== undefined) return answer;
      throw error;
    }
    session.log.debug({ upload: info.id, token: taken.token }, 'upload acquired');
    return encodeStatusTrailer(statusOf(taken, true));
  }

  async #commit(stream: Stream, session: Session): Promise<ControlMap> {
    const request = parseCommitMeta(stream.meta);
    const info = await this.#authorized(stream, session, 'commit', (id) => this.store.summary(id));
    const object = await this.store.commit(info.id, request);
    session.log.info({ upload: info.id, size: object.size, sha256: object.sha256 }, 'upload committed');
    return encodeCommitTrailer(object);
  }

  async #abort(stream: Stream, session: Session): Promise<ControlMap> {
    const info = await this.#authorized(stream, session, 'abort', (id) => this.store.summary(id));
    const state = await this.store.abort(info.id);
    session.log.debug({ upload: info.id, state }, 'upload abort');
    if (state === 'committed' || state === 'committing') {
      // The commit won the race: nothing was deleted, and a DONE would read as if it had been (FW-UP-28).
      throw new FramewireError('ALREADY_COMMITTED', `upload ${info.id} was committed before this abort; its object stays`, { details: { state: 'committed' } });
    }
    return encodeAbortTrailer({ state });
  }

  /** The caller's unfinished uploads: only its own, so a listing reveals no other principal's ids (FW-UP-60, FW-UP-30). */
  async #list(stream: Stream, session: Session): Promise<ControlMap> {
    const request = parseListMeta(stream.meta);
    const principalId = this.#identify(session);
    await this.#policy({ op: 'list', principal: session.principal, principalId });
    const page = await this.store.listUnfinished(principalId, request.after, request.limit);
    return encodeListTrailer({ uploads: page.uploads.map(listEntryOf), more: page.more });
  }

  async #chunk(stream: Stream, session: Session): Promise<void> {
    const header = parseChunkMeta(stream.meta);
    const info = await this.#authorized(stream, session, 'chunk', (id) => this.store.summary(id));
    const release = this.#admit(session, info.id);
    try {
      // The store reads the DATA as it writes it: credit returns as fast as the disk takes bytes (FW-UP-36).
      const result = await this.store.writeChunk(info.id, header, stream.chunks(), stream.signal);
      await stream.end(encodeChunkTrailer({ index: header.index, duplicate: result.duplicate, expiresAt: result.expiresAt }));
    } finally {
      release();
    }
  }

  // ---- identity, authorisation, limits ---------------------------------------------------------

  #identify(session: Session): string {
    const id = this.#principalId(session.principal);
    if (id === undefined) throw new FramewireError('FORBIDDEN', 'the connection has no principal id uploads can belong to');
    return id;
  }

  async #policy(ctx: AuthorizeContext): Promise<void> {
    if (this.#authorize !== undefined && !(await this.#authorize(ctx))) throw new FramewireError('FORBIDDEN', `${ctx.op} is not allowed`);
  }

  /**
   * The upload named by the stream's target, if the principal owns it (FW-UP-30), read by `read`:
   * the summary, unless the operation answers with the stored chunks (status).
   */
  async #authorized<T extends UploadSummary>(stream: Stream, session: Session, op: UploadOperation, read: (id: string) => Promise<T | undefined>): Promise<T> {
    const id = stream.target ?? '';
    // Anything not shaped like our ids is unknown; it never reaches the store, let alone a path (FW-UP-50).
    if (!isUploadId(id)) throw new FramewireError('UPLOAD_NOT_FOUND', 'no such upload');
    const principalId = this.#identify(session);
    const info = await read(id);
    // Another principal's upload is answered exactly like one that does not exist: an id is a
    // name, not a capability, and the answer must not even say that it names something (FW-UP-30).
    if (info?.owner !== principalId) throw new FramewireError('UPLOAD_NOT_FOUND', `no upload ${id}`);
    await this.#policy({ op, principal: session.principal, principalId, upload: info });
    return info;
  }

  /** Counts a chunk stream against the limits, or fails with LIMIT_EXCEEDED + retry_after_ms (FW-UP-35). */
  #admit(session: Session, id: string): () => void {
    let usage = this.#perConnection.get(session);
    if (usage === undefined) {
      usage = { chunks: 0, uploads: new Map() };
      this.#perConnection.set(session, usage);
    }
    const l = this.limits;
    const onUpload = this.#perUpload.get(id) ?? 0;
    const here = usage.uploads.get(id) ?? 0;
    const refuse = (what: string): never => {
      throw new FramewireError('LIMIT_EXCEEDED', `${what}; retry after ${l.retryAfterMs} ms`, { retryAfterMs: l.retryAfterMs });
    };
    if (usage.chunks >= l.maxChunksInFlightPerConnection) refuse(`${l.maxChunksInFlightPerConnection} chunks in flight on this connection`);
    if (onUpload >= l.maxChunksInFlightPerUpload) refuse(`${l.maxChunksInFlightPerUpload} chunks in flight for this upload`);
    if (here === 0 && usage.uploads.size >= l.maxUploadsPerConnection) refuse(`${l.maxUploadsPerConnection} uploads in flight on this connection`);
    usage.chunks++;
    usage.uploads.set(id, here + 1);
    this.#perUpload.set(id, onUpload + 1);
    const u = usage;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      u.chunks--;
      const n = (u.uploads.get(id) ?? 1) - 1;
      if (n === 0) u.uploads.delete(id);
      else u.uploads.set(id, n);
      const g = (this.#perUpload.get(id) ?? 1) - 1;
      if (g === 0) this.#perUpload.delete(id);
      else this.#perUpload.set(id, g);
    };
  }

  #fail(stream: Stream, error: unknown, log: Logger): void {
    if (stream.ended) return;
    if (isFramewireError(error)) {
      log.debug({ code: error.code, msg: error.message }, 'upload operation refused');
      stream.fail(error.code, error.message, compact({ retryAfterMs: error.retryAfterMs, details: error.details }));
      return;
    }
    // Internal failures (I/O …) are logged here and reported without paths or internals (FW-SEC-2).
    log.error({ err: error }, 'upload operation failed');
    stream.fail('INTERNAL', 'internal error in the upload store');
  }
}

/** What a status answer and a listing entry both say of an upload, computed in one place. */
function progressOf(info: UploadInfo): Pick<UploadStatus & UploadListEntry, 'uploadId' | 'state' | 'size' | 'chunkSize' | 'chunkCount' | 'expiresAt' | 'storedChunks' | 'storedBytes'> {
  let storedBytes = 0;
  for (const index of info.stored.keys()) storedBytes += Math.min(info.chunkSize, info.size - index * info.chunkSize);
  return {
    uploadId: info.id,
    state: info.state,
    size: info.size,
    chunkSize: info.chunkSize,
    chunkCount: info.chunkCount,
    expiresAt: info.expiresAt,
    storedChunks: info.stored.size,
    storedBytes,
  };
}

function listEntryOf(info: UploadInfo): UploadListEntry {
  return compact({
    ...progressOf(info),
    createdAt: info.createdAt,
    name: info.metadata?.[MetadataKey.name],
    contentType: info.metadata?.[MetadataKey.contentType],
  });
}

function statusOf(info: UploadInfo, withToken: boolean): UploadStatus {
  return compact({
    ...progressOf(info),
    ttlMs: info.ttlMs,
    stored: bitmapFrom(info.chunkCount, info.stored.keys()),
    sha256: info.sha256,
    token: withToken ? info.token : undefined,
    object: info.object,
  });
}
