/**
 * L5: `upload(source, { host, port, ... })`, the resuming uploader wired to connect(). Every
 * reconnect is a fresh TCP connection and handshake with the same options; the uploader (L3,
 * src/upload/uploader.ts) decides when to reconnect and what to send.
 */

import { connect, type ConnectOptions } from './client.ts';
import { uploadWith, type UploadOptions, type UploadResult, type UploadSource } from './upload/index.ts';

/** Options of `upload()`: the upload options plus where and how to connect. */
export interface UploadClientOptions extends UploadOptions, Omit<ConnectOptions, 'signal' | 'onStream' | 'role'> {}

/** Uploads a file path, byte array or Readable to a framewire server, resuming across failures (spec/UPLOAD.md). */
export async function upload(source: UploadSource, options: UploadClientOptions): Promise<UploadResult> {
  const {
    size, chunkSize, inflight, sha256, idempotencyKey, uploadId, metadata, signal, keepOnAbort, retry, stallTimeoutMs, onProgress, onSession, onRetry,
    ...connectOptions
  } = options;
  // A clock drives the uploader's timers and the connections' alike.
  const clock = connectOptions.clock;
  const uploadOptions: UploadOptions = {
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
  return await uploadWith((roundSignal) => connect({ ...connectOptions, signal: roundSignal }), source, uploadOptions);
}
