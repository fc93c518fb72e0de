/**
 * L5: `upload(source, { host, port, ... })`, the resuming uploader wired to connect(). Every
 * reconnect is a fresh TCP connection and handshake with the same options; the uploader (L3,
 * src/upload/uploader.ts) decides when to reconnect and what to send.
 *
 * With a `resumeStore`, a file upload is also resumable across processes, the way tus-js-client
 * does it: the source's fingerprint finds the upload a previous run left unfinished, and the run
 * takes it over and sends only what the server lacks (spec/UPLOAD.md §11.9).
 */

import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { connect, type ConnectOptions } from './client.ts';
import { isFramewireError } from './errors.ts';
import {
  abortUpload as abortOn,
  DEFAULT_CHUNK_SIZE,
  fingerprintOf,
  listUploads,
  uploadWith,
  type ResumeEntry,
  type ResumeStore,
  type UploadListEntry,
  type UploadOptions,
  type UploadResult,
  type UploadSource,
} from './upload/index.ts';

/** Options of `upload()`: the upload options plus where and how to connect, and the resume record. */
export interface UploadClientOptions extends UploadOptions, Omit<ConnectOptions, 'signal' | 'onStream' | 'role'> {
  /** Where unfinished file uploads are recorded for a later run to resume (e.g. `new FileResumeStore()`); absent: no record. */
  readonly resumeStore?: ResumeStore;
  /** Start a new upload even when the record names an unfinished one (which stays on the server until it expires). */
  readonly restart?: boolean;
  /** Called before the upload starts when it resumes one recorded by an earlier run. */
  readonly onResume?: (entry: ResumeEntry) => void;
}

/** The server's answers that mean the recorded upload cannot be resumed: start a new one. */
const GONE = new Set(['UPLOAD_NOT_FOUND', 'EXPIRED', 'ABORTED', 'IDEMPOTENCY_CONFLICT']);

/** Uploads a file path, byte array or Readable to a framewire server, resuming across failures (spec/UPLOAD.md). */
export async function upload(source: UploadSource, options: UploadClientOptions): Promise<UploadResult> {
  const {
    size, chunkSize, inflight, sha256, idempotencyKey, uploadId, metadata, signal, keepOnAbort, retry, stallTimeoutMs, onProgress, onSession, onRetry,
    resumeStore, restart, onResume,
    ...connectOptions
  } = options;
  // A clock drives the uploader's timers and the connections' alike.
  const clock = connectOptions.clock;
  const base: UploadOptions = {
    ...(size === undefined ? {} : { size }),
    ...(chunkSize === undefined ? {} : { chunkSize }),
    ...(inflight === undefined ? {} : { inflight }),
    ...(sha256 === undefined ? {} : { sha256 }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    ...(uploadId === undefined ? {} : { uploadId }),
    ...(metadata === undefined ? {} : { metadata }),
    ...(signal === undefined ? {} : { signal }),
    ...(keepOnAbort === undefined ? {} : { keepOnAbort }),
    ...(retry === undefined ? {} : { retry }),
    ...(stallTimeoutMs === undefined ? {} : { stallTimeoutMs }),
    ...(clock === undefined ? {} : { clock }),
    ...(onProgress === undefined ? {} : { onProgress }),
    ...(onSession === undefined ? {} : { onSession }),
    ...(onRetry === undefined ? {} : { onRetry }),
  };
  const connector = (roundSignal: AbortSignal): ReturnType<typeof connect> => connect({ ...connectOptions, signal: roundSignal });
  if (resumeStore === undefined || typeof source !== 'string' || uploadId !== undefined) return uploadWith(connector, source, base);

  const server = serverName(connectOptions);
  const fileSize = (await stat(source)).size;
  const fingerprint = await fingerprintOf(source, server);
  const recorded = restart === true ? undefined : await resumeStore.find(fingerprint);
  const attempt = async (entry: ResumeEntry | undefined): Promise<UploadResult> => {
    const key = entry?.idempotencyKey ?? idempotencyKey ?? crypto.randomUUID().replaceAll('-', '');
    const result = await uploadWith(connector, source, {
      ...base,
      idempotencyKey: key,
      ...(entry === undefined ? {} : { uploadId: entry.uploadId, chunkSize: entry.chunkSize }),
      onSession: (session) => {
        onSession?.(session);
        // Recorded as soon as the server knows the upload: an interrupted run leaves a record to resume from.
        void resumeStore
          .save(fingerprint, { server, uploadId: session.uploadId, idempotencyKey: key, size: fileSize, chunkSize: entry?.chunkSize ?? chunkSize ?? DEFAULT_CHUNK_SIZE, path: resolve(source), expiresAt: session.expiresAt })
          .catch(() => undefined);
      },
    });
    await resumeStore.remove(fingerprint).catch(() => undefined);
    return result;
  };
  if (recorded === undefined || recorded.server !== server) return attempt(undefined);
  onResume?.(recorded);
  try {
    return await attempt(recorded);
  } catch (error) {
    if (!isFramewireError(error) || !GONE.has(error.code) || signal?.aborted === true) throw error;
    // The server no longer has it (expired, aborted, forgotten): a record is a hint, not a promise.
    await resumeStore.remove(fingerprint).catch(() => undefined);
    return attempt(undefined);
  }
}

/** The server name a resume record is filed under. */
function serverName(o: Omit<ConnectOptions, 'signal' | 'onStream' | 'role'>): string {
  if (o.url !== undefined) return o.url;
  return `${o.quic === undefined ? '' : 'quic://'}${o.host ?? '127.0.0.1'}:${String(o.port)}`;
}

/** Most pages read when listing; with 64 entries a page, well beyond the per-principal bound of unfinished uploads. */
const MAX_LIST_PAGES = 256;

/** The caller's unfinished uploads on a server: progress, expiry, name (FW-UP-60). */
export async function listUnfinishedUploads(options: Omit<ConnectOptions, 'onStream' | 'role'>): Promise<UploadListEntry[]> {
  const conn = await connect(options);
  try {
    const out: UploadListEntry[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const answer = await listUploads(conn, after === undefined ? {} : { after });
      out.push(...answer.uploads);
      const last = answer.uploads.at(-1);
      if (!answer.more || last === undefined) break;
      after = last.uploadId;
    }
    return out;
  } finally {
    conn.close();
  }
}

/** Deletes one of the caller's uploads and its data (FW-UP-27); answers its final state. */
export async function abortRemoteUpload(uploadId: string, options: Omit<ConnectOptions, 'onStream' | 'role'>): Promise<string> {
  const conn = await connect(options);
  try {
    return (await abortOn(conn, uploadId)).state;
  } finally {
    conn.close();
  }
}
