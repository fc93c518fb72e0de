/**
 * Issue 12, item 4, measured: with 3,000 silent connections kept open against `framewire serve`
 * (each one the server closes is opened again at once, from 50 source addresses), every honest
 * client's handshake (TCP connect + HELLO + the server's HELLO) completes, at worst after one retry
 * when the server evicted it with LIMIT_EXCEEDED (the oldest handshaking socket makes room). Before the handshake
 * budget, the same attack made most honest connects fail (dropped at maxConnections).
 *
 * In the suite the bound is the handshake deadline (5 s): an honest client is never shut out, even
 * on a loaded CI machine. The latency figure is measured on a quiet machine with
 *   FW_EXHAUSTION_BOUND_MS=1000 npx vitest run test/integration/exhaustion.test.ts
 * (20 of 20 within 1 s: p50 72 ms, max 154 ms on 2 cores).
 *
 * The server and the attacker each run in a process of their own; this process only measures.
 * Scale with FW_EXHAUSTION_SILENT (default 3000) and FW_EXHAUSTION_SAMPLES (default 20).
 * Cost: about 8 s and 2 × 3,000 file descriptors; skipped, loudly, when the fd limit is lower.
 */

import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, isFramewireError } from '../../src/index.ts';
import { ServeProcess } from '../cli/serve-process.ts';
import { sleep, within } from './helpers.ts';

const SILENT = Number(process.env['FW_EXHAUSTION_SILENT'] ?? 3000);
const SAMPLES = Number(process.env['FW_EXHAUSTION_SAMPLES'] ?? 20);
const ADDRESSES = 50;
const BOUND_MS = Number(process.env['FW_EXHAUSTION_BOUND_MS'] ?? 5000);

const fdLimit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
const enoughFds = !Number.isFinite(fdLimit) || fdLimit >= SILENT + 500;
if (!enoughFds) console.warn(`[exhaustion] SKIPPED: the fd limit (${fdLimit}) is below ${SILENT + 500}; run with a higher ulimit -n`);

const attackerScript = fileURLToPath(new URL('./fixtures/silent-attacker.ts', import.meta.url));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

describe.skipIf(!enoughFds)('connection exhaustion before the handshake', () => {
  it(`with ${SILENT} silent connections kept open, every honest handshake completes within ${BOUND_MS} ms`, { timeout: 60_000 }, async () => {
    const serve = new ServeProcess();
    cleanups.push(() => serve.stop());
    const port = await serve.start([]);
    const attackMs = 4000 + SAMPLES * 150;
    const attacker = spawn(process.execPath, ['--import', 'tsx', attackerScript, String(port), String(SILENT), String(ADDRESSES), String(attackMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(async () => {
      if (attacker.exitCode === null) {
        attacker.kill('SIGKILL');
        await new Promise((resolve) => attacker.once('exit', resolve));
      }
    });
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: attacker.stdout }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    // Let the attack reach its full size before measuring.
    await sleep(2000);
    const samples: number[] = [];
    let failures = 0;
    let evictedOnce = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const started = performance.now();
      // An honest client does what the spec tells it to with LIMIT_EXCEEDED (retryable,: it tries
      // see retry_after_ms): it tries again after that. When the server's event loop falls behind 10,000 accepts a
      // second, 128 newer sockets can arrive before it reads an honest HELLO, and the oldest is
      // evicted (seen under node 24 in CI: 1 of 20); the bound covers the retry.
      for (let attempt = 1; ; attempt++) {
        try {
          const c = await connect({ port, connectTimeoutMs: 10_000 });
          samples.push(performance.now() - started);
          c.close();
          break;
        } catch (error) {
          if (attempt === 1 && isFramewireError(error) && error.code === 'LIMIT_EXCEEDED') {
            evictedOnce++;
            await sleep(error.retryAfterMs ?? 100);
            continue;
          }
          failures++;
          console.warn('[exhaustion] honest handshake failed:', (error as Error).message);
          break;
        }
      }
      await sleep(100);
    }
    const done = await within(
      new Promise<Record<string, unknown>>((resolve) => {
        const check = setInterval(() => {
          const d = lines.find((l) => l['event'] === 'done');
          if (d !== undefined) {
            clearInterval(check);
            resolve(d);
          }
        }, 50);
      }),
      attackMs + 10_000,
      'attacker report',
    );
    const sorted = [...samples].sort((a, b) => a - b);
    console.log(
      `[exhaustion] ${SILENT} silent connections from ${ADDRESSES} addresses (opened ${String(done['opened'])}, closed by the server ${String(done['closedByServer'])}, open at peak ${String(done['peakOpen'])}); ` +
        `honest handshakes: ${samples.length}/${SAMPLES} ok (${evictedOnce} after one LIMIT_EXCEEDED retry), p50 ${quantile(sorted, 0.5).toFixed(1)} ms, max ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms (bound ${BOUND_MS} ms)`,
    );
    expect(failures).toBe(0);
    expect(sorted.at(-1)).toBeLessThan(BOUND_MS);
    expect(serve.exit).toBeUndefined();
    expect(serve.logsAtLeast(50)).toEqual([]);
  });
});
