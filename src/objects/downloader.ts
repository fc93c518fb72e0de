/**
 * The resuming downloader (spec/OBJECTS.md §15.8): asks for the object's description (size,
 * SHA-256, a digest per unit), keeps what a part file already holds only as far as its units match
 * those digests, reads the rest with `objects.read` from the first byte not held — each message's
 * position checked against what is held — and on any retryable failure reconnects with the shared
 * retry policy and reads on from where it stopped. The whole object's SHA-256, computed over the
 * bytes as they are written, must equal the description's and the read trailer's before the part
 * file is renamed into place.
 *
 * It takes a Connector instead of host and port: this file is L3 and must not know sockets
 * (src/download-client.ts wires it to connect()). When and how often to retry is the shared retry
 * policy's (src/session/retry.ts), on the injected clock; what failed is classifyFailure's.
 */

import { createHash, type Hash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { checkInteger } from '../arguments.ts';
import { AbortError, FramewireError, isFramewireError } from '../errors.ts';
import { classifyFailure, Guard, keepAliveClock, Retrier, resolveRetryPolicy, type ClientConnection, type Clock, type Connector, type RetryPolicy, type Stream } from '../session/index.ts';
import { fsyncDir, PositionedWriter } from '../upload/fs-util.ts';
import { StallWatch } from '../upload/stall-watch.ts';
import { describeObject, openRead } from './ops.ts';
import { DIGEST_BYTES, parseReadTrailer, positionOf, POSITION_BYTES, type ObjectDescription } from './protocol.ts';

const ABORTED_MESSAGE = 'download cancelled by the application; the part file is kept';

/** As the uploader's: 10 failed attempts in a row without a byte received; 50–100 ms doubling to 5 s (FW-OBJ-22). */
export const defaultDownloadRetryPolicy: RetryPolicy = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 5000 };

/** As the uploader's (FW-UP-38): 1.5 × the default heartbeat interval. */
export const DEFAULT_DOWNLOAD_STALL_TIMEOUT_MS = 15_000;
/** Bytes collected before one write to the part file. */
const WRITE_BATCH = 1024 * 1024;
/** The piece in which held units are read back for verification. */
const VERIFY_PIECE = 1024 * 1024;

/** Reported as bytes are written to the part file. */
export interface DownloadProgress {
  readonly objectId: string;
  /** Bytes the part file holds (verified at the start, or written since). */
  readonly bytesHeld: number;
  readonly totalBytes: number;
}

/** {@link downloadWith}'s options. */
export interface DownloadOptions {
  /** Where the bytes collect until verified. Default `<destination>.fwpart`: a rerun with the same destination resumes. */
  readonly partPath?: string;
  /** fsync the file and its directory before and after the rename. Default true. */
  readonly durable?: boolean;
  /**
   * Cancels the read (CANCEL) and keeps the part file (FW-OBJ-23): the download rejects with an
   * `AbortError` (`name` 'AbortError', `cause` the signal's reason, code CANCELLED), at once if the
   * signal was already aborted.
   */
  readonly signal?: AbortSignal;
  /** Overrides of defaultDownloadRetryPolicy. */
  readonly retry?: Partial<RetryPolicy>;
  /**
   * A connection on which nothing arrived for this long while the downloader waited on it is given
   * up with TIMEOUT, and the download resumes on a new one. Default 15 000; 0 disables.
   */
  readonly stallTimeoutMs?: number;
  /** Time for the backoff and the stall timeout; injected by tests. Default: the system clock. */
  readonly clock?: Clock;
  /** Called as bytes are held (verified at the start, or written since). */
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** Called before each wait for a reconnect, with the failure that caused it. */
  readonly onRetry?: (retry: { readonly attempt: number; readonly delayMs: number; readonly error: FramewireError }) => void;
}

/** What a download cost: connections, bytes received and resumed, units that did not verify. */
export interface DownloadStats {
  readonly connections: number;
  readonly reconnects: number;
  /** Bytes of the object received over the network. */
  readonly bytesReceived: number;
  /** Bytes the part file held at the start whose units matched their digests: not read again. */
  readonly bytesResumed: number;
  /** Held units at the start whose bytes did not match their digest (read again, FW-OBJ-21). */
  readonly unitsRejected: number;
  readonly durationMs: number;
}

/** A finished download: the object verified and renamed into `destination`. */
export interface DownloadResult {
  readonly objectId: string;
  readonly destination: string;
  readonly size: number;
  readonly sha256: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly stats: DownloadStats;
}

/** Downloads object `objectId` into `destination` through connections made by `connect`, resuming across failures. */
export async function downloadWith(connect: Connector, objectId: string, destination: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const policy = resolveRetryPolicy(defaultDownloadRetryPolicy, options.retry);
  checkInteger('stallTimeoutMs', options.stallTimeoutMs ?? DEFAULT_DOWNLOAD_STALL_TIMEOUT_MS);
  if (options.signal?.aborted === true) throw new AbortError(ABORTED_MESSAGE, options.signal);
  const part = options.partPath ?? `${destination}.fwpart`;
  const fh = await openPart(part);
  try {
    return await new Downloader(connect, objectId, destination, part, fh, policy, options).run();
  } finally {
    await fh.close().catch(() => undefined);
  }
}

async function openPart(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return open(path, 'w+');
  }
}

class Downloader {
  readonly #connect: Connector;
  readonly #id: string;
  readonly #destination: string;
  readonly #part: string;
  readonly #fh: FileHandle;
  readonly #o: DownloadOptions;
  readonly #retry: Retrier;
  readonly #clock: Clock;
  readonly #started: number;
  /** Bytes [0, held) of the part file are the object's: verified at the start or written by this run. */
  #held = 0;
  /** SHA-256 over [0, held). */
  #hash: Hash = createHash('sha256');
  #description: ObjectDescription | undefined;
  #read: Stream | undefined;
  /** The round in progress, for the guard to end. */
  #currentRound: AbortController | undefined;
  readonly #stats = { connections: 0, reconnects: 0, bytesReceived: 0, bytesResumed: 0, unitsRejected: 0 };

  constructor(connect: Connector, id: string, destination: string, part: string, fh: FileHandle, policy: RetryPolicy, options: DownloadOptions) {
    this.#connect = connect;
    this.#id = id;
    this.#destination = destination;
    this.#part = part;
    this.#fh = fh;
    this.#o = options;
    // Its timers (stall watch, backoff) run behind a guard: an exception there ends the current
    // round like a lost connection, nothing else.
    const guard = new Guard(undefined, () => {
      this.#currentRound?.abort(new FramewireError('INTERNAL', 'internal error in the downloader'));
    });
    this.#clock = guard.clock(options.clock ?? keepAliveClock, 'downloader timer');
    this.#retry = new Retrier(policy, this.#clock);
    this.#started = this.#clock.now();
  }

  async run(): Promise<DownloadResult> {
    const userSignal = this.#o.signal;
    for (;;) {
      const round = new AbortController();
      this.#currentRound = round;
      const onUserAbort = (): void => {
        // CANCEL before the connection goes: the server stops reading at once (FW-OBJ-11, FW-OBJ-23).
        this.#read?.cancel('download cancelled');
        round.abort(userSignal?.reason);
      };
      userSignal?.addEventListener('abort', onUserAbort, { once: true });
      let conn: ClientConnection | undefined;
      const heldBefore = this.#held;
      try {
        userSignal?.throwIfAborted();
        conn = await this.#connect(round.signal);
        this.#stats.connections++;
        return await this.#watched(conn);
      } catch (thrown) {
        const connectionUsable = conn?.isOpen === true;
        round.abort();
        if (userSignal?.aborted === true) throw new AbortError(ABORTED_MESSAGE, userSignal);
        const error = isFramewireError(thrown) ? thrown : undefined;
        if (error === undefined) throw thrown;
        if (classifyFailure(error, connectionUsable) === 'final') throw error;
        // A round that received bytes was cut off, not a failed attempt: resume at once.
        const next = this.#held > heldBefore ? this.#retry.interrupted(error) : this.#retry.failed(error);
        if (!next.retry) throw new FramewireError(error.code, `download gave up after ${next.failures} attempts without progress: ${error.message}`, { cause: error, details: { attempts: next.failures } });
        this.#o.onRetry?.({ attempt: next.failures, delayMs: next.delayMs, error });
        try {
          await this.#retry.wait(next.delayMs, userSignal);
        } catch (error) {
          // Only the application's signal ends the wait early.
          if (userSignal === undefined) throw error;
          throw new AbortError(ABORTED_MESSAGE, userSignal);
        }
        this.#stats.reconnects++;
      } finally {
        userSignal?.removeEventListener('abort', onUserAbort);
        conn?.close();
      }
    }
  }

  /** A round under the stall watch: a connection on which nothing arrives for stallTimeoutMs is closed with TIMEOUT. */
  async #watched(conn: ClientConnection): Promise<DownloadResult> {
    const stallMs = this.#o.stallTimeoutMs ?? DEFAULT_DOWNLOAD_STALL_TIMEOUT_MS;
    const watch = new StallWatch(this.#clock, stallMs, () => {
      // A connection error, so the failure is classified as the connection's (FW-ERR-4).
      conn.close(new FramewireError('TIMEOUT', `nothing arrived on the connection for ${stallMs} ms: it is stalled`));
    });
    try {
      return await this.#round(conn, watch);
    } finally {
      watch.stop();
    }
  }

  /** One connection's worth: describe, (first time) verify what the part file holds, read the rest, finish. */
  async #round(conn: ClientConnection, watch: StallWatch): Promise<DownloadResult> {
    const d = await watch.track(describeObject(conn, this.#id));
    if (this.#description === undefined) {
      this.#description = d;
      await this.#verifyHeld(d);
    } else if (d.sha256 !== this.#description.sha256 || d.size !== this.#description.size) {
      throw new FramewireError('DIGEST_MISMATCH', `object ${this.#id} changed between two connections`);
    }
    if (this.#held < d.size) await watch.track(this.#readRest(conn, d, watch));
    watch.stop();
    return this.#finish(d);
  }

  /**
   * Keeps the longest prefix of whole units whose SHA-256 matches the description's, and cuts the
   * part file there: bytes found on disk are never trusted by their length alone (FW-OBJ-21).
   */
  async #verifyHeld(d: ObjectDescription): Promise<void> {
    const length = (await this.#fh.stat()).size;
    const buffer = Buffer.allocUnsafe(Math.min(VERIFY_PIECE, Math.max(1, d.unitSize)));
    for (let unit = 0; unit < d.unitCount; unit++) {
      const start = unit * d.unitSize;
      const end = Math.min(start + d.unitSize, d.size);
      if (end > length) break;
      const before = this.#hash.copy();
      const unitHash = createHash('sha256');
      for (let at = start; at < end; ) {
        const n = (await this.#fh.read(buffer, 0, Math.min(buffer.length, end - at), at)).bytesRead;
        if (n === 0) break;
        const piece = buffer.subarray(0, n);
        unitHash.update(piece);
        this.#hash.update(piece);
        at += n;
      }
      const expected = Buffer.from(d.unitDigests.subarray(unit * DIGEST_BYTES, (unit + 1) * DIGEST_BYTES));
      if (!unitHash.digest().equals(expected)) {
        this.#hash = before;
        this.#stats.unitsRejected++;
        break;
      }
      this.#held = end;
    }
    this.#stats.bytesResumed = this.#held;
    if (length !== this.#held) await this.#fh.truncate(this.#held);
    this.#progress(d);
  }

  /** Reads [held, size): every message must start exactly where the held bytes end (FW-OBJ-9). */
  async #readRest(conn: ClientConnection, d: ObjectDescription, watch: StallWatch): Promise<void> {
    const offset = this.#held;
    const stream = openRead(conn, this.#id, { offset });
    this.#read = stream;
    const writer = new PositionedWriter(this.#fh, WRITE_BATCH, offset);
    let written = offset;
    try {
      for await (const message of stream) {
        watch.touch();
        const position = positionOf(message);
        const bytes = message.subarray(POSITION_BYTES);
        if (position !== written || written + bytes.length > d.size) {
          throw new FramewireError('PROTOCOL_ERROR', `a read message at position ${position} (${bytes.length} bytes), expected ${written} within ${d.size}`);
        }
        await writer.write(bytes);
        this.#hash.update(bytes);
        written += bytes.length;
        this.#stats.bytesReceived += bytes.length;
        this.#retry.progress();
        // Counted as held once written: flushed below before anything relies on it.
        this.#held = written;
        this.#progress(d);
      }
      await writer.finish();
    } catch (error) {
      if (!stream.ended) stream.cancel('download stopped');
      // What was handed to the writer is on its way to the file; the next round writes after it.
      await writer.finish().catch(async () => {
        await writer.settle();
        throw new FramewireError('INTERNAL', `cannot write the part file ${this.#part}`);
      });
      throw error;
    } finally {
      this.#read = undefined;
    }
    const trailer = parseReadTrailer(stream.trailer);
    if (trailer.sha256 !== d.sha256 || trailer.offset !== offset || trailer.offset + trailer.length !== d.size || written !== d.size) {
      throw new FramewireError('PROTOCOL_ERROR', `the read of ${this.#id} ended at ${written} of ${d.size} bytes, or with another digest than stat's`);
    }
  }

  /** The SHA-256 of the bytes held must be the object's; then the part file becomes the destination, atomically (FW-OBJ-20). */
  async #finish(d: ObjectDescription): Promise<DownloadResult> {
    const sha256 = this.#hash.digest('hex');
    if (sha256 !== d.sha256) {
      await rm(this.#part, { force: true });
      throw new FramewireError('DIGEST_MISMATCH', `the downloaded bytes have SHA-256 ${sha256}, the object ${d.sha256}; the part file was removed`);
    }
    const durable = this.#o.durable ?? true;
    if (durable) await this.#fh.datasync();
    await rename(this.#part, this.#destination);
    if (durable) await fsyncDir(dirname(this.#destination));
    return {
      objectId: this.#id,
      destination: this.#destination,
      size: d.size,
      sha256,
      ...(d.metadata === undefined ? {} : { metadata: d.metadata }),
      stats: { ...this.#stats, durationMs: this.#clock.now() - this.#started },
    };
  }

  #progress(d: ObjectDescription): void {
    this.#o.onProgress?.({ objectId: this.#id, bytesHeld: this.#held, totalBytes: d.size });
  }
}
