/**
 * `framewire demo --cluster` (issue 19): two server nodes (own processes) sharing a Redis — this
 * demo's own redis-server unless one is given — and a chunk directory, behind a proxy that moves
 * the client to the other node at each cut. An upload is cut twice (each time landing on the other
 * node) and the node it is on is SIGKILLed; the object must be byte-identical, and both nodes must
 * report the same committed object. Then an event stream (`tokens`) is moved to the other node at
 * each of three cuts while its producer keeps running on the node where it started: every event
 * must arrive once, in order, and the end (DONE with the summary) from whichever node serves it
 * (spec/EVENTS.md §12.13).
 */

import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { connect } from '../client.ts';
import { subscribe } from '../events-client.ts';
import { upload } from '../upload-client.ts';
import { getUploadStatus, SharedDirBlobStore } from '../upload/index.ts';
import { generateFile, ServerProcess, type DemoCheck, type DemoReport } from './demo.ts';
import { FaultProxy } from './fault-proxy.ts';
import { findRedisServer, RedisServer } from './redis-server.ts';

export interface ClusterDemoOptions {
  readonly bytes: number;
  readonly chunkSize: number;
  readonly inflight: number;
  /** Events in the token stream moved between the nodes. */
  readonly events: number;
  /** A Redis to use (redis://host:port); absent: the demo starts its own redis-server. */
  readonly redis?: string;
  readonly logger: Logger;
  readonly say: (line: string) => void;
}

export async function runClusterDemo(o: ClusterDemoOptions): Promise<DemoReport> {
  const dir = await mkdtemp(join(tmpdir(), 'framewire-cluster-'));
  const shared = join(dir, 'shared');
  const checks: DemoCheck[] = [];
  const check = (name: string, ok: boolean, detail: string): void => {
    checks.push({ name, ok, detail });
    o.say(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  };
  const report: Partial<Record<string, number | string>> = {};
  const eventsReport: Partial<Record<string, number | string>> = {};
  let redis: RedisServer | undefined;
  let proxy: FaultProxy | undefined;
  const nodes: ServerProcess[] = [];
  try {
    let url = o.redis;
    if (url === undefined) {
      if (findRedisServer() === undefined) throw new Error('redis-server is not installed (apt-get install -y redis-server), and no --redis URL was given');
      redis = await RedisServer.start({ persistent: true });
      url = redis.url;
      o.say(`started redis-server (pid ${redis.pid}) on ${url}, append-only with fsync always`);
    }
    const node = (): ServerProcess => {
      const n = new ServerProcess(shared, url);
      nodes.push(n);
      return n;
    };
    const [a, b] = [node(), node()];
    const ports = await Promise.all([a.start(), b.start()]);
    const [portA, portB] = ports;
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: portA });
    o.say(`node A on :${portA}, node B on :${portB} (sessions in ${url}, bytes in ${shared}); the client goes through a proxy on :${proxy.port}`);

    o.say(`generating ${(o.bytes / 2 ** 20).toFixed(0)} MiB of random data …`);
    const file = join(dir, 'source.bin');
    const sourceSha = await generateFile(file, o.bytes);
    let on: 'A' | 'B' = 'A';
    const move = (to: 'A' | 'B'): void => {
      on = to;
      proxy?.retarget({ host: '127.0.0.1', port: to === 'A' ? portA : portB });
    };
    const faults: string[] = [];
    let restart: Promise<unknown> | undefined;
    const started = performance.now();
    const result = await upload(file, {
      host: '127.0.0.1',
      port: proxy.port,
      logger: o.logger,
      chunkSize: o.chunkSize,
      inflight: o.inflight,
      sha256: sourceSha,
      retry: { initialDelayMs: 50, maxDelayMs: 500 },
      onProgress: (p) => {
        const percent = (p.bytesConfirmed / p.totalBytes) * 100;
        const at = faults.length === 0 ? 25 : faults.length === 1 ? 50 : faults.length === 2 ? 75 : Infinity;
        if (percent < at) return;
        if (faults.length < 2) {
          const to = on === 'A' ? 'B' : 'A';
          faults.push(`cut at ${percent.toFixed(0)} %, moved ${on} -> ${to}`);
          o.say(`upload at ${percent.toFixed(0)} %: cutting the connection; the proxy now sends the client to node ${to}`);
          move(to);
          proxy?.cut();
        } else {
          const [victim, victimPort, survivor] = on === 'A' ? [a, portA, 'B' as const] : [b, portB, 'A' as const];
          faults.push(`SIGKILL of node ${on} at ${percent.toFixed(0)} %`);
          o.say(`upload at ${percent.toFixed(0)} %: SIGKILL node ${on} (restarted on its port); the proxy now sends the client to node ${survivor}`);
          move(survivor);
          restart = victim.kill().then(() => victim.start(victimPort));
        }
      },
      onRetry: (r) => {
        o.say(`  client: ${r.error.code}, retry #${r.attempt} in ${r.delayMs} ms`);
      },
    });
    await restart;
    const seconds = (performance.now() - started) / 1000;
    const s = result.stats;
    Object.assign(report, {
      bytes: result.size,
      seconds: Number(seconds.toFixed(2)),
      mibPerSecond: Number((result.size / 2 ** 20 / seconds).toFixed(1)),
      reconnects: s.reconnects,
      chunksResent: s.chunksResent,
      bytesResent: s.bytesResent,
      objectId: result.objectId,
      sha256: result.sha256,
    });
    check('upload moved between nodes at each cut and survived a node crash', faults.length === 3 && s.reconnects >= 3, `${faults.join('; ')}; ${s.reconnects} reconnects, ${s.chunksResent} chunks re-sent`);
    check('re-sent at most one chunk per chunk in flight per failure', s.chunksResent <= o.inflight * Math.max(1, s.reconnects), `${s.chunksResent} <= ${o.inflight} x ${s.reconnects}`);
    const object = await new SharedDirBlobStore({ dir: shared, storedChunks: () => Promise.resolve(undefined) }).openObject(result.objectId);
    const hash = createHash('sha256');
    for await (const piece of object ?? []) hash.update(piece);
    const stored = hash.digest('hex');
    check('committed object is byte-identical (SHA-256)', object !== undefined && result.sha256 === sourceSha && stored === sourceSha, `${stored.slice(0, 16)}… = source ${sourceSha.slice(0, 16)}…`);
    const answers: string[] = [];
    for (const port of [portA, portB]) {
      const c = await connect({ host: '127.0.0.1', port, logger: o.logger });
      try {
        const status = await getUploadStatus(c, result.uploadId);
        answers.push(`${status.state} ${status.object?.sha256.slice(0, 16) ?? '-'}…`);
      } finally {
        c.destroy();
      }
    }
    check('both nodes report the same committed object', answers.every((x) => x === `committed ${sourceSha.slice(0, 16)}…`), `A: ${answers[0] ?? '?'}, B: ${answers[1] ?? '?'}`);

    // An event stream started on one node, moved to the other at each cut; its producer stays where it started.
    o.say(`subscribing to "tokens" (${o.events} events) on node ${on}; the stream moves to the other node at each of 3 cuts`);
    const sub = subscribe('tokens', { host: '127.0.0.1', port: proxy.port, logger: o.logger, params: { count: o.events, interval_ms: 1 }, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    const ids: number[] = [];
    const moves: string[] = [];
    for await (const event of sub) {
      ids.push(event.id);
      if (moves.length < 3 && ids.length === Math.floor(((moves.length + 1) * o.events) / 4)) {
        // `on` changes in move(), which the narrowing of a loop body does not see.
        const from = on as 'A' | 'B';
        const to = from === 'A' ? 'B' : 'A';
        moves.push(`${from} -> ${to} at event ${event.id}`);
        o.say(`event ${event.id}: cutting the connection; the proxy now sends the subscriber to node ${to}`);
        move(to);
        proxy.cut();
      }
    }
    const outcome = await sub.outcome;
    const contiguous = ids.length === o.events && ids.every((id, i) => id === i + 1);
    Object.assign(eventsReport, { delivered: ids.length, reconnects: sub.stats.reconnects, duplicatesDropped: sub.stats.duplicates, outcome: outcome.status });
    check('event stream ended with an explicit done', outcome.status === 'done', outcome.status === 'done' ? `summary ${JSON.stringify(outcome.summary)}` : outcome.status === 'detached' ? `detached at ${outcome.resumeKey}` : `${outcome.status}: ${outcome.error.code} ${outcome.error.message}`);
    check('event stream moved between nodes at each cut with no gap and no duplicate', contiguous && moves.length === 3 && sub.stats.reconnects >= 3, `${ids.length} events, ids 1..${ids.at(-1) ?? 0} contiguous; ${moves.join('; ')}; ${sub.stats.reconnects} reconnects`);
  } catch (error) {
    check('cluster demo ran to the end', false, error instanceof Error ? error.message : String(error));
  } finally {
    await proxy?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  return { ok: checks.every((c) => c.ok), checks, upload: report, events: eventsReport };
}
