/**
 * The client side of each upload operation, one stream each (spec/UPLOAD.md §11.3): open with
 * the operation's kind, target and meta, send the request (nothing, or the chunk's bytes), end
 * with DONE, and read the answer from the server's DONE trailer — or throw the coded error it sent.
 * The resuming uploader is built from these; tests use them to misbehave on purpose. Any
 * ClientConnection carries them (a framewire Connection or Session).
 */

import { abortedBy, FramewireError } from '../errors.ts';
import type { ClientConnection, Stream } from '../session/index.ts';
import type { ControlMap } from '../wire/index.ts';
import {
  encodeChunkMeta,
  encodeCommitMeta,
  encodeCreateMeta,
  encodeStatusMeta,
  parseAbortTrailer,
  parseChunkTrailer,
  parseCommitTrailer,
  parseStatusTrailer,
  UploadKind,
  type AbortAck,
  type ChunkAck,
  type ChunkHeader,
  type CommitRequest,
  type CommittedObject,
  type CreateRequest,
  type UploadStatus,
} from './protocol.ts';
import { encodeListMeta, MAX_LIST_LIMIT, parseListTrailer, type ListRequest, type UploadListPage } from './listing.ts';

/** Control operations jump ahead of chunk data (FW-SCHED-3): a status query is not stuck behind megabytes. */
export const CONTROL_URGENCY = 1;
export const CHUNK_URGENCY = 4;
/** A chunk is written as messages of at most this size (message boundaries carry no meaning, FW-UP-13). */
export const CHUNK_PIECE = 256 * 1024;

/** Sends (optionally), ends our side and waits for the stream's outcome: the server's trailer, or its error. Shared with the objects client. */
export async function exchange(stream: Stream, send?: () => Promise<void>): Promise<ControlMap | undefined> {
  try {
    if (send !== undefined) await send();
    await stream.end();
  } catch {
    // The stream failed while we were sending: its outcome says why.
  }
  const outcome = await stream.outcome;
  if (outcome.status === 'completed') return outcome.trailer;
  throw outcome.error;
}

/** Parses a server's answer; a malformed one is the server's PROTOCOL_ERROR. */
export function parse<T>(kind: string, trailer: ControlMap | undefined, parser: (t: ControlMap | undefined) => T): T {
  try {
    return parser(trailer);
  } catch (error) {
    throw new FramewireError('PROTOCOL_ERROR', `the server's answer to ${kind} is malformed: ${(error as Error).message}`, { cause: error });
  }
}

/** Creates an upload (one `upload.create` stream) and resolves with its status. */
export async function createUpload(conn: ClientConnection, request: CreateRequest): Promise<UploadStatus> {
  const stream = conn.open({ kind: UploadKind.create, meta: encodeCreateMeta(request), urgency: CONTROL_URGENCY });
  return parse(UploadKind.create, await exchange(stream), parseStatusTrailer);
}

/**
 * Reads an upload's status; with `acquire`, takes a new fencing token first (the way a resuming writer
 * starts).
 */
export async function getUploadStatus(conn: ClientConnection, uploadId: string, options: { acquire?: boolean } = {}): Promise<UploadStatus> {
  const stream = conn.open({ kind: UploadKind.status, target: uploadId, meta: encodeStatusMeta({ acquire: options.acquire ?? false }), urgency: CONTROL_URGENCY });
  return parse(UploadKind.status, await exchange(stream), parseStatusTrailer);
}

/**
 * Sends one chunk; resolves when the server acknowledged it as durably stored (FW-UP-14).
 * `onProgress` is called each time a piece was taken (the server's credit made room for it).
 * `signal` cancels the chunk's stream: the promise rejects with an `AbortError` whose `cause` is
 * the signal's reason (at once, sending nothing, if it was already aborted).
 */
export async function putChunk(conn: ClientConnection, uploadId: string, header: ChunkHeader, data: Uint8Array, signal?: AbortSignal, onProgress?: () => void): Promise<ChunkAck> {
  const early = abortedBy(signal, 'chunk upload aborted');
  if (early !== undefined) throw early;
  const stream = conn.open({ kind: UploadKind.chunk, target: uploadId, meta: encodeChunkMeta(header), urgency: CHUNK_URGENCY });
  const onAbort = (): void => {
    stream.cancel('upload aborted');
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const trailer = await exchange(stream, async () => {
      for (let at = 0; at < data.length; at += CHUNK_PIECE) {
        // Resolves when the stream's send buffer has room: paced by the server's credit.
        await stream.write(data.subarray(at, Math.min(at + CHUNK_PIECE, data.length)));
        onProgress?.();
      }
    });
    const ack = parse(UploadKind.chunk, trailer, parseChunkTrailer);
    if (ack.index !== header.index) throw new FramewireError('PROTOCOL_ERROR', `acknowledged chunk ${ack.index}, sent ${header.index}`);
    return ack;
  } catch (error) {
    // The stream was cancelled because of the signal: say so the Node way.
    throw abortedBy(signal, 'chunk upload aborted') ?? error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Commits a complete upload; resolves with the committed object (idempotent). */
export async function commitUpload(conn: ClientConnection, uploadId: string, request: CommitRequest): Promise<CommittedObject> {
  const stream = conn.open({ kind: UploadKind.commit, target: uploadId, meta: encodeCommitMeta(request), urgency: CONTROL_URGENCY });
  return parse(UploadKind.commit, await exchange(stream), parseCommitTrailer);
}

/** Aborts an upload: the server deletes its data. */
export async function abortUpload(conn: ClientConnection, uploadId: string): Promise<AbortAck> {
  const stream = conn.open({ kind: UploadKind.abort, target: uploadId, urgency: CONTROL_URGENCY });
  return parse(UploadKind.abort, await exchange(stream), parseAbortTrailer);
}

/** One page of the caller's unfinished uploads (FW-UP-60). */
export async function listUploads(conn: ClientConnection, request: Partial<ListRequest> = {}): Promise<UploadListPage> {
  const stream = conn.open({ kind: UploadKind.list, meta: encodeListMeta({ limit: request.limit ?? MAX_LIST_LIMIT, ...(request.after === undefined ? {} : { after: request.after }) }), urgency: CONTROL_URGENCY });
  return parse(UploadKind.list, await exchange(stream), parseListTrailer);
}
