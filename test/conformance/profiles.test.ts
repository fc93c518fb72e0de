/**
 * The profile cases (FW-UP-*, FW-EV-*) against our real server, assembled by `framewire serve`'s
 * startServerApp on a temporary data directory, and against broken targets that prove the cases
 * can fail: a chunk handler that acknowledges without storing or verifying, and an event service
 * that numbers every attachment's events from 1.
 */

import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { encode } from '@msgpack/msgpack';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { registerBuiltinStreams } from '../../src/cli/builtin-streams.ts';
import { startServerApp } from '../../src/cli/server-app.ts';
import { singleToken } from '../../src/cli/tokens.ts';
import { conformanceService, runConformance, type Report } from '../../src/conformance/index.ts';
import { NEEDS_PEER } from '../../src/conformance/context.ts';
import { EventService } from '../../src/events/index.ts';
import { createServer } from '../../src/server.ts';
import type { StreamService } from '../../src/index.ts';
import { ObjectService } from '../../src/objects/index.ts';
import { FsUploadStore, MemoryUploadStore, UploadService, type CommittedObjectStore } from '../../src/upload/index.ts';
import type { Target } from './targets.ts';

const silent = pino({ level: 'silent' });
const targets: Target[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'framewire-conformance-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** `framewire serve` as the CLI assembles it, with a 3 s upload TTL so that the expiry case runs. */
async function serveApp(options: { token?: string } = {}): Promise<Target> {
  const { dir, remove } = await tempDir();
  const tokens = options.token === undefined ? {} : { tokens: singleToken(options.token) };
  const app = await startServerApp({ host: '127.0.0.1', port: 0, dataDir: dir, logger: silent, uploadTtlMs: 3000, ...tokens });
  return {
    port: app.address.port,
    close: async () => {
      await app.close(200);
      await remove();
    },
  };
}

/** A server from the given services (and the conformance services). */
async function serverOf(services: StreamService[], cleanup: () => Promise<void> = () => Promise.resolve()): Promise<Target> {
  const server = createServer({ services: [...services, conformanceService()], logger: silent });
  const address = await server.listen(0, '127.0.0.1');
  return {
    port: address.port,
    close: async () => {
      await server.close({ deadlineMs: 200 });
      await cleanup();
    },
  };
}

/** The built-in streams with short heartbeat and grace periods, so that the timer cases can pass. */
function shortTimersServer(): Promise<Target> {
  const events = new EventService({ logger: silent, heartbeatMs: 400, graceMs: 800 });
  registerBuiltinStreams(events);
  return serverOf([events]);
}

/** Our UploadService, except that upload.chunk is acknowledged at once: nothing is verified or stored. */
async function uncheckedChunksServer(): Promise<Target> {
  const { dir, remove } = await tempDir();
  const real = new UploadService({ store: new FsUploadStore({ dataDir: dir, durable: false }), logger: silent });
  const broken: StreamService = {
    kinds: ['upload.'],
    async handle(stream, session) {
      if (stream.kind !== 'upload.chunk') {
        await real.handle(stream, session);
        return;
      }
      for await (const _piece of stream.chunks()) {
        // Read and forgotten.
      }
      const index = stream.meta?.['index'];
      await stream.end({ index: typeof index === 'number' ? index : 0, stored: true, duplicate: false, expires_at: Date.now() + 60_000 });
    },
    close: () => real.close(),
  };
  return serverOf([broken], remove);
}

/**
 * An event service that gets the happy path right (start, events, DONE with the summary) but
 * numbers every attachment's events from 1, whatever `after` asked for, and keeps no instances.
 */
function restartingEventsServer(): Promise<Target> {
  const events: StreamService = {
    kinds: ['events.subscribe'],
    async handle(stream) {
      const meta = stream.meta ?? {};
      const params = (meta['params'] ?? {}) as Record<string, unknown>;
      const count = typeof params['count'] === 'number' ? params['count'] : 200;
      const every = typeof params['interval_ms'] === 'number' ? params['interval_ms'] : 10;
      const after = typeof meta['after'] === 'number' ? meta['after'] : 0;
      const key = typeof meta['key'] === 'string' ? meta['key'] : randomUUID();
      try {
        await stream.write(encode({ t: 'start', key, resumable: true, next: after + 1, hb_ms: 0, grace_ms: 30_000, ack_every: 64, ack_ms: 50 }));
        for (let id = 1; id <= count; id++) {
          await stream.write(encode({ t: 'ev', id, type: 'token', data: { i: id - 1 } }));
          if (every > 0) await sleep(every);
        }
        await stream.end({ tokens: count });
      } catch {
        // Cancelled or lost: nothing to keep.
      }
    },
  };
  return serverOf([events]);
}

async function run(target: Target, options: { cases: string; strict?: boolean; timeoutMs?: number; quietMs?: number; longWaitMs?: number }): Promise<Report> {
  targets.push(target);
  return runConformance({ target: { host: '127.0.0.1', port: target.port }, longWaitMs: 5000, ...options });
}

function verdictOf(report: Report, id: string): string {
  return `${id}: ${report.results.find((r) => r.id === id)?.verdict ?? 'missing'}`;
}

/** Timer cases our defaults (hb 15 s, grace 30 s) are too long for; they pass against shortTimersServer. */
const TIMER_CASES = new Set(['FW-EV-40/heartbeat-when-idle', 'FW-EV-50/grace-period-ends']);

describe('profile conformance cases', () => {
  it('our server (framewire serve) passes every FW-UP-* and FW-EV-* case under --strict', async () => {
    const report = await run(await serveApp(), { cases: 'FW-UP-*,FW-EV-*', strict: true, longWaitMs: 5500 });
    expect(report.targetInfo.features).toEqual(expect.arrayContaining(['echo', 'sink', 'upload', 'events']));
    // The cluster cases need a second node (cluster.test.ts runs them against two): not applicable here.
    const needsPeer = (r: { verdict: string; detail: string }): boolean => r.verdict === 'not-applicable' && r.detail === NEEDS_PEER;
    expect(report.results.filter(needsPeer).length).toBeGreaterThanOrEqual(8);
    const problems = report.results.filter((r) => r.verdict !== 'pass' && !(r.verdict === 'informational' && TIMER_CASES.has(r.id)) && !needsPeer(r));
    expect(problems.map((r) => `${r.id}: ${r.verdict}: ${r.detail} (expected ${r.expected ?? '-'}, actual ${r.actual ?? '-'})`)).toEqual([]);
    expect(report.results.filter((r) => r.id.startsWith('FW-UP-')).length).toBeGreaterThanOrEqual(30);
    expect(report.results.filter((r) => r.id.startsWith('FW-EV-')).length).toBeGreaterThanOrEqual(15);
    expect(report.results.every((r) => r.level === 'MUST')).toBe(true);
    // The expiry case waited for the 3 s TTL instead of being informational.
    expect(verdictOf(report, 'FW-UP-41/expired')).toBe('FW-UP-41/expired: pass');
  }, 30_000);

  it('our server (framewire serve) passes every FW-OBJ-* case under --strict', async () => {
    const report = await run(await serveApp(), { cases: 'FW-OBJ-*', strict: true });
    expect(report.targetInfo.features).toEqual(expect.arrayContaining(['upload', 'objects']));
    expect(report.results.map((r) => `${r.id}: ${r.verdict}${r.verdict === 'pass' ? '' : `: ${r.detail} (actual ${r.actual ?? '-'})`}`)).toEqual(report.results.map((r) => `${r.id}: pass`));
    expect(report.results.length).toBeGreaterThanOrEqual(9);
  }, 30_000);

  it('serve --token: {"token": T} is accepted, every other auth is AUTH_FAILED (spec §13.4, FW-HS-9, FW-REF-5)', async () => {
    const token = 'conformance-token';
    const report = await runConformance({ ...(await (async () => {
      const target = await serveApp({ token });
      targets.push(target);
      return { target: { host: '127.0.0.1', port: target.port } };
    })()), cases: 'FW-HS-6/*,FW-HS-9/*,FW-STREAM-3/echo-basic', strict: true, auth: { token } });
    for (const id of ['FW-HS-6/authentication', 'FW-HS-9/refusals-are-auth-failed', 'FW-STREAM-3/echo-basic']) expect(verdictOf(report, id)).toBe(`${id}: pass`);
  });

  it('with short heartbeat and grace periods, the event timer cases pass too', async () => {
    const report = await run(await shortTimersServer(), { cases: 'FW-EV-40/*,FW-EV-50/*', timeoutMs: 1000 });
    for (const id of TIMER_CASES) expect(verdictOf(report, id)).toBe(`${id}: pass`);
  });

  it('a target without the profiles gets unsupported, not fail', async () => {
    const report = await run(await serverOf([]), { cases: 'FW-UP-*,FW-EV-*,FW-OBJ-*', timeoutMs: 500 });
    expect(report.targetInfo.features).toEqual(['echo', 'sink']);
    expect(report.results.length).toBeGreaterThan(40);
    for (const r of report.results) expect(`${r.id}: ${r.verdict}`).toBe(`${r.id}: unsupported`);
    expect(report.ok).toBe(true);
  });
});

describe('profile cases against broken targets', () => {
  it('chunks acknowledged without verification or storage fail the checksum, storage and duplicate cases', async () => {
    const report = await run(await uncheckedChunksServer(), { cases: 'FW-UP-17/*,FW-UP-14/ack-after-stored,FW-UP-15/duplicate-chunk,FW-UP-16/*,FW-UP-3/create-trailer', timeoutMs: 600 });
    for (const id of ['FW-UP-17/corrupt-chunk', 'FW-UP-14/ack-after-stored', 'FW-UP-15/duplicate-chunk', 'FW-UP-16/chunk-conflict']) expect(verdictOf(report, id)).toBe(`${id}: fail`);
    // What it gets right still passes.
    expect(verdictOf(report, 'FW-UP-3/create-trailer')).toBe('FW-UP-3/create-trailer: pass');
    expect(report.ok).toBe(false);
  });

  it('reads off by one byte and a delete that deletes nothing fail the read and delete cases', async () => {
    const store = new MemoryUploadStore();
    const inner = store.objects;
    const broken: CommittedObjectStore = {
      describeObject: (id) => inner.describeObject(id),
      listObjects: (owner, after, limit) => inner.listObjects(owner, after, limit),
      deleteObject: () => Promise.resolve(true),
      openObjectReader: async (id) => {
        const reader = await inner.openObjectReader(id);
        return reader === undefined ? undefined : { ...reader, readv: (into, position) => reader.readv(into, Math.min(position + 1, reader.size)) };
      },
    };
    const report = await run(await serverOf([new UploadService({ store, sweepIntervalMs: 0 }), new ObjectService({ objects: broken })]), { cases: 'FW-OBJ-9/*,FW-OBJ-12/*,FW-OBJ-6/*', timeoutMs: 600 });
    expect(verdictOf(report, 'FW-OBJ-9/positioned-messages')).toBe('FW-OBJ-9/positioned-messages: fail');
    expect(verdictOf(report, 'FW-OBJ-12/delete-idempotent')).toBe('FW-OBJ-12/delete-idempotent: fail');
    expect(verdictOf(report, 'FW-OBJ-6/stat')).toBe('FW-OBJ-6/stat: pass');
  });

  it('an event service that restarts ids at 1 on resume fails the resume cases', async () => {
    const report = await run(await restartingEventsServer(), { cases: 'FW-EV-11/finite-stream,FW-EV-24/resume-after-loss,FW-EV-30/*,FW-EV-26/*,FW-EV-6/*', timeoutMs: 600 });
    // It takes any params (count -1 is zero events): the params case must catch that.
    expect(verdictOf(report, 'FW-EV-6/builtin-params-refused')).toBe('FW-EV-6/builtin-params-refused: fail');
    expect(verdictOf(report, 'FW-EV-24/resume-after-loss')).toBe('FW-EV-24/resume-after-loss: fail');
    expect(verdictOf(report, 'FW-EV-30/confirmed-end-forgotten')).toBe('FW-EV-30/confirmed-end-forgotten: fail');
    expect(verdictOf(report, 'FW-EV-26/unknown-key')).toBe('FW-EV-26/unknown-key: fail');
    expect(verdictOf(report, 'FW-EV-11/finite-stream')).toBe('FW-EV-11/finite-stream: pass');
  });
});
