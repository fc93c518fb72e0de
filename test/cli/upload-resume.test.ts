/**
 * Issue 16, "uploads that resume the way people resume them", with the real CLI as child
 * processes against a real `framewire serve`: Ctrl-C leaves the upload resumable (exit 130, its
 * id and the command that resumes it), `uploads` lists it with its name and progress, rerunning
 * the same command resumes it and sends only the missing chunks, `--no-resume` starts over,
 * `--abort` deletes one, and a directory is refused before anything reaches the server.
 * Cost: about 8 CLI processes (~1 s each to start) and 16 MiB through loopback.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../integration/helpers.ts';
import { jsonLines, runCli, startCli } from './run-cli.ts';
import { ServeProcess } from './serve-process.ts';
import { ThrottleProxy } from './throttle-proxy.ts';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'framewire-resume-'));
const env = { FRAMEWIRE_STATE_DIR: join(dir, 'state') };
const serve = new ServeProcess();
let proxy: ThrottleProxy;
let to: string;

beforeAll(async () => {
  const port = await serve.start([]);
  // 2 MiB/s towards the server: the upload is still running when the test interrupts it.
  proxy = await ThrottleProxy.start(port, 2 * MiB);
  to = `127.0.0.1:${proxy.port}`;
}, 60_000);

afterAll(async () => {
  await proxy.close();
  await serve.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('framewire upload: resume by rerun', () => {
  it('Ctrl-C exits 130 with the id and the resume command; uploads lists it; rerun resumes and sends only the missing chunks', async () => {
    const file = join(dir, 'movie.bin');
    writeFileSync(file, randomBytes(16 * MiB));
    const args = ['upload', file, '--to', to, '--chunk-size', '512KiB', '--parallel', '2', '--json'];
    proxy.bytesPerSecond = 2 * MiB;
    const first = startCli(args, env);
    await waitFor(() => jsonLines(first.stdout).some((l) => l['event'] === 'progress' && Number(l['chunks']) >= 2), 30_000, 'two chunks stored', 20);
    const interruptedAt = performance.now();
    first.child.kill('SIGINT');
    const interrupted = await first.done;
    expect(performance.now() - interruptedAt).toBeLessThan(5000);
    expect(interrupted.code).toBe(130);
    const id = /upload ([0-9a-f]{32}) is unfinished/u.exec(interrupted.stderr)?.[1];
    expect(id, interrupted.stderr).toBeDefined();
    expect(interrupted.stderr).toContain(`resume:  framewire upload ${file} --to ${to}`);
    expect(interrupted.stderr).not.toContain('CANCELLED');
    const stored = Number(/\((\d+)\/32 chunks/u.exec(interrupted.stderr)?.[1]);
    expect(stored).toBeGreaterThanOrEqual(2);
    expect(readFileSync(join(env.FRAMEWIRE_STATE_DIR, 'uploads.json'), 'utf8')).toContain(id);

    const listed = await runCli(['uploads', '--to', to], env);
    expect(listed.code).toBe(0);
    const row = listed.stdout.split('\n').find((l) => l.startsWith(id ?? '-'));
    expect(row, listed.stdout).toMatch(/\d+ %\s+16\.0 MiB\s+23 h \d+ min\s+movie\.bin$/u);
    const asJson = jsonLines((await runCli(['uploads', '--to', to, '--json'], env)).stdout);
    expect(asJson).toEqual([expect.objectContaining({ uploadId: id, name: 'movie.bin', size: 16 * MiB, chunkCount: 32 })]);

    proxy.bytesPerSecond = 0;
    const resumed = await runCli(args, env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`"upload":"${id ?? ''}"`);
    const committed = jsonLines(resumed.stdout).find((l) => l['event'] === 'committed');
    expect(committed?.['objectId']).toBe(id);
    // Only what the server lacked: at most the 32 − stored chunks (the interrupted ones in flight included).
    expect(Number(committed?.['chunksSent'])).toBeLessThanOrEqual(32 - stored);
    expect(JSON.parse(readFileSync(join(env.FRAMEWIRE_STATE_DIR, 'uploads.json'), 'utf8'))).toEqual({ version: 1, entries: {} });
    expect((await runCli(['uploads', '--to', to], env)).stdout).toBe('no unfinished uploads\n');
  }, 120_000);

  it('--no-resume starts a new upload and leaves the old one listed; --abort deletes it; a rerun after an abort starts over', async () => {
    const file = join(dir, 'notes.bin');
    writeFileSync(file, randomBytes(8 * MiB));
    const args = ['upload', file, '--to', to, '--chunk-size', '512KiB', '--parallel', '1', '--json'];
    const interrupt = async (): Promise<string> => {
      proxy.bytesPerSecond = 2 * MiB;
      const run = startCli(args, env);
      await waitFor(() => /"upload":"[0-9a-f]{32}"/u.test(run.stdout), 30_000, 'upload created', 20);
      run.child.kill('SIGINT');
      const done = await run.done;
      expect(done.code).toBe(130);
      proxy.bytesPerSecond = 0;
      return /upload ([0-9a-f]{32}) is unfinished/u.exec(done.stderr)?.[1] ?? '';
    };
    const committedId = (stdout: string): unknown => jsonLines(stdout).find((l) => l['event'] === 'committed')?.['objectId'];

    const old = await interrupt();
    const fresh = await runCli([...args, '--no-resume'], env);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stderr).not.toContain('"event":"resume"');
    expect(committedId(fresh.stdout)).toMatch(/^[0-9a-f]{32}$/u);
    expect(committedId(fresh.stdout)).not.toBe(old);
    expect((await runCli(['uploads', '--to', to], env)).stdout).toContain(old);
    const aborted = await runCli(['upload', '--abort', old, '--to', to], env);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(aborted.stdout).toBe(`upload ${old}: aborted\n`);
    expect((await runCli(['uploads', '--to', to], env)).stdout).toBe('no unfinished uploads\n');

    // The record names an upload the server no longer has: the rerun says so by starting over.
    const gone = await interrupt();
    expect((await runCli(['upload', '--abort', gone, '--to', to], env)).code).toBe(0);
    const again = await runCli(args, env);
    expect(again.code, again.stderr).toBe(0);
    expect(committedId(again.stdout)).not.toBe(gone);
  }, 120_000);

  it('a directory is refused before anything reaches the server (exit 2)', async () => {
    // Port 9 (discard) on loopback: nothing listens; a connect attempt would fail differently.
    const run = await runCli(['upload', dir, '--to', '127.0.0.1:9'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('is not a regular file (a directory');
  }, 30_000);
});
