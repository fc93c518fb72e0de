/**
 * The resuming downloader (spec/OBJECTS.md §15.8) against a real server on loopback: a download cut
 * at 20 seeded random points by a TCP proxy and resumed byte-identical, with every byte received
 * once; a server restarted mid-download; a client restarted (aborted, then rerun) from its part
 * file, with the server's read stopped by the cancel; a corrupted or foreign part file detected
 * unit by unit; a stalled connection given up on a manual clock. Objects are small (256 KiB to 4 MiB) and committed straight through the store.
 * Cost: about 3 s.
 */

import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadWith, type DownloadResult } from '../../src/objects/index.ts';
import { ManualClock, type ClientConnection } from '../../src/session/index.ts';
import { commitObject, expectAbortError, expectFwError, FaultProxy, Harness, KiB, MiB, objectServer, prng, probing, randomBytesOf, removeTempDirs, settle, sha256File, sha256Hex, tempDir, waitFor, type ReadProbe } from './helpers.ts';

const h = new Harness();
const proxies: FaultProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await h.cleanup();
  await removeTempDirs();
});

function connector(port: () => number): (signal: AbortSignal) => Promise<ClientConnection> {
  return (signal) => h.client({ port: port(), signal });
}

async function expectDownloaded(result: DownloadResult, destination: string, bytes: Buffer): Promise<void> {
  expect(result.sha256).toBe(sha256Hex(bytes));
  expect(await sha256File(destination)).toBe(sha256Hex(bytes));
  await expect(stat(`${destination}.fwpart`)).rejects.toThrow();
}

describe('downloadWith: resume across cuts and restarts', () => {
  it('FW-OBJ-21 FW-OBJ-22 FW-OBJ-9: 20 downloads cut at seeded random points resume byte-identical, each byte received once', async () => {
    const s = await objectServer(h, { memory: true });
    const bytes = randomBytesOf(256 * KiB);
    const id = await commitObject(s.store, 'anonymous', bytes, 16 * KiB);
    const dir = await tempDir('fw-download-');
    let cut = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const random = prng(seed);
      // The first connection is cut somewhere in the stat or the read, the second maybe too.
      const points = [Math.floor(random() * 300 * KiB) + 200, random() < 0.5 ? Math.floor(random() * 200 * KiB) + 200 : undefined];
      const proxy = new FaultProxy(s.port, (n) => ({ ...(points[n] === undefined ? {} : { cutAfterBytes: points[n] }) }));
      proxies.push(proxy);
      const port = await proxy.listen();
      const destination = join(dir, `seed-${seed}.bin`);
      const result = await downloadWith(connector(() => port), id, destination, { durable: false });
      await expectDownloaded(result, destination, bytes);
      cut += proxy.cuts;
      expect(result.stats.connections, `seed ${seed}`).toBe(proxy.accepted);
      expect(result.stats.bytesReceived, `seed ${seed}: resumed, not restarted`).toBe(bytes.length);
    }
    // Most cut points fall inside the transfer (the rest after its end).
    expect(cut).toBeGreaterThanOrEqual(20);
  });

  it('FW-OBJ-22: a download resumes after the server restarted on the same data directory', async () => {
    const dataDir = await tempDir();
    const first = await objectServer(h, { dataDir });
    const bytes = randomBytesOf(4 * MiB);
    const id = await commitObject(first.store, 'anonymous', bytes, 256 * KiB);
    let port = first.port;
    let restarted: Promise<void> | undefined;
    const destination = join(await tempDir('fw-download-'), 'restart.bin');
    const result = await downloadWith(connector(() => port), id, destination, {
      durable: false,
      onProgress: (p) => {
        if (restarted !== undefined || p.bytesHeld === 0) return;
        // The server goes away mid-download; a new one on the same storage takes its place.
        h.cutAll();
        restarted = (async () => {
          await first.server.close({ deadlineMs: 0 });
          port = (await objectServer(h, { dataDir })).port;
        })();
      },
    });
    await restarted;
    await expectDownloaded(result, destination, bytes);
    expect(result.stats.connections).toBeGreaterThanOrEqual(2);
    expect(result.stats.bytesReceived).toBe(bytes.length);
  });

  it('FW-OBJ-23 FW-OBJ-11: a cancelled download stops the server\'s read and keeps its part file; a rerun (a restarted client) resumes from it', async () => {
    const probe: ReadProbe = { readvCalls: 0, bytesRead: 0, opened: 0, closed: 0, gate: undefined };
    const s = await objectServer(h, { memory: true, objects: probing(probe) });
    const bytes = randomBytesOf(4 * MiB);
    const id = await commitObject(s.store, 'anonymous', bytes, 64 * KiB);
    const destination = join(await tempDir('fw-download-'), 'cancel.bin');
    const abort = new AbortController();
    let open!: () => void;
    const cancelled = await settle(
      downloadWith(connector(() => s.port), id, destination, {
        durable: false,
        signal: abort.signal,
        onProgress: (p) => {
          if (p.bytesHeld === 0 || abort.signal.aborted) return;
          // Hold the server's next read until the cancel is out, so the read cannot finish first.
          probe.gate = new Promise<void>((resolve) => { open = resolve; });
          abort.abort();
        },
      }),
    );
    expectAbortError(cancelled.ok ? undefined : cancelled.error, abort.signal.reason);
    open();
    await expect.poll(() => probe.closed, { timeout: 5000 }).toBe(1);
    expect(probe.bytesRead).toBeLessThan(bytes.length);
    const held = (await stat(`${destination}.fwpart`)).size;
    expect(held).toBeGreaterThan(0);
    probe.gate = undefined;
    const rerun = await downloadWith(connector(() => s.port), id, destination, { durable: false });
    await expectDownloaded(rerun, destination, bytes);
    expect(rerun.stats.bytesResumed).toBe(Math.floor(held / (64 * KiB)) * 64 * KiB);
    expect(rerun.stats.bytesReceived).toBe(bytes.length - rerun.stats.bytesResumed);
  });

  it('FW-OBJ-21: a corrupted part file is detected unit by unit: the bytes from the bad unit on are read again', async () => {
    const s = await objectServer(h, { memory: true });
    const bytes = randomBytesOf(100 * KiB + 17);
    const unit = 16 * KiB;
    const id = await commitObject(s.store, 'anonymous', bytes, unit);
    const dir = await tempDir('fw-download-');
    const cases = [
      // Three whole units held, one byte of the second flipped at rest.
      { name: 'flipped', part: (() => { const p = Buffer.from(bytes.subarray(0, 3 * unit + 100)); p[unit + 5]! ^= 1; return p; })(), resumed: unit, rejected: 1 },
      // Another file under the part file's name.
      { name: 'foreign', part: randomBytesOf(2 * unit), resumed: 0, rejected: 1 },
      // Longer than the object: only the object's units count, the rest is cut off.
      { name: 'whole-and-more', part: Buffer.concat([bytes, Buffer.from('trailing junk')]), resumed: bytes.length, rejected: 0 },
    ];
    for (const c of cases) {
      const destination = join(dir, `${c.name}.bin`);
      await writeFile(`${destination}.fwpart`, c.part);
      const result = await downloadWith(connector(() => s.port), id, destination, { durable: false });
      await expectDownloaded(result, destination, bytes);
      expect(result.stats, c.name).toMatchObject({ bytesResumed: c.resumed, unitsRejected: c.rejected, bytesReceived: bytes.length - c.resumed });
    }
    expect((await readFile(join(dir, 'flipped.bin'))).equals(bytes)).toBe(true);
  });

  it('FW-OBJ-22: NOT_FOUND is final: no retry, no file', async () => {
    const s = await objectServer(h, { memory: true });
    let connections = 0;
    const destination = join(await tempDir('fw-download-'), 'missing.bin');
    const r = await settle(downloadWith((signal) => { connections++; return h.client({ port: s.port, signal }); }, 'f'.repeat(32), destination, { durable: false }));
    expectFwError(r.ok ? undefined : r.error, 'NOT_FOUND');
    expect(connections).toBe(1);
    await expect(stat(destination)).rejects.toThrow();
  });
});

describe('downloadWith: a stalled connection', () => {
  it('FW-OBJ-22: a read on which nothing arrives for stallTimeoutMs is given up with TIMEOUT and resumed on a new connection (manual clock)', async () => {
    const probe: ReadProbe = { readvCalls: 0, bytesRead: 0, opened: 0, closed: 0, gate: undefined };
    let open!: () => void;
    probe.gate = new Promise<void>((resolve) => { open = resolve; });
    const s = await objectServer(h, { memory: true, objects: probing(probe) });
    const bytes = randomBytesOf(4 * MiB);
    const id = await commitObject(s.store, 'anonymous', bytes, 256 * KiB);
    const clock = new ManualClock();
    const destination = join(await tempDir('fw-download-'), 'stall.bin');
    let held = 0;
    const retries: string[] = [];
    const done = downloadWith(connector(() => s.port), id, destination, {
      durable: false,
      clock,
      stallTimeoutMs: 1000,
      onProgress: (p) => { held = p.bytesHeld; },
      onRetry: (r) => { retries.push(r.error.code); },
    });
    // The server sent its first batch and now waits (its storage does not answer): nothing moves.
    await waitFor(() => probe.readvCalls >= 2 && held > 0, 5000, 'the first batch arrives, then nothing');
    const before = held;
    clock.advance(999);
    expect(retries).toEqual([]);
    clock.advance(2);
    await waitFor(() => retries.length === 1, 5000, 'the stall is noticed');
    open();
    const result = await done;
    expect(retries).toEqual(['TIMEOUT']);
    await expectDownloaded(result, destination, bytes);
    expect(result.stats.reconnects).toBe(1);
    expect(result.stats.bytesReceived).toBe(bytes.length);
    expect(before).toBeLessThan(bytes.length);
  });
});
