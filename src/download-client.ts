/**
 * L5: `download(objectId, destination, { host, port, ... })`, the resuming downloader wired to
 * connect(). Every reconnect is a fresh TCP connection and handshake with the same options; the
 * downloader (L3, src/objects/downloader.ts) decides when to reconnect and what to read.
 */

import { connect, type ConnectOptions } from './client.ts';
import { downloadWith, type DownloadOptions, type DownloadResult } from './objects/index.ts';

/** {@link download}'s options: the downloader's and the connection's (host, port, TLS, auth …). */
export interface DownloadClientOptions extends DownloadOptions, Omit<ConnectOptions, 'signal' | 'onStream' | 'role'> {}

/** Downloads a committed object into `destination`, resuming across failures and verifying its SHA-256 (spec/OBJECTS.md §15.8). */
export async function download(objectId: string, destination: string, options: DownloadClientOptions): Promise<DownloadResult> {
  const { partPath, durable, signal, retry, stallTimeoutMs, onProgress, onRetry, ...connectOptions } = options;
  // A clock drives the downloader's backoff and the connections' timers alike.
  const clock = connectOptions.clock;
  const downloadOptions: DownloadOptions = {
    ...(partPath === undefined ? {} : { partPath }),
    ...(durable === undefined ? {} : { durable }),
    ...(signal === undefined ? {} : { signal }),
    ...(retry === undefined ? {} : { retry }),
    ...(stallTimeoutMs === undefined ? {} : { stallTimeoutMs }),
    ...(clock === undefined ? {} : { clock }),
    ...(onProgress === undefined ? {} : { onProgress }),
    ...(onRetry === undefined ? {} : { onRetry }),
  };
  return await downloadWith((roundSignal) => connect({ ...connectOptions, signal: roundSignal }), objectId, destination, downloadOptions);
}
