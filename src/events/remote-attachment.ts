/**
 * A subscriber served by this node for an instance whose producer runs on another node (spec/EVENTS.md
 * §12.13). The attachment is the ordinary SubscriberWriter (start, replay, live events, heartbeats
 * from this node, acks, the end last) over a FollowerLog: a read-only view of the instance's Redis
 * stream. The live tail is pub/sub: the producer's append script publishes the new events on the
 * instance's channel (no extra round trip for the producer; a burst in one message), and the writer
 * sends them without a read when they follow on what was read (a burst in one socket write); XRANGE (at most READ_BATCH entries a read) fills whatever the
 * channel did not carry in order. This node holds no more than one batch per attachment whatever
 * the producer's pace, and one pub/sub connection per node serves every attachment (XREAD BLOCK
 * would hold a connection per attachment).
 *
 * Pub/sub is at most once: every pollMs the attachment also reads the instance's state (one script)
 * and renews its lease with the producer's node (which carries its ack, so a lost ack costs at most
 * pollMs). The poll is also how the end of a producer that cannot record it is noticed: the
 * producer's node stopped renewing its liveness key (it died), or the log is gone (Redis restarted
 * without persistence): the subscriber gets PRODUCER_FAILED (retryable), with details.reason.
 */

import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { FramewireError } from '../errors.ts';
import { Guard, systemClock, type Stream, type StreamOutcome, type TimerHandle } from '../session/index.ts';
import { Notifier } from './notifier.ts';
import type { ProducerEnd } from './producer-pump.ts';
import type { ServeContext } from './replay-cluster.ts';
import type { LoggedEvent, ReplayLog } from './replay-log.ts';
import { decodeEnd, scripts, type InstanceKeys } from './redis-log-scripts.ts';
import { decodeTail } from './redis-tail.ts';
import { unavailable, type ControlMessage } from './redis-replay-log.ts';
import { SubscriberWriter } from './subscriber-writer.ts';

export interface FollowContext {
  readonly redis: Redis;
  readonly prefix: string;
  readonly node: string;
  readonly keys: InstanceKeys;
  /** The node that runs the producer. */
  readonly owner: string;
  readonly pollMs: number;
  /** How long Redis may stay unreachable before the attachment fails (INTERNAL, retryable). */
  readonly unreachableMs: number;
  readonly send: (node: string, message: ControlMessage) => void;
  /** Subscribes to the instance's tail channel; resolves to the unsubscribe. */
  readonly tail: (channel: string, onMessage: (message: Buffer) => void) => Promise<() => void>;
  /** Registers the attachment under its token, for a `supersede`; returns the unregister. */
  readonly register: (token: string, superseded: () => void) => () => void;
}

/** What the claim read: the instance's state when the subscription arrived. */
export interface InstanceState {
  readonly last: number;
  readonly first: number;
  readonly ended: boolean;
}

/** Events read from Redis at a time. */
const READ_BATCH = 256;

/** The instance's Redis stream, as the writer of a remote attachment reads it. */
export class FollowerLog implements ReplayLog {
  readonly #c: FollowContext;
  readonly #changed: Notifier;
  readonly #onFailure: (error: FramewireError) => void;
  readonly #token: string;
  first: number;
  last: number;
  acked: number;
  end: ProducerEnd | undefined;
  /**
   * Events the tail channel carried, contiguous, following the last one read: the next read takes
   * them without a round trip. At most READ_BATCH; a message lost or beyond that is read from the
   * stream (XRANGE), as is everything while they do not follow on.
   */
  #pushed: LoggedEvent[] = [];
  /** The last id a read returned (or the resume point). */
  #readTo: number;

  constructor(c: FollowContext, changed: Notifier, token: string, state: InstanceState, after: number, onFailure: (error: FramewireError) => void) {
    this.#c = c;
    this.#changed = changed;
    this.#token = token;
    this.#onFailure = onFailure;
    this.first = state.first;
    this.last = state.last;
    this.acked = after;
    this.#readTo = after;
  }

  get firstId(): number {
    return this.first;
  }

  get lastId(): number {
    return this.last;
  }

  get ackedId(): number {
    return this.acked;
  }

  get count(): number {
    return Math.max(0, this.last - this.first + 1);
  }

  get bytes(): number {
    return 0;
  }

  hasRoom(): boolean {
    return false;
  }

  append(): void {
    throw new FramewireError('INTERNAL', 'a remote attachment does not append: the producer runs on another node');
  }

  acknowledge(id: number): void {
    if (id <= this.acked) return;
    this.acked = id;
    this.#c.send(this.#c.owner, { op: 'ack', h: this.#c.keys.hash, token: this.#token, id });
  }

  read(after: number, max: number): readonly LoggedEvent[] | Promise<readonly LoggedEvent[]> {
    const pushed = this.#pushed;
    if (pushed[0]?.id === after + 1) {
      const events = pushed.splice(0, Math.min(max, READ_BATCH));
      this.#readTo = after + events.length;
      return events;
    }
    return this.#readStream(after, max);
  }

  async #readStream(after: number, max: number): Promise<readonly LoggedEvent[]> {
    let raw: [Buffer, Buffer[]][];
    try {
      raw = await this.#c.redis.xrangeBuffer(this.#c.keys.log, `${after + 1}-0`, '+', 'COUNT', Math.min(max, READ_BATCH));
    } catch (error) {
      this.#onFailure(unavailable(error));
      return [];
    }
    const events: LoggedEvent[] = [];
    for (const [rawId, fields] of raw) {
      const [n, seq] = rawId.toString().split('-').map(Number) as [number, number];
      const field = (name: string): Buffer | undefined => fields[fields.findIndex((f) => f.toString() === name) + 1];
      if (seq === 1) {
        this.#ended(n, decodeEnd(field('end') ?? Buffer.alloc(0)));
        break;
      }
      events.push({ id: n, type: field('t')?.toString() ?? '', bytes: field('b') ?? Buffer.alloc(0), at: Number(field('at')?.toString()) });
      if (n > this.last) this.last = n;
    }
    // What the producer's node trimmed: the writer answers RESUME_GAP with this as `earliest`.
    const firstRead = events[0]?.id;
    if (firstRead !== undefined && firstRead > after + 1) this.first = firstRead;
    const readTo = events[events.length - 1]?.id;
    if (readTo !== undefined) {
      this.#readTo = readTo;
      const pushed = this.#pushed;
      while (pushed.length > 0 && (pushed[0]?.id ?? Infinity) <= readTo) pushed.shift();
    }
    if (events.length === 0 && after < this.last) {
      // Nothing where events should be: trimmed (RESUME_GAP, from the writer), or the whole log is gone.
      if ((await this.#c.redis.exists(this.#c.keys.meta).catch(() => 1)) === 0) this.#onFailure(logLost(this.last));
      this.first = Math.max(this.first, this.last + 1);
    }
    return events;
  }

  trim(): void {
    // The producer's node trims; this view follows.
  }

  dispose(): void {
    // Nothing held: the log belongs to the producer's node.
  }

  /** An event the tail channel carried: kept for the next read when it follows on. */
  pushed(event: LoggedEvent): void {
    const pushed = this.#pushed;
    const expected = (pushed[pushed.length - 1]?.id ?? this.#readTo) + 1;
    if (event.id === expected && pushed.length < READ_BATCH) pushed.push(event);
    this.appended(event.id);
  }

  /** A new id was appended (the tail channel or a poll). */
  appended(id: number): void {
    if (id <= this.last) return;
    this.last = id;
    this.#changed.notify();
  }

  /** The end is in the log after event `last`: read it. */
  async fetchEnd(last: number): Promise<void> {
    if (this.end !== undefined) return;
    try {
      const r = await this.#c.redis.xrangeBuffer(this.#c.keys.log, `${last}-1`, `${last}-1`);
      const fields = r[0]?.[1];
      if (fields === undefined) return;
      const i = fields.findIndex((f) => f.toString() === 'end');
      const bytes = fields[i + 1];
      if (i >= 0 && bytes !== undefined) this.#ended(last, decodeEnd(bytes));
    } catch (error) {
      this.#onFailure(unavailable(error));
    }
  }

  #ended(last: number, end: ProducerEnd): void {
    if (this.end !== undefined) return;
    if (last > this.last) this.last = last;
    this.end = end;
    this.#changed.notify();
  }
}

/** Serves one subscription stream from the shared log of an instance another node runs. */
export class RemoteAttachment {
  readonly #c: FollowContext;
  readonly #token = randomBytes(12).toString('hex');
  readonly #changed = new Notifier();
  readonly #log: FollowerLog;
  readonly #stream: Stream;
  readonly #logger: Logger;
  readonly #guard: Guard;
  #writer: SubscriberWriter | undefined;
  #poll: TimerHandle | undefined;
  #lastPollOk = Date.now();
  #endSent = false;
  #superseded = false;
  #cleanup: (() => void)[] = [];

  constructor(c: FollowContext, stream: Stream, state: InstanceState, after: number, logger: Logger) {
    this.#c = c;
    this.#stream = stream;
    this.#logger = logger;
    this.#guard = new Guard(logger, () => {
      stream.fail('INTERNAL', 'internal error');
    });
    this.#log = new FollowerLog(c, this.#changed, this.#token, state, after, (e) => {
      this.#fail(e);
    });
  }

  /** Starts serving: the tail subscription first, so no append between the read and the subscription is missed. */
  async run(after: number, context: ServeContext, ended: boolean): Promise<void> {
    const c = this.#c;
    this.#cleanup.push(c.register(this.#token, () => {
      this.#superseded = true;
      this.#writer?.detach();
      this.#stream.cancel('superseded: another subscriber attached to this event stream');
    }));
    try {
      this.#cleanup.push(await c.tail(c.keys.tail, (m) => {
        this.#guard.run('event tail', () => {
          this.#onTail(m);
        });
      }));
    } catch (error) {
      this.#fail(unavailable(error));
      this.#stop();
      return;
    }
    if (ended) await this.#log.fetchEnd(this.#log.last);
    const clock = this.#guard.clock(systemClock, 'remote attachment timer');
    const writer = new SubscriberWriter(
      {
        start: context.start,
        replayLog: this.#log,
        clock,
        changed: this.#changed,
        count: context.count,
        end: () => this.#log.end,
        flushCoalesced: () => undefined,
        onEndSent: () => {
          this.#endSent = true;
        },
      },
      this.#stream,
      after,
      this.#logger,
    );
    this.#writer = writer;
    void this.#stream.outcome.then(this.#guard.wrap('remote attachment outcome', (o: StreamOutcome) => {
      this.#onOutcome(o);
    }));
    this.#announce();
    this.#poll = clock.setInterval(() => {
      this.#tick();
    }, c.pollMs);
    writer.run();
  }

  #onTail(message: Buffer): void {
    const m = decodeTail(message);
    if (m === undefined) {
      this.#logger.warn('unreadable tail message ignored');
      return;
    }
    if (m.kind === 'end') void this.#log.fetchEnd(m.last);
    else for (const event of m.events) this.#log.pushed(event);
  }

  /** Tells the producer's node this attachment serves the instance (and renews it, with the ack). */
  #announce(): void {
    const c = this.#c;
    c.send(c.owner, { op: 'attach', h: c.keys.hash, token: this.#token, node: c.node, acked: this.#log.acked });
  }

  #tick(): void {
    if (this.#stream.ended) return;
    this.#announce();
    const c = this.#c;
    scripts.poll.run(c.redis, [c.keys.meta], [c.prefix]).then(
      this.#guard.wrap('remote attachment poll', (r: unknown) => {
        this.#lastPollOk = Date.now();
        this.#onPoll(r as (string | number | null)[]);
      }),
      this.#guard.wrap('remote attachment poll', (error: unknown) => {
        if (Date.now() - this.#lastPollOk > c.unreachableMs) this.#fail(unavailable(error));
      }),
    );
  }

  #onPoll(r: (string | number | null)[]): void {
    const log = this.#log;
    if (log.end !== undefined) return;
    if (r.length === 0) {
      this.#fail(logLost(log.last));
      return;
    }
    const [, last, , ended, alive] = r;
    log.appended(Number(last));
    if (ended === '1') {
      void log.fetchEnd(Number(last));
      return;
    }
    if (alive === 0) {
      this.#fail(new FramewireError('PRODUCER_FAILED', "the node running this event stream's producer stopped before the stream ended; start a new subscription", { details: { reason: 'producer_node_lost', last: log.last } }));
    }
  }

  #fail(error: FramewireError): void {
    if (this.#stream.ended) return;
    this.#logger.info({ code: error.code, reason: error.details?.['reason'] }, 'remote attachment failed');
    this.#stream.fail(error.code, error.message, { retryable: error.retryable, ...(error.details === undefined ? {} : { details: error.details }) });
  }

  #onOutcome(o: StreamOutcome): void {
    this.#writer?.detach();
    this.#stop();
    if (this.#superseded) return;
    const c = this.#c;
    const base = { h: c.keys.hash, token: this.#token };
    if (o.status === 'cancelled' && o.error.remote) c.send(c.owner, { op: 'cancel', ...base, reason: 'cancelled by the subscriber' });
    else c.send(c.owner, { op: 'detach', ...base, confirmed: o.status === 'completed' && this.#endSent });
  }

  #stop(): void {
    this.#poll?.cancel();
    for (const undo of this.#cleanup.splice(0)) undo();
  }
}

function logLost(last: number): FramewireError {
  return new FramewireError('PRODUCER_FAILED', 'the event stream is gone from the shared log (Redis restarted without persistence, or its producer node dropped it)', { details: { reason: 'log_lost', last } });
}
