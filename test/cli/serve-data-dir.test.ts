/**
 * Issue 16, item 3 (spec/UPLOAD.md FW-UP-63), with the real `framewire serve` as a child process:
 * a data directory that cannot be used, or that another server holds, stops the start with a
 * clear message (before: "listening", then every upload failed after ~25 s with INTERNAL); a lock
 * left by a killed server is taken over; and serve logs at info by default, --log-level still rules.
 * Cost: about six serve processes, one small upload.
 */

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { upload } from '../../src/api/upload.ts';
import { waitFor } from '../integration/helpers.ts';
import { claimDataDir, DataDirError } from '../../src/upload/index.ts';
import { runCli } from './run-cli.ts';
import { ServeProcess } from './serve-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'framewire-datadir-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('serve --data-dir', () => {
  it('under a regular file, or naming one: refuses to start (exit 1) with the reason, without listening', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    const under = await runCli(['serve', '--port', '0', '--data-dir', join(file, 'data')]);
    expect(under.code).toBe(1);
    expect(under.stdout).not.toContain('listening');
    expect(under.stderr).toBe(`framewire: cannot start the server: data directory ${join(file, 'data')} is not usable: a path component is a regular file, not a directory (ENOTDIR)\n`);
    const itself = await runCli(['serve', '--port', '0', '--data-dir', file]);
    expect(itself.code).toBe(1);
    expect(itself.stderr).toContain('is not usable: it exists and is not a directory (EEXIST)');
  }, 60_000);

  it('a second server on the same directory is refused while the first runs; the first releases its lock when it stops', async () => {
    const first = new ServeProcess();
    try {
      await first.start([]);
      const lock = join(first.dataDir, 'lock');
      expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ pid: first.pid });
      const second = await runCli(['serve', '--port', '0', '--data-dir', first.dataDir]);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`data directory ${first.dataDir} is in use by process ${String(first.pid)} on `);
      expect(second.stdout).not.toContain('listening');
      // A graceful stop (SIGTERM) removes the lock; ServeProcess.stop() would remove the whole directory.
      process.kill(first.pid ?? 0, 'SIGTERM');
      await waitFor(() => first.exit !== undefined, 20_000, 'serve stopped');
      expect(first.exit?.code).toBe(0);
      expect(existsSync(first.dataDir)).toBe(true);
      expect(existsSync(lock)).toBe(false);
    } finally {
      await first.stop();
    }
  }, 60_000);

  it('a lock whose process is gone (a killed server) is taken over; a live one is not', async () => {
    const data = join(dir, 'stale');
    const gone = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) => gone.once('exit', () => { resolve(gone.pid ?? 0); }));
    const claim0 = await claimDataDir(data);
    await claim0.release();
    writeFileSync(join(data, 'lock'), JSON.stringify({ pid: deadPid, host: (await import('node:os')).hostname() }));
    const claim = await claimDataDir(data);
    expect(JSON.parse(readFileSync(join(data, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid });
    await expect(claimDataDir(data)).rejects.toThrow(DataDirError);
    await claim.release();
    expect(existsSync(join(data, 'lock'))).toBe(false);
  });

  it('serve logs at info by default (listening, connections, uploads committed); --log-level error silences that', async () => {
    const chatty = new ServeProcess();
    const quiet = new ServeProcess();
    let bare: ReturnType<typeof spawn> | undefined;
    try {
      const port = await chatty.start([], 'info');
      // ServeProcess passes --log-level; the default is what a bare `framewire serve` gets.
      bare = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../src/cli/bin.ts'), 'serve', '--port', '0', '--data-dir', join(dir, 'bare')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let bareErr = '';
      bare.stderr?.on('data', (d: Buffer) => { bareErr += d.toString(); });
      bare.stdout?.resume();
      await waitFor(() => bareErr.includes('"msg":"listening"'), 30_000, 'the info log line of a bare serve', 20);
      const exited = new Promise((resolve) => bare?.once('exit', resolve));
      bare.kill('SIGTERM');
      await exited;
      expect(bareErr).toContain('"level":30');
      expect(bareErr).toContain('"msg":"listening"');

      await upload(Buffer.from('hello'), { port });
      const quietPort = await quiet.start([], 'error');
      await upload(Buffer.from('hello'), { port: quietPort });
      await chatty.stop();
      await quiet.stop();
      const messages = chatty.stderrLines.map((l) => (JSON.parse(l) as { msg?: string }).msg);
      expect(messages).toEqual(expect.arrayContaining(['listening', 'connection established', 'upload committed', 'connection closed']));
      expect(quiet.stderrLines).toEqual([]);
    } finally {
      if (bare?.exitCode === null) bare.kill('SIGKILL');
      await chatty.stop();
      await quiet.stop();
    }
  }, 60_000);
});
