/**
 * The conformance runner's cluster cases (spec/EVENTS.md §12.13, FW-EV-100..104) against real
 * clusters: two `framewire serve --redis` processes sharing one redis-server pass them under
 * --strict; two lone `framewire serve` processes (no shared store) fail them; without
 * --peer-target they are not applicable, never skipped or failed.
 *
 * Cost: one redis-server and four node processes started in parallel (about 3-5 s on the loaded
 * machine), then three runs of the cluster cases (about 2-4 s together: the gap case streams
 * 4 × ack_every + 64 = 4160 events).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConformance, type Report } from '../../src/conformance/index.ts';
import { main } from '../../src/conformance/main.ts';
import { startNode, stopNode, type Node } from '../redis/cluster.ts';
import { RedisServer, redisServerBinary } from '../redis/server.ts';
import { removeTempDirs, tempDir } from '../upload/helpers.ts';

const CLUSTER_CASES = 'FW-EV-10?/*,FW-UP-25/commit-on-peer,FW-UP-25/commit-race-across-nodes,FW-UP-28/abort-commit-race-across-nodes';

function verdicts(report: Report): Record<string, string> {
  return Object.fromEntries(report.results.map((r) => [r.id, r.verdict]));
}

function run(a: Node, b: Node | undefined, strict = true): Promise<Report> {
  return runConformance({
    target: { host: '127.0.0.1', port: a.port },
    ...(b === undefined ? {} : { peerTarget: { host: '127.0.0.1', port: b.port } }),
    cases: CLUSTER_CASES,
    strict,
    timeoutMs: 3000,
  });
}

describe.skipIf(redisServerBinary === undefined)('conformance: the cluster cases (--peer-target)', () => {
  let redis: RedisServer;
  const nodes: Node[] = [];
  let a: Node;
  let b: Node;
  let loneA: Node;
  let loneB: Node;

  beforeAll(async () => {
    redis = await RedisServer.start();
    const shared = await tempDir('fw-conformance-cluster-');
    const [dirA, dirB] = await Promise.all([tempDir('fw-conformance-lone-'), tempDir('fw-conformance-lone-')]);
    const started = await Promise.allSettled([startNode(redis.url, shared), startNode(redis.url, shared), startNode(undefined, dirA), startNode(undefined, dirB)]);
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    [a, b, loneA, loneB] = nodes as [Node, Node, Node, Node];
  }, 60_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => stopNode(n, 'SIGTERM')));
    await redis.destroy();
    await removeTempDirs();
  });

  it('FW-EV-100 FW-EV-101 FW-EV-102 FW-UP-25 FW-UP-28: two serve --redis nodes sharing one Redis and a data directory pass every cluster case under --strict; FW-EV-103/104 are N/A with the reason', async () => {
    const report = await run(a, b);
    const failures = report.results.filter((r) => r.verdict !== 'pass' && r.verdict !== 'not-applicable').map((r) => `${r.id}: ${r.verdict} ${r.detail} ${r.expected ?? ''} ${r.actual ?? ''}`);
    expect(failures).toEqual([]);
    expect(verdicts(report)).toEqual({
      'FW-EV-100/resume-on-peer': 'pass',
      'FW-EV-100/after-beyond-last-on-peer': 'pass',
      'FW-EV-100/resume-gap-on-peer': 'pass',
      'FW-EV-101/done-on-peer': 'pass',
      'FW-EV-102/cancel-on-peer': 'pass',
      'FW-EV-103/producer-node-death': 'not-applicable',
      'FW-EV-104/redis-unreachable': 'not-applicable',
      'FW-UP-25/commit-on-peer': 'pass',
      'FW-UP-25/commit-race-across-nodes': 'pass',
      'FW-UP-28/abort-commit-race-across-nodes': 'pass',
    });
    expect(report.results.find((r) => r.id === 'FW-EV-103/producer-node-death')?.detail).toMatch(/cannot do/u);
    expect(report.ok).toBe(true);
    expect(report.peerTarget).toEqual({ host: '127.0.0.1', port: b.port, transport: 'tcp' });
  }, 60_000);

  it('two lone nodes (no shared Redis) fail the cluster cases even without --strict, each saying the peer does not know the instance', async () => {
    const report = await run(loneA, loneB, false);
    const byId = new Map(report.results.map((r) => [r.id, r]));
    for (const id of ['FW-EV-100/resume-on-peer', 'FW-EV-100/after-beyond-last-on-peer', 'FW-EV-100/resume-gap-on-peer', 'FW-EV-101/done-on-peer', 'FW-EV-102/cancel-on-peer', 'FW-UP-25/commit-on-peer', 'FW-UP-25/commit-race-across-nodes', 'FW-UP-28/abort-commit-race-across-nodes']) {
      const r = byId.get(id);
      expect(r?.verdict, id).toBe('fail');
      expect(r?.detail, id).toMatch(/same cluster \(one shared store\)/u);
      expect(r?.actual, id).toMatch(/NOT_FOUND/u);
    }
    expect(report.ok).toBe(false);
  }, 60_000);

  it('without --peer-target every cluster case is N/A, naming the option, and the run stays conforming', async () => {
    const report = await run(a, undefined);
    expect(report.results.length).toBe(10);
    for (const r of report.results) {
      expect(r.verdict, r.id).toBe('not-applicable');
      expect(r.detail).toBe('needs a second node of the same cluster: --peer-target');
    }
    expect(report.ok).toBe(true);
  }, 30_000);

  it('the CLI: --peer-target is parsed like --target; a bad one, or the target itself, is a usage error (exit 2)', async () => {
    const lines: string[] = [];
    expect(await main(['--target', `127.0.0.1:${a.port}`, '--peer-target', 'nonsense'], (s) => lines.push(s))).toBe(2);
    expect(lines.join('\n')).toMatch(/--peer-target takes HOST:PORT/u);
    lines.length = 0;
    expect(await main(['--target', `127.0.0.1:${a.port}`, '--peer-target', `tcp://127.0.0.1:${a.port}`], (s) => lines.push(s))).toBe(2);
    expect(lines.join('\n')).toMatch(/--peer-target names the target itself/u);
    await expect(runConformance({ target: { host: '127.0.0.1', port: a.port }, peerTarget: { host: '127.0.0.1', port: a.port } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    lines.length = 0;
    expect(await main(['--target', `127.0.0.1:${a.port}`, '--peer-target', `tcp://127.0.0.1:${b.port}`, '--cases', 'FW-EV-100/after-beyond-last-on-peer', '--strict'], (s) => lines.push(s))).toBe(0);
    expect(lines.join('\n')).toMatch(new RegExp(`with peer 127\\.0\\.0\\.1:${b.port}[^]*PASS +FW-EV-100/after-beyond-last-on-peer`, 'u'));
  }, 30_000);
});
