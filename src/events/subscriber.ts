/**
 * The client side of the event-stream profile (spec/EVENTS.md §12.9): a subscription that
 * delivers each event to the application exactly once, in id order, across reconnects.
 *
 * It remembers the last id it handed to the application (the cursor), acknowledges it to the
 * server, and when the connection is lost or goes silent it reconnects through the injected
 * Connector, with the shared retry policy (src/session/retry.ts) on the injected clock, and resumes
 * after the cursor. The end is exactly one outcome: done (with the producer's summary), failed (a
 * coded error) or cancelled. L3: no sockets here; the L5 wrapper (src/events-client.ts) injects a
 * connector of framewire connections.
 */

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { checkInteger } from '../arguments.ts';
import { AbortError, FramewireError, invalidArgument, isFramewireError } from '../errors.ts';
import {
  classifyFailure,
  Guard,
  keepAliveClock,
  Retrier,
  resolveRetryPolicy,
  type ClientConnection,
  type Clock,
  type Connector,
  type RetryDecision,
  type Stream,
  StreamReader,
  type StreamOutcome,
  type TimerHandle,
} from '../session/index.ts';
import { decodeServerMessage, encodeAck, subscribeMeta, SUBSCRIBE_KIND, validateKey, validateName, type StartMessage } from './protocol.ts';
import { formatResumeKey, type ResumePoint } from './resume-key.ts';
import { defaultReconnectPolicy, type DeliveredEvent, type EventOutcome, type SubscribeOptions, type SubscriberStats } from './subscription-types.ts';

export { defaultReconnectPolicy, type DeliveredEvent, type EventOutcome, type SubscribeOptions, type SubscriberStats } from './subscription-types.ts';

/** Before `start` the server's heartbeat interval is unknown: the wait for it. */
const START_TIMEOUT_MS = 45_000;

interface Attachment {
  readonly conn: ClientConnection;
  readonly stream: Stream;
  readonly it: AsyncIterator<Uint8Array>;
  /** `it` when it can hand out messages already received without a promise each. */
  readonly reader: StreamReader<Uint8Array> | undefined;
  start: StartMessage | undefined;
  lastRx: number;
  ackedSent: number;
  timedOut: boolean;
  liveness: TimerHandle | undefined;
  handled: boolean;
}

/**
 * A resumable subscription: iterate it for the events; it reconnects and resumes after the last delivered
 * id by itself. `outcome` says how it ended; `cancel()` stops the producer.
 */
export class Subscription implements AsyncIterable<DeliveredEvent> {
  readonly name: string;
  /** Resolves once with how the subscription ended; never rejects. */
  readonly outcome: Promise<EventOutcome>;
  readonly stats: SubscriberStats = { delivered: 0, duplicates: 0, reconnects: 0 };

  readonly #connect: Connector;
  readonly #o: SubscribeOptions;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #key: string;
  #after: number;
  /** A `start` was received (or `from` given): reattach with `after`. */
  #started: boolean;
  /** What the last `start` said (FW-EV-25); undefined before one. */
  #startResumable: boolean | undefined;
  /** The retries gave up after a loss: the instance may still be waiting out its grace period. */
  #lost = false;
  #conn: ClientConnection | undefined;
  #att: Attachment | undefined;
  #attaching: Promise<Attachment | undefined> | undefined;
  readonly #retry: Retrier;
  /** What the retry policy said about the last failure, until the next attempt acts on it. */
  #afterFailure: RetryDecision | undefined;
  #final: EventOutcome | undefined;
  #resolve!: (o: EventOutcome) => void;
  #ackTimer: TimerHandle | undefined;
  readonly #clock: Clock;
  #iterating = false;
  /** next() calls not yet settled that wait for a message. */
  #awaiting = 0;

  constructor(connect: Connector, name: string, options: SubscribeOptions = {}) {
    this.name = validateName(name);
    this.#connect = connect;
    this.#o = options;
    this.#key = validateKey(options.from?.key ?? options.key ?? randomUUID());
    this.#after = checkInteger('from.after', options.from?.after ?? 0);
    this.#started = options.from !== undefined;
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ events: name, request: this.#key });
    // Timers and the abort listener run behind a guard: an exception (in our code, or in the
    // injected connection's close()) fails this subscription with INTERNAL, nothing else.
    const guard = new Guard(this.#log, () => {
      this.#settle({ status: 'failed', error: new FramewireError('INTERNAL', 'internal error in the subscriber') });
      this.#closeConnection();
    });
    this.#clock = guard.clock(options.clock ?? keepAliveClock, 'subscriber timer');
    const r = options.reconnect;
    this.#retry = new Retrier(r === false ? { ...defaultReconnectPolicy, maxAttempts: 0 } : resolveRetryPolicy(defaultReconnectPolicy, r), this.#clock);
    this.outcome = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = guard.wrap('subscription abort', () => { this.#cancel(new AbortError('subscription aborted by the application', signal)); });
      if (signal.aborted) queueMicrotask(onAbort);
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    void this.#attach();
  }

  get key(): string {
    return this.#key;
  }

  /** The resume point: everything up to `after` was delivered to the application. */
  get cursor(): ResumePoint {
    return { key: this.#key, after: this.#after };
  }

  /** The id of the last event handed to the application, 0 before the first (as EventSource's `lastEventId`). */
  get lastEventId(): number {
    return this.#after;
  }

  /**
   * The key another process (or another subscription) resumes this stream with — `<key>@<lastEventId>`,
   * see `parseResumeKey` — while it can still be resumed: it started, its producer is resumable,
   * and it has not ended by done, cancel or a coded error (a loss the retries gave up on and
   * `detach()` leave it resumable for the server's grace period). Undefined otherwise.
   */
  get resumeKey(): string | undefined {
    if (!this.#started || this.#startResumable === false) return undefined;
    const final = this.#final;
    if (final === undefined || final.status === 'detached' || (final.status === 'failed' && this.#lost)) return formatResumeKey(this.cursor);
    return undefined;
  }

  /** The stream on the wire right now (for tests and diagnostics). */
  get stream(): Stream | undefined {
    return this.#att?.stream;
  }

  /** Cancels: the server's producer stops (FW-EV-14); the outcome is 'cancelled'. */
  cancel(reason = 'cancelled by the subscriber'): void {
    this.#cancel(new FramewireError('CANCELLED', reason));
  }

  #cancel(error: FramewireError): void {
    if (this.#final !== undefined) return;
    const att = this.#att;
    this.#settle({ status: 'cancelled', error });
    if (att !== undefined && !att.stream.ended) att.stream.cancel(error.message);
    this.#closeConnection();
  }

  /**
   * Lets go of the stream without cancelling it: the connection closes without CANCEL, so the
   * server keeps the instance (and its producer) for its grace period (FW-EV-50), and `resumeKey`
   * resumes it after the last delivered event, from here or another process, with no gap and no
   * duplicate. The outcome is 'detached'; iteration ends. A subscription that cannot be resumed
   * (not started, not resumable) is cancelled instead, so its producer does not run on for nobody.
   */
  detach(): void {
    if (this.#final !== undefined) return;
    const resumeKey = this.resumeKey;
    if (resumeKey === undefined) {
      this.cancel('detached before the stream could be resumed');
      return;
    }
    this.#settle({ status: 'detached', resumeKey });
    this.#closeConnection();
  }

  /** The events, in order; ends when the stream ends (see `outcome`). */
  [Symbol.asyncIterator](): AsyncIterator<DeliveredEvent> {
    if (this.#iterating) throw invalidArgument('a subscription can be iterated once');
    this.#iterating = true;
    return {
      next: () => this.#next(),
      return: () => {
        this.cancel('the application stopped iterating');
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  #next(): Promise<IteratorResult<DeliveredEvent>> {
    // Events already received go out without an await each: the common case when they come fast.
    // Not while an earlier call awaits: it may hold a message taken before these.
    const att = this.#att;
    if (this.#final === undefined && this.#awaiting === 0 && att?.reader !== undefined) {
      try {
        for (let bytes = att.reader.takeQueued(); bytes !== undefined; bytes = att.reader.takeQueued()) {
          att.lastRx = this.#clock.now();
          const event = this.#onMessage(att, bytes);
          if (event !== undefined) return Promise.resolve({ done: false, value: event });
          if (this.#isFinal() || att !== this.#att) break;
        }
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new FramewireError('INTERNAL', String(error)));
      }
    }
    const next = this.#nextAwaiting();
    this.#awaiting++;
    const settled = (): void => {
      this.#awaiting--;
    };
    next.then(settled, settled);
    return next;
  }

  async #nextAwaiting(): Promise<IteratorResult<DeliveredEvent>> {
    for (;;) {
      const final = this.#final;
      if (final !== undefined) {
        if (final.status === 'done' || final.status === 'detached') return { done: true, value: undefined };
        throw final.error;
      }
      const att = this.#att ?? (await this.#attach());
      if (att === undefined) continue;
      let r: IteratorResult<Uint8Array>;
      try {
        r = await att.it.next();
      } catch {
        this.#onEnd(att, await att.stream.outcome);
        continue;
      }
      if (att !== this.#att) continue;
      att.lastRx = this.#clock.now();
      if (r.done === true) {
        // The session ends the iterator quietly when the connection dies after the server's DONE
        // arrived but before every message was read, dropping the unread ones: only a stream
        // still open on our side really ended with DONE.
        if (att.stream.ended) this.#onEnd(att, await att.stream.outcome);
        else this.#onServerDone(att);
        continue;
      }
      const event = this.#onMessage(att, r.value);
      if (event !== undefined) return { done: false, value: event };
    }
  }

  #onMessage(att: Attachment, bytes: Uint8Array): DeliveredEvent | undefined {
    let msg;
    try {
      msg = decodeServerMessage(bytes);
    } catch (error) {
      this.#violation(att, error as FramewireError);
      return undefined;
    }
    switch (msg.t) {
      case 'hb':
        return undefined;
      case 'start':
        if (att.start !== undefined || msg.next !== this.#after + 1 || msg.key !== this.#key) {
          this.#violation(att, new FramewireError('PROTOCOL_ERROR', `unexpected start (key ${msg.key}, next ${msg.next}) for key ${this.#key} after ${this.#after}`));
          return undefined;
        }
        att.start = msg;
        this.#startResumable = msg.resumable;
        // Now the heartbeat interval is known: the silence allowed shrinks from the start timeout.
        this.#arm(att);
        this.#started = true;
        this.#retry.progress();
        return undefined;
      case 'ev': {
        if (att.start === undefined) {
          this.#violation(att, new FramewireError('PROTOCOL_ERROR', 'event before start'));
          return undefined;
        }
        if (msg.id <= this.#after) {
          // Idempotency: the event id; a repeat is dropped, never delivered twice (FW-EV-12).
          this.stats.duplicates++;
          return undefined;
        }
        if (msg.id !== this.#after + 1) {
          // Never skip silently (FW-EV-12).
          this.#violation(att, new FramewireError('PROTOCOL_ERROR', `event id ${msg.id} after ${this.#after}: ids must increase by 1`));
          return undefined;
        }
        this.#after = msg.id;
        this.stats.delivered++;
        this.#maybeAck(att);
        return { id: msg.id, type: msg.type, data: msg.data };
      }
    }
  }

  #violation(att: Attachment, error: FramewireError): void {
    att.handled = true;
    this.#log.warn({ code: error.code, err: error.message }, 'server broke the event-stream profile');
    att.stream.fail(error.code, error.message);
    this.#settle({ status: 'failed', error });
    this.#closeConnection();
  }

  #maybeAck(att: Attachment): void {
    const start = att.start;
    if (start === undefined || this.#after <= att.ackedSent) return;
    if (this.#after - att.ackedSent >= start.ackEvery) {
      this.#sendAck(att);
      return;
    }
    this.#ackTimer ??= this.#clock.setTimeout(() => {
      this.#ackTimer = undefined;
      if (this.#att !== undefined) this.#sendAck(this.#att);
    }, start.ackMs);
  }

  #sendAck(att: Attachment): void {
    if (this.#after <= att.ackedSent || att.stream.ended) return;
    att.ackedSent = this.#after;
    try {
      att.stream.write(encodeAck(this.#after)).catch(() => undefined);
    } catch {
      // The stream ended: the resume's `after` carries the same information (FW-EV-31).
    }
  }

  #onServerDone(att: Attachment): void {
    const summary = att.stream.trailer;
    this.#settle({ status: 'done', summary });
    // Our DONE confirms the end to the server, which can then drop the instance (FW-EV-30).
    att.stream.end().then(
      () => { this.#closeConnection(); },
      () => { this.#closeConnection(); },
    );
  }

  /** The stream ended unsuccessfully: a coded end from the server, or a loss to recover from. */
  #onEnd(att: Attachment, outcome: StreamOutcome): void {
    if (att.handled) return;
    att.handled = true;
    att.liveness?.cancel();
    if (this.#att === att) this.#att = undefined;
    if (this.#final !== undefined || outcome.status === 'completed') return;
    const error = outcome.error;
    // A failed connection (whatever its code) and a refusal before processing are losses to resume
    // from (FW-ERR-4); so is a local failure of the stream. A coded end from the server is final.
    const kind = classifyFailure(error, att.conn.isOpen && !att.timedOut);
    const lost = att.timedOut || !error.remote || kind === 'connection' || kind === 'refused';
    if (!lost) {
      this.#log.info({ code: error.code, err: error.message }, 'event stream ended by the server');
      this.#settle(outcome.status === 'cancelled' ? { status: 'cancelled', error } : { status: 'failed', error });
      this.#closeConnection();
      return;
    }
    const cause = att.timedOut ? new FramewireError('TIMEOUT', `no event or heartbeat from the server for ${this.#timeoutMs(att)} ms`) : error;
    if (att.start?.resumable === false) {
      this.#settle({ status: 'failed', error: new FramewireError(cause.code, `${cause.message} (the event stream is not resumable)`, { cause, details: { key: this.#key, after: this.#after, resumable: false } }) });
      this.#closeConnection();
      return;
    }
    this.#log.info({ code: cause.code, after: this.#after }, 'event stream lost; resuming');
    if (att.start === undefined) {
      this.#afterFailure = this.#retry.failed(cause);
    } else {
      // Resuming later than the server's grace period is futile: it has dropped the instance.
      this.#retry.maxEpisodeMs = att.start.graceMs;
      this.#afterFailure = this.#retry.interrupted(cause);
    }
    // Reconnect now, whether or not the application is reading.
    void this.#attach();
  }

  #timeoutMs(att: Attachment): number {
    if (att.start === undefined) return this.#o.heartbeatTimeoutMs ?? START_TIMEOUT_MS;
    if (this.#o.heartbeatTimeoutMs !== undefined) return this.#o.heartbeatTimeoutMs;
    const hb = att.start.hbMs;
    // The server sends hb within hb_ms/8 of hb_ms of silence (FW-EV-40): half an interval of slack.
    return hb === 0 ? 0 : Math.max(1.5 * hb, hb + 250);
  }

  #attach(): Promise<Attachment | undefined> {
    this.#attaching ??= this.#doAttach().finally(() => {
      this.#attaching = undefined;
    });
    return this.#attaching;
  }

  async #doAttach(): Promise<Attachment | undefined> {
    for (;;) {
      if (this.#final !== undefined) return undefined;
      if (this.#att !== undefined) return this.#att;
      const next = this.#afterFailure;
      this.#afterFailure = undefined;
      if (next !== undefined) {
        if (!next.retry) {
          this.#giveUp(next);
          return undefined;
        }
        try {
          await this.#retry.wait(next.delayMs, this.#abort.signal);
        } catch {
          // Only the end of the subscription (cancel) aborts the wait.
          return undefined;
        }
        if (this.#isFinal()) return undefined;
      }
      try {
        if (this.#conn?.isOpen !== true) {
          this.#conn?.close();
          this.#conn = undefined;
          this.#conn = await this.#connectOnce();
          this.#retry.connected();
          if (this.#isFinal()) {
            this.#closeConnection();
            return undefined;
          }
        }
        const conn = this.#conn;
        const stream = conn.open({ kind: SUBSCRIBE_KIND, target: this.name, meta: subscribeMeta(this.#key, this.#started ? this.#after : undefined, this.#o.params) });
        const it = stream[Symbol.asyncIterator]();
        const reader = it instanceof StreamReader ? (it as StreamReader<Uint8Array>) : undefined;
        const att: Attachment = { conn, stream, it, reader, start: undefined, lastRx: this.#clock.now(), ackedSent: this.#after, timedOut: false, liveness: undefined, handled: false };
        if (this.#retry.recovering) this.stats.reconnects++;
        this.#att = att;
        this.#watch(att);
        return att;
      } catch (error) {
        const cause = isFramewireError(error) ? error : new FramewireError('CONNECTION_LOST', String(error), { cause: error });
        if (classifyFailure(cause, false) === 'final') {
          // Credentials or a protocol version every new connection would present again.
          this.#settle({ status: 'failed', error: cause });
          this.#closeConnection();
          return undefined;
        }
        this.#afterFailure = this.#retry.failed(cause);
      }
    }
  }

  /** The retries are exhausted: fail with the code of the loss that began the episode (FW-EV-90). */
  #giveUp(end: Extract<RetryDecision, { retry: false }>): void {
    // The code says why the stream was lost (TIMEOUT for a silent server), the message what the last attempt met.
    const { first, last } = end;
    this.#lost = true;
    if (end.bound === 'setup') {
      // The first connection could not be made: say what it met, not that a stream was lost (FW-ERR-6).
      this.#settle({ status: 'failed', error: last });
      this.#closeConnection();
      return;
    }
    const tail = last === first ? first.message : `${first.message}; last attempt: ${last.message}`;
    this.#settle({ status: 'failed', error: new FramewireError(first.code, `event stream lost after ${end.failures} attempt(s) in ${Math.round(end.elapsedMs)} ms: ${tail}`, { cause: last, details: { key: this.#key, after: this.#after } }) });
    this.#closeConnection();
  }

  /** One connect, abortable by cancel() while it runs; the connection it returns outlives the signal. */
  async #connectOnce(): Promise<ClientConnection> {
    const ac = new AbortController();
    const onAbort = (): void => {
      ac.abort();
    };
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.#connect(ac.signal);
    } finally {
      this.#abort.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Outcome and liveness of one attachment (FW-EV-41). */
  #watch(att: Attachment): void {
    void att.stream.outcome.then((o) => {
      this.#onEnd(att, o);
    });
    this.#arm(att);
  }

  /** (Re)schedules the heartbeat timeout at the moment the allowed silence runs out. */
  #arm(att: Attachment): void {
    att.liveness?.cancel();
    att.liveness = undefined;
    const timeout = this.#timeoutMs(att);
    if (timeout === 0 || att.handled || this.#final !== undefined) return;
    const check = (): void => {
      att.liveness = undefined;
      if (att.stream.ended || att.handled) return;
      const left = att.lastRx + timeout - this.#clock.now();
      // Something arrived meanwhile, or the application has not read what did: not silence.
      if (left > 0 || att.stream.bufferedBytes > 0) {
        att.liveness = this.#clock.setTimeout(check, left > 0 ? left : timeout);
        return;
      }
      att.timedOut = true;
      this.#log.info({ timeoutMs: timeout }, 'server silent: heartbeat timeout');
      att.stream.cancel('heartbeat timeout');
      // The connection carried nothing for that long: presume it dead.
      if (this.#conn === att.conn) this.#conn = undefined;
      att.conn.close();
    };
    att.liveness = this.#clock.setTimeout(check, Math.max(0, att.lastRx + timeout - this.#clock.now()));
  }

  #isFinal(): boolean {
    return this.#final !== undefined;
  }

  #settle(outcome: EventOutcome): void {
    if (this.#final !== undefined) return;
    this.#final = outcome;
    this.#ackTimer?.cancel();
    this.#att?.liveness?.cancel();
    this.#abort.abort();
    this.#log.debug({ status: outcome.status, after: this.#after }, 'subscription ended');
    this.#resolve(outcome);
  }

  #closeConnection(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    conn?.close();
  }
}

/** Subscribes through an injected connect function (L3). */
export function subscribeWith(connect: Connector, name: string, options: SubscribeOptions = {}): Subscription {
  return new Subscription(connect, name, options);
}
