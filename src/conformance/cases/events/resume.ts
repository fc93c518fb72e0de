/** §12 event streams after the first attach: resume, the replay log and acknowledgements, cancellation, heartbeats, the grace period (spec/EVENTS.md §12.4-12.9). */

import { encode } from '@msgpack/msgpack';
import { ErrorCodes } from '../../../errors.ts';
import { FrameType } from '../../../wire/index.ts';
import { expectStreamError } from '../../expect.ts';
import { outcome } from '../../types.ts';
import { sleep, type Case } from '../helpers.ts';
import { expectEventError, framesAfterSync, provokeResumeGap, resumeAcceptingGap, runningClock, tokensCutAfterEvent4, isUint, newKey, S_ENDS, S_GRACE, S_HB, S_LOG, S_RESUME, schemaFail, show, Subscription } from './support.ts';

export const cases: Case[] = [
  {
    id: 'FW-EV-24/resume-after-loss',
    requirements: ['FW-EV-24', 'FW-EV-50', 'FW-EV-10', 'FW-EV-11'],
    section: S_RESUME,
    level: 'MUST',
    title: 'subscribe "tokens" {count 12, interval 30 ms}, lose the connection after event 4, resume on a new one with {key, after: cursor} → start next = cursor + 1, the rest without duplicates, DONE',
    quote: 'A resume OPEN carries `key` and `after`. … Otherwise the server attaches, sends `start` with `next` = `after` + 1, replays every retained event after `after` in order, then continues live.',
    needs: ['events'],
    async run(ctx) {
      const first = await ctx.handshake();
      const key = newKey();
      const a = await tokensCutAfterEvent4(first, key);
      const bad = schemaFail(a);
      if (bad !== undefined) return bad;
      const cursor = a.lastId;
      const conn = await ctx.handshake();
      const b = Subscription.open(conn, 'tokens', { key, after: cursor });
      const start = await b.started();
      await b.until(() => b.view().done);
      b.confirm();
      const ids = b.events.map((e) => e.id);
      if (start.next !== cursor + 1) return outcome.fail('the resume does not start after the cursor', `start next ${cursor + 1}`, `next ${start.next}; ids ${ids.join(',')}`);
      const dup = ids.filter((id) => id <= cursor);
      if (dup.length > 0) return outcome.fail('events at or below the cursor were sent again', `ids from ${cursor + 1}`, `ids ${ids.join(',')}`);
      const bad2 = schemaFail(b);
      if (bad2 !== undefined) return bad2;
      const expected = Array.from({ length: 12 - cursor }, (_, i) => cursor + 1 + i).join(',');
      if (ids.join(',') !== expected || !b.view().done) return outcome.fail('the resumed subscription did not carry the rest', `ids ${expected}, DONE`, `ids ${ids.join(',')}; ${b.describeEnd()}`);
      return outcome.pass(`resumed after ${cursor}: events ${cursor + 1}..12, DONE ${show(b.view().trailer ?? null)}`);
    },
  },
  {
    id: 'FW-EV-24/after-beyond-last',
    requirements: ['FW-EV-24'],
    section: S_RESUME,
    level: 'MUST',
    title: 'a running "clock" instance with event 1 sent; a resume with after 1000 → PROTOCOL_ERROR with details {key, last}',
    quote: 'A resume OPEN carries `key` and `after`. If `after` > the instance\'s last id: `PROTOCOL_ERROR` (details `{key, last}`).',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const a = await runningClock(conn, key, 60_000, 1);
      const b = Subscription.open(conn, 'clock', { key, after: 1000 });
      const o = await expectEventError(b, 'PROTOCOL_ERROR', { key: (v) => v === key, last: (v) => isUint(v) && v < 1000 });
      a.cancel();
      return o;
    },
  },
  {
    id: 'FW-EV-23/resume-gap',
    requirements: ['FW-EV-23', 'FW-EV-22', 'FW-EV-31', 'FW-EV-24', 'FW-EV-4'],
    section: S_RESUME,
    level: 'MUST',
    title: 'subscribe "tokens" with 4 × ack_every + 64 events (beyond the replay log), acknowledging as we read; then resume with after 0, and attach with the key and no after → RESUME_GAP {key, earliest, last} both times; resume with after earliest − 1 → continues there',
    quote: 'If event `after` + 1 is no longer retained, the stream fails with `RESUME_GAP`, details `{key, earliest, last}`: `earliest` is the lowest id the server can still send … The client decides: resume with `after` = `earliest` − 1 accepting the gap, or give up.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const gap = await provokeResumeGap(conn, key, ctx.timeoutMs * 2);
      if (!('earliest' in gap)) return gap;
      const { count, earliest } = gap;
      // An attach with the key and no `after` is a resume with after 0 (FW-EV-4): the same gap.
      const plain = Subscription.open(conn, 'tokens', { key });
      const p = await expectEventError(plain, 'RESUME_GAP', { key: (v) => v === key, earliest: (v) => v === earliest, last: (v) => v === count });
      if (p.verdict !== 'pass') return { ...p, detail: `attach without after: ${p.detail}` };
      const continued = await resumeAcceptingGap(conn, key, gap, ctx.timeoutMs * 2);
      if (continued !== undefined) return continued;
      return outcome.pass(`${count} events; after 0 and no after → RESUME_GAP ${show(gap.details)}; after ${earliest - 1} → events ${earliest}..${count}`);
    },
  },
  {
    id: 'FW-EV-21/unacknowledged-kept',
    requirements: ['FW-EV-21', 'FW-EV-24'],
    section: S_LOG,
    level: 'MUST',
    title: 'subscribe "tokens" with 4 × ack_every + 64 events and never acknowledge; then attach with after 0 → start next 1 and event 1 again (no RESUME_GAP)',
    quote: 'The count and byte limits MUST NOT drop an event the subscriber has not acknowledged: when appending would need that, the producer waits … a subscriber that resumes from its own cursor never meets `RESUME_GAP` because of them.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const a = Subscription.open(conn, 'tokens', { key, params: { count: 1, interval_ms: 0 } });
      const ackEvery = (await a.started()).ackEvery;
      await a.until((s) => s.view().done);
      a.confirm();
      const count = 4 * ackEvery + 64;
      if (count > 50_000) return outcome.info(`ack_every ${ackEvery} suggests a replay log of ${4 * ackEvery} events: too many to fill in a test`);
      const key2 = newKey();
      const b = Subscription.open(conn, 'tokens', { key: key2, params: { count, interval_ms: 0 } });
      await b.started();
      // Read until nothing more comes: the producer must wait for our acknowledgements.
      for (let last = -1; last !== b.lastId && !b.ended; ) {
        last = b.lastId;
        await b.until((s) => s.lastId > last, ctx.quietMs * 2);
      }
      const received = b.lastId;
      const bad = schemaFail(b);
      if (bad !== undefined) return bad;
      const c = Subscription.open(conn, 'tokens', { key: key2, after: 0 });
      await c.until((s) => s.events.length > 0);
      c.cancel();
      if (c.start === undefined) {
        const v = c.view();
        if (v.error === ErrorCodes.RESUME_GAP.code) return outcome.fail('unacknowledged events were dropped', 'start next 1 and event 1', `RESUME_GAP ${show(v.errorDetails ?? null)}`);
        return outcome.fail('the attach with after 0 failed', 'start next 1 and event 1', c.describeEnd());
      }
      if (c.start.next !== 1 || c.events[0]?.id !== 1) return outcome.fail('the attach did not replay from event 1', 'next 1, event 1', `next ${c.start.next}, first event ${c.events[0]?.id ?? 'none'}`);
      return outcome.pass(`${received} of ${count} events sent without acknowledgement${b.view().done ? ' (and DONE)' : ', then the producer waited'}; event 1 still replayed`);
    },
  },
  {
    id: 'FW-EV-26/unknown-key',
    requirements: ['FW-EV-26', 'FW-EV-4'],
    section: S_RESUME,
    level: 'MUST',
    title: 'subscribe "tokens" with a never-used key and after 3 → NOT_FOUND with details {name, key, reason: "unknown_key"}',
    quote: 'A resume of a key the server does not know — never created, … — fails with `NOT_FOUND`, details `{name, key, reason: "unknown_key"}`.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const s = Subscription.open(conn, 'tokens', { key, after: 3 });
      return expectEventError(s, 'NOT_FOUND', { name: (v) => v === 'tokens', key: (v) => v === key, reason: (v) => v === 'unknown_key' });
    },
  },
  {
    id: 'FW-EV-27/last-attach-wins',
    requirements: ['FW-EV-27', 'FW-EV-4'],
    section: S_RESUME,
    level: 'MUST',
    title: 'a "clock" instance attached on stream A; a second subscription with the same key and no after → A receives CANCEL, B gets start next 1 and event 1',
    quote: 'Last attach wins: an attach to an instance that already has an attachment … cancels the old attachment with CANCEL (reason "superseded") and serves the new one.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const a = await runningClock(conn, key, 50, 2);
      const b = Subscription.open(conn, 'clock', { key });
      const start = await b.started();
      await b.eventsUpTo(1);
      const cancel = await conn.peer.until(() => conn.peer.framesOn(a.id).find((r) => r.frame?.type === FrameType.CANCEL), ctx.timeoutMs);
      b.cancel();
      if (cancel?.frame?.type !== FrameType.CANCEL) return outcome.fail('the old attachment was not cancelled', 'CANCEL on the first stream', a.describeEnd());
      if (start.next !== 1 || b.events[0]?.id !== 1) return outcome.fail('the new attachment does not replay from 1', 'start next 1, event 1', `next ${start.next}, first event ${b.events[0]?.id ?? 'none'}`);
      const bad = schemaFail(b);
      if (bad !== undefined) return bad;
      const reason = cancel.frame.payload.reason;
      if (reason === undefined || !/superseded/u.test(reason)) return outcome.nonStrict('the CANCEL of the old attachment does not give the reason "superseded"', 'CANCEL {reason: "superseded…"}', show(cancel.frame.payload));
      return outcome.pass(`the old attachment cancelled (${show(reason)}); the new one replays from event 1`);
    },
  },
  {
    id: 'FW-EV-14/cancel-stops',
    requirements: ['FW-EV-14', 'FW-EV-51', 'FW-STREAM-5'],
    section: S_ENDS,
    level: 'MUST',
    title: 'CANCEL of a "clock" subscription (50 ms ticks) → nothing more on the stream; a resume of its key → NOT_FOUND (the instance was dropped)',
    quote: 'either side sends CANCEL. A client CANCEL aborts the producer at once (FW-EV-51) and drops the instance.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const a = await runningClock(conn, key, 50, 2);
      a.cancel();
      const late = await framesAfterSync(conn, a.id, Math.max(ctx.quietMs, 200));
      if (late > 0) return outcome.fail(`the target sent ${late} frame(s) on the stream after our CANCEL`, 'nothing', `${late} frames`);
      const b = Subscription.open(conn, 'clock', { key, after: a.lastId });
      await b.until((s) => s.start !== undefined);
      if (b.start !== undefined) {
        b.cancel();
        return outcome.fail('the cancelled instance is still there: a resume attached to it', 'NOT_FOUND (instance dropped)', `start next ${b.start.next}`);
      }
      return expectEventError(b, 'NOT_FOUND', { reason: (v) => v === 'unknown_key' });
    },
  },
  {
    id: 'FW-EV-31/ack-above-sent',
    requirements: ['FW-EV-31', 'FW-REF-4'],
    section: S_LOG,
    level: 'MUST',
    title: 'a "clock" subscription with event 1 sent; an ack of id 1000 → PROTOCOL_ERROR on the stream',
    quote: 'An `ack` above the last id sent on that attachment fails the stream with `PROTOCOL_ERROR`.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const a = await runningClock(conn, newKey(), 60_000, 1);
      await a.ack(1000);
      return expectStreamError(conn, a.id, 'PROTOCOL_ERROR');
    },
  },
  {
    id: 'FW-EV-31/packed-acks',
    requirements: ['FW-EV-31', 'FW-PACK-3'],
    section: S_LOG,
    level: 'MUST',
    title: 'a "clock" subscription with event 1 sent; one PACKED frame with the records ack 1 and ack 1000 → PROTOCOL_ERROR on the stream (the second record was read as an ack)',
    quote: '`ack` messages may be PACKED like any message (§12.3): towards a server that declared `packed_messages` = 1 a subscriber may send several in one PACKED frame, and the server MUST handle each record as one `ack`, in order.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      if (conn.target.packedMessages !== 1) return outcome.unsupported('the target declares packed_messages = 0: acks cannot be PACKED towards it');
      const a = await runningClock(conn, newKey(), 60_000, 1);
      await conn.sendPacked(a.id, [encode({ t: 'ack', id: 1 }), encode({ t: 'ack', id: 1000 })]);
      return expectStreamError(conn, a.id, 'PROTOCOL_ERROR');
    },
  },
  {
    id: 'FW-EV-40/heartbeat-when-idle',
    requirements: ['FW-EV-40'],
    section: S_HB,
    level: 'MUST',
    slow: true,
    title: 'a "clock" subscription ticking once an hour: after event 1, an hb message within 1.5 × hb_ms',
    quote: 'While an attachment has written nothing for `hb_ms` (default 15 000; 0 = off) and has nothing queued, the server sends `hb`.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const a = Subscription.open(conn, 'clock', { key: newKey(), params: { interval_ms: 3_600_000 } });
      const start = await a.started();
      const hb = start.hbMs;
      if (hb === 0) {
        a.cancel();
        return outcome.info('the target announces hb_ms 0 (heartbeats off)');
      }
      if (hb * 1.5 + ctx.timeoutMs > ctx.run.longWaitMs) {
        a.cancel();
        return outcome.info(`hb_ms ${hb} is longer than this run waits (${ctx.run.longWaitMs} ms)`);
      }
      await a.eventsUpTo(1);
      const from = Date.now();
      const got = await a.until((s) => s.heartbeats > 0, hb * 1.5 + ctx.timeoutMs);
      a.cancel();
      const bad = schemaFail(a);
      if (bad !== undefined) return bad;
      if (!got) return outcome.fail(`no hb within ${hb * 1.5 + ctx.timeoutMs} ms of silence`, `hb after about ${hb} ms`, a.describeEnd());
      return outcome.pass(`hb after ${a.lastHeartbeatAt - from} ms of silence (hb_ms ${hb})`);
    },
  },
  {
    id: 'FW-EV-50/grace-period-ends',
    requirements: ['FW-EV-50', 'FW-EV-26'],
    section: S_GRACE,
    level: 'MUST',
    slow: true,
    title: 'a "clock" instance whose connection is lost, left alone for grace_ms → a resume of its key fails with NOT_FOUND {reason: "unknown_key"}',
    quote: 'When it passes without a resume, the producer is aborted (reason `TIMEOUT`) and the instance dropped.',
    needs: ['events'],
    async run(ctx) {
      const first = await ctx.handshake();
      const key = newKey();
      const a = Subscription.open(first, 'clock', { key, params: { interval_ms: 100 } });
      const start = await a.started();
      const grace = start.graceMs;
      if (grace + ctx.timeoutMs * 2 > ctx.run.longWaitMs) {
        a.cancel();
        return outcome.info(`grace_ms ${grace} is longer than this run waits (${ctx.run.longWaitMs} ms)`);
      }
      await a.eventsUpTo(1);
      first.peer.destroy();
      await sleep(grace + ctx.timeoutMs);
      const conn = await ctx.handshake();
      const b = Subscription.open(conn, 'clock', { key, after: a.lastId });
      await b.until((s) => s.start !== undefined);
      if (b.start !== undefined) {
        b.cancel();
        return outcome.fail(`the instance outlived its grace period of ${grace} ms`, 'NOT_FOUND', `start next ${b.start.next}`);
      }
      return expectEventError(b, 'NOT_FOUND', { reason: (v) => v === 'unknown_key' });
    },
  },
];
