/**
 * Issue 16, "fail fast and say why" (spec FW-HS-10, FW-ERR-6): pointed at something that is not a
 * framewire server, or at a port where nothing listens, the client fails on its first connection
 * at once with its own code — through the API (timed tightly) and through the real CLI as a child
 * process (exit code and message; its bound includes the ~1-3 s a loaded machine takes to start
 * node). After a first connection, losses keep being retried (test/upload/reconnect.test.ts).
 * Cost: five CLI processes, a few hundred ms of API calls.
 */

import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FramewireError } from '../../src/index.ts';
import { subscribe } from '../../src/api/events.ts';
import { upload } from '../../src/api/upload.ts';
import { expectFwError, settle } from '../integration/helpers.ts';
import { runCli } from './run-cli.ts';

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
let http400 = 0;
let silent = 0;
let refused = 0;

async function listen(onSocket: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined).on('close', () => sockets.delete(s));
    onSocket(s);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

beforeAll(async () => {
  // What many HTTP servers do with bytes they cannot parse.
  http400 = await listen((s) => {
    s.resume();
    s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  // An HTTP server waiting for a request line that never comes.
  silent = await listen((s) => s.resume());
  // A port nobody listens on: taken, then released.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  refused = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => { resolve(); }));
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => { resolve(); }))));
});

async function timed<T>(p: Promise<T>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const r = await settle(p);
  return { error: r.ok ? undefined : r.error, ms: performance.now() - started };
}

describe('the first connection fails fast and says why (API)', () => {
  it('FW-HS-10: a peer that answers "HTTP/1.1 400" → NOT_FRAMEWIRE quoting it, at once, no retry', async () => {
    let retries = 0;
    const { error, ms } = await timed(upload(Buffer.alloc(10), { port: http400, onRetry: () => { retries++; } }));
    const e = expectFwError(error, 'NOT_FRAMEWIRE');
    expect(e.message).toContain(`127.0.0.1:${http400} is not a framewire server: it sent "HTTP/1.1 400 Bad Request\\r\\n`);
    expect(e.details?.['prefix']).toMatch(/^HTTP\/1\.1 400/u);
    expect((e.cause as FramewireError).code).toBe('FRAME_SIZE');
    expect(retries).toBe(0);
    expect(ms).toBeLessThan(1000);
    const sub = subscribe('clock', { port: http400 });
    const outcome = await sub.outcome;
    expect(outcome.status === 'failed' ? outcome.error.code : outcome.status).toBe('NOT_FRAMEWIRE');
  });

  it('FW-ERR-6: connection refused → CONNECTION_REFUSED with ECONNREFUSED as cause, within 1 s; retried only when connectRetries asks', async () => {
    let retries = 0;
    const { error, ms } = await timed(upload(Buffer.alloc(10), { port: refused, onRetry: () => { retries++; } }));
    const e = expectFwError(error, 'CONNECTION_REFUSED');
    expect((e.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(retries).toBe(0);
    expect(ms).toBeLessThan(1000);
    const asked = await timed(upload(Buffer.alloc(10), { port: refused, retry: { connectRetries: 2, initialDelayMs: 10 }, onRetry: () => { retries++; } }));
    expectFwError(asked.error, 'CONNECTION_REFUSED');
    expect(retries).toBe(2);
  });

  it('FW-ERR-6: a silent peer → TIMEOUT at the connect timeout saying it may not be a framewire server; no retry', async () => {
    let retries = 0;
    const { error, ms } = await timed(upload(Buffer.alloc(10), { port: silent, connectTimeoutMs: 300, retry: { connectRetries: 3 }, onRetry: () => { retries++; } }));
    const e = expectFwError(error, 'TIMEOUT');
    expect(e.message).toContain('it accepted the connection and sent nothing; it may not be a framewire server');
    expect(retries).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1500);
  });
});

describe('the first connection fails fast and says why (CLI)', () => {
  it('upload and tail against an HTTP server: exit 1 with NOT_FRAMEWIRE and what it sent, no retry lines', async () => {
    for (const args of [['upload', 'package.json', '--to', `127.0.0.1:${http400}`, '--json'], ['tail', 'clock', '--from', `127.0.0.1:${http400}`]]) {
      const run = await runCli(args, { FRAMEWIRE_STATE_DIR: '/nonexistent-framewire-state' });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain('NOT_FRAMEWIRE: ');
      expect(run.stderr).toContain('it sent "HTTP/1.1 400 Bad Request');
      expect(run.stderr).not.toContain('retry');
      // Before: ten retries over more than 15 s.
      expect(run.ms).toBeLessThan(10_000);
    }
  }, 60_000);

  it('upload to a refused port and to a silent one: one line each, exit 1', async () => {
    const refusedRun = await runCli(['upload', 'package.json', '--to', `127.0.0.1:${refused}`, '--json']);
    expect(refusedRun.code).toBe(1);
    expect(refusedRun.stderr).toBe(`framewire: CONNECTION_REFUSED: cannot connect to 127.0.0.1:${refused}: nothing accepts connections there (ECONNREFUSED); is the server running?\n`);
    const silentRun = await runCli(['upload', 'package.json', '--to', `127.0.0.1:${silent}`, '--connect-timeout', '500ms', '--json']);
    expect(silentRun.code).toBe(1);
    expect(silentRun.stderr).toBe(`framewire: TIMEOUT: no HELLO from 127.0.0.1:${silent} within 500 ms: it accepted the connection and sent nothing; it may not be a framewire server\n`);
  }, 60_000);

  it('--connect-retries N: a refused first connection is retried N times (one retry line each), then the same CONNECTION_REFUSED, exit 1', async () => {
    const run = await runCli(['upload', 'package.json', '--to', `127.0.0.1:${refused}`, '--connect-retries', '2', '--json'], { FRAMEWIRE_STATE_DIR: '/nonexistent-framewire-state' });
    expect(run.code, run.stderr).toBe(1);
    const retries = run.stderr.split('\n').filter((l) => l.includes('"event":"retry"'));
    expect(retries.map((l) => (JSON.parse(l) as { attempt: number; code: string })).map((r) => [r.attempt, r.code])).toEqual([[1, 'CONNECTION_REFUSED'], [2, 'CONNECTION_REFUSED']]);
    expect(run.stderr).toContain(`framewire: CONNECTION_REFUSED: cannot connect to 127.0.0.1:${refused}`);
  }, 60_000);
});

describe('conformance against a target that does not answer', () => {
  it('one "cannot connect" line and exit 1, instead of a failed case each', async () => {
    const run = await runCli(['conformance', '--target', `127.0.0.1:${refused}`]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(`framewire conformance: cannot connect to the target 127.0.0.1:${refused}: ECONNREFUSED\n`);
  }, 30_000);
});
