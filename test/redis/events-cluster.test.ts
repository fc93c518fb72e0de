/**
 * Event streams on a cluster of two `framewire serve --redis` processes (issue 19, spec/EVENTS.md
 * §12.13): a `tokens` stream started on node A moves to node B (a proxy sends the reconnect there),
 * then node A is SIGKILLed: the subscriber on B gets PRODUCER_FAILED (retryable, reason
 * producer_node_lost) within the documented bound, never silence, and a resume of the key gets the
 * same answer.
 *
 * Cost: one redis-server and two node processes (about 3 s to start on the loaded machine), plus
 * the bound itself (the liveness TTL, 3 s, and a poll): about 8 s.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveredEvent } from '../../src/api/events.ts';
import { redisReplayDefaults } from '../../src/events/index.ts';
import { expectFwError, FaultProxy, sub, within } from '../events/helpers.ts';
import { removeTempDirs, tempDir } from '../upload/helpers.ts';
import { startNode, stopNode, type Node } from './cluster.ts';
import { redisForSuite, redisServerBinary } from './server.ts';

describe.skipIf(redisServerBinary === undefined)('events on a cluster of two node processes', () => {
  const redis = redisForSuite();
  let a: Node | undefined;
  let b: Node | undefined;
  let proxy: FaultProxy | undefined;

  beforeAll(async () => {
    const dataDir = await tempDir('fw-events-cluster-');
    [a, b] = await Promise.all([startNode(redis.url, dataDir), startNode(redis.url, dataDir)]);
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    await Promise.all([a, b].flatMap((n) => (n === undefined ? [] : [stopNode(n, 'SIGTERM')])));
    await removeTempDirs();
  });

  it('FW-EV-103 FW-EV-100: a stream moved from A to B, then A SIGKILLed: the subscriber on B gets PRODUCER_FAILED (retryable) within the liveness TTL + a poll, and so does a resume', async () => {
    proxy = new FaultProxy(a!.port);
    const port = await proxy.listen();
    const s = sub(port, 'tokens', { params: { count: 1_000_000, interval_ms: 5 } });
    const got: DeliveredEvent[] = [];
    let killedAt = 0;
    let killed: Promise<void> | undefined;
    const done = (async () => {
      for await (const e of s) {
        got.push(e);
        if (e.id === 20) proxy.moveTo(b!.port);
        // Served by B for a while (the producer on A keeps going): now A dies.
        if (killed === undefined && s.stats.reconnects === 1 && e.id >= 60) {
          killedAt = performance.now();
          killed = stopNode(a!, 'SIGKILL');
        }
      }
    })().catch(() => undefined);
    await within(done, 30_000, 'the subscription ends');
    const endedAfterMs = performance.now() - killedAt;
    await killed;
    expect(got.map((e) => e.id)).toEqual(Array.from({ length: got.length }, (_, i) => i + 1));
    expect(s.stats.duplicates).toBe(0);
    const outcome = await s.outcome;
    expect(outcome.status).toBe('failed');
    const e = expectFwError(outcome.status === 'failed' ? outcome.error : undefined, 'PRODUCER_FAILED');
    expect(e.retryable).toBe(true);
    expect(e.details?.['reason']).toBe('producer_node_lost');
    const bound = redisReplayDefaults.nodeTtlMs + redisReplayDefaults.pollMs;
    console.log(`[redis events] SIGKILL of the producer's node -> PRODUCER_FAILED on node B after ${Math.round(endedAfterMs)} ms (bound ${bound} ms + a round trip)`);
    expect(endedAfterMs).toBeLessThan(bound + 1500);

    const resumed = sub(b!.port, 'tokens', { from: s.cursor });
    const again = await resumed.outcome;
    expect(again.status).toBe('failed');
    expect(expectFwError(again.status === 'failed' ? again.error : undefined, 'PRODUCER_FAILED').details?.['reason']).toBe('producer_node_lost');
  }, 60_000);
});
