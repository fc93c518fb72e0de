/**
 * `framewire ls`, `stat`, `download` and `rm` (spec/OBJECTS.md) against the server `serve`
 * assembles (startServerApp, two principals from a tokens file), run in-process through main()
 * with stdout captured: not a terminal, so every command prints JSON lines. Cost: about 1 s.
 */

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { startServerApp, type ServerApp } from '../../src/cli/server-app.ts';
import { loadTokens } from '../../src/cli/tokens.ts';
import { upload } from '../../src/api/upload.ts';

const apps: ServerApp[] = [];
const dirs: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const a of apps.splice(0)) await a.close(200);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const ALICE = 'alice-token-000000000000000000000';
const BOB = 'bob-token-1111111111111111111111';

/** Runs the CLI in-process; returns its exit code and the JSON lines it printed. */
async function cli(...args: string[]): Promise<{ code: number; lines: Record<string, unknown>[]; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => out.push(String(chunk)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => err.push(String(chunk)) > 0);
  try {
    const code = await main(args);
    return { code, lines: out.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

describe('framewire ls, stat, download, rm', () => {
  it('the round trip: an uploaded object is listed with its name, described, downloaded verified (resuming a damaged part file), and deleted by its owner only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fw-cli-objects-'));
    dirs.push(dir);
    await writeFile(join(dir, 'tokens'), `${ALICE} alice\n${BOB} bob\n`);
    const app = await startServerApp({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), logger: pino({ level: 'silent' }), tokens: await loadTokens(join(dir, 'tokens')), durable: false });
    apps.push(app);
    const from = `127.0.0.1:${app.address.port}`;
    const bytes = randomBytes(300_000);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const { objectId } = await upload(bytes, { host: '127.0.0.1', port: app.address.port, auth: { token: ALICE }, chunkSize: 64 * 1024, metadata: { name: 'holiday.mp4' } });

    const ls = await cli('ls', '--from', from, '--token', ALICE);
    expect(ls.code).toBe(0);
    expect(ls.lines).toEqual([expect.objectContaining({ objectId, size: bytes.length, sha256, metadata: { name: 'holiday.mp4' } })]);
    expect((await cli('ls', '--from', from, '--token', BOB)).lines).toEqual([]);

    const stat = await cli('stat', objectId, '--from', from, '--token', ALICE);
    expect(stat.lines).toEqual([expect.objectContaining({ objectId, sha256, unitSize: 64 * 1024, unitCount: 5 })]);

    // A part file left by an earlier, cut run, one byte of it damaged since.
    const output = join(dir, 'copy.mp4');
    const part = Buffer.from(bytes.subarray(0, 200_000));
    part[150_000]! ^= 0xff;
    await writeFile(`${output}.fwpart`, part);
    const download = await cli('download', objectId, '-o', output, '--from', from, '--token', ALICE);
    expect(download.code).toBe(0);
    expect(download.lines.at(-1)).toMatchObject({ event: 'downloaded', sha256, size: bytes.length, bytesResumed: 2 * 64 * 1024, unitsRejected: 1 });
    expect((await readFile(output)).equals(bytes)).toBe(true);

    const foreign = await cli('download', objectId, '-o', join(dir, 'stolen'), '--from', from, '--token', BOB);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/NOT_FOUND/u);
    expect((await cli('rm', objectId, '--from', from, '--token', BOB)).lines).toEqual([{ event: 'deleted', objectId, deleted: false }]);
    expect((await cli('rm', objectId, '--from', from, '--token', ALICE)).lines).toEqual([{ event: 'deleted', objectId, deleted: true }]);
    expect((await cli('rm', objectId, '--from', from, '--token', ALICE)).lines).toEqual([{ event: 'deleted', objectId, deleted: false }]);
    const gone = await cli('stat', objectId, '--from', from, '--token', ALICE);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/NOT_FOUND: no such object/u);
  });
});
