/**
 * §12 The event-stream profile (spec/EVENTS.md, FW-EV-*): subscriptions are `events.subscribe`
 * streams; the target's messages (`start`, `ev`, `hb`) are decoded and checked here by hand with
 * @msgpack/msgpack, never with src/events.
 *
 * The cases use the two streams `framewire serve` offers (spec/CONFORMANCE.md, "What a target
 * provides"): `tokens` (params count, interval_ms; summary {tokens}) and `clock` (params
 * interval_ms, until cancelled). A target without the profile gets `unsupported`. Timer cases
 * (heartbeat, grace period) wait for the values the target announces in `start` when they fit
 * the run's long-wait budget, and are informational otherwise.
 */

import { randomBytes } from 'node:crypto';
import { decode, encode } from '@msgpack/msgpack';
import { ErrorCodes } from '../../errors.ts';
import { FrameType } from '../../wire/index.ts';
import type { Conn } from '../context.ts';
import { expectStreamError } from '../expect.ts';
import { describeCode } from '../raw-peer.ts';
import { CaseAbort, outcome, type Outcome } from '../types.ts';
import { sleep, type Case } from './helpers.ts';

const KIND = 'events.subscribe';
const KEY = /^[A-Za-z0-9._~:-]{1,128}$/u;

const S_OPEN = '12.2 Subscribing';
const S_MSG = '12.3 Messages';
const S_ENDS = '12.4 Ends';
const S_RESUME = '12.5 Resume';
const S_LOG = '12.6 Replay log and acknowledgements';
const S_GRACE = '12.7 Instances, grace period';
const S_HB = '12.9 Heartbeats';

type MsgMap = Readonly<Record<string, unknown>>;

interface Start {
  readonly key: string;
  readonly resumable: boolean;
  readonly next: number;
  readonly hbMs: number;
  readonly graceMs: number;
  readonly ackEvery: number;
  readonly ackMs: number;
}

interface Ev {
  readonly id: number;
  readonly type: string;
  readonly data: unknown;
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function show(v: unknown): string {
  if (v === undefined) return 'absent';
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `bin(${x.length})` : x));
}

function newKey(): string {
  return `conformance-${randomBytes(9).toString('hex')}`;
}

/**
 * One subscription as the target sends it: messages decoded in arrival order (incrementally: a
 * case may read thousands of events), checked against §12.3 as they come. `problems` lists every
 * breach of the server's side of the schema: start not first or repeated, bad keys, unknown `t`,
 * ids that do not continue at start.next one by one.
 */
class Subscription {
  readonly conn: Conn;
  readonly id: number;
  readonly name: string;
  start: Start | undefined;
  readonly events: Ev[] = [];
  heartbeats = 0;
  /** When the last `hb` arrived (ms). */
  lastHeartbeatAt = 0;
  readonly problems: string[] = [];
  #scanned = 0;
  #parts: Buffer[] | undefined;
  #messages = 0;

  constructor(conn: Conn, id: number, name: string) {
    this.conn = conn;
    this.id = id;
    this.name = name;
  }

  static open(conn: Conn, name: string, meta: Record<string, unknown> = {}): Subscription {
    return new Subscription(conn, conn.open(KIND, { target: name, meta }), name);
  }

  get lastId(): number {
    return this.events.at(-1)?.id ?? 0;
  }

  /** Reads what arrived since the last call. */
  pump(): void {
    const frames = this.conn.peer.frames;
    for (; this.#scanned < frames.length; this.#scanned++) {
      const r = frames[this.#scanned];
      if (r?.raw.stream !== this.id || r.frame?.type !== FrameType.DATA) continue;
      (this.#parts ??= []).push(Buffer.from(r.frame.payload));
      if ((r.frame.flags & 0x01) !== 0) continue;
      const bytes = Buffer.concat(this.#parts);
      this.#parts = undefined;
      this.#message(bytes, r.at);
    }
  }

  #message(bytes: Buffer, at: number): void {
    const n = this.#messages++;
    let m: unknown;
    try {
      m = decode(bytes);
    } catch (error) {
      this.problems.push(`message ${n} is not MessagePack: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (typeof m !== 'object' || m === null || Array.isArray(m) || m instanceof Uint8Array) {
      this.problems.push(`message ${n} is not a map: ${show(m)}`);
      return;
    }
    const map = m as MsgMap;
    if (n === 0 && map['t'] !== 'start') this.problems.push(`the first message is ${show(map['t'])}, not start (FW-EV-10)`);
    switch (map['t']) {
      case 'start': {
        if (n !== 0) {
          this.problems.push(`start repeated as message ${n} (FW-EV-10)`);
          return;
        }
        const bad = ['next', 'hb_ms', 'grace_ms', 'ack_every', 'ack_ms'].filter((k) => !isUint(map[k]));
        if (typeof map['key'] !== 'string' || !KEY.test(map['key'])) bad.push('key');
        if (typeof map['resumable'] !== 'boolean') bad.push('resumable');
        if (map['next'] === 0) bad.push('next (0)');
        if (map['ack_every'] === 0) bad.push('ack_every (0)');
        if (bad.length > 0) this.problems.push(`start has bad or missing ${bad.join(', ')}: ${show(map)}`);
        this.start = {
          key: typeof map['key'] === 'string' ? map['key'] : '',
          resumable: map['resumable'] === true,
          next: isUint(map['next']) ? map['next'] : 0,
          hbMs: isUint(map['hb_ms']) ? map['hb_ms'] : 0,
          graceMs: isUint(map['grace_ms']) ? map['grace_ms'] : 0,
          ackEvery: isUint(map['ack_every']) ? Math.max(1, map['ack_every']) : 1,
          ackMs: isUint(map['ack_ms']) ? map['ack_ms'] : 0,
        };
        return;
      }
      case 'ev': {
        const id = map['id'];
        const type = map['type'];
        if (!isUint(id) || id === 0) {
          this.problems.push(`event with id ${show(id)} (FW-EV-11)`);
          return;
        }
        if (typeof type !== 'string' || type.length === 0 || type.length > 128) this.problems.push(`event ${id} has type ${show(type)} (FW-EV-11)`);
        if (!('data' in map)) this.problems.push(`event ${id} has no data`);
        const expected = this.events.length === 0 ? (this.start?.next ?? 1) : this.lastId + 1;
        if (id !== expected && this.problems.length < 20) this.problems.push(`event id ${id} where ${expected} was due (FW-EV-11)`);
        this.events.push({ id, type: typeof type === 'string' ? type : '', data: map['data'] });
        return;
      }
      case 'hb':
        this.heartbeats++;
        this.lastHeartbeatAt = at;
        return;
      default:
        this.problems.push(`message ${n} has unknown t ${show(map['t'])}`);
    }
  }

  view(): ReturnType<Conn['streamState']> {
    return this.conn.streamState(this.id);
  }

  get ended(): boolean {
    const v = this.view();
    return v.done || v.error !== undefined || v.cancel !== undefined || this.conn.peer.ending !== undefined;
  }

  /** Waits until `check` holds (after reading what arrived), the stream ended, or the timeout; returns whether `check` held. */
  async until(check: (s: this) => boolean, timeoutMs = this.conn.ctx.timeoutMs): Promise<boolean> {
    const r = await this.conn.peer.until(() => {
      this.pump();
      if (check(this)) return true;
      return this.ended ? false : undefined;
    }, timeoutMs);
    this.pump();
    return r === true || check(this);
  }

  /** Waits for `start`; ends the case when the subscription is refused (NOT_FOUND for the stream name: unsupported). */
  async started(): Promise<Start> {
    await this.until((s) => s.start !== undefined);
    if (this.start !== undefined) return this.start;
    const v = this.view();
    if (v.error === ErrorCodes.NOT_FOUND.code && v.errorDetails?.['key'] === undefined) {
      throw new CaseAbort(outcome.unsupported(`the target has no event stream "${this.name}" (NOT_FOUND)`));
    }
    throw new CaseAbort(outcome.fail(`the subscription to "${this.name}" was not started`, 'a start message', this.conn.describeStreamEnd(this.id)));
  }

  /** Waits for events up to `id` (or the end). */
  async eventsUpTo(id: number, timeoutMs?: number): Promise<boolean> {
    return this.until((s) => s.lastId >= id, timeoutMs);
  }

  /** Acknowledges every event up to `id` (FW-EV-31). */
  async ack(id: number): Promise<void> {
    await this.conn.send(this.id, encode({ t: 'ack', id }));
  }

  cancel(): void {
    this.conn.peer.cancel(this.id, { reason: 'conformance' });
  }

  /** DONE from us, after the target's DONE (FW-EV-30). */
  confirm(): void {
    this.conn.peer.done(this.id);
  }

  describeEnd(): string {
    return this.conn.describeStreamEnd(this.id);
  }
}

/** A 3-event `tokens` subscription run to its DONE (not yet confirmed), or the failure if it never ends. */
async function finishedTokens(conn: Conn, key: string): Promise<Subscription | Outcome> {
  const s = Subscription.open(conn, 'tokens', { key, params: { count: 3, interval_ms: 0 } });
  await s.started();
  if (!(await s.until(() => s.view().done))) return outcome.fail('the finite stream did not end with DONE', 'DONE', s.describeEnd());
  return s;
}

function schemaFail(s: Subscription): Outcome | undefined {
  return s.problems.length > 0 ? outcome.fail(`the target's messages break §12.3: ${s.problems.slice(0, 5).join('; ')}`) : undefined;
}

/** The stream must fail with `code`, and its details must hold `details` (a missing or wrong detail is non-strict). */
async function expectEventError(s: Subscription, code: keyof typeof ErrorCodes, details: Record<string, (v: unknown) => boolean>): Promise<Outcome> {
  const o = await expectStreamError(s.conn, s.id, code);
  if (o.verdict !== 'pass') return o;
  const got = s.view().errorDetails ?? {};
  const wrong = Object.entries(details).filter(([k, ok]) => !ok(got[k])).map(([k]) => k);
  if (wrong.length > 0) return outcome.nonStrict(`${describeCode(ErrorCodes[code].code)} with wrong or missing details ${wrong.join(', ')}`, `details with ${Object.keys(details).join(', ')}`, show(got));
  return outcome.pass(`${o.detail}, details ${show(got)}`);
}

/** After our CANCEL (or the target's end), a PING round trip: anything the target sends on the stream later broke FW-STREAM-5. */
async function framesAfterSync(conn: Conn, stream: number, quietMs: number): Promise<number> {
  await conn.alive();
  const mark = conn.peer.frames.length;
  await sleep(quietMs);
  return conn.peer.frames.slice(mark).filter((r) => r.raw.stream === stream && r.frame !== undefined && r.frame.type !== FrameType.CREDIT && r.frame.type !== FrameType.ACK).length;
}

export const cases: Case[] = [
  {
    id: 'FW-EV-11/finite-stream',
    requirements: ['FW-EV-11', 'FW-EV-1', 'FW-EV-10', 'FW-EV-4', 'FW-EV-30'],
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
      if (!(s instanceof Subscription)) return s;
      s.confirm();
      await conn.alive();
      const again = Subscription.open(conn, 'tokens', { key, after: 3 });
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
      const a = await finishedTokens(first, key);
      if (!(a instanceof Subscription)) return a;
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
      const a = Subscription.open(first, 'tokens', { key, params: { count: 12, interval_ms: 30 } });
      await a.started();
      if (!(await a.eventsUpTo(4))) return outcome.fail('the first subscription did not deliver 4 events', 'events 1..4', `${a.events.length} events; ${a.describeEnd()}`);
      const bad = schemaFail(a);
      if (bad !== undefined) return bad;
      const cursor = a.lastId;
      first.peer.destroy();
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
      const a = Subscription.open(conn, 'clock', { key, params: { interval_ms: 60_000 } });
      await a.started();
      if (!(await a.eventsUpTo(1))) return outcome.fail('the clock sent no first event', 'event 1', a.describeEnd());
      const b = Subscription.open(conn, 'clock', { key, after: 1000 });
      const o = await expectEventError(b, 'PROTOCOL_ERROR', { key: (v) => v === key, last: (v) => isUint(v) && v < 1000 });
      a.cancel();
      return o;
    },
  },
  {
    id: 'FW-EV-23/resume-gap',
    requirements: ['FW-EV-23', 'FW-EV-22', 'FW-EV-31', 'FW-EV-24'],
    section: S_RESUME,
    level: 'MUST',
    title: 'subscribe "tokens" with 4 × ack_every + 64 events (beyond the replay log), acknowledging as we read; then resume with after 0 → RESUME_GAP {key, earliest, last}; resume with after earliest − 1 → continues there',
    quote: 'If event `after` + 1 is no longer retained, the stream fails with `RESUME_GAP`, details `{key, earliest, last}`: `earliest` is the lowest id the server can still send … The client decides: resume with `after` = `earliest` − 1 accepting the gap, or give up.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = newKey();
      // The probe subscription tells ack_every; the reference server sends maxEvents / 4, so 4 × ack_every events overflow its log.
      const probe = Subscription.open(conn, 'tokens', { params: { count: 0 } });
      const ackEvery = (await probe.started()).ackEvery;
      await probe.until(() => probe.view().done);
      probe.confirm();
      const count = 4 * ackEvery + 64;
      if (count > 50_000) return outcome.info(`ack_every ${ackEvery} suggests a replay log of ${4 * ackEvery} events: too many to overflow in a test`);
      const a = Subscription.open(conn, 'tokens', { key, params: { count, interval_ms: 0 } });
      await a.started();
      let acked = 0;
      const step = Math.max(1, Math.floor(ackEvery / 2));
      while (!a.view().done) {
        const got = await a.until((s) => s.lastId >= acked + step || s.view().done, ctx.timeoutMs * 2);
        if (!got && !a.view().done) return outcome.fail(`the stream stalled after ${a.lastId} of ${count} events although every event was acknowledged`, `${count} events`, a.describeEnd());
        if (a.view().error !== undefined || a.view().cancel !== undefined) return outcome.fail('the subscription failed', 'events and DONE', a.describeEnd());
        if (a.lastId > acked) {
          acked = a.lastId;
          await a.ack(acked);
        }
      }
      const bad = schemaFail(a);
      if (bad !== undefined) return bad;
      await conn.alive();
      const b = Subscription.open(conn, 'tokens', { key, after: 0 });
      await b.until((s) => s.start !== undefined);
      if (b.start !== undefined) {
        b.cancel();
        return outcome.info(`the target still retained event 1 after ${count} acknowledged events: no RESUME_GAP provoked`);
      }
      const o = await expectEventError(b, 'RESUME_GAP', { key: (v) => v === key, earliest: (v) => isUint(v) && v > 1, last: (v) => v === count });
      if (o.verdict !== 'pass') return o;
      const earliest = b.view().errorDetails?.['earliest'];
      if (!isUint(earliest)) return outcome.fail('no earliest');
      const c = Subscription.open(conn, 'tokens', { key, after: earliest - 1 });
      const start = await c.started();
      await c.until((s) => s.view().done, ctx.timeoutMs * 2);
      c.confirm();
      if (start.next !== earliest || c.events[0]?.id !== earliest || c.lastId !== count) {
        return outcome.fail('the resume at earliest − 1 did not continue there', `next ${earliest}, events ${earliest}..${count}`, `next ${start.next}, events ${c.events[0]?.id ?? '-'}..${c.lastId}; ${c.describeEnd()}`);
      }
      return outcome.pass(`${count} events; after 0 → RESUME_GAP ${show(b.view().errorDetails)}; after ${earliest - 1} → events ${earliest}..${count}`);
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
      const a = Subscription.open(conn, 'clock', { key, params: { interval_ms: 50 } });
      await a.started();
      if (!(await a.eventsUpTo(2))) return outcome.fail('the clock did not tick twice', 'events 1, 2', a.describeEnd());
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
      const a = Subscription.open(conn, 'clock', { key, params: { interval_ms: 50 } });
      await a.started();
      if (!(await a.eventsUpTo(2))) return outcome.fail('the clock did not tick twice', 'events 1, 2', a.describeEnd());
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
    requirements: ['FW-EV-31'],
    section: S_LOG,
    level: 'MUST',
    title: 'a "clock" subscription with event 1 sent; an ack of id 1000 → PROTOCOL_ERROR on the stream',
    quote: 'An `ack` above the last id sent on that attachment fails the stream with `PROTOCOL_ERROR`.',
    needs: ['events'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const a = Subscription.open(conn, 'clock', { key: newKey(), params: { interval_ms: 60_000 } });
      await a.started();
      if (!(await a.eventsUpTo(1))) return outcome.fail('the clock sent no first event', 'event 1', a.describeEnd());
      await a.ack(1000);
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
