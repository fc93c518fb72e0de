/**
 * §12.13 Several server nodes (spec/EVENTS.md, FW-EV-100..104): an instance started on the target
 * (node A) is resumed, ended, confirmed and cancelled on the second node of the same cluster
 * (node B, `--peer-target`). Without a second node every case here is not applicable.
 *
 * Whether an instance still exists on A is asked without touching it: a resume with `after` far
 * beyond any id gets PROTOCOL_ERROR `{key, last}` while the instance exists (FW-EV-24, no attach)
 * and NOT_FOUND `unknown_key` once it is gone (FW-EV-26). A resume that attaches would supersede
 * the subscriber under test (FW-EV-27) and change what is observed.
 */

import { ErrorCodes } from '../../../errors.ts';
import type { CaseContext, Conn } from '../../context.ts';
import { outcome } from '../../types.ts';
import { sleep, type Case } from '../helpers.ts';
import { expectEventError, finishedTokens, provokeResumeGap, resumeAcceptingGap, runningClock, tokensCutAfterEvent4, isUint, newKey, schemaFail, show, Subscription } from './support.ts';

const S_CLUSTER = '12.13 Several server nodes';
/** An `after` no instance reaches in a run: the probe that must not attach. */
const FAR = 1_000_000_000;
/** How often the probe asks while waiting for a change on the other node. */
const PROBE_EVERY_MS = 50;

type Presence = { readonly kind: 'alive'; readonly last: number } | { readonly kind: 'gone' } | { readonly kind: 'other'; readonly what: string };

/** Asks `conn`'s node whether the instance `key` of `name` exists, without attaching to it. */
async function presence(conn: Conn, name: string, key: string): Promise<Presence> {
  const s = Subscription.open(conn, name, { key, after: FAR });
  const v = await conn.ended(s.id);
  if (v.error === ErrorCodes.PROTOCOL_ERROR.code && isUint(v.errorDetails?.['last'])) return { kind: 'alive', last: v.errorDetails['last'] };
  if (v.error === ErrorCodes.NOT_FOUND.code) return { kind: 'gone' };
  s.pump();
  if (s.start !== undefined) s.cancel();
  return { kind: 'other', what: s.describeEnd() };
}

/**
 * Waits until the node behind `conn` no longer knows the instance; the other node's message
 * travels on its own (spec: 2-5 ms on loopback), so the probe repeats within twice the reply timeout.
 */
async function goneOn(ctx: CaseContext, conn: Conn, name: string, key: string): Promise<{ gone: true } | { gone: false; last: Presence }> {
  const deadline = Date.now() + ctx.timeoutMs * 2;
  for (;;) {
    const p = await presence(conn, name, key);
    if (p.kind === 'gone') return { gone: true };
    if (p.kind === 'other' || Date.now() >= deadline) return { gone: false, last: p };
    await sleep(PROBE_EVERY_MS);
  }
}

/**
 * A peer that answers NOT_FOUND for an instance the target runs is not a node of the same cluster
 * (or lost the shared log): a failure, never "another error code" (non-strict).
 */
function unknownOnPeer(s: Subscription, expected: string): ReturnType<typeof outcome.fail> | undefined {
  const v = s.view();
  if (v.error !== ErrorCodes.NOT_FOUND.code) return undefined;
  return outcome.fail(`the peer does not know the instance the target runs: is it a node of the same cluster (one shared store)?`, expected, s.describeEnd());
}

function describePresence(p: Presence): string {
  switch (p.kind) {
    case 'alive':
      return `PROTOCOL_ERROR {last: ${p.last}}: the instance still exists`;
    case 'gone':
      return 'NOT_FOUND';
    case 'other':
      return p.what;
  }
}

/** A cluster requirement no black-box run can check: always N/A with the reason. */
function notCheckable(c: Pick<Case, 'id' | 'requirements' | 'title' | 'quote'> & { readonly reason: string }): Case {
  const { reason, ...rest } = c;
  return { ...clusterCase, ...rest, notCheckable: reason, run: () => Promise.resolve(outcome.notApplicable(reason)) };
}

/** Every cluster case needs the event profile and a second node. */
const clusterCase = { section: S_CLUSTER, level: 'MUST', needs: ['events'], cluster: true } as const;

export const cases: Case[] = [
  {
    ...clusterCase,
    id: 'FW-EV-100/resume-on-peer',
    requirements: ['FW-EV-100', 'FW-EV-24'],
    title: 'subscribe "tokens" {count 12, interval 30 ms} on the target, lose the connection after event 4, resume on the peer with {key, after: cursor} → start next = cursor + 1, events cursor + 1..12 once each, DONE {tokens: 12}',
    quote: 'A resume on any node carries exactly the ids the producer\'s node would have sent: `next` = `after` + 1, no gap, no duplicate',
    async run(ctx) {
      const first = await ctx.handshake();
      const key = newKey();
      const a = await tokensCutAfterEvent4(first, key);
      const cursor = a.lastId;
      const conn = await ctx.handshake({ node: 'peer' });
      const b = Subscription.open(conn, 'tokens', { key, after: cursor });
      await b.until((s) => s.start !== undefined);
      if (b.start === undefined) return outcome.fail('the peer did not resume the instance the target started: is it a node of the same cluster (one shared store)?', `start next ${cursor + 1}`, b.describeEnd());
      await b.until(() => b.view().done);
      b.confirm();
      const bad = schemaFail(a) ?? schemaFail(b);
      if (bad !== undefined) return bad;
      const ids = b.events.map((e) => e.id);
      const expected = Array.from({ length: 12 - cursor }, (_, i) => cursor + 1 + i).join(',');
      if (b.start.next !== cursor + 1 || ids.join(',') !== expected || !b.view().done) {
        return outcome.fail('the resume on the peer did not carry exactly the rest', `next ${cursor + 1}, ids ${expected}, DONE`, `next ${b.start.next}, ids ${ids.join(',')}; ${b.describeEnd()}`);
      }
      return outcome.pass(`started on the target, resumed on the peer after ${cursor}: events ${cursor + 1}..12, DONE ${show(b.view().trailer ?? null)}`);
    },
  },
  {
    ...clusterCase,
    id: 'FW-EV-100/after-beyond-last-on-peer',
    requirements: ['FW-EV-100', 'FW-EV-24'],
    title: 'a "clock" instance on the target with event 1 sent; a resume on the peer with after 1000 → PROTOCOL_ERROR {key, last} with the same last as the target reports',
    quote: 'A resume on any node carries exactly the ids the producer\'s node would have sent: … PROTOCOL_ERROR when `after` is beyond the last id in the log',
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const a = await runningClock(conn, key, 3_600_000, 1);
      const here = await presence(conn, 'clock', key);
      const peer = await ctx.handshake({ node: 'peer' });
      const b = Subscription.open(peer, 'clock', { key, after: 1000 });
      const o = await expectEventError(b, 'PROTOCOL_ERROR', { key: (v) => v === key, last: (v) => here.kind === 'alive' && v === here.last });
      a.cancel();
      const unknown = unknownOnPeer(b, `PROTOCOL_ERROR {key, last: ${here.kind === 'alive' ? here.last : '?'}}`);
      if (unknown !== undefined) return unknown;
      return o.verdict === 'pass' ? outcome.pass(`the peer: ${o.detail}; the target: ${describePresence(here)}`) : o;
    },
  },
  {
    ...clusterCase,
    id: 'FW-EV-100/resume-gap-on-peer',
    requirements: ['FW-EV-100', 'FW-EV-23', 'FW-EV-22'],
    title: 'subscribe "tokens" on the target with 4 × ack_every + 64 events, acknowledging as we read (acknowledged events leave the log); resume with after 0 on the target and on the peer → RESUME_GAP with the same earliest on both; resume on the peer with after earliest − 1 → events earliest..last, DONE',
    quote: 'A resume on any node carries exactly the ids the producer\'s node would have sent: … RESUME_GAP with the same `earliest` as on the producer\'s node.',
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const gap = await provokeResumeGap(conn, key, ctx.timeoutMs * 2);
      if (!('earliest' in gap)) return gap;
      const { count, earliest } = gap;
      const peer = await ctx.handshake({ node: 'peer' });
      const b = Subscription.open(peer, 'tokens', { key, after: 0 });
      const p = await expectEventError(b, 'RESUME_GAP', { key: (v) => v === key, earliest: (v) => v === earliest, last: (v) => v === count });
      const unknown = unknownOnPeer(b, `RESUME_GAP {key, earliest: ${earliest}, last: ${count}}`);
      if (unknown !== undefined) return unknown;
      if (p.verdict !== 'pass') return { ...p, detail: `on the peer (the target said earliest ${earliest}, last ${count}): ${p.detail}` };
      const continued = await resumeAcceptingGap(peer, key, gap, ctx.timeoutMs * 2);
      if (continued !== undefined) return { ...continued, detail: `on the peer: ${continued.detail}` };
      return outcome.pass(`${count} events; after 0 → RESUME_GAP earliest ${earliest} on both nodes; after ${earliest - 1} on the peer → events ${earliest}..${count}, DONE`);
    },
  },
  {
    ...clusterCase,
    id: 'FW-EV-101/done-on-peer',
    requirements: ['FW-EV-101', 'FW-EV-30', 'FW-EV-24'],
    title: 'run "tokens" {count 3} to DONE on the target, lose the connection before confirming; resume on the peer with after 1 → events 2..3 identical to the target\'s, DONE with the same summary; confirm on the peer → the target drops the instance (a resume there gets NOT_FOUND)',
    quote: 'The producer\'s end (done with its summary, error …) is recorded in the log after the last event …, and a subscriber on any node ends exactly as on the producer\'s node … The subscriber\'s DONE confirmation (FW-EV-30) received on another node is forwarded, and the instance is dropped on the producer\'s node.',
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const a = await finishedTokens(conn, key);
      const bad = schemaFail(a);
      if (bad !== undefined) return bad;
      const summary = a.view().trailer;
      conn.peer.destroy();
      const peer = await ctx.handshake({ node: 'peer' });
      const b = Subscription.open(peer, 'tokens', { key, after: 1 });
      await b.until((s) => s.start !== undefined);
      if (b.start === undefined) return outcome.fail('the peer did not resume the ended instance the target kept: is it a node of the same cluster (one shared store)?', 'start next 2', b.describeEnd());
      await b.until((s) => s.view().done);
      const expected = a.events.slice(1);
      if (show(b.events) !== show(expected) || !b.view().done || show(b.view().trailer) !== show(summary)) {
        return outcome.fail('the subscriber on the peer did not end as on the target', `events ${show(expected)}, DONE ${show(summary)}`, `events ${show(b.events)}; ${b.describeEnd()} ${show(b.view().trailer)}`);
      }
      b.confirm();
      if (!(await peer.alive())) return outcome.fail('the peer did not answer a PING after our DONE');
      const target = await ctx.handshake();
      const dropped = await goneOn(ctx, target, 'tokens', key);
      if (!dropped.gone) {
        return outcome.fail('the confirmation on the peer was not forwarded: the target kept the instance', `NOT_FOUND on the target within ${ctx.timeoutMs * 2} ms`, describePresence(dropped.last));
      }
      return outcome.pass(`the peer replayed events 2..3 byte-identical and DONE ${show(summary ?? null)}; after our DONE there, the target answers NOT_FOUND (the error end is not checked: no built-in stream fails, PROTOCOL.md §13.3)`);
    },
  },
  {
    ...clusterCase,
    id: 'FW-EV-102/cancel-on-peer',
    requirements: ['FW-EV-102', 'FW-EV-14', 'FW-EV-51'],
    title: 'a "clock" {interval 20 ms} started on the target, moved to the peer (connection lost, resume there); CANCEL on the peer → the producer on the target stops and the instance is dropped there (a resume on the target gets NOT_FOUND)',
    quote: 'A CANCEL received on any node is published to the producer\'s node, which aborts the producer exactly as FW-EV-51 says. … A client CANCEL aborts the producer at once (FW-EV-51) and drops the instance.',
    async run(ctx) {
      const first = await ctx.handshake();
      const key = newKey();
      const a = await runningClock(first, key, 20, 2);
      first.peer.destroy();
      const peer = await ctx.handshake({ node: 'peer' });
      const b = Subscription.open(peer, 'clock', { key, after: a.lastId });
      await b.until((s) => s.start !== undefined);
      if (b.start === undefined) return outcome.fail('the peer did not resume the instance the target runs: is it a node of the same cluster (one shared store)?', `start next ${a.lastId + 1}`, b.describeEnd());
      if (!(await b.eventsUpTo(a.lastId + 3))) return outcome.fail('the peer did not carry the live events of the target\'s producer', `events from ${a.lastId + 1}`, `${b.events.length} events; ${b.describeEnd()}`);
      const target = await ctx.handshake();
      const before = await presence(target, 'clock', key);
      if (before.kind !== 'alive') return outcome.fail('the target does not know the instance it runs', 'PROTOCOL_ERROR {key, last}', describePresence(before));
      b.cancel();
      await peer.alive();
      const gone = await goneOn(ctx, target, 'clock', key);
      if (!gone.gone) return outcome.fail('the CANCEL on the peer did not stop the producer on the target', `NOT_FOUND on the target within ${ctx.timeoutMs * 2} ms`, describePresence(gone.last));
      return outcome.pass(`CANCEL on the peer after event ${b.lastId}: the target then answers NOT_FOUND (producer at event ${before.last} when cancelled)`);
    },
  },
  notCheckable({
    id: 'FW-EV-103/producer-node-death',
    requirements: ['FW-EV-103'],
    title: 'the producer\'s node dies → the subscriber on another node gets PRODUCER_FAILED (retryable) within nodeTtlMs + pollMs',
    quote: 'A node serving a subscriber of an instance whose node\'s key expired before the instance ended fails the subscription with `PRODUCER_FAILED`, retryable, details `{reason: "producer_node_lost", last}`, within `nodeTtlMs` + `pollMs`',
    reason: 'needs a node killed during the run, which a black-box runner cannot do (test/redis/events-cluster.test.ts SIGKILLs one of two reference nodes)',
  }),
  notCheckable({
    id: 'FW-EV-104/redis-unreachable',
    requirements: ['FW-EV-104'],
    title: 'the shared store unreachable or restarted → coded retryable errors, never wrong events',
    quote: 'Never silently wrong events: while Redis is unreachable, new subscriptions fail with `INTERNAL` (retryable) …',
    reason: 'needs the cluster\'s shared store stopped or restarted during the run, which a black-box runner cannot do (test/redis/events.test.ts restarts the reference\'s Redis)',
  }),
];
