/**
 * `--capture DIR` (issue 16) with the real CLI as child processes: `serve --capture` writes each
 * connection's two directions, which `framewire inspect DIR` decodes with no violation (HELLO, OPEN,
 * DATA…, DONE); a per-direction bound truncates the capture, inspect says so, the upload is
 * unaffected; a directory that cannot hold captures (or a QUIC target) is refused at start.
 * Cost: two servers and about 8 CLI processes (~1 s each to start), 2 MiB through loopback.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../integration/helpers.ts';
import { jsonLines, runCli } from './run-cli.ts';
import { ServeProcess } from './serve-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'framewire-capture-'));
const env = { FRAMEWIRE_STATE_DIR: join(dir, 'state') };
const servers: ServeProcess[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function capturingServer(captures: string, flags: readonly string[] = []): Promise<string> {
  const serve = new ServeProcess();
  servers.push(serve);
  return `127.0.0.1:${await serve.start(['--capture', captures, ...flags])}`;
}

/** Its header is complete and says how the capture ended (byte 7 is 0 while it is written). */
function isClosed(file: Buffer): boolean {
  return file.length >= 32 && file[7] !== 0;
}

/** Waits until every capture file in `captures` has been closed (header byte 7 is no longer 0). */
async function closedCaptures(captures: string, count: number): Promise<string[]> {
  const closed = (): string[] => readdirSync(captures).filter((n) => n.endsWith('.fwcap') && isClosed(readFileSync(join(captures, n))));
  await waitFor(() => closed().length >= count, 10_000, `${count} closed capture files`, 50);
  return closed().sort();
}

describe('framewire --capture and inspect', () => {
  it('serve --capture: an upload\'s two directions, decoded by inspect DIR: HELLO, OPEN, DATA…, DONE, no CRC error, exit 0', async () => {
    const captures = join(dir, 'captures');
    const to = await capturingServer(captures);
    const file = join(dir, 'small.bin');
    writeFileSync(file, randomBytes(300 * 1024));
    const up = await runCli(['upload', file, '--to', to, '--chunk-size', '64KiB', '--json'], env);
    expect(up.code, up.stderr).toBe(0);
    const names = await closedCaptures(captures, 2);
    expect(names[0]).toMatch(/^\d{8}T\d{9}Z-\d+-s\w+-127\.0\.0\.1_\d+\.c2s\.fwcap$/u);
    expect(names[1]).toBe(names[0]?.replace('.c2s.', '.s2c.'));
    const inspected = await runCli(['inspect', captures, '--json']);
    expect(inspected.code, inspected.stdout).toBe(0);
    const lines = jsonLines(inspected.stdout);
    const c2s = lines.filter((l) => String(l['file']).endsWith('.c2s.fwcap'));
    const types = c2s.filter((l) => l['type'] !== undefined).map((l) => l['type']);
    expect(types[0]).toBe('HELLO');
    expect(types).toContain('OPEN');
    expect(types.filter((t) => t === 'DATA').length).toBeGreaterThanOrEqual(5);
    expect(types).toContain('DONE');
    expect(c2s[0]).toMatchObject({ capture: expect.stringMatching(/^capture complete/u) as unknown });
    const frames = lines.filter((l) => l['type'] !== undefined);
    expect(frames.every((f) => f['crcOk'] === true && (f['violations'] as unknown[]).length === 0)).toBe(true);
    const s2c = lines.filter((l) => String(l['file']).endsWith('.s2c.fwcap')).map((l) => l['type']);
    expect(s2c).toContain('HELLO');
    expect(s2c).toContain('DONE');
    // The text form names each file and how its capture ended.
    const text = await runCli(['inspect', join(captures, names[0] ?? '')]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^capture complete: \d+ bytes captured\nok @0 HELLO stream=0 seq=0/u);
    expect(text.stdout).toMatch(/\d+ frames, 0 violations\n$/u);
  }, 120_000);

  it('tail --capture: the client side of a connection, c2s and s2c, decoded by inspect: the events arrive as DATA, then DONE', async () => {
    const to = await capturingServer(join(dir, 'server-side'));
    const captures = join(dir, 'client-side');
    const tail = await runCli(['tail', 'tokens', '--from', to, '--params', '{"count":3,"interval_ms":1}', '--capture', captures, '--json']);
    expect(tail.code, tail.stderr).toBe(0);
    const names = await closedCaptures(captures, 2);
    expect(names[0]).toMatch(/-c\w+-127\.0\.0\.1_\d+\.c2s\.fwcap$/u);
    const inspected = await runCli(['inspect', captures, '--json']);
    expect(inspected.code, inspected.stdout).toBe(0);
    const frames = jsonLines(inspected.stdout).filter((l) => l['type'] !== undefined);
    const of = (direction: string): unknown[] => frames.filter((l) => String(l['file']).endsWith(`.${direction}.fwcap`)).map((l) => l['type']);
    expect(of('c2s').slice(0, 1)).toEqual(['HELLO']);
    expect(of('c2s')).toContain('OPEN');
    expect(of('s2c').filter((t) => t === 'DATA').length).toBeGreaterThanOrEqual(4);
    expect(of('s2c')).toContain('DONE');
  }, 60_000);

  it('--capture-max-bytes: the capture stops at the bound and inspect reports the truncation; the upload and the server are unaffected', async () => {
    const captures = join(dir, 'bounded');
    const to = await capturingServer(captures, ['--capture-max-bytes', '4KiB']);
    const file = join(dir, 'larger.bin');
    const content = randomBytes(1024 * 1024);
    writeFileSync(file, content);
    const up = await runCli(['upload', file, '--to', to, '--chunk-size', '256KiB', '--json'], env);
    expect(up.code, up.stderr).toBe(0);
    const id = String(jsonLines(up.stdout).find((l) => l['event'] === 'committed')?.['objectId']);
    const back = join(dir, 'back.bin');
    const down = await runCli(['download', id, '-o', back, '--from', to, '--json'], env);
    expect(down.code, down.stderr).toBe(0);
    expect(readFileSync(back).equals(content)).toBe(true);
    const names = await closedCaptures(captures, 4);
    const c2s = join(captures, names.find((n) => n.endsWith('.c2s.fwcap')) ?? '');
    expect(readFileSync(c2s).length).toBe(32 + 4096);
    const inspected = await runCli(['inspect', c2s]);
    expect(inspected.code, inspected.stdout).toBe(0);
    expect(inspected.stdout).toMatch(/^capture TRUNCATED at the per-direction limit \(--capture-max-bytes\): 4096 bytes captured, \d+ bytes not captured\n/u);
    expect(inspected.stdout).toContain('ok @0 HELLO');
  }, 120_000);

  it('a capture directory that cannot be written stops serve and the client commands at start, with the reason (exit 2); so does --capture with a QUIC target', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const serve = await runCli(['serve', '--port', '0', '--data-dir', join(dir, 'unused-data'), '--capture', join(blocker, 'captures')]);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toMatch(/--capture: cannot write captures to .*a-file\/captures: .*(ENOTDIR|EEXIST)/u);
    expect(serve.stdout).not.toContain('listening');
    const tail = await runCli(['tail', 'clock', '--from', '127.0.0.1:1', '--capture', join(blocker, 'captures')]);
    expect(tail.code).toBe(2);
    expect(tail.stderr).toMatch(/--capture: cannot write captures to/u);
    const quic = await runCli(['tail', 'clock', '--from', 'quic://127.0.0.1:1', '--capture', join(dir, 'q')]);
    expect(quic.code).toBe(2);
    expect(quic.stderr).toMatch(/--capture: QUIC connections cannot be captured/u);
  }, 60_000);
});
