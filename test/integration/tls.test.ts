/**
 * framewire over TLS (spec §2.1: TLS sits between TCP and framewire, transparent to it). The
 * certificate is generated at test time with openssl; without openssl the suite is skipped, loudly.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/index.ts';
import { echoHandler, expectFwError, Harness, KiB, randomMessages, readAll, settle, sha256, within } from './helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const opensslAvailable = hasOpenssl();
if (!opensslAvailable) console.warn('[tls] SKIPPED: openssl is not on PATH, so no test certificate can be generated');

describe.skipIf(!opensslAvailable)('TLS over TCP loopback', () => {
  let dir = '';
  let key = '';
  let cert = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'framewire-tls-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore', timeout: 20_000 },
    );
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  });

  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('FW-TRANS-1: echo of random-size messages over TLS is byte-identical and completes', async () => {
    const { port } = await h.server({ tls: { key, cert }, onStream: echoHandler(), settings: { maxFramePayload: 16 * KiB } });
    const client = await h.client({ port, tls: { ca: cert, servername: 'localhost' }, settings: { maxFramePayload: 16 * KiB } });
    expect(client.socket!.constructor.name).toBe('TLSSocket');
    const streams = Array.from({ length: 3 }, async (_, i) => {
      const messages = randomMessages(100 + i, 1024 * KiB, 16 * KiB);
      const s = client.open({ kind: 'echo' });
      const reading = readAll(s);
      for (const m of messages) await s.write(m);
      await s.end();
      const echoed = await reading;
      return { messages, echoed, outcome: await s.outcome, trailer: s.trailer };
    });
    for (const r of await within(Promise.all(streams), 15_000, 'tls echo')) {
      expect(r.echoed.map((m) => m.length)).toEqual(r.messages.map((m) => m.length));
      expect(sha256(r.echoed)).toBe(sha256(r.messages));
      expect(r.outcome.status).toBe('completed');
      expect(r.trailer).toMatchObject({ sha256: sha256(r.messages) });
    }
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
  });

  it('a client that does not trust the certificate fails with CONNECTION_LOST, not a crash', async () => {
    const { port } = await h.server({ tls: { key, cert }, onStream: echoHandler() });
    const r = await within(settle(connect({ port, tls: { servername: 'localhost' } })), 5000, 'untrusted connect');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(expectFwError(r.error, 'CONNECTION_LOST').message).toMatch(/self[- ]signed|certificate/i);
    // The server is unaffected: a trusting client still gets through.
    const client = await h.client({ port, tls: { ca: cert, servername: 'localhost' } });
    const s = client.open({ kind: 'echo' });
    const reading = readAll(s);
    await s.write(randomBytes(10));
    await s.end();
    expect(await within(reading, 5000, 'echo')).toHaveLength(1);
  });
});
