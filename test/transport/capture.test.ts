/**
 * The capture tap's bounds in process (src/transport/capture.ts): a disk that falls behind by more
 * than maxPendingBytes stops that direction and counts what it missed instead of buffering; the
 * process-wide total bounds all captures; a file that cannot be written is logged and ends the
 * capture without throwing into the connection.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CaptureEnd, CaptureSink } from '../../src/transport/index.ts';
import { waitFor } from '../integration/helpers.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'framewire-tap-'));
  dirs.push(d);
  return d;
}

/** Its header is complete and says how the capture ended (byte 7 is 0 while it is written). */
function isClosed(file: Buffer): boolean {
  return file.length >= 32 && file[7] !== 0;
}

/** The header of every closed capture file in `dir`, by direction. */
async function headers(dir: string): Promise<Map<string, { end: number; captured: bigint; missed: bigint; size: number }>> {
  const closed = (): string[] => readdirSync(dir).filter((n) => n.endsWith('.fwcap') && isClosed(readFileSync(join(dir, n))));
  await waitFor(() => closed().length === 2, 5000, 'both files closed', 10);
  const out = new Map<string, { end: number; captured: bigint; missed: bigint; size: number }>();
  for (const n of closed()) {
    const b = readFileSync(join(dir, n));
    out.set(n.endsWith('.c2s.fwcap') ? 'c2s' : 's2c', { end: b[7] ?? -1, captured: b.readBigUInt64BE(8), missed: b.readBigUInt64BE(16), size: b.length - 32 });
  }
  return out;
}

describe('capture tap bounds', () => {
  it('a disk behind by more than maxPendingBytes: that direction stops and counts the missed bytes; memory held stays under the bound', async () => {
    const dir = tempDir();
    const sink = await CaptureSink.create({ dir, maxPendingBytes: 64 * 1024 });
    const tap = sink.open({ id: 't0', peer: '127.0.0.1:1', role: 'server' });
    // All pushed before the writer gets a turn: the disk is "slow" by construction.
    const chunk = new Uint8Array(16 * 1024).fill(7);
    for (let i = 0; i < 10; i++) tap.received(chunk);
    tap.sent(chunk);
    tap.close();
    const h = await headers(dir);
    expect(h.get('c2s')).toEqual({ end: CaptureEnd.slowDisk, captured: 64n * 1024n, missed: 6n * 16n * 1024n, size: 64 * 1024 });
    expect(h.get('s2c')).toEqual({ end: CaptureEnd.complete, captured: 16n * 1024n, missed: 0n, size: 16 * 1024 });
  });

  it('maxTotalBytes bounds all captures of the sink together', async () => {
    const dir = tempDir();
    const sink = await CaptureSink.create({ dir, maxTotalBytes: 1000 });
    const tap = sink.open({ id: 't1', peer: 'p', role: 'client' });
    tap.sent(new Uint8Array(600));
    tap.received(new Uint8Array(600));
    tap.close();
    const h = await headers(dir);
    expect(h.get('c2s')).toMatchObject({ end: CaptureEnd.complete, size: 600 });
    expect(h.get('s2c')).toMatchObject({ end: CaptureEnd.totalLimit, captured: 400n, missed: 200n, size: 400 });
  });

  it('a capture file that cannot be written is logged and ends that capture; nothing throws', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const sink = await CaptureSink.create({ dir, logger });
    rmSync(dir, { recursive: true });
    const tap = sink.open({ id: 't2', peer: 'p', role: 'client' });
    expect(() => {
      tap.sent(new Uint8Array(100));
      tap.received(new Uint8Array(100));
      tap.sent(new Uint8Array(100));
      tap.close();
    }).not.toThrow();
    await waitFor(() => lines.length === 2, 5000, 'two warnings, one per direction', 10);
    expect(lines.every((l) => l.includes('capture write failed') && l.includes('ENOENT'))).toBe(true);
  });
});
