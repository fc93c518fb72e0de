/**
 * Issue 12, item 4, measured: with 3,000 silent connections kept open against `framewire serve`
 * (each one the server closes is opened again at once, from 50 source addresses), every honest
 * client's handshake (TCP connect + HELLO + the server's HELLO) completes, at worst after one retry
 * when the server evicted it with LIMIT_EXCEEDED (the oldest handshaking socket makes room). Before the handshake
 * budget, the same attack made most honest connects fail (dropped at maxConnections).
 *
 * In the suite the bound is the handshake deadline (5 s, FW-HS-5): an honest client is never shut
 * out, even on a loaded CI machine. The server itself fails a handshake that outlasts it from the
 * accept; what the client's clock adds is the TCP connect (under load, a SYN retransmitted after
 * 1 s when the listen backlog overflows: the maxima of about 1.05 s measured at nice 19 beside
 * three busy loops) and, after an eviction, the server's retry_after_ms (1 s). Nothing else in the
 * test waits on the clock: it measures once the attacker reports the attack in force, and the
 * attack lasts until the last sample is taken. The latency figure is measured on a quiet machine with
 *   FW_EXHAUSTION_BOUND_MS=1000 npx vitest run test/integration/exhaustion.test.ts
 * (20 of 20 within 1 s: p50 72 ms, max 154 ms on 2 cores).
 *
 * The server and the attacker each run in a process of their own; this process only measures.
 * Scale with FW_EXHAUSTION_SILENT (default 3000) and FW_EXHAUSTION_SAMPLES (default 20).
 * Cost: about 10 s and 2 × 3,000 file descriptors; skipped, loudly, when the fd limit is lower.
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
/** serve's default maxConnections (spec §8.8): more silent connections than it may hold at all. */
const MAX_CONNECTIONS = 1024;
/** The attacker stops when told (its stdin ends); this only bounds it should the test die. */
const ATTACKER_MAX_MS = 300_000;

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
  // A backstop only: every wait below is for an event (the server listening, the attack at full
  // size, each handshake, the attacker's report); about 10 s on a quiet machine, 35 s and more
  // when the test runs at nice 19 beside busy loops.
  it(`FW-LIMIT-8 FW-HS-5: with ${SILENT} silent connections kept open, every honest handshake completes within ${BOUND_MS} ms`, { timeout: 180_000 }, async () => {
    const serve = new ServeProcess();
    cleanups.push(() => serve.stop());
    const port = await serve.start([]);
    const attacker = spawn(process.execPath, ['--import', 'tsx', attackerScript, String(port), String(SILENT), String(ADDRESSES), String(ATTACKER_MAX_MS), String(MAX_CONNECTIONS)], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanups.push(async () => {
      if (attacker.exitCode === null) {
        attacker.kill('SIGKILL');
        await new Promise((resolve) => attacker.once('exit', resolve));
      }
    });
    const reports = new Map<string, Record<string, number>>();
    const reported = new Map<string, () => void>();
    const report = (event: string): Promise<Record<string, number>> =>
      new Promise((resolve) => {
        const seen = reports.get(event);
        if (seen !== undefined) resolve(seen);
        else reported.set(event, () => { resolve(reports.get(event)!); });
      });
    createInterface({ input: attacker.stdout }).on('line', (l) => {
      const parsed = JSON.parse(l) as Record<string, number> & { event: string };
      reports.set(parsed.event, parsed);
      reported.get(parsed.event)?.();
    });
    // Measure only once the attack is in force, however long that takes here: more silent
    // connections open than the server may hold at all (without the handshake budget, every slot
    // would be taken), and the server shedding them (FW-LIMIT-8).
    const ready = await within(report('ready'), 60_000, 'attack in force');
    const samples: number[] = [];
    let failures = 0;
    let evictedOnce = 0;
    for (let i = 0; i < SAMPLES; i++) {
      // An honest client does what the spec tells it to with LIMIT_EXCEEDED (retryable, see
      // retry_after_ms): it tries again after that. When the server's event loop falls behind 10,000
      // accepts a second, 128 newer sockets can arrive before it reads an honest HELLO, and the
      // oldest is evicted (seen under node 24 in CI: 1 of 20); the bound covers the retry.
      const started = performance.now();
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
    // The attack lasted the whole measurement: the attacker is still running, and the server
    // kept closing its connections while the honest clients were being measured.
    expect(attacker.exitCode).toBeNull();
    attacker.stdin.end();
    const done = await within(report('done'), 30_000, 'attacker report');
    const sorted = [...samples].sort((a, b) => a - b);
    console.log(
      `[exhaustion] ${SILENT} silent connections from ${ADDRESSES} addresses (opened ${done['opened']}, closed by the server ${done['closedByServer']} (${done['closedByServer']! - ready['closedByServer']!} while measuring), open at peak ${done['peakOpen']}); ` +
        `honest handshakes: ${samples.length}/${SAMPLES} ok (${evictedOnce} after one LIMIT_EXCEEDED retry), p50 ${quantile(sorted, 0.5).toFixed(1)} ms, max ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms (bound ${BOUND_MS} ms)`,
    );
    expect(done['closedByServer']).toBeGreaterThan(ready['closedByServer']!);
    expect(failures).toBe(0);
    expect(samples).toHaveLength(SAMPLES);
    expect(sorted.at(-1)).toBeLessThan(BOUND_MS);
    expect(serve.exit).toBeUndefined();
    expect(serve.logsAtLeast(50)).toEqual([]);
  });
});
