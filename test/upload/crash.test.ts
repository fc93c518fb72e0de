/**
 * Crash consistency of the file-system store (spec/UPLOAD.md FW-UP-51, FW-UP-31; spec/OBJECTS.md
 * FW-OBJ-14): a child process runs create → three chunks → commit (→ delete of the object) and
 * SIGKILLs itself at one named step (src/upload/fs-steps.ts;
 * the kill point is injected through FsUploadStoreOptions.onStep, never timed). A new store on the
 * same directory — a restarted server — must then leave no stray file and present a consistent
 * upload: absent, or receiving with what was acknowledged, or committed with the right bytes.
 * Cost: fifteen child processes, four at a time: four batches of child starts (about 5 s on an
 * idle 2-core machine, 15 s on the loaded one).
 */

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { FsUploadStore, fsStoreSteps, type FsStoreStep } from '../../src/upload/index.ts';
import { listFiles, readAllBytes, removeTempDirs, tempDir, within } from './helpers.ts';

afterEach(removeTempDirs);

// The bytes test/upload/fixtures/crash-store.ts uploads.
const bytes = Buffer.from(Array.from({ length: 2500 }, (_, i) => (i * 13) % 251));
const sha256 = createHash('sha256').update(bytes).digest('hex');

interface Crash {
  readonly signal: NodeJS.Signals | null;
  readonly acks: readonly Record<string, unknown>[];
}

async function crashAt(dataDir: string, step: FsStoreStep): Promise<Crash> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'crash-store.ts'), dataDir, step], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acks: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => acks.push(JSON.parse(line) as Record<string, unknown>));
  const signal = await within(new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_code, sig) => { resolve(sig); })), 20_000, `child at ${step}`);
  return { signal, acks };
}

/** Anything a crash may leave that recovery must remove. */
async function strays(dataDir: string): Promise<string[]> {
  const files = await listFiles(dataDir);
  const out = files.filter((f) => /\.tmp-/.test(f) || f.startsWith('objects-tmp/') || f.startsWith('uploads-tmp/') || /^uploads\/[^/]+\/tmp\//.test(f));
  for (const id of await readdir(join(dataDir, 'uploads'))) {
    const entries = await readdir(join(dataDir, 'uploads', id));
    if (!entries.includes('manifest.json')) out.push(`uploads/${id}/ without manifest.json (${entries.join(', ') || 'empty'})`);
  }
  for (const d of ['objects-tmp', 'uploads-tmp']) {
    const left = await readdir(join(dataDir, d)).catch(() => []);
    if (left.length > 0) out.push(`${d}/ holds ${left.join(', ')}`);
  }
  // An object's description without the object is what a crash inside publish or delete leaves.
  const objects: string[] = await readdir(join(dataDir, 'objects')).catch(() => []);
  for (const name of objects) {
    if (name.endsWith('.json') && !objects.includes(name.slice(0, -'.json'.length))) out.push(`objects/${name} without its object`);
  }
  // A part file belongs to an unfinished upload; anything else is debris.
  for (const id of await readdir(join(dataDir, 'parts')).catch(() => [])) {
    const manifest = await readFile(join(dataDir, 'uploads', id, 'manifest.json'), 'utf8').catch(() => undefined);
    const state = manifest === undefined ? 'absent' : (JSON.parse(manifest) as { record: { state: string } }).record.state;
    if (state !== 'receiving') out.push(`parts/${id} of an upload that is ${state}`);
  }
  return out;
}

const stepIndex = (s: FsStoreStep): number => fsStoreSteps.indexOf(s);

describe('FsUploadStore: SIGKILL at every step of create, chunk and commit', () => {
  it('FW-UP-51 FW-UP-31 FW-OBJ-14: recovery at start leaves no stray file and a consistent upload and object', { timeout: 60_000 }, async () => {
    const runs: { step: FsStoreStep; dataDir: string; crash: Crash }[] = [];
    for (let i = 0; i < fsStoreSteps.length; i += 4) {
      const batch = fsStoreSteps.slice(i, i + 4);
      runs.push(...(await Promise.all(batch.map(async (step) => {
        const dataDir = await tempDir('fw-crash-');
        return { step, dataDir, crash: await crashAt(dataDir, step) };
      }))));
    }
    for (const { step, dataDir, crash } of runs) {
      expect(crash.signal, `${step}: the child killed itself there`).toBe('SIGKILL');
      const store = new FsUploadStore({ dataDir });
      await store.ready;
      expect.soft(await strays(dataDir), `${step}: stray files after recovery`).toEqual([]);
      const ids = await readdir(join(dataDir, 'uploads'));
      const created = crash.acks.find((a) => a['ack'] === 'create');
      if (stepIndex(step) < stepIndex('create.published')) {
        // Never acknowledged and never published: nothing of it remains.
        expect(ids, step).toEqual([]);
        expect(await listFiles(join(dataDir, 'keys')), step).toEqual([]);
        continue;
      }
      expect(ids, step).toHaveLength(1);
      const id = ids[0]!;
      if (created !== undefined) expect(created['id']).toBe(id);
      const info = await store.get(id);
      const chunksAcked = crash.acks.filter((a) => a['ack'] === 'chunk').length;
      if (step.startsWith('delete.')) {
        // Killed between removing the bytes and the description: the object is gone for good.
        expect(info?.state, step).toBe('committed');
        expect(await store.objects.describeObject(id), step).toBeUndefined();
        expect(await store.objects.deleteObject(id), step).toBe(false);
        continue;
      }
      if (stepIndex(step) >= stepIndex('commit.object-published')) {
        // The object was verified before its rename: the commit happened, the chunks are gone.
        expect(info?.state, step).toBe('committed');
        expect(info?.object?.sha256, step).toBe(sha256);
        expect((await listFiles(join(dataDir, 'uploads', id))), step).toEqual(['manifest.json']);
        expect(createHash('sha256').update(await readAllBytes((await store.openObject(id))!)).digest('hex')).toBe(sha256);
        // Published with its description, which the restarted store serves as committed.
        expect(await store.objects.describeObject(id), step).toMatchObject({ objectId: id, owner: 'alice', size: bytes.length, sha256, committedAt: info?.object?.committedAt });
        continue;
      }
      // Not published: the read profile does not know the object.
      expect(await store.objects.describeObject(id), step).toBeUndefined();
      expect(info?.state, step).toBe('receiving');
      // Killed between recording the first chunk and acknowledging it: stored, not acknowledged
      // (the client sends it again and gets a duplicate). Everywhere else: exactly what was acknowledged.
      expect(info?.stored.size, step).toBe(chunksAcked + (step === 'chunk.recorded' ? 1 : 0));
      await expect(stat(join(dataDir, 'objects', id))).rejects.toThrow();
      if (chunksAcked === 3) {
        // The restarted store finishes the interrupted commit.
        expect((await store.commit(id, { token: 1 })).sha256).toBe(sha256);
        expect(await strays(dataDir)).toEqual([]);
      }
    }
  });
});
