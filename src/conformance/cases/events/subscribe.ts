/** §12 event streams, subscribing: finite streams, ends confirmed or replayed, keys, refusals (spec/EVENTS.md §12.2-12.4). */

import { expectStreamError } from '../../expect.ts';
import { outcome } from '../../types.ts';
import { type Case } from '../helpers.ts';
import { expectEventError, finishedTokens, KEY, newKey, S_ENDS, S_MSG, S_OPEN, schemaFail, show, Subscription } from './support.ts';

export const cases: Case[] = [
  {
    id: 'FW-EV-11/finite-stream',
    requirements: ['FW-EV-11', 'FW-EV-1', 'FW-EV-10', 'FW-EV-4', 'FW-EV-30', 'FW-REF-4'],
    section: S_MSG,
    level: 'MUST',
    title: 'subscribe "tokens" {count 5} with a new key → start {key, next 1}, events 1..5, then DONE with the summary {tokens: 5}',
    quote: 'The server MUST send `start` before any other message. `next` is the id of the first event this attachment will carry … Event ids of an instance start at 1 and increase by exactly 1, with no holes.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const s = Subscription.open(conn, 'tokens', { key, params: { count: 5, interval_ms: 0 } });
      const start = await s.started();
      await s.until(() => s.view().done);
      s.confirm();
      const bad = schemaFail(s);
      if (bad !== undefined) return bad;
      if (start.key !== key) return outcome.fail('start carries another key', key, start.key);
      if (start.next !== 1) return outcome.fail('a new instance does not start at 1', 'next 1', `next ${start.next}`);
      const v = s.view();
      if (!v.done) return outcome.fail('no DONE after the last event', '5 events, then DONE', `${s.events.length} events; ${s.describeEnd()}`);
      const ids = s.events.map((e) => e.id).join(',');
      if (ids !== '1,2,3,4,5') return outcome.fail('wrong event ids', '1,2,3,4,5', ids);
      if (v.trailer?.['tokens'] !== 5) return outcome.fail('DONE without the producer\'s summary', 'trailer {tokens: 5}', show(v.trailer ?? null));
      return outcome.pass(`start ${show(start)}, events 1..5, DONE ${show(v.trailer)}`);
    },
  },
  {
    id: 'FW-EV-30/confirmed-end-forgotten',
    requirements: ['FW-EV-30', 'FW-EV-26'],
    section: S_ENDS,
    level: 'MUST',
    title: 'a finished subscription confirmed with our DONE, then a resume of its key → NOT_FOUND {reason: "unknown_key"}',
    quote: 'The completed stream (both DONEs) tells the server the end was received: it drops the instance at once. … A resume of a key the server does not know — never created, expired after the grace period, ended and confirmed … — fails with `NOT_FOUND`, details `{name, key, reason: "unknown_key"}`.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const s = await finishedTokens(conn, key);
      s.confirm();
      await conn.alive();
      const again = Subscription.open(conn, 'tokens', { key, after: 3 });
      return expectEventError(again, 'NOT_FOUND', { key: (v) => v === key, reason: (v) => v === 'unknown_key' });
    },
  },
  {
    id: 'FW-EV-30/done-and-resume-in-one-write',
    requirements: ['FW-EV-30', 'FW-EV-26'],
    section: S_ENDS,
    level: 'MUST',
    title: 'a finished subscription: our DONE and a resume of its key in one write on the same connection → NOT_FOUND {reason: "unknown_key"} (the DONE is processed first)',
    quote: 'the server MUST drop the instance when it processes the subscriber\'s DONE: every resume of that key the server processes after that DONE, on any connection, fails with `NOT_FOUND`.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      const s = await finishedTokens(conn, key);
      const done = conn.peer.done(s.id, undefined, false);
      const id = conn.newStreamId();
      const open = conn.peer.open(id, 'events.subscribe', { target: 'tokens', meta: { key, after: 3 } }, false);
      conn.peer.sendBytes(Buffer.concat([done, open]));
      return expectEventError(new Subscription(conn, id, 'tokens'), 'NOT_FOUND', { key: (v) => v === key, reason: (v) => v === 'unknown_key' });
    },
  },
  {
    id: 'FW-EV-30/confirmed-then-resumed-elsewhere',
    requirements: ['FW-EV-30', 'FW-EV-26'],
    section: S_ENDS,
    level: 'MUST',
    title: 'a finished subscription confirmed with our DONE and a PING answered after it; then a resume of its key on a new connection → NOT_FOUND {reason: "unknown_key"}',
    quote: 'the server MUST drop the instance when it processes the subscriber\'s DONE: every resume of that key the server processes after that DONE, on any connection, fails with `NOT_FOUND`.',
    needs: ['events'],
    async run(ctx) {
      const first = await ctx.handshake();
      const key = newKey();
      const s = await finishedTokens(first, key);
      s.confirm();
      // The PING after our DONE is answered only once the DONE was processed.
      if (!(await first.alive())) return outcome.fail('no PING answer after our DONE', 'PING ACK', first.describeStreamEnd(0));
      const other = await ctx.handshake();
      const again = Subscription.open(other, 'tokens', { key, after: 3 });
      return expectEventError(again, 'NOT_FOUND', { key: (v) => v === key, reason: (v) => v === 'unknown_key' });
    },
  },
  {
    id: 'FW-EV-30/unconfirmed-end-replayed',
    requirements: ['FW-EV-30', 'FW-EV-24', 'FW-EV-50'],
    section: S_ENDS,
    level: 'MUST',
    title: 'a finished subscription whose connection is lost before our DONE, resumed with after = its last id → start next last + 1, no events, DONE with the summary again',
    quote: 'If the connection is lost after the server\'s DONE but before the client\'s, the instance is kept for `grace_ms` and a resume receives the remaining events and DONE again.',
    needs: ['events'],
    async run(ctx) {
      const first = await ctx.handshake();
      const key = newKey();
      await finishedTokens(first, key);
      first.peer.destroy();
      const conn = await ctx.handshake();
      const b = Subscription.open(conn, 'tokens', { key, after: 3 });
      const start = await b.started();
      await b.until(() => b.view().done);
      b.confirm();
      const bad = schemaFail(b);
      if (bad !== undefined) return bad;
      if (start.next !== 4 || b.events.length > 0) return outcome.fail('the resume did not continue after event 3', 'start next 4, no events', `next ${start.next}, ${b.events.length} events`);
      const v = b.view();
      if (!v.done || v.trailer?.['tokens'] !== 3) return outcome.fail('the end was not sent again', 'DONE {tokens: 3}', v.done ? `DONE ${show(v.trailer ?? null)}` : b.describeEnd());
      return outcome.pass(`DONE ${show(v.trailer)} again after the loss`);
    },
  },
  {
    id: 'FW-EV-4/server-assigned-key',
    requirements: ['FW-EV-4', 'FW-EV-3', 'FW-EV-10'],
    section: S_OPEN,
    level: 'MUST',
    title: 'subscribe "tokens" {count 1} without a key → start with a key the server chose (1..128 of [A-Za-z0-9._~:-]), event 1, DONE',
    quote: '`key` | str, 1..128 of `[A-Za-z0-9._~:-]` | the instance key (request id). Absent: the server starts a new instance and assigns a key (a UUID).',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const s = Subscription.open(conn, 'tokens', { params: { count: 1, interval_ms: 0 } });
      const start = await s.started();
      await s.until(() => s.view().done);
      s.confirm();
      const bad = schemaFail(s);
      if (bad !== undefined) return bad;
      if (!KEY.test(start.key)) return outcome.fail('the assigned key is not a valid key', '1..128 of [A-Za-z0-9._~:-]', show(start.key));
      if (s.lastId !== 1 || !s.view().done) return outcome.fail('the subscription did not deliver event 1 and end', 'event 1, DONE', `${s.events.length} events; ${s.describeEnd()}`);
      return outcome.pass(`assigned key ${start.key}`);
    },
  },
  {
    id: 'FW-EV-2/unknown-name',
    requirements: ['FW-EV-2'],
    section: S_OPEN,
    level: 'MUST',
    title: 'subscribe "conformance.no-such-stream" → NOT_FOUND with details {name}',
    quote: '`target` is the stream name … A name with no registered producer fails the stream with `NOT_FOUND` (details `{name}`).',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const s = Subscription.open(conn, 'conformance.no-such-stream');
      return expectEventError(s, 'NOT_FOUND', { name: (v) => v === 'conformance.no-such-stream' });
    },
  },
  {
    id: 'FW-EV-3/malformed-meta',
    requirements: ['FW-EV-3'],
    section: S_OPEN,
    level: 'MUST',
    title: 'subscribe "tokens" with after but no key, with the key "bad key!", with params 7, with after "1" → MALFORMED_PAYLOAD on each stream',
    quote: 'Wrong types, `after` without `key`, or a malformed key fail the stream with `MALFORMED_PAYLOAD`.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const metas: [string, Record<string, unknown>][] = [
        ['after without key', { after: 1 }],
        ['key "bad key!"', { key: 'bad key!' }],
        ['params 7', { key: newKey(), params: 7 }],
        ['after "1"', { key: newKey(), after: '1' }],
      ];
      for (const [what, meta] of metas) {
        const s = Subscription.open(conn, 'tokens', meta);
        const o = await expectStreamError(conn, s.id, 'MALFORMED_PAYLOAD');
        if (o.verdict !== 'pass') return { ...o, detail: `${what}: ${o.detail}` };
      }
      return outcome.pass(`${metas.length} malformed subscriptions refused with MALFORMED_PAYLOAD`);
    },
  },
  {
    id: 'FW-EV-6/builtin-params-refused',
    requirements: ['FW-REF-6', 'FW-EV-6'],
    section: '13.3 Event streams',
    level: 'MUST',
    title: 'subscribe "tokens" with count -1, count 1.5, count "5", an unknown param → MALFORMED_PAYLOAD {param} before start, each; then a good one still starts',
    quote: 'A subscription that would start a new instance with a key the stream does not take, a value that is not an integer, or an integer outside its range MUST fail before `start` (FW-EV-6) with `MALFORMED_PAYLOAD` and details `{"param": <key>}`',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const bad: [string, Record<string, unknown>, string][] = [
        ['count -1', { count: -1 }, 'count'],
        ['count 1.5', { count: 1.5 }, 'count'],
        ['count "5"', { count: '5' }, 'count'],
        ['unknown param "cuont"', { cuont: 5 }, 'cuont'],
      ];
      for (const [what, params, param] of bad) {
        const s = Subscription.open(conn, 'tokens', { key: newKey(), params });
        const o = await expectEventError(s, 'MALFORMED_PAYLOAD', { param: (v) => v === param });
        if (o.verdict !== 'pass') return { ...o, detail: `${what}: ${o.detail}` };
        s.pump();
        if (s.start !== undefined) return outcome.fail(`${what}: the target sent start before refusing`, 'ERROR before any message', `start ${show(s.start)}`);
      }
      const good = Subscription.open(conn, 'tokens', { key: newKey(), params: { count: 2, interval_ms: 0 } });
      await good.started();
      if (!(await good.until(() => good.view().done))) return outcome.fail('a valid subscription after the refusals did not finish', 'DONE', good.describeEnd());
      good.confirm();
      return outcome.pass(`${bad.length} bad params refused with MALFORMED_PAYLOAD {param} before start; a valid one still runs`);
    },
  },
];
