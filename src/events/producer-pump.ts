/**
 * The producer side of an event instance (spec/EVENTS.md §12.7, §12.8): runs the application's
 * producer (an async generator, or a function using `emit`), numbers its events by appending them
 * to the replay log, makes it wait while the log has no room (FW-EV-21) or coalesces instead
 * (FW-EV-60..62), aborts it (FW-EV-51), and records how it ended. It knows nothing of subscribers
 * beyond one question, `consumerBehind()`, that coalescing asks.
 */

import type { Logger } from 'pino';
import { FramewireError, invalidArgument, isFramewireError } from '../errors.ts';
import type { Clock, TimerHandle } from '../session/index.ts';
import type { ControlMap } from '../wire/index.ts';
import { Coalescer } from './coalesce.ts';
import type { Notifier } from './notifier.ts';
import { encodeEvent, TYPE_MAX } from './protocol.ts';
import type { CoalesceOptions, EventCounters, EventSummary, ProducedEvent, Producer, ProducerContext } from './producer.ts';
import type { ReplayLog } from './replay-log.ts';

/** How a producer ended (FW-EV-13, FW-EV-14, FW-EV-30): what the subscriber is sent last. */
export type ProducerEnd =
  | { readonly kind: 'done'; readonly summary: ControlMap | undefined }
  | { readonly kind: 'error'; readonly error: FramewireError }
  | { readonly kind: 'cancelled'; readonly reason: string };

export interface PumpContext {
  readonly name: string;
  readonly key: string;
  readonly params: ControlMap;
  readonly coalesce: CoalesceOptions | undefined;
  readonly replayLog: ReplayLog;
  /** Behind the instance's guard. */
  readonly clock: Clock;
  readonly logger: Logger;
  readonly changed: Notifier;
  readonly count: (counter: keyof EventCounters, n: number) => void;
  /** No subscriber, or it has not yet handed every appended event to its stream (FW-EV-60). */
  readonly consumerBehind: () => boolean;
  /** Called once, when the producer's end is known. */
  readonly onEnd: (end: ProducerEnd) => void;
}

const RESOLVED = Promise.resolve();

export class ProducerPump {
  readonly #c: PumpContext;
  readonly #abort = new AbortController();
  readonly #coalescer: Coalescer | undefined;
  #end: ProducerEnd | undefined;
  #flushTimer: TimerHandle | undefined;
  /** Emits queued behind a full log. */
  #waiting = 0;
  #tail: Promise<void> = RESOLVED;

  constructor(context: PumpContext) {
    this.#c = context;
    this.#coalescer = context.coalesce === undefined ? undefined : new Coalescer(context.coalesce);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get end(): ProducerEnd | undefined {
    return this.#end;
  }

  start(producer: Producer): void {
    const c = this.#c;
    const ctx: ProducerContext = {
      name: c.name,
      key: c.key,
      params: c.params,
      signal: this.#abort.signal,
      log: c.logger,
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
      if (this.#abort.signal.aborted || this.#end !== undefined) return;
      const e = producerError(error);
      this.#c.logger.warn({ code: e.code, err: e.message }, 'producer failed');
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
        try {
          await this.emit(r.value.type, r.value.data);
        } catch (error) {
          // The log refused the event (too large, or a shared log that failed): the generator's finally runs too.
          await it.return?.(undefined).catch(() => undefined);
          throw error;
        }
      }
    } finally {
      this.#abort.signal.removeEventListener('abort', onAbort);
    }
  }

  /** The push API (ProducerContext.emit). */
  emit(type: string, data?: unknown): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.reject(this.#abort.signal.reason as Error);
    if (this.#end !== undefined) return Promise.reject(new FramewireError('STREAM_CLOSED', 'emit after the event stream ended'));
    if (typeof type !== 'string' || type.length === 0 || type.length > TYPE_MAX) return Promise.reject(invalidArgument(`event type must be a string of 1..${TYPE_MAX} characters`));
    const event: ProducedEvent = { type, data };
    const co = this.#coalescer;
    try {
      if (co?.applies(type) === true) {
        if (co.pending !== undefined || this.#waiting > 0 || this.#c.consumerBehind() || co.waitMs(this.#c.clock.now()) > 0) {
          this.#c.count('droppedByCoalescing', co.hold(event));
          this.flushCoalesced();
          return RESOLVED;
        }
        const r = this.#tryAppend(event);
        if (r !== false) {
          co.lastAppendAt = this.#c.clock.now();
          return r === true ? RESOLVED : r;
        }
        // No room: the event becomes the pending one (nothing was pending, nothing is merged).
        co.hold(event);
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
        this.flushCoalesced();
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
      await this.#c.changed.wait();
    }
  }

  /** Appends now if the log has room: true, or the store's promise; false when it must wait. */
  #tryAppend(event: ProducedEvent): boolean | Promise<void> {
    const log = this.#c.replayLog;
    const id = log.lastId + 1;
    const bytes = encodeEvent(id, event.type, event.data);
    const now = this.#c.clock.now();
    if (!log.hasRoom(bytes.length, now)) return false;
    const r = log.append({ id, type: event.type, bytes, at: now });
    this.#c.changed.notify();
    return r instanceof Promise ? r : true;
  }

  /** Appends the pending coalesced event once the consumer caught up and the interval allows (FW-EV-61). */
  flushCoalesced(): void {
    const co = this.#coalescer;
    if (co?.pending === undefined || this.#waiting > 0 || this.#end !== undefined || this.#c.consumerBehind()) return;
    const wait = co.waitMs(this.#c.clock.now());
    if (wait > 0) {
      this.#flushTimer ??= this.#c.clock.setTimeout(() => {
        this.#flushTimer = undefined;
        this.flushCoalesced();
      }, wait);
      return;
    }
    const pending = co.take();
    if (pending === undefined) return;
    let r: boolean | Promise<void>;
    try {
      r = this.#tryAppend(pending);
    } catch (error) {
      this.#c.logger.warn({ err: (error as Error).message }, 'coalesced event dropped');
      return;
    }
    if (r === false) co.hold(pending);
    else co.lastAppendAt = this.#c.clock.now();
  }

  /** Aborts a producer that has not ended (FW-EV-51); everything waiting re-checks. */
  abort(reason: FramewireError): void {
    if (this.#end === undefined && !this.#abort.signal.aborted) {
      this.#c.logger.debug({ code: reason.code, reason: reason.message }, 'producer aborted');
      this.#abort.abort(reason);
    }
    this.#c.changed.notify();
  }

  /** Server-side cancel (FW-EV-14): the producer is aborted and the end is a CANCEL. */
  cancel(reason: string): void {
    if (this.#end !== undefined) return;
    this.abort(new FramewireError('CANCELLED', reason));
    this.#finish({ kind: 'cancelled', reason });
  }

  /** The instance is going away: no coalesced event is flushed later. */
  stop(): void {
    this.#flushTimer?.cancel();
  }

  #finish(end: ProducerEnd): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    this.#flushTimer?.cancel();
    this.#c.logger.debug({ end: end.kind, lastId: this.#c.replayLog.lastId }, 'event stream ended');
    this.#c.changed.notify();
    this.#c.onEnd(end);
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
