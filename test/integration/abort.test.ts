/**
 * Aborting through an AbortSignal, operation by operation, over real loopback TCP: each rejects the
 * way Node's own APIs do (an error named 'AbortError' whose `cause` is the signal's reason), stays
 * a FramewireError with code CANCELLED, and an already-aborted signal rejects at once without
 * touching the network (never a synchronous throw). connect() is covered in handshake.test.ts.
 */

import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventService, subscribe } from '../../src/api/events.ts';
import { download, ObjectService } from '../../src/api/objects.ts';
import { createUpload, putChunk } from '../../src/api/protocol.ts';
import { abortRemoteUpload, listUnfinishedUploads, MemoryUploadStore, upload, UploadService } from '../../src/api/upload.ts';
import { removeTempDirs, tempDir } from '../upload/helpers.ts';
import { expectAbortError, Harness, KiB, settle, waitFor, within } from './helpers.ts';

const h = new Harness();
afterEach(async () => {
  await h.cleanup();
  await removeTempDirs();
});

/** Uploads, objects and a counting event stream, in memory; `connections` counts the TCP connections it was offered. */
async function fullServer(): Promise<{ port: number; store: MemoryUploadStore; connections: () => number }> {
  const store = new MemoryUploadStore();
  const events = new EventService().handle('count', async function* ({ signal }) {
    for (let i = 0; !signal.aborted; i++) {
      yield { type: 'n', data: i };
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
  const { server, port } = await h.server({ services: [new UploadService({ store, sweepIntervalMs: 0 }), new ObjectService({ objects: store.objects }), events] });
  return { port, store, connections: () => server.admissionStats.admitted };
}

/** Calls `start` and checks it returns a promise instead of throwing. */
function call<T>(start: () => Promise<T>): Promise<T> {
  let promise: Promise<T> | undefined;
  expect(() => { promise = start(); }).not.toThrow();
  return promise!;
}

describe('aborting through an AbortSignal rejects the Node way', () => {
  it('upload(): an already-aborted signal rejects at once without connecting; an abort mid-upload rejects with the reason as cause', async () => {
    const s = await fullServer();
    const reason = new Error('user pressed Ctrl-C');
    const early = await within(settle(call(() => upload(new Uint8Array(64 * KiB), { port: s.port, signal: AbortSignal.abort(reason) }))), 2000, 'pre-aborted upload');
    expectAbortError(early.ok ? undefined : early.error, reason);
    expect(s.connections()).toBe(0);

    const controller = new AbortController();
    const later = await settle(upload(new Uint8Array(1024 * KiB), {
      port: s.port,
      chunkSize: 64 * KiB,
      inflight: 1,
      signal: controller.signal,
      onProgress: (p) => { if (p.chunksConfirmed === 2) controller.abort(reason); },
    }));
    expect(expectAbortError(later.ok ? undefined : later.error, reason).message).toBe('upload aborted by the application');
  });

  it('download(): an already-aborted signal rejects at once (no part file); an abort mid-download rejects with the reason as cause', async () => {
    const s = await fullServer();
    const { objectId } = await upload(new Uint8Array(512 * KiB).fill(7), { port: s.port, chunkSize: 64 * KiB });
    const destination = join(await tempDir('fw-abort-'), 'copy.bin');
    const before = s.connections();
    const early = await settle(call(() => download(objectId, destination, { port: s.port, durable: false, signal: AbortSignal.abort('no') })));
    expectAbortError(early.ok ? undefined : early.error, 'no');
    expect(s.connections()).toBe(before);
    await expect(access(`${destination}.fwpart`)).rejects.toMatchObject({ code: 'ENOENT' });

    const controller = new AbortController();
    const reason = new Error('enough');
    const later = await settle(download(objectId, destination, {
      port: s.port,
      durable: false,
      signal: controller.signal,
      onProgress: (p) => { if (p.bytesHeld > 0) controller.abort(reason); },
    }));
    expectAbortError(later.ok ? undefined : later.error, reason);
  });

  it('subscribe(): iterating throws the AbortError and the outcome carries it, for a signal aborted before or during the stream', async () => {
    const s = await fullServer();
    const early = subscribe('count', { port: s.port, signal: AbortSignal.abort('never mind') });
    await expect(early[Symbol.asyncIterator]().next()).rejects.toMatchObject({ name: 'AbortError', code: 'CANCELLED', cause: 'never mind' });
    const earlyEnd = await within(early.outcome, 2000, 'pre-aborted outcome');
    expect(earlyEnd.status).toBe('cancelled');
    if (earlyEnd.status === 'cancelled') expectAbortError(earlyEnd.error, 'never mind');

    const controller = new AbortController();
    const reason = new Error('the user closed the tab');
    const sub = subscribe('count', { port: s.port, signal: controller.signal });
    const seen: number[] = [];
    const iterating = settle((async () => {
      for await (const event of sub) {
        seen.push(event.id);
        if (seen.length === 3) controller.abort(reason);
      }
    })());
    const r = await within(iterating, 5000, 'aborted iteration');
    expectAbortError(r.ok ? undefined : r.error, reason);
    expect(seen).toEqual([1, 2, 3]);
    const end = await sub.outcome;
    expect(end.status === 'cancelled' ? end.error : end).toBe(r.ok ? undefined : r.error);
  });

  it('putChunk(): an already-aborted signal sends nothing; an abort mid-chunk cancels its stream and rejects with the reason as cause', async () => {
    const s = await fullServer();
    const conn = await h.client({ port: s.port });
    const size = 256 * KiB;
    const { uploadId, token } = await createUpload(conn, { size, chunkSize: size, idempotencyKey: 'abort-put-chunk' });
    const header = { index: 0, offset: 0, length: size, sha256: '0'.repeat(64), token: token! };
    const early = await settle(call(() => putChunk(conn, uploadId, header, new Uint8Array(size), AbortSignal.abort('stop'))));
    expectAbortError(early.ok ? undefined : early.error, 'stop');
    expect(conn.session.stats.streamsOpened).toBe(1);

    const controller = new AbortController();
    const reason = new Error('stop now');
    let pieces = 0;
    const later = await settle(putChunk(conn, uploadId, header, new Uint8Array(size), controller.signal, () => {
      if (++pieces === 1) controller.abort(reason);
    }));
    expectAbortError(later.ok ? undefined : later.error, reason);
    expect(conn.isOpen).toBe(true);
  });

  it('listUnfinishedUploads() and abortRemoteUpload(): an already-aborted signal rejects at once without connecting', async () => {
    const s = await fullServer();
    const list = await settle(call(() => listUnfinishedUploads({ port: s.port, signal: AbortSignal.abort('a') })));
    expectAbortError(list.ok ? undefined : list.error, 'a');
    const del = await settle(call(() => abortRemoteUpload('0'.repeat(32), { port: s.port, signal: AbortSignal.abort('b') })));
    expectAbortError(del.ok ? undefined : del.error, 'b');
    await waitFor(() => true, 10, 'a turn of the event loop');
    expect(s.connections()).toBe(0);
  });
});
