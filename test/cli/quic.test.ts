/**
 * The command line over QUIC, as a person would use it: `serve --quic-port 0` prints the address
 * to pin, `upload --to quic://…?peer=…` commits the file byte-identical, `tail --from quic://…`
 * prints the events; a wrong pinned peer id fails. About 4 s (three CLI processes).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { parseServerTarget } from '../../src/cli/parse.ts';
import { quicAvailable } from '../../src/transport/index.ts';
import { within } from '../integration/helpers.ts';

/** The CLI from the sources, through tsx (the tests never read dist/). */
const bin = join(import.meta.dirname, '..', '..', 'src', 'cli', 'bin.ts');
const dir = mkdtempSync(join(tmpdir(), 'fw-cli-quic-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: readonly string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      resolve({ code, out, err });
    });
  });
}

describe('framewire CLI: addresses', () => {
  it('parses host:port, tcp:// and quic:// (with the peer id to pin)', () => {
    expect(parseServerTarget('127.0.0.1:7070', '--to')).toEqual({ host: '127.0.0.1', port: 7070 });
    expect(parseServerTarget('tcp://example:1', '--to')).toEqual({ host: 'example', port: 1 });
    expect(parseServerTarget('quic://127.0.0.1:7071', '--to')).toEqual({ host: '127.0.0.1', port: 7071, quic: {} });
    expect(parseServerTarget('quic://[::1]:7071?peer=12D3KooWabc', '--to')).toEqual({ host: '::1', port: 7071, quic: { peerId: '12D3KooWabc' } });
    expect(() => parseServerTarget('quic://h:1?pier=x', '--to')).toThrow(/peer=/);
    expect(() => parseServerTarget('quic://h', '--to')).toThrow(/host:port/);
  });
});

describe.skipIf(!quicAvailable())('framewire CLI over QUIC', () => {
  it('FW-QUIC-11: serve --quic-port prints the address to pin; upload --to quic:// and tail --from quic:// work; a wrong pin fails', async () => {
    const serve = spawn(process.execPath, ['--import', 'tsx', bin, '--log-level', 'error', 'serve', '--port', '0', '--quic-port', '0', '--data-dir', join(dir, 'data')], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(serve);
    const lines = createInterface({ input: serve.stdout });
    const pinned = await within(
      new Promise<string>((resolve) => {
        lines.on('line', (l) => {
          const m = /--to '(quic:\/\/[^']+)'/.exec(l);
          if (m !== null) resolve(m[1]!);
        });
      }),
      15_000,
      'serve prints the QUIC address',
    );
    expect(pinned).toMatch(/^quic:\/\/127\.0\.0\.1:\d+\?peer=12D3KooW\w+$/);

    const file = join(dir, 'blob.bin');
    const bytes = randomBytes(700 * 1024);
    writeFileSync(file, bytes);
    const up = await within(cli(['upload', file, '--to', pinned, '--json', '--chunk-size', '256KiB']), 20_000, 'upload');
    expect(up.code, up.err).toBe(0);
    const committed = JSON.parse(up.out.trim().split('\n').at(-1)!) as { event: string; sha256: string; objectId: string };
    expect(committed.event).toBe('committed');
    expect(committed.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(readFileSync(join(dir, 'data', 'objects', committed.objectId)).equals(bytes)).toBe(true);

    const tail = await within(cli(['tail', 'tokens', '--from', pinned, '--params', '{"count":3,"interval_ms":5}', '--json']), 20_000, 'tail');
    expect(tail.code, tail.err).toBe(0);
    const ids = tail.out.trim().split('\n').map((l) => (JSON.parse(l) as { id: number }).id);
    expect(ids).toEqual([1, 2, 3]);

    const wrong = pinned.replace(/peer=\w+/, 'peer=12D3KooWQT41YbkfoVMTATwcLeA2CdnAZpEWe6Yo9rcQF96AR3ze');
    const refused = await within(cli(['upload', file, '--to', wrong, '--json']), 30_000, 'upload with a wrong pin');
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/AUTH_FAILED|not the pinned/);
  });
});
