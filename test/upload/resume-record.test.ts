/**
 * FW-UP-62: the client's local record of unfinished uploads — where it lives, what identifies a
 * source, its bound, and that a damaged file costs a restart, never a crash.
 */

import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultResumeFile, FileResumeStore, fingerprintOf, MAX_RESUME_ENTRIES, type ResumeEntry } from '../../src/upload/index.ts';

const dirs: string[] = [];
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'fw-resume-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const entry = (n: number, expiresAt: number): ResumeEntry => ({ server: '127.0.0.1:7070', uploadId: n.toString(16).padStart(32, '0'), idempotencyKey: `k${n}`, size: 10, chunkSize: 4, path: '/x', expiresAt });

describe('resume record', () => {
  it('lives in FRAMEWIRE_STATE_DIR, else XDG_STATE_HOME/framewire, else ~/.local/state/framewire', () => {
    expect(defaultResumeFile({ FRAMEWIRE_STATE_DIR: '/t', XDG_STATE_HOME: '/x' })).toBe('/t/uploads.json');
    expect(defaultResumeFile({ XDG_STATE_HOME: '/x' })).toBe('/x/framewire/uploads.json');
    expect(defaultResumeFile({ XDG_STATE_HOME: 'relative' })).toBe(join(homedir(), '.local/state/framewire/uploads.json'));
    expect(defaultResumeFile({})).toBe(join(homedir(), '.local/state/framewire/uploads.json'));
  });

  it('a fingerprint changes with the server, the content and the mtime, and not otherwise', async () => {
    const d = temp();
    const file = join(d, 'a.bin');
    writeFileSync(file, 'hello world');
    const fp = await fingerprintOf(file, 'h:1');
    expect(await fingerprintOf(file, 'h:1')).toBe(fp);
    expect(await fingerprintOf(file, 'h:2')).not.toBe(fp);
    utimesSync(file, new Date(1000), new Date(1000));
    const touched = await fingerprintOf(file, 'h:1');
    expect(touched).not.toBe(fp);
    writeFileSync(file, 'HELLO world');
    utimesSync(file, new Date(1000), new Date(1000));
    expect(await fingerprintOf(file, 'h:1')).not.toBe(touched);
  });

  it('saves, finds and removes; expired records are not found; a damaged file reads as empty', async () => {
    const d = temp();
    let now = 1000;
    const store = new FileResumeStore(join(d, 'sub', 'uploads.json'), () => now);
    const key = 'a'.repeat(64);
    await store.save(key, entry(1, 5000));
    expect(await store.find(key)).toEqual(entry(1, 5000));
    now = 5000;
    expect(await store.find(key)).toBeUndefined();
    now = 1000;
    await store.remove(key);
    expect(await store.find(key)).toBeUndefined();
    writeFileSync(store.path, '{"version": 1, "entries": {"zz": 1');
    expect(await store.find(key)).toBeUndefined();
    await store.save(key, entry(2, 9000));
    expect(await store.find(key)).toEqual(entry(2, 9000));
  });

  it(`keeps at most ${MAX_RESUME_ENTRIES} records: at the limit, the one that expires first goes`, async () => {
    const d = temp();
    const store = new FileResumeStore(join(d, 'uploads.json'), () => 0);
    const entries = Object.fromEntries(Array.from({ length: MAX_RESUME_ENTRIES }, (_, i) => [i.toString(16).padStart(64, '0'), entry(i, 10_000 + i)]));
    writeFileSync(store.path, JSON.stringify({ version: 1, entries }));
    await store.save('f'.repeat(64), entry(99_999, 50_000));
    const kept = (JSON.parse(readFileSync(store.path, 'utf8')) as { entries: Record<string, ResumeEntry> }).entries;
    expect(Object.keys(kept)).toHaveLength(MAX_RESUME_ENTRIES);
    expect(kept['0'.repeat(64)]).toBeUndefined();
    expect(kept['f'.repeat(64)]?.uploadId).toBe(entry(99_999, 0).uploadId);
  });
});
