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
import { ErrorCodes } from '../../../errors.ts';
import { FrameType } from '../../../wire/index.ts';
import type { Conn } from '../../context.ts';
import { expectStreamError } from '../../expect.ts';
import { describeCode } from '../../raw-peer.ts';
import { CaseAbort, outcome, type Outcome } from '../../types.ts';
import { sleep } from '../helpers.ts';

export const KIND = 'events.subscribe';
export const KEY = /^[A-Za-z0-9._~:-]{1,128}$/u;

export const S_OPEN = '12.2 Subscribing';
export const S_MSG = '12.3 Messages';
export const S_ENDS = '12.4 Ends';
export const S_RESUME = '12.5 Resume';
export const S_LOG = '12.6 Replay log and acknowledgements';
export const S_GRACE = '12.7 Instances, grace period';
export const S_HB = '12.9 Heartbeats';

export type MsgMap = Readonly<Record<string, unknown>>;

export interface Start {
  readonly key: string;
  readonly resumable: boolean;
  readonly next: number;
  readonly hbMs: number;
  readonly graceMs: number;
  readonly ackEvery: number;
  readonly ackMs: number;
}

export interface Ev {
  readonly id: number;
  readonly type: string;
  readonly data: unknown;
}

export function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function show(v: unknown): string {
  if (v === undefined) return 'absent';
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `bin(${x.length})` : x));
}

export function newKey(): string {
  return `conformance-${randomBytes(9).toString('hex')}`;
}

/**
 * One subscription as the target sends it: messages decoded in arrival order (incrementally: a
 * case may read thousands of events), checked against §12.3 as they come. `problems` lists every
 * breach of the server's side of the schema: start not first or repeated, bad keys, unknown `t`,
 * ids that do not continue at start.next one by one.
 */
export class Subscription {
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

/** A running `clock` instance `key` (a tick every `intervalMs`) that has sent its first `events` events; the case ends if it does not. */
export async function runningClock(conn: Conn, key: string, intervalMs: number, events: number): Promise<Subscription> {
  const s = Subscription.open(conn, 'clock', { key, params: { interval_ms: intervalMs } });
  await s.started();
  if (!(await s.eventsUpTo(events))) {
    throw new CaseAbort(events === 1 ? outcome.fail('the clock sent no first event', 'event 1', s.describeEnd()) : outcome.fail(`the clock did not send ${events} events`, `events 1..${events}`, s.describeEnd()));
  }
  return s;
}

/** A `tokens` {count 12, interval 30 ms} subscription as `key` whose connection is lost after its first 4 events, to be resumed after its lastId; the case ends if they do not come. */
export async function tokensCutAfterEvent4(conn: Conn, key: string): Promise<Subscription> {
  const s = Subscription.open(conn, 'tokens', { key, params: { count: 12, interval_ms: 30 } });
  await s.started();
  if (!(await s.eventsUpTo(4))) throw new CaseAbort(outcome.fail('the first subscription did not deliver 4 events', 'events 1..4', `${s.events.length} events; ${s.describeEnd()}`));
  conn.peer.destroy();
  return s;
}

/** A 3-event `tokens` subscription run to its DONE (not yet confirmed); the case ends if it never ends. */
export async function finishedTokens(conn: Conn, key: string): Promise<Subscription> {
  const s = Subscription.open(conn, 'tokens', { key, params: { count: 3, interval_ms: 0 } });
  await s.started();
  if (!(await s.until(() => s.view().done))) throw new CaseAbort(outcome.fail('the finite stream did not end with DONE', 'DONE', s.describeEnd()));
  return s;
}

/**
 * Runs a `tokens` instance `key` past its replay log, acknowledging as it reads, so that acknowledged
 * events leave the log (FW-EV-22): the built-in streams take no retention params; the reference
 * sends ack_every = maxEvents / 4, so 4 × ack_every + 64 acknowledged events overflow it. Returns
 * the number of events, or the outcome that ends the case.
 */
async function overflowReplayLog(conn: Conn, key: string, waitMs: number): Promise<{ count: number } | Outcome> {
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
    const got = await a.until((s) => s.lastId >= acked + step || s.view().done, waitMs);
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
  return { count };
}

/**
 * Overflows the replay log of a `tokens` instance `key` (overflowReplayLog), then resumes it with
 * after 0: RESUME_GAP {key, earliest > 1, last} (FW-EV-23). Returns the count, the earliest id and
 * the error's details, or the outcome that ends the case.
 */
export async function provokeResumeGap(conn: Conn, key: string, waitMs: number): Promise<{ count: number; earliest: number; details: MsgMap } | Outcome> {
  const run = await overflowReplayLog(conn, key, waitMs);
  if (!('count' in run)) return run;
  const { count } = run;
  const s = Subscription.open(conn, 'tokens', { key, after: 0 });
  await s.until((x) => x.start !== undefined);
  if (s.start !== undefined) {
    s.cancel();
    return outcome.info(`the target still retained event 1 after ${count} acknowledged events: no RESUME_GAP provoked`);
  }
  const o = await expectEventError(s, 'RESUME_GAP', { key: (v) => v === key, earliest: (v) => isUint(v) && v > 1, last: (v) => v === count });
  if (o.verdict !== 'pass') return o;
  const details = s.view().errorDetails ?? {};
  const earliest = details['earliest'];
  if (!isUint(earliest)) return outcome.fail('no earliest');
  return { count, earliest, details };
}

/** Resumes `key` with after = earliest − 1, accepting the gap (FW-EV-23), and reads to DONE: undefined if it carried events earliest..count, else the failure. */
export async function resumeAcceptingGap(conn: Conn, key: string, gap: { count: number; earliest: number }, waitMs: number): Promise<Outcome | undefined> {
  const { count, earliest } = gap;
  const s = Subscription.open(conn, 'tokens', { key, after: earliest - 1 });
  const start = await s.started();
  await s.until((x) => x.view().done, waitMs);
  s.confirm();
  if (start.next === earliest && s.events[0]?.id === earliest && s.lastId === count && s.view().done) return undefined;
  return outcome.fail('the resume at earliest − 1 did not continue there', `next ${earliest}, events ${earliest}..${count}, DONE`, `next ${start.next}, events ${s.events[0]?.id ?? '-'}..${s.lastId}; ${s.describeEnd()}`);
}

export function schemaFail(s: Subscription): Outcome | undefined {
  return s.problems.length > 0 ? outcome.fail(`the target's messages break §12.3: ${s.problems.slice(0, 5).join('; ')}`) : undefined;
}

/** The stream must fail with `code`, and its details must hold `details` (a missing or wrong detail is non-strict). */
export async function expectEventError(s: Subscription, code: keyof typeof ErrorCodes, details: Record<string, (v: unknown) => boolean>): Promise<Outcome> {
  const o = await expectStreamError(s.conn, s.id, code);
  if (o.verdict !== 'pass') return o;
  const got = s.view().errorDetails ?? {};
  const wrong = Object.entries(details).filter(([k, ok]) => !ok(got[k])).map(([k]) => k);
  if (wrong.length > 0) return outcome.nonStrict(`${describeCode(ErrorCodes[code].code)} with wrong or missing details ${wrong.join(', ')}`, `details with ${Object.keys(details).join(', ')}`, show(got));
  return outcome.pass(`${o.detail}, details ${show(got)}`);
}

/** After our CANCEL (or the target's end), a PING round trip: anything the target sends on the stream later broke FW-STREAM-5. */
export async function framesAfterSync(conn: Conn, stream: number, quietMs: number): Promise<number> {
  await conn.alive();
  const mark = conn.peer.frames.length;
  await sleep(quietMs);
  return conn.peer.frames.slice(mark).filter((r) => r.raw.stream === stream && r.frame !== undefined && r.frame.type !== FrameType.CREDIT && r.frame.type !== FrameType.ACK).length;
}
