/**
 * Principals in `framewire serve` (spec/UPLOAD.md FW-UP-30, spec/EVENTS.md FW-EV-5): the tokens
 * file maps each token to a principal; uploads and event-stream instances belong to their
 * principal, and another principal's ids are answered as unknown. The server is the one `serve`
 * assembles (startServerApp), on loopback.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startServerApp, type ServerApp } from '../../src/cli/server-app.ts';
import { loadTokens, parseTokens, singleToken, tokenAuthenticator } from '../../src/cli/tokens.ts';
import { subscribe, type DeliveredEvent } from '../../src/api/events.ts';
import { connect } from '../../src/index.ts';
import { abortUpload, commitUpload, createUpload, getUploadStatus } from '../../src/upload/index.ts';
import { expectFwError, settle, within } from '../integration/helpers.ts';

const apps: ServerApp[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close(200);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function serve(tokensText: string): Promise<{ port: number; app: ServerApp }> {
  const dir = await mkdtemp(join(tmpdir(), 'fw-principals-'));
  dirs.push(dir);
  const file = join(dir, 'tokens');
  await writeFile(file, tokensText);
  const app = await startServerApp({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), logger: pino({ level: 'silent' }), tokens: await loadTokens(file) });
  apps.push(app);
  return { port: app.address.port, app };
}

async function nextId(it: AsyncIterator<DeliveredEvent>): Promise<number | undefined> {
  const r = await it.next();
  return r.done === true ? undefined : r.value.id;
}

const TOKENS = `# token                           principal
alice-token-0000000000000000000000  alice
alice-token-rotated-11111111111111  alice

mallory-token-2222222222222222222   mallory
`;

describe('the tokens file', () => {
  it('maps each token to its principal; comments, blank lines and several tokens per principal are fine', () => {
    const auth = tokenAuthenticator(parseTokens(TOKENS));
    expect(auth({ token: 'alice-token-0000000000000000000000' })).toEqual({ id: 'alice' });
    expect(auth({ token: 'alice-token-rotated-11111111111111' })).toEqual({ id: 'alice' });
    expect(auth({ token: 'mallory-token-2222222222222222222' })).toEqual({ id: 'mallory' });
    for (const wrong of [{ token: 'alice-token-000000000000000000000' }, { token: 42 }, 'alice-token-0000000000000000000000', undefined, null, {}]) expect(auth(wrong)).toBe(false);
    expect(tokenAuthenticator(singleToken('s3cret'))({ token: 's3cret' })).toEqual({ id: 'token' });
  });

  it('refuses malformed files with the line that is wrong', () => {
    expect(() => parseTokens('a b c\n', 'f')).toThrow(/^f:1: expected "<token> <principal>", got 3 field/u);
    expect(() => parseTokens('# only a comment\n\n', 'f')).toThrow(/^f: no tokens/u);
    expect(() => parseTokens('t1 alice\nt1 bob\n', 'f')).toThrow(/^f:2: this token is already listed/u);
    expect(() => parseTokens('t1 ../etc\n', 'f')).toThrow(/^f:1: principal "..\/etc" must be/u);
    expect(() => singleToken('two words')).toThrow(/white space/u);
  });
});

describe('serve --tokens: uploads and event streams per principal', () => {
  it('FW-UP-30: another principal\'s upload is UPLOAD_NOT_FOUND for every operation; a wrong token is AUTH_FAILED', async () => {
    const { port } = await serve(TOKENS);
    const alice = await connect({ port, auth: { token: 'alice-token-0000000000000000000000' } });
    const aliceAgain = await connect({ port, auth: { token: 'alice-token-rotated-11111111111111' } });
    const mallory = await connect({ port, auth: { token: 'mallory-token-2222222222222222222' } });
    try {
      const created = await createUpload(alice, { size: 0, chunkSize: 1 });
      for (const attempt of [getUploadStatus(mallory, created.uploadId, { acquire: true }), commitUpload(mallory, created.uploadId, { token: 1 }), abortUpload(mallory, created.uploadId)] as Promise<unknown>[]) {
        const r = await settle(attempt);
        expectFwError(r.ok ? undefined : r.error, 'UPLOAD_NOT_FOUND');
      }
      // The same principal through its other token owns it.
      expect((await commitUpload(aliceAgain, created.uploadId, { token: 1 })).size).toBe(0);
      const refused = await settle(connect({ port, auth: { token: 'guess' } }));
      expectFwError(refused.ok ? undefined : refused.error, 'AUTH_FAILED');
    } finally {
      for (const c of [alice, aliceAgain, mallory]) c.close();
    }
  });

  it('FW-EV-5: instance keys are per principal: another principal cannot resume or take over an instance; the same key makes its own', async () => {
    const { port } = await serve(TOKENS);
    const opts = { port, connectTimeoutMs: 2000, reconnect: false as const, params: { interval_ms: 20 } };
    const alice = subscribe('clock', { ...opts, key: 'shared-key', auth: { token: 'alice-token-0000000000000000000000' } });
    const it = alice[Symbol.asyncIterator]();
    for (let i = 1; i <= 3; i++) expect(await nextId(it)).toBe(i);
    // A resume of alice's live instance by mallory: unknown key, exactly as for a key nobody used.
    const mallory = { token: 'mallory-token-2222222222222222222' };
    const stolen = subscribe('clock', { ...opts, from: { key: 'shared-key', after: 2 }, auth: mallory });
    const nobody = subscribe('clock', { ...opts, from: { key: 'never-used', after: 2 }, auth: mallory });
    const [o1, o2] = await within(Promise.all([stolen.outcome, nobody.outcome]), 5000, 'outcomes');
    const e1 = expectFwError(o1.status === 'failed' ? o1.error : undefined, 'NOT_FOUND');
    const e2 = expectFwError(o2.status === 'failed' ? o2.error : undefined, 'NOT_FOUND');
    expect(e1.details).toEqual({ ...e2.details, key: 'shared-key' });
    // The same key without a cursor: mallory's own instance, from event 1; alice is not superseded.
    const own = subscribe('clock', { ...opts, key: 'shared-key', auth: mallory });
    const ownIt = own[Symbol.asyncIterator]();
    expect(await nextId(ownIt)).toBe(1);
    own.cancel();
    for (let i = 4; i <= 8; i++) expect(await nextId(it)).toBe(i);
    alice.cancel();
    expect((await alice.outcome).status).toBe('cancelled');
  });
});
