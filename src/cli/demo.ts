/**
 * `framewire demo`, the main job: a local server with the file-system store (its own process), an
 * upload that survives a cut connection and a SIGKILLed, restarted server, a download of the
 * object that survives a cut and is verified by SHA-256, and an event stream
 * that survives a cut connection without gap or duplicate and whose producer really stops on
 * cancel. Everything is verified; any mismatch makes the demo fail.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { download } from '../download-client.ts';
import { subscribe } from '../events-client.ts';
import type { DeliveredEvent } from '../events/index.ts';
import { upload } from '../upload-client.ts';
import { FaultProxy } from './fault-proxy.ts';

export interface DemoOptions {
  /** Size of the generated file. */
  readonly bytes: number;
  readonly chunkSize: number;
  readonly inflight: number;
  /** Events of the token stream. */
  readonly events: number;
  readonly logger: Logger;
  /** Progress lines for the person watching. */
  readonly say: (line: string) => void;
}

export interface DemoCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface DemoReport {
  readonly ok: boolean;
  readonly checks: readonly DemoCheck[];
  readonly upload: Partial<Record<string, number | string>>;
  readonly events: Partial<Record<string, number | string>>;
}

const here = dirname(fileURLToPath(import.meta.url));
// The demo server runs the way this file runs: compiled JavaScript under plain node (the package),
// or TypeScript sources through tsx, resolved from this package (a clone's `npm run demo`).
const fromSources = import.meta.url.endsWith('.ts');
const serverCommand = fromSources ? ['--import', import.meta.resolve('tsx'), join(here, 'demo-server.ts')] : [join(here, 'demo-server.js')];

/** The demo server as a child process; stdout carries JSON lines. `redis`: a cluster node (demo-cluster.ts). */
export class ServerProcess {
  readonly #dataDir: string;
  readonly #redis: string | undefined;
  #child: ChildProcess | undefined;
  #listeners: ((line: Record<string, unknown>) => void)[] = [];
  port = 0;

  constructor(dataDir: string, redis?: string) {
    this.#dataDir = dataDir;
    this.#redis = redis;
  }

  async start(port = 0): Promise<number> {
    const child = spawn(process.execPath, [...serverCommand, this.#dataDir, String(port), ...(this.#redis === undefined ? [] : [this.#redis])], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.#child = child;
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      for (const l of this.#listeners) l(line);
    });
    const listening = await this.waitFor((l) => l['event'] === 'listening', 30_000, 'the server did not start');
    this.port = listening['port'] as number;
    return this.port;
  }

  waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what} (waited ${timeoutMs} ms)`));
      }, timeoutMs);
      const listener = (line: Record<string, unknown>): void => {
        if (!match(line)) return;
        done();
        resolve(line);
      };
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== listener);
      };
      this.#listeners.push(listener);
    });
  }

  /** As a crash would: no GOAWAY, no flush, nothing. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes `bytes` of random data and returns its SHA-256. */
export async function generateFile(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'w');
  try {
    const block = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let written = 0; written < bytes; ) {
      const n = Math.min(block.length, bytes - written);
      randomFillSync(block, 0, n);
      hash.update(block.subarray(0, n));
      await fh.write(block, 0, n);
      written += n;
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

export async function runDemo(o: DemoOptions): Promise<DemoReport> {
  const dir = await mkdtemp(join(tmpdir(), 'framewire-demo-'));
  const dataDir = join(dir, 'data');
  const server = new ServerProcess(dataDir);
  const checks: DemoCheck[] = [];
  const check = (name: string, ok: boolean, detail: string): void => {
    checks.push({ name, ok, detail });
    o.say(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  };
  let proxy: FaultProxy | undefined;
  const uploadReport: Partial<Record<string, number | string>> = {};
  const eventsReport: Partial<Record<string, number | string>> = {};
  try {
    o.say(`generating ${(o.bytes / 2 ** 20).toFixed(0)} MiB of random data …`);
    const file = join(dir, 'source.bin');
    const sourceSha = await generateFile(file, o.bytes);
    const port = await server.start();
    proxy = await FaultProxy.start({ host: '127.0.0.1', port });
    o.say(`server process on 127.0.0.1:${port} (data in ${dataDir}); clients go through a fault-injecting proxy on :${proxy.port}`);

    // 1. The upload: cut the connection at ~30 %, SIGKILL and restart the server at ~60 %.
    // An object, not two lets: the callbacks set these, and TypeScript would narrow lets to false.
    const faults = { cut: false, kill: false };
    let restart: Promise<unknown> | undefined;
    const started = performance.now();
    const result = await upload(file, {
      host: '127.0.0.1',
      port: proxy.port,
      logger: o.logger,
      chunkSize: o.chunkSize,
      inflight: o.inflight,
      sha256: sourceSha,
      // The restarted server takes 1-6 s to listen again (a node process that loads the sources; the
      // upper end on a loaded machine): about 20 s of retries outlast it, as a client would be configured.
      retry: { initialDelayMs: 50, maxDelayMs: 500, maxAttempts: 45 },
      onProgress: (p) => {
        const fraction = p.bytesConfirmed / p.totalBytes;
        if (!faults.cut && fraction >= 0.3) {
          faults.cut = true;
          o.say(`upload at ${(fraction * 100).toFixed(0)} %: cutting the connection`);
          proxy?.cut();
        } else if (faults.cut && !faults.kill && fraction >= 0.6) {
          faults.kill = true;
          o.say(`upload at ${(fraction * 100).toFixed(0)} %: SIGKILL the server, restart it on the same data directory`);
          restart = server.kill().then(() => server.start(port));
        }
      },
      onRetry: (r) => {
        o.say(`  client: ${r.error.code}, retry #${r.attempt} in ${r.delayMs} ms`);
      },
    });
    await restart;
    const seconds = (performance.now() - started) / 1000;
    const stored = await sha256File(join(dataDir, 'objects', result.objectId));
    const s = result.stats;
    Object.assign(uploadReport, {
      bytes: result.size,
      seconds: Number(seconds.toFixed(2)),
      mibPerSecond: Number((result.size / 2 ** 20 / seconds).toFixed(1)),
      reconnects: s.reconnects,
      chunksResent: s.chunksResent,
      bytesResent: s.bytesResent,
      objectId: result.objectId,
      sha256: result.sha256,
    });
    check('upload survived a cut and a server crash', faults.cut && faults.kill && s.reconnects >= 2, `${s.reconnects} reconnects, ${s.chunksResent} chunks re-sent (bound: ${o.inflight} per failure)`);
    check('re-sent at most one chunk per chunk in flight per failure', s.chunksResent <= o.inflight * Math.max(1, s.reconnects), `${s.chunksResent} <= ${o.inflight} x ${s.reconnects}`);
    check('committed object is byte-identical (SHA-256)', result.sha256 === sourceSha && stored === sourceSha, `${stored.slice(0, 16)}… = source ${sourceSha.slice(0, 16)}…`);

    // 1b. Get the file back: a download cut at ~40 %, resumed from what it holds, verified (spec/OBJECTS.md).
    const copy = join(dir, 'copy.bin');
    const cutDownload = { done: false };
    const fetched = await download(result.objectId, copy, {
      host: '127.0.0.1',
      port: proxy.port,
      logger: o.logger,
      retry: { initialDelayMs: 50, maxDelayMs: 500 },
      onProgress: (p) => {
        if (cutDownload.done || p.bytesHeld < p.totalBytes * 0.4) return;
        cutDownload.done = true;
        o.say(`download at ${((p.bytesHeld / p.totalBytes) * 100).toFixed(0)} %: cutting the connection`);
        proxy?.cut();
      },
    });
    const copySha = await sha256File(copy);
    const d = fetched.stats;
    uploadReport['downloadSeconds'] = Number((d.durationMs / 1000).toFixed(2));
    check(
      'download resumed after a cut; the copy is byte-identical (SHA-256)',
      cutDownload.done && d.reconnects >= 1 && d.bytesReceived === fetched.size && fetched.sha256 === sourceSha && copySha === sourceSha,
      `${d.reconnects} reconnect(s), every byte received once, ${copySha.slice(0, 16)}… = source ${sourceSha.slice(0, 16)}…`,
    );

    // 2. An event stream: cut the connection a third of the way in; resume with no gap, no duplicate.
    o.say(`subscribing to "tokens" (${o.events} events) …`);
    const delivered: DeliveredEvent[] = [];
    const sub = subscribe('tokens', { host: '127.0.0.1', port: proxy.port, logger: o.logger, params: { count: o.events, interval_ms: 1 }, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    let cutAt = 0;
    let resumedAfterMs = 0;
    let cutTime = 0;
    for await (const event of sub) {
      delivered.push(event);
      if (cutAt === 0 && delivered.length === Math.floor(o.events / 3)) {
        cutAt = event.id;
        cutTime = performance.now();
        o.say(`event ${event.id}: cutting the connection`);
        proxy.cut();
      } else if (cutTime > 0 && resumedAfterMs === 0 && sub.stats.reconnects > 0) {
        // The first event that came over the new connection (earlier ones were already buffered).
        resumedAfterMs = performance.now() - cutTime;
      }
    }
    const outcome = await sub.outcome;
    const ids = delivered.map((e) => e.id);
    const contiguous = ids.every((id, i) => id === i + 1);
    const tokensInOrder = delivered.every((e, i) => (e.data as { i?: unknown } | undefined)?.i === i);
    Object.assign(eventsReport, {
      delivered: delivered.length,
      reconnects: sub.stats.reconnects,
      duplicatesDropped: sub.stats.duplicates,
      resumeMs: Number(resumedAfterMs.toFixed(1)),
      outcome: outcome.status,
    });
    check('event stream ended with an explicit done', outcome.status === 'done', outcome.status === 'done' ? `summary ${JSON.stringify(outcome.summary)}` : `${outcome.status}: ${'error' in outcome ? outcome.error.code : outcome.resumeKey}`);
    check('resumed after the cut with no gap and no duplicate', contiguous && tokensInOrder && delivered.length === o.events && sub.stats.reconnects >= 1, `${delivered.length} events, ids 1..${ids.at(-1) ?? 0} contiguous, ${sub.stats.reconnects} reconnect(s), resumed ${resumedAfterMs.toFixed(0)} ms after the cut`);

    // 3. Cancel: the producer on the server must really stop.
    const clock = subscribe('clock', { host: '127.0.0.1', port: proxy.port, logger: o.logger, params: { interval_ms: 20 } });
    const ticks = clock[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) await ticks.next();
    const stopped = server.waitFor((l) => l['event'] === 'producer-stopped' && l['name'] === 'clock' && l['key'] === clock.key, 5000, 'the clock producer did not stop after cancel');
    const cancelledAt = Date.now();
    clock.cancel('demo is done with the clock');
    const stop = await stopped;
    const clockOutcome = await clock.outcome;
    const stopMs = (stop['at'] as number) - cancelledAt;
    eventsReport['cancelToStopMs'] = stopMs;
    check('cancel stopped the producer on the server', stop['aborted'] === true && clockOutcome.status === 'cancelled', `producer's finally ran ${stopMs} ms after cancel; outcome ${clockOutcome.status}`);
  } catch (error) {
    check('demo ran to the end', false, error instanceof Error ? error.message : String(error));
  } finally {
    await proxy?.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return { ok: checks.every((c) => c.ok), checks, upload: uploadReport, events: eventsReport };
}
