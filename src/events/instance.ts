/**
 * One producer instance, keyed by (name, key), that outlives connections (spec/EVENTS.md §12.7):
 * runs the producer, numbers its events, keeps them in the replay log, serves at most one attached
 * subscriber stream at a time, and ends exactly once (done, error or cancelled). When the
 * subscriber is lost it waits graceMs for a resume, then aborts the producer and goes away.
 */

import type { Logger } from 'pino';
import { FramewireError, isFramewireError } from '../errors.ts';
import { Guard, type Clock, type Stream, type StreamOutcome, type TimerHandle } from '../session/index.ts';
import type { ControlMap } from '../wire/index.ts';
import { Coalescer } from './coalesce.ts';
import { encodeEvent, encodeStart, HEARTBEAT_MESSAGE, TYPE_MAX, decodeClientMessage } from './protocol.ts';
import type { CoalesceOptions, EventCounters, EventSummary, ProducedEvent, Producer, ProducerContext } from './producer.ts';
import { newCounters } from './producer.ts';
import type { ReplayLog } from './replay-log.ts';

export interface InstanceConfig {
  readonly name: string;
  readonly key: string;
  readonly params: ControlMap;
  readonly resumable: boolean;
  readonly graceMs: number;
  readonly heartbeatMs: number;
  readonly ackEvery: number;
  readonly ackMs: number;
  readonly coalesce: CoalesceOptions | undefined;
  readonly log: ReplayLog;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Service-wide counters, incremented alongside the instance's own. */
  readonly totals: EventCounters;
  readonly onDispose: (instance: EventInstance) => void;
}

type Terminal =
  | { readonly kind: 'done'; readonly summary: ControlMap | undefined }
  | { readonly kind: 'error'; readonly error: FramewireError }
  | { readonly kind: 'cancelled'; readonly reason: string };

interface Attachment {
  readonly stream: Stream;
  readonly after: number;
  readonly log: Logger;
  /** Highest id written to this stream: acks above it are a protocol error. */
  sent: number;
  /** The writer has written everything appended and waits for more. */
  idle: boolean;
  lastWriteAt: number;
  terminalSent: boolean;
  heartbeat: TimerHandle | undefined;
}

/** Wakes everything waiting for a change (append, ack, attach, detach, end). */
class Notifier {
  #waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
  notify(): void {
    if (this.#waiters.length === 0) return;
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

const RESOLVED = Promise.resolve();
const REPLAY_BATCH = 256;

export class EventInstance {
  readonly name: string;
  readonly key: string;
  readonly resumable: boolean;
  readonly counters = newCounters();
  readonly log: Logger;
  readonly #c: InstanceConfig;
  readonly #guard: Guard;
  readonly #store: ReplayLog;
  readonly #abort = new AbortController();
  readonly #changed = new Notifier();
  readonly #coalescer: Coalescer | undefined;
  #terminal: Terminal | undefined;
  #att: Attachment | undefined;
  #expiry: TimerHandle | undefined;
  #flushTimer: TimerHandle | undefined;
  #waiting = 0;
  #tail: Promise<void> = RESOLVED;
  #disposed = false;

  constructor(config: InstanceConfig) {
    // Its timers (heartbeat, grace period, coalescing) run behind a guard: an exception in one ends this instance, not the process.
    const guard = new Guard(config.logger, () => {
      this.#failInternally();
    });
    this.#guard = guard;
    this.#c = { ...config, clock: guard.clock(config.clock, 'event instance timer') };
    this.name = config.name;
    this.key = config.key;
    this.resumable = config.resumable;
    this.#store = config.log;
    this.log = config.logger;
    this.#coalescer = config.coalesce === undefined ? undefined : new Coalescer(config.coalesce);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get attached(): boolean {
    return this.#att !== undefined;
  }

  get ended(): boolean {
    return this.#terminal !== undefined;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * The subscriber's DONE confirmed the end (FW-EV-30), even if the stream's outcome callback, a
   * microtask away, has not dropped the instance yet: a resume read in the same chunk as that DONE
   * must already find it gone.
   */
  get endConfirmed(): boolean {
    const att = this.#att;
    return att !== undefined && att.terminalSent && this.#terminal?.kind === 'done' && att.stream.status === 'completed';
  }

  /** Memory this instance holds for replay: bounded by the replay limits (FW-EV-21). */
  get retained(): { readonly events: number; readonly bytes: number; readonly firstId: number; readonly lastId: number; readonly ackedId: number } {
    const s = this.#store;
    return { events: s.count, bytes: s.bytes, firstId: s.firstId, lastId: s.lastId, ackedId: s.ackedId };
  }

  /** Bytes queued on the attached subscriber's stream (bounded by the session's streamWriteBuffer). */
  get queuedBytes(): number {
    return this.#att?.stream.queuedBytes ?? 0;
  }

  // ---- the producer ----------------------------------------------------------------------------

  start(producer: Producer): void {
    const ctx: ProducerContext = {
      name: this.name,
      key: this.key,
      params: this.#c.params,
      signal: this.#abort.signal,
      log: this.log,
      emit: (type, data) => this.emit(type, data),
    };
    void this.#run(producer, ctx);
  }

  async #run(producer: Producer, ctx: ProducerContext): Promise<void> {
    let summary: unknown;
    try {
      const result = producer(ctx);
      summary = isAsyncIterable(result) ? await this.#drive(result) : await result;
      // Concurrent emits and a pending coalesced event go before the end.
      await this.#tail;
      const pending = this.#coalescer?.take();
      if (pending !== undefined) await this.#appendBlocking(pending);
    } catch (error) {
      if (this.#abort.signal.aborted || this.#terminal !== undefined) return;
      const e = producerError(error);
      this.log.warn({ code: e.code, err: e.message }, 'producer failed');
      this.#finish({ kind: 'error', error: e });
      return;
    }
    if (this.#abort.signal.aborted) return;
    this.#finish({ kind: 'done', summary: toSummary(summary) });
  }

  async #drive(iterable: AsyncIterable<ProducedEvent, unknown>): Promise<unknown> {
    const it = iterable[Symbol.asyncIterator]();
    // return() is queued behind a running next(): the generator's finally runs at its next yield,
    // or at once when it is suspended at a yield (blocked by backpressure) (FW-EV-51).
    const onAbort = (): void => {
      it.return?.(undefined).catch(() => undefined);
    };
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const r = await it.next();
        if (this.#abort.signal.aborted) return undefined;
        if (r.done === true) return r.value;
        await this.emit(r.value.type, r.value.data);
      }
    } finally {
      this.#abort.signal.removeEventListener('abort', onAbort);
    }
  }

  /** The push API (ProducerContext.emit). */
  emit(type: string, data?: unknown): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.reject(this.#abort.signal.reason as Error);
    if (this.#terminal !== undefined) return Promise.reject(new FramewireError('STREAM_CLOSED', 'emit after the event stream ended'));
    if (typeof type !== 'string' || type.length === 0 || type.length > TYPE_MAX) return Promise.reject(new RangeError(`event type must be a string of 1..${TYPE_MAX} characters`));
    const event: ProducedEvent = { type, data };
    const co = this.#coalescer;
    try {
      if (co?.applies(type) === true) {
        if (co.pending !== undefined || this.#waiting > 0 || this.#behind() || co.waitMs(this.#c.clock.now()) > 0) {
          const merged = co.hold(event);
          this.counters.droppedByCoalescing += merged;
          this.#c.totals.droppedByCoalescing += merged;
          this.#kick();
          return RESOLVED;
        }
        const r = this.#tryAppend(event);
        if (r !== false) {
          co.lastAppendAt = this.#c.clock.now();
          return r === true ? RESOLVED : r;
        }
        this.#c.totals.droppedByCoalescing += co.hold(event);
        return RESOLVED;
      }
      if (this.#waiting === 0 && co?.pending === undefined) {
        const r = this.#tryAppend(event);
        if (r !== false) return r === true ? RESOLVED : r;
      }
    } catch (error) {
      return Promise.reject(toError(error));
    }
    return this.#enqueue(event);
  }

  /** FIFO of emits waiting for room, so ids follow call order. */
  #enqueue(event: ProducedEvent): Promise<void> {
    this.#waiting++;
    const p = this.#tail
      .then(async () => {
        const pending = this.#coalescer?.take();
        if (pending !== undefined) await this.#appendBlocking(pending);
        await this.#appendBlocking(event);
      })
      .finally(() => {
        this.#waiting--;
        this.#kick();
      });
    this.#tail = p.catch(() => undefined);
    return p;
  }

  async #appendBlocking(event: ProducedEvent): Promise<void> {
    for (;;) {
      if (this.#abort.signal.aborted) throw this.#abort.signal.reason as Error;
      const r = this.#tryAppend(event);
      if (r === true) return;
      if (r !== false) {
        await r;
        return;
      }
      await this.#changed.wait();
    }
  }

  /** Appends now if the log has room: true, or the store's promise; false when it must wait. */
  #tryAppend(event: ProducedEvent): boolean | Promise<void> {
    const id = this.#store.lastId + 1;
    const bytes = encodeEvent(id, event.type, event.data);
    const now = this.#c.clock.now();
    if (!this.#store.hasRoom(bytes.length, now)) return false;
    const r = this.#store.append({ id, type: event.type, bytes, at: now });
    if (this.#att !== undefined) this.#att.idle = false;
    this.#changed.notify();
    return r instanceof Promise ? r : true;
  }

  /** The consumer is behind: no subscriber, or the writer has not yet handed everything to the stream. */
  #behind(): boolean {
    const att = this.#att;
    return att === undefined || !att.idle || att.stream.queuedBytes > 0;
  }

  /** Appends the pending coalesced event once the consumer caught up and the interval allows. */
  #kick(): void {
    const co = this.#coalescer;
    if (co?.pending === undefined || this.#waiting > 0 || this.#terminal !== undefined || this.#behind()) return;
    const wait = co.waitMs(this.#c.clock.now());
    if (wait > 0) {
      this.#flushTimer ??= this.#c.clock.setTimeout(() => {
        this.#flushTimer = undefined;
        this.#kick();
      }, wait);
      return;
    }
    const pending = co.take();
    if (pending === undefined) return;
    let r: boolean | Promise<void>;
    try {
      r = this.#tryAppend(pending);
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'coalesced event dropped');
      return;
    }
    if (r === false) co.hold(pending);
    else co.lastAppendAt = this.#c.clock.now();
  }

  #finish(terminal: Terminal): void {
    if (this.#terminal !== undefined || this.#disposed) return;
    this.#terminal = terminal;
    this.#flushTimer?.cancel();
    this.log.debug({ end: terminal.kind, lastId: this.#store.lastId }, 'event stream ended');
    this.#changed.notify();
    if (this.#att === undefined) this.#startExpiry();
  }

  #abortProducer(reason: FramewireError): void {
    if (this.#terminal === undefined && !this.#abort.signal.aborted) {
      this.log.debug({ code: reason.code, reason: reason.message }, 'producer aborted');
      this.#abort.abort(reason);
    }
    this.#changed.notify();
  }

  /** Something outside the instance changed (the replay budget has room again): re-check what waits. */
  wake(): void {
    this.#changed.notify();
  }

  /** Server-side cancel (FW-EV-14): the producer stops, the subscriber gets CANCEL. */
  cancel(reason = 'cancelled by the server'): void {
    if (this.#disposed || this.#terminal !== undefined) return;
    this.#abortProducer(new FramewireError('CANCELLED', reason));
    this.#finish({ kind: 'cancelled', reason });
  }

  // ---- subscribers -----------------------------------------------------------------------------

  /** Attaches a subscriber stream that has delivered everything up to `after` (FW-EV-24). Last attach wins. */
  attach(stream: Stream, after: number, log: Logger): void {
    const s = this.#store;
    if (after > s.lastId) {
      stream.fail('PROTOCOL_ERROR', `resume after ${after}, but the last event id is ${s.lastId}`, { details: { key: this.key, last: s.lastId } });
      return;
    }
    if (after + 1 < s.firstId) {
      stream.fail('RESUME_GAP', `events after ${after} are no longer retained; the earliest available is ${s.firstId}`, {
        details: { key: this.key, earliest: s.firstId, last: s.lastId },
      });
      return;
    }
    // A resume point is an acknowledgement: the subscriber delivered everything up to it (FW-EV-31).
    s.acknowledge(after);
    const old = this.#att;
    if (old !== undefined) {
      this.#att = undefined;
      old.heartbeat?.cancel();
      old.log.info('subscriber superseded by a newer attach');
      old.stream.cancel('superseded: another subscriber attached to this event stream');
    }
    this.#expiry?.cancel();
    this.#expiry = undefined;
    const att: Attachment = { stream, after, log, sent: after, idle: false, lastWriteAt: this.#c.clock.now(), terminalSent: false, heartbeat: undefined };
    this.#att = att;
    log.debug({ after, lastId: s.lastId }, after < s.lastId ? 'subscriber attached, replaying' : 'subscriber attached');
    const hb = this.#c.heartbeatMs;
    if (hb > 0) {
      // Checked 8 times per interval: a heartbeat goes out at most hb/8 late, which the subscriber's
      // timeout of 1.5 × hb allows for (FW-EV-40, FW-EV-41).
      att.heartbeat = this.#c.clock.setInterval(() => {
        if (this.#att !== att || !stream.writable || stream.queuedBytes > 0) return;
        const now = this.#c.clock.now();
        if (now - att.lastWriteAt < hb) return;
        att.lastWriteAt = now;
        stream.write(HEARTBEAT_MESSAGE).catch(() => undefined);
      }, Math.max(5, Math.floor(hb / 8)));
    }
    void stream.outcome.then((o) => {
      this.#onOutcome(att, o);
    });
    void this.#serve(att);
    void this.#readAcks(att);
    // The implicit ack of `after` may have made room for a waiting producer.
    this.#changed.notify();
  }

  #onOutcome(att: Attachment, o: StreamOutcome): void {
    att.heartbeat?.cancel();
    if (this.#att !== att) return;
    this.#att = undefined;
    this.#changed.notify();
    if (this.#disposed) return;
    if (o.status === 'cancelled' && o.error.remote) {
      att.log.info('cancelled by the subscriber');
      this.#abortProducer(new FramewireError('CANCELLED', 'cancelled by the subscriber', { remote: true }));
      this.dispose();
      return;
    }
    if (o.status === 'completed' && att.terminalSent) {
      // The subscriber's DONE confirms it received the end: nothing left to resume (FW-EV-30).
      this.dispose();
      return;
    }
    if (!this.resumable) {
      att.log.info({ code: o.status === 'completed' ? undefined : o.error.code }, 'subscriber lost; stream is not resumable');
      this.#abortProducer(new FramewireError('CANCELLED', 'subscriber lost and the event stream is not resumable'));
      this.dispose();
      return;
    }
    att.log.info({ code: o.status === 'completed' ? undefined : o.error.code, graceMs: this.#c.graceMs, lastId: this.#store.lastId }, 'subscriber lost; waiting for a resume');
    this.#startExpiry();
  }

  #startExpiry(): void {
    if (this.#disposed) return;
    this.#expiry?.cancel();
    this.#expiry = this.#c.clock.setTimeout(() => {
      this.#expiry = undefined;
      if (this.#terminal === undefined) {
        this.log.info({ graceMs: this.#c.graceMs }, 'no subscriber within the grace period: stopping the producer');
        this.#abortProducer(new FramewireError('TIMEOUT', `no subscriber resumed within ${this.#c.graceMs} ms`));
      }
      this.dispose();
    }, this.#c.graceMs);
  }

  /** The writer: replays from the log, then follows it live; heartbeats are a timer (FW-EV-40). */
  async #serve(att: Attachment): Promise<void> {
    const { stream } = att;
    const s = this.#store;
    const replayUntil = s.lastId;
    let next = att.after + 1;
    const live = (): boolean => this.#att === att && !stream.ended;
    try {
      await stream.write(
        encodeStart({ key: this.key, resumable: this.resumable, next, hbMs: this.#c.heartbeatMs, graceMs: this.#c.graceMs, ackEvery: this.#c.ackEvery, ackMs: this.#c.ackMs }),
      );
      for (;;) {
        if (!live()) return;
        if (this.#terminal?.kind === 'cancelled') break;
        if (next <= s.lastId) {
          const got = s.read(next - 1, REPLAY_BATCH);
          const batch = got instanceof Promise ? await got : got;
          if (batch[0]?.id !== next) {
            // Only acknowledged events are ever dropped: this subscriber resumed behind its own ack.
            stream.fail('RESUME_GAP', `event ${next} is no longer retained; the earliest available is ${s.firstId}`, { details: { key: this.key, earliest: s.firstId, last: s.lastId } });
            return;
          }
          for (const e of batch) {
            if (!live()) return;
            att.sent = e.id;
            att.lastWriteAt = this.#c.clock.now();
            // send(), not write(): no promise per event, a wait only when the send buffer is full.
            const room = stream.send(e.bytes);
            next = e.id + 1;
            if (e.id <= replayUntil) {
              this.counters.replayed++;
              this.#c.totals.replayed++;
            } else {
              this.counters.delivered++;
              this.#c.totals.delivered++;
            }
            if (!room) await stream.drained();
          }
          continue;
        }
        if (this.#terminal !== undefined) break;
        att.idle = true;
        this.#kick();
        if (this.#isIdle(att)) await this.#changed.wait();
        att.idle = false;
      }
      await this.#sendTerminal(att);
    } catch {
      // The stream ended under us (lost, cancelled, superseded): #onOutcome decides what follows.
    }
  }

  async #sendTerminal(att: Attachment): Promise<void> {
    const t = this.#terminal;
    const { stream } = att;
    if (t === undefined || this.#att !== att || stream.ended) return;
    switch (t.kind) {
      case 'done':
        att.terminalSent = true;
        this.#startExpiry();
        await stream.end(t.summary);
        return;
      case 'error':
        // ERROR drops data the subscriber has not read yet: send it only once every event before
        // it was acknowledged, so the error never hides events (FW-EV-13).
        while (this.#store.ackedId < this.#store.lastId && this.#isLive(att)) await this.#changed.wait();
        if (!this.#isLive(att)) return;
        att.terminalSent = true;
        this.#startExpiry();
        stream.fail(t.error.code, t.error.message, withOptional({ details: t.error.details, retryAfterMs: t.error.retryAfterMs, retryable: t.error.retryable }));
        return;
      case 'cancelled':
        att.terminalSent = true;
        this.#startExpiry();
        stream.cancel(t.reason);
        return;
    }
  }

  #isIdle(att: Attachment): boolean {
    return att.idle;
  }

  #isLive(att: Attachment): boolean {
    return this.#att === att && !att.stream.ended;
  }

  /** The subscriber's acknowledgements: they free replay room (FW-EV-31). */
  async #readAcks(att: Attachment): Promise<void> {
    try {
      for await (const m of att.stream) {
        const ack = decodeClientMessage(m);
        if (ack.id > att.sent) {
          att.stream.fail('PROTOCOL_ERROR', `ack of event ${ack.id}, but only ${att.sent} was sent`);
          return;
        }
        this.#store.acknowledge(ack.id);
        this.#changed.notify();
        this.#kick();
      }
    } catch (error) {
      if (isFramewireError(error) && error.code === 'MALFORMED_PAYLOAD') att.stream.fail(error.code, error.message);
    }
  }

  /** What the guard does after reporting an exception: the subscriber gets INTERNAL, the instance goes away. */
  #failInternally(): void {
    this.#att?.stream.fail('INTERNAL', 'internal error');
    this.dispose(new FramewireError('INTERNAL', 'internal error'));
  }

  /** Drops the instance: timers stop, the producer is aborted if it still runs, the log is released. */
  dispose(reason?: FramewireError): void {
    if (this.#disposed) return;
    this.#abortProducer(reason ?? new FramewireError('CANCELLED', 'event stream instance disposed'));
    this.#disposed = true;
    this.#expiry?.cancel();
    this.#flushTimer?.cancel();
    const att = this.#att;
    if (att !== undefined) {
      this.#att = undefined;
      att.heartbeat?.cancel();
      // A sent DONE is left to complete: cancelling now could overtake it (FW-EV-30).
      const doneSent = att.terminalSent && this.#terminal?.kind === 'done';
      if (!att.stream.ended && !doneSent) att.stream.cancel(reason?.message ?? 'event stream instance disposed');
    }
    this.#changed.notify();
    this.#c.onDispose(this);
    // A custom store's dispose() that throws must not escape (nor keep the instance registered).
    this.#guard.run('replay log dispose', () => {
      void Promise.resolve(this.#store.dispose()).catch(() => undefined);
    });
  }
}

function isAsyncIterable(v: unknown): v is AsyncIterable<ProducedEvent, unknown> {
  return typeof v === 'object' && v !== null && Symbol.asyncIterator in v;
}

function isPlainMap(v: unknown): v is ControlMap {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

function toSummary(v: unknown): EventSummary {
  if (v === undefined) return undefined;
  return isPlainMap(v) ? v : { value: v };
}

/** What a failed producer becomes on the wire (FW-EV-13): its own code, or PRODUCER_FAILED. */
function producerError(error: unknown): FramewireError {
  if (isFramewireError(error) && error.code !== 'CONNECTION_LOST' && error.code !== 'TRUNCATED') return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FramewireError('PRODUCER_FAILED', message, { cause: error });
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function withOptional<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]: Exclude<T[K], undefined> };
}
