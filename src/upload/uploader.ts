/**
 * The resuming uploader (spec/UPLOAD.md §11.9): creates the upload (with an idempotency key, so a
 * create whose answer was lost is replayed safely), sends the missing chunks with N in flight,
 * and on any retryable failure reconnects with backoff, takes the upload over (a new fencing
 * token), asks which chunks are stored and sends only the rest; then commits with the SHA-256 it
 * computed while reading the source in order. Progress is reported per confirmed chunk.
 *
 * It takes a Connector instead of host and port: this file is L3 and must not know sockets
 * (src/upload-client.ts wires it to connect()). When and how often to retry is the shared retry
 * policy's (src/session/retry.ts), on the injected clock.
 */

import { createHash, randomBytes, type Hash } from 'node:crypto';
import { checkInteger } from '../arguments.ts';
import { AbortError, FramewireError, invalidArgument, isFramewireError } from '../errors.ts';
import { classifyFailure, Guard, keepAliveClock, Retrier, resolveRetryPolicy, wait, type ClientConnection, type Clock, type Connector, type RetryPolicy } from '../session/index.ts';
import { abortUpload, commitUpload, createUpload, getUploadStatus, putChunk } from './ops.ts';
import { bitmapHas, chunkCountOf, chunkLengthOf, isUploadId, SHA256_HEX_PATTERN, type UploadStatus } from './protocol.ts';
import { openSource, type ChunkSource, type UploadSource } from './source.ts';
import { StallWatch } from './stall-watch.ts';

/**
 * Failed attempts in a row without a newly confirmed chunk before giving up: 10; the first retry
 * after 50–100 ms, doubling to 5 s (FW-UP-33). A round that fails counts as a failed attempt even
 * when it confirmed chunks first.
 */
export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 5000 };

/** Progress of an upload, counted in what the server acknowledged as stored. */
export interface UploadProgress {
  readonly uploadId: string;
  readonly bytesConfirmed: number;
  readonly chunksConfirmed: number;
  readonly totalBytes: number;
  readonly totalChunks: number;
}

/** Options of an upload, with or without `upload()`'s connection options. */
export interface UploadOptions {
  /** Required for stream sources; checked against files and byte arrays. */
  readonly size?: number;
  /** Default 4 MiB. The client holds up to `inflight` chunks in memory. */
  readonly chunkSize?: number;
  /** Chunk streams in flight at once. Default 4. */
  readonly inflight?: number;
  /** The object's SHA-256 (hex), if known: declared at create and checked by the server at commit. */
  readonly sha256?: string;
  /** Identifies this upload across retried creates; default: random per upload() call. Reuse it to resume from another process. */
  readonly idempotencyKey?: string;
  /** Resume a known upload instead of creating one. */
  readonly uploadId?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /**
   * Aborts the upload: it rejects with an `AbortError` (`name` 'AbortError', `cause` the signal's
   * reason, code CANCELLED), at once if the signal was already aborted, after deleting the upload
   * on the server unless `keepOnAbort`.
   */
  readonly signal?: AbortSignal;
  /** On abort through `signal`, leave the upload on the server (resumable until its TTL) instead of deleting it. */
  readonly keepOnAbort?: boolean;
  /** Overrides of defaultRetryPolicy. */
  readonly retry?: Partial<RetryPolicy>;
  /**
   * A connection on which the upload made no progress (no chunk bytes taken, no answer) for this
   * long while the uploader waited on it is given up with TIMEOUT, and the upload resumes on a new
   * one (FW-UP-38). Commit is exempt: assembling a large object takes its time. Default 15 000
   * (1.5 × the default heartbeat interval); 0 disables.
   */
  readonly stallTimeoutMs?: number;
  /** Time for the stall timeout and the backoff; injected by tests. Default: the system clock. */
  readonly clock?: Clock;
  /** Called each time the server acknowledges a chunk. */
  readonly onProgress?: (progress: UploadProgress) => void;
  /** Each time a session is created or taken over: its id, expiry and TTL as the server told them. */
  readonly onSession?: (session: { readonly uploadId: string; readonly expiresAt: number; readonly ttlMs: number; readonly token: number }) => void;
  /** Called before each retry, with the error that caused it and the delay. */
  readonly onRetry?: (retry: { readonly attempt: number; readonly delayMs: number; readonly error: FramewireError }) => void;
}

/** What an upload cost: connections, chunks and bytes sent and re-sent, time. */
export interface UploadStats {
  readonly connections: number;
  readonly reconnects: number;
  readonly chunksSent: number;
  readonly bytesSent: number;
  /** Chunks sent again after a failed attempt (at most one per chunk in flight per failure). */
  readonly chunksResent: number;
  readonly bytesResent: number;
  readonly durationMs: number;
}

/** A committed upload: its ids, digest and size, and what it cost. */
export interface UploadResult {
  readonly uploadId: string;
  readonly objectId: string;
  readonly sha256: string;
  readonly size: number;
  readonly committedAt: number;
  readonly stats: UploadStats;
}

/** Default chunk size: 4 MiB. */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
export const DEFAULT_STALL_TIMEOUT_MS = 15_000;
/** Default number of chunks in flight: 4. */
export const DEFAULT_INFLIGHT = 4;
const MAX_LIMIT_RETRIES = 100;
/** The wait before re-sending a chunk refused with LIMIT_EXCEEDED that carried no retry_after_ms. */
const LIMIT_RETRY_FALLBACK_MS = 100;
/** How long the best-effort delete of an aborted upload may take. */
const ABORT_REMOTE_TIMEOUT_MS = 5000;
const MAX_CHECKSUM_RETRIES = 3;
const ABORTED_MESSAGE = 'upload aborted by the application';

/** Uploads `source` through connections made by `connect`, resuming across failures. */
export async function uploadWith(connect: Connector, source: UploadSource, options: UploadOptions = {}): Promise<UploadResult> {
  const chunkSize = checkInteger('chunkSize', options.chunkSize ?? DEFAULT_CHUNK_SIZE, 1);
  const inflight = checkInteger('inflight', options.inflight ?? DEFAULT_INFLIGHT, 1);
  if (options.sha256 !== undefined && !SHA256_HEX_PATTERN.test(options.sha256)) throw invalidArgument('sha256 must be 64 lowercase hex digits');
  if (options.uploadId !== undefined && !isUploadId(options.uploadId)) throw invalidArgument('uploadId is not an upload id');
  checkInteger('stallTimeoutMs', options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS);
  const policy = resolveRetryPolicy(defaultRetryPolicy, options.retry);
  if (options.signal?.aborted === true) throw new AbortError(ABORTED_MESSAGE, options.signal);
  const src = await openSource(source, options.size);
  try {
    return await new Uploader(connect, src, { chunkSize, inflight, policy }, options).run();
  } finally {
    await src.close();
  }
}

class Uploader {
  readonly #connect: Connector;
  readonly #src: ChunkSource;
  readonly #o: UploadOptions;
  readonly #chunkSize: number;
  readonly #inflight: number;
  readonly #count: number;
  readonly #retry: Retrier;
  readonly #clock: Clock;
  readonly #key: string;
  readonly #started: number;

  #uploadId: string | undefined;
  #token = 0;
  readonly #confirmed: Uint8Array;
  readonly #everSent: Uint8Array;
  readonly #sha = new Map<number, string>();
  #bytesConfirmed = 0;
  #chunksConfirmed = 0;
  /** Whole-object hash over the source read in order; undefined when the caller gave the digest. */
  readonly #hash: Hash | undefined;
  #nextInOrder = 0;
  /** Chunks of a sequential source read but not yet acknowledged: kept for re-sending. */
  readonly #held = new Map<number, Uint8Array>();
  /** Whether the connection was still usable when the first chunk of a round failed (before the round's abort closed it). */
  #usableAtFailure: boolean | undefined;
  /** The round in progress, for the guard to end. */
  #currentRound: AbortController | undefined;
  readonly #stats = { connections: 0, reconnects: 0, chunksSent: 0, bytesSent: 0, chunksResent: 0, bytesResent: 0 };

  constructor(connect: Connector, src: ChunkSource, geometry: { chunkSize: number; inflight: number; policy: RetryPolicy }, options: UploadOptions) {
    this.#connect = connect;
    this.#src = src;
    this.#o = options;
    this.#chunkSize = geometry.chunkSize;
    this.#inflight = geometry.inflight;
    this.#count = chunkCountOf(src.size, geometry.chunkSize);
    // Its timers (stall watch, backoff) run behind a guard: an exception (in our code, or in the
    // injected connection's close()) ends the current round like a lost connection, nothing else.
    const guard = new Guard(undefined, () => {
      this.#currentRound?.abort(new FramewireError('INTERNAL', 'internal error in the uploader'));
    });
    this.#clock = guard.clock(options.clock ?? keepAliveClock, 'uploader timer');
    this.#retry = new Retrier(geometry.policy, this.#clock);
    this.#started = this.#clock.now();
    this.#key = options.idempotencyKey ?? randomBytes(16).toString('hex');
    this.#uploadId = options.uploadId;
    this.#confirmed = new Uint8Array(this.#count);
    this.#everSent = new Uint8Array(this.#count);
    this.#hash = options.sha256 === undefined ? createHash('sha256') : undefined;
  }

  async run(): Promise<UploadResult> {
    const userSignal = this.#o.signal;
    for (;;) {
      const round = new AbortController();
      this.#currentRound = round;
      const onUserAbort = (): void => {
        round.abort(userSignal?.reason);
      };
      userSignal?.addEventListener('abort', onUserAbort, { once: true });
      let conn: ClientConnection | undefined;
      try {
        userSignal?.throwIfAborted();
        conn = await this.#connect(round.signal);
        this.#retry.connected();
        this.#stats.connections++;
        return await this.#round(conn, round);
      } catch (thrown) {
        // Did the connection fail, or the operation? Read before aborting the round, which closes
        // the connection (the round's signal is the connect signal).
        const connectionUsable = this.#usableAtFailure ?? conn?.isOpen === true;
        this.#usableAtFailure = undefined;
        round.abort();
        if (userSignal?.aborted === true) throw await this.#cancelled(userSignal);
        const error = asFramewireError(thrown);
        if (error === undefined) throw thrown;
        if (!resumable(error, connectionUsable)) {
          // A wrong object must not linger: delete what was uploaded (other failures leave it resumable).
          if (error.code === 'DIGEST_MISMATCH') await this.#abortRemote();
          throw error;
        }
        const next = this.#retry.failed(error);
        // The first connection could not be made (FW-ERR-6): the error says why, not "gave up".
        if (!next.retry && next.bound === 'setup') throw error;
        if (!next.retry) {
          throw new FramewireError(error.code, `upload gave up after ${next.failures} attempts without progress: ${error.message}`, { cause: error, details: { attempts: next.failures } });
        }
        this.#o.onRetry?.({ attempt: next.failures, delayMs: next.delayMs, error });
        try {
          await this.#retry.wait(next.delayMs, userSignal);
        } catch (error) {
          // Only the application's signal ends the wait early.
          if (userSignal === undefined) throw error;
          throw await this.#cancelled(userSignal);
        }
        this.#stats.reconnects++;
      } finally {
        userSignal?.removeEventListener('abort', onUserAbort);
        conn?.close();
      }
    }
  }

  /** The application aborted: delete the upload unless asked to keep it, and say so the Node way. */
  async #cancelled(signal: AbortSignal): Promise<AbortError> {
    if (this.#o.keepOnAbort !== true) await this.#abortRemote();
    return new AbortError(ABORTED_MESSAGE, signal);
  }

  /** One connection's worth: create or take over, send what is missing, commit. */
  async #round(conn: ClientConnection, round: AbortController): Promise<UploadResult> {
    const stallMs = this.#o.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    const watch = new StallWatch(this.#clock, stallMs, () => {
      // A connection error, so the failure is classified as the connection's (FW-ERR-4).
      conn.close(new FramewireError('TIMEOUT', `no progress on the connection for ${stallMs} ms: it is stalled`));
    });
    try {
      return await this.#roundOn(conn, round, watch);
    } finally {
      watch.stop();
    }
  }

  async #roundOn(conn: ClientConnection, round: AbortController, watch: StallWatch): Promise<UploadResult> {
    const status = await watch.track(
      this.#uploadId === undefined
        ? createUpload(conn, {
            size: this.#src.size,
            chunkSize: this.#chunkSize,
            idempotencyKey: this.#key,
            ...(this.#o.sha256 === undefined ? {} : { sha256: this.#o.sha256 }),
            ...(this.#o.metadata === undefined ? {} : { metadata: this.#o.metadata }),
          })
        : getUploadStatus(conn, this.#uploadId, { acquire: true }),
    );
    this.#adopt(status);
    const id = status.uploadId;
    if (status.state === 'committed' && status.object !== undefined) return this.#result(id, status.object);
    if (status.token === undefined) throw new FramewireError('PROTOCOL_ERROR', 'the server granted no fencing token');
    this.#token = status.token;
    this.#o.onSession?.({ uploadId: id, expiresAt: status.expiresAt, ttlMs: status.ttlMs, token: status.token });
    await this.#sendMissing(conn, id, round, watch);
    // Commit is exempt: assembling and hashing a large object legitimately takes long.
    watch.stop();
    const digest = await this.#digest();
    const object = await commitUpload(conn, id, { token: this.#token, ...(digest === undefined ? {} : { sha256: digest }) });
    if (digest !== undefined && object.sha256 !== digest) {
      throw new FramewireError('DIGEST_MISMATCH', `the server committed SHA-256 ${object.sha256}, the source has ${digest}`);
    }
    return this.#result(id, object);
  }

  #adopt(status: UploadStatus): void {
    if (status.size !== this.#src.size || status.chunkSize !== this.#chunkSize) {
      throw new FramewireError('IDEMPOTENCY_CONFLICT', `upload ${status.uploadId} has size ${status.size} / chunk size ${status.chunkSize}, not ${this.#src.size} / ${this.#chunkSize}`);
    }
    switch (status.state) {
      case 'receiving':
      case 'committed':
        break;
      case 'committing':
        throw new FramewireError('TIMEOUT', 'another commit of this upload is in progress', { retryable: true });
      case 'aborted':
        throw new FramewireError('ABORTED', `upload ${status.uploadId} was aborted`);
      case 'expired':
        throw new FramewireError('EXPIRED', `upload ${status.uploadId} expired`);
    }
    this.#uploadId = status.uploadId;
    // The server's word on what is stored replaces ours (a store may have lost a chunk).
    for (let i = 0; i < this.#count; i++) {
      const stored = bitmapHas(status.stored, i);
      if (stored && this.#confirmed[i] === 0) this.#confirm(i, false);
      else if (!stored && this.#confirmed[i] === 1 && status.state === 'receiving') {
        this.#confirmed[i] = 0;
        this.#chunksConfirmed--;
        this.#bytesConfirmed -= this.#length(i);
      }
    }
    this.#progress();
  }

  /** Sends every unconfirmed chunk, `inflight` at a time; the first failure stops the round. */
  async #sendMissing(conn: ClientConnection, id: string, round: AbortController, watch: StallWatch): Promise<void> {
    const missing: number[] = [];
    for (let i = 0; i < this.#count; i++) if (this.#confirmed[i] === 0) missing.push(i);
    let cursor = 0;
    // Reads are chained so the source is read (and hashed) in index order whatever the workers do.
    let reads: Promise<unknown> = Promise.resolve();
    let first: Error | undefined;
    const stopped = (): boolean => round.signal.aborted;
    const worker = async (): Promise<void> => {
      for (;;) {
        if (round.signal.aborted) return;
        const index = missing[cursor++];
        if (index === undefined) return;
        const data = reads.then(() => this.#read(index));
        reads = data.catch(() => undefined);
        try {
          await this.#send(conn, id, index, await data, round.signal, watch);
        } catch (error) {
          if (first === undefined && !stopped()) {
            first = error instanceof Error ? error : new Error(String(error));
            this.#usableAtFailure = conn.isOpen;
          }
          // Stop the others now: their streams are cancelled and the round ends.
          round.abort();
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#inflight, missing.length) }, worker));
    if (first !== undefined) throw first;
    round.signal.throwIfAborted();
  }

  async #send(conn: ClientConnection, id: string, index: number, data: Uint8Array, signal: AbortSignal, watch: StallWatch): Promise<void> {
    let sha = this.#sha.get(index);
    if (sha === undefined) {
      sha = createHash('sha256').update(data).digest('hex');
      this.#sha.set(index, sha);
    }
    const header = { index, offset: index * this.#chunkSize, length: data.length, sha256: sha, token: this.#token };
    let limitRetries = 0;
    let checksumRetries = 0;
    for (;;) {
      signal.throwIfAborted();
      this.#stats.chunksSent++;
      this.#stats.bytesSent += data.length;
      if (this.#everSent[index] === 1) {
        this.#stats.chunksResent++;
        this.#stats.bytesResent += data.length;
      }
      try {
        await watch.track(putChunk(conn, id, header, data, signal, () => { watch.touch(); }));
        this.#everSent[index] = 1;
        this.#confirm(index, true);
        return;
      } catch (thrown) {
        const error = asFramewireError(thrown);
        if (error?.code === 'LIMIT_EXCEEDED' && limitRetries++ < MAX_LIMIT_RETRIES) {
          // Refused before it was processed: not a re-send, just a wait (FW-UP-35).
          this.#stats.chunksSent--;
          this.#stats.bytesSent -= data.length;
          if (this.#everSent[index] === 1) {
            this.#stats.chunksResent--;
            this.#stats.bytesResent -= data.length;
          }
          await wait(this.#clock, error.retryAfterMs ?? LIMIT_RETRY_FALLBACK_MS, signal);
          continue;
        }
        this.#everSent[index] = 1;
        // Corrupted on the way (FW-UP-17): send it again at once, a few times.
        if (error?.code === 'CHUNK_CHECKSUM' && checksumRetries++ < MAX_CHECKSUM_RETRIES) continue;
        throw thrown;
      }
    }
  }

  /** The bytes of chunk `index`; reading the source in order (and hashing it) where needed. */
  async #read(index: number): Promise<Uint8Array> {
    const inOrder = this.#hash !== undefined || !this.#src.seekable;
    if (inOrder) {
      // Chunks before `index` that are skipped because they are stored: read for the hash (and to advance a stream).
      while (this.#nextInOrder < index) await this.#readNextInOrder();
      if (this.#nextInOrder === index) return this.#readNextInOrder();
      const held = this.#held.get(index);
      if (held !== undefined) return held;
      if (!this.#src.seekable) throw new FramewireError('INTERNAL', `chunk ${index} must be re-sent, but the stream source cannot be read again`);
    }
    return this.#src.read(index * this.#chunkSize, this.#length(index));
  }

  async #readNextInOrder(): Promise<Uint8Array> {
    const i = this.#nextInOrder;
    const data = await this.#src.read(i * this.#chunkSize, this.#length(i));
    this.#hash?.update(data);
    this.#nextInOrder++;
    if (!this.#src.seekable && this.#confirmed[i] === 0) this.#held.set(i, data);
    return data;
  }

  /** The whole object's SHA-256, reading whatever part of the source was skipped; undefined when the caller declared it. */
  async #digest(): Promise<string | undefined> {
    if (this.#hash === undefined) return this.#o.sha256;
    while (this.#nextInOrder < this.#count) await this.#readNextInOrder();
    return this.#hash.copy().digest('hex');
  }

  #length(index: number): number {
    return chunkLengthOf(this.#src.size, this.#chunkSize, index);
  }

  #confirm(index: number, report: boolean): void {
    if (this.#confirmed[index] === 1) return;
    this.#confirmed[index] = 1;
    this.#chunksConfirmed++;
    this.#bytesConfirmed += this.#length(index);
    this.#held.delete(index);
    // Progress: the retry budget counts failures in a row, not over the whole upload.
    this.#retry.progress();
    if (report) this.#progress();
  }

  #progress(): void {
    if (this.#uploadId === undefined) return;
    this.#o.onProgress?.({
      uploadId: this.#uploadId,
      bytesConfirmed: this.#bytesConfirmed,
      chunksConfirmed: this.#chunksConfirmed,
      totalBytes: this.#src.size,
      totalChunks: this.#count,
    });
  }

  #result(uploadId: string, object: { objectId: string; sha256: string; size: number; committedAt: number }): UploadResult {
    return { uploadId, ...object, stats: { ...this.#stats, durationMs: this.#clock.now() - this.#started } };
  }

  /** Best effort: delete the upload on the server over a fresh connection, bounded in time. */
  async #abortRemote(): Promise<void> {
    const id = this.#uploadId;
    if (id === undefined) return;
    const deadline = new AbortController();
    const timer = this.#clock.setTimeout(() => {
      deadline.abort(new FramewireError('TIMEOUT', `the upload's delete took over ${ABORT_REMOTE_TIMEOUT_MS} ms`));
    }, ABORT_REMOTE_TIMEOUT_MS);
    let conn: ClientConnection | undefined;
    try {
      conn = await this.#connect(deadline.signal);
      await abortUpload(conn, id);
    } catch {
      // The TTL sweeper deletes it in the end (FW-UP-43).
    } finally {
      timer.cancel();
      conn?.close();
    }
  }
}

function asFramewireError(error: unknown): FramewireError | undefined {
  return isFramewireError(error) ? error : undefined;
}

/** Which failures the uploader resumes from on a new connection (FW-UP-33, FW-ERR-4). */
function resumable(error: FramewireError, connectionUsable: boolean): boolean {
  const kind = classifyFailure(error, connectionUsable);
  // Whatever its code (FRAME_SIZE after a flipped bit, PROTOCOL_ERROR, TRUNCATED …), a failed
  // connection says nothing about the upload.
  if (kind === 'connection') return true;
  // Fenced: another writer took the upload over. Taking it back would make two writers duel.
  if (error.code === 'LEASE_CONFLICT') return false;
  // The server lost track of a chunk, or a stream was cancelled under us: re-sync and go on.
  if (error.code === 'INCOMPLETE' || error.code === 'CANCELLED') return true;
  return kind !== 'final';
}
