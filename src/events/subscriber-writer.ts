/**
 * The server's end of one attached subscription stream (spec/EVENTS.md §12.3..§12.6, §12.9):
 * sends `start`, replays the log from the subscriber's resume point, follows it live, sends
 * heartbeats while nothing flows (FW-EV-40), reads the subscriber's acknowledgements (FW-EV-31),
 * and sends the producer's end last (FW-EV-13, FW-EV-30). An instance has at most one current
 * writer; `detach()` retires it (superseded, lost, disposed) and its loops stop at their next check.
 */

import type { Logger } from 'pino';
import { isFramewireError } from '../errors.ts';
import type { Clock, Stream, TimerHandle } from '../session/index.ts';
import type { Notifier } from './notifier.ts';
import type { ProducerEnd } from './producer-pump.ts';
import { decodeClientMessage, encodeStart, HEARTBEAT_MESSAGE, type StartMessage } from './protocol.ts';
import type { EventCounters } from './producer.ts';
import type { LoggedEvent, ReplayLog } from './replay-log.ts';

export interface WriterContext {
  /** What every `start` carries but `next`. */
  readonly start: Omit<StartMessage, 't' | 'next'>;
  readonly replayLog: ReplayLog;
  /** Behind the instance's guard. */
  readonly clock: Clock;
  readonly changed: Notifier;
  readonly count: (counter: keyof EventCounters, n: number) => void;
  /** The producer's end, once known. */
  readonly end: () => ProducerEnd | undefined;
  /** The writer caught up, or an ack made room: a pending coalesced event may go now (FW-EV-61). */
  readonly flushCoalesced: () => void;
  /** The end is about to be sent on this writer's stream: its confirmation is awaited from now (FW-EV-30). */
  readonly onEndSent: (writer: SubscriberWriter) => void;
}

/** Events read from the log at a time while replaying. */
const REPLAY_BATCH = 256;

export class SubscriberWriter {
  readonly stream: Stream;
  readonly logger: Logger;
  readonly #c: WriterContext;
  /** Highest id written to this stream: acks above it are a protocol error. */
  #sent: number;
  /** Waiting for the producer; caught up while nothing was appended since. */
  #waiting = false;
  #lastWriteAt: number;
  #heartbeat: TimerHandle | undefined;
  #detached = false;

  /** A writer for `stream`, whose subscriber delivered everything up to `after`. */
  constructor(context: WriterContext, stream: Stream, after: number, logger: Logger) {
    this.#c = context;
    this.stream = stream;
    this.logger = logger;
    this.#sent = after;
    this.#lastWriteAt = context.clock.now();
  }

  /** It has handed every appended event to its stream and waits for more. */
  get caughtUp(): boolean {
    return this.#waiting && this.#sent >= this.#c.replayLog.lastId;
  }

  /** Coalescing's test (FW-EV-60): not caught up, or its stream still has bytes queued. */
  get behind(): boolean {
    return !this.caughtUp || this.stream.queuedBytes > 0;
  }

  run(): void {
    this.#startHeartbeat();
    void this.#serve();
    void this.#readAcks();
  }

  /** No longer the instance's writer: heartbeats stop, nothing more is written. */
  detach(): void {
    this.#detached = true;
    this.#heartbeat?.cancel();
  }

  #isLive(): boolean {
    return !this.#detached && !this.stream.ended;
  }

  #startHeartbeat(): void {
    const hb = this.#c.start.hbMs;
    if (hb === 0) return;
    const { clock } = this.#c;
    const stream = this.stream;
    // Checked 8 times per interval: a heartbeat goes out at most hb/8 late, which the subscriber's
    // timeout of 1.5 × hb allows for (FW-EV-40, FW-EV-41).
    this.#heartbeat = clock.setInterval(() => {
      if (this.#detached || !stream.writable || stream.queuedBytes > 0) return;
      const now = clock.now();
      if (now - this.#lastWriteAt < hb) return;
      this.#lastWriteAt = now;
      stream.write(HEARTBEAT_MESSAGE).catch(() => undefined);
    }, Math.max(5, Math.floor(hb / 8)));
  }

  /** Replays from the log, then follows it live; the end goes last. */
  async #serve(): Promise<void> {
    const { stream } = this;
    const { replayLog: log, changed } = this.#c;
    const replayUntil = log.lastId;
    try {
      await stream.write(encodeStart({ ...this.#c.start, next: this.#sent + 1 }));
      for (;;) {
        if (!this.#isLive()) return;
        if (this.#c.end()?.kind === 'cancelled') break;
        if (this.#sent < log.lastId) {
          // Synchronous unless the log or the send buffer makes it wait: a caught-up writer sends
          // each event as it is appended, and an async call per event would cost its promise.
          const written = this.#writeNext(replayUntil);
          if (!(written instanceof Promise ? await written : written)) return;
          continue;
        }
        if (this.#c.end() !== undefined) break;
        this.#waiting = true;
        this.#c.flushCoalesced();
        if (this.caughtUp) await changed.wait();
        this.#waiting = false;
      }
      await this.#sendEnd();
    } catch {
      // The stream ended under us (lost, cancelled, superseded): the instance decides what follows.
    }
  }

  /** Writes the next batch from the log; false when this writer is done (retired, or a gap). */
  #writeNext(replayUntil: number): boolean | Promise<boolean> {
    const got = this.#c.replayLog.read(this.#sent, REPLAY_BATCH);
    if (got instanceof Promise) return got.then((batch) => this.#writeBatch(batch, replayUntil));
    return this.#writeBatch(got, replayUntil);
  }

  #writeBatch(batch: readonly LoggedEvent[], replayUntil: number): boolean | Promise<boolean> {
    const next = this.#sent + 1;
    if (batch[0]?.id !== next) {
      // Only acknowledged events are ever dropped: this subscriber resumed behind its own ack.
      const log = this.#c.replayLog;
      this.stream.fail('RESUME_GAP', `event ${next} is no longer retained; the earliest available is ${log.firstId}`, { details: { key: this.#c.start.key, earliest: log.firstId, last: log.lastId } });
      return false;
    }
    return this.#send(batch, 0, replayUntil);
  }

  /** Sends batch[from..]; waits whenever the send buffer is full. False when this writer was retired. */
  #send(batch: readonly LoggedEvent[], from: number, replayUntil: number): boolean | Promise<boolean> {
    const { stream } = this;
    for (let i = from; i < batch.length; i++) {
      const e = batch[i];
      if (e === undefined || !this.#isLive()) return false;
      this.#sent = e.id;
      this.#lastWriteAt = this.#c.clock.now();
      // send(), not write(): no promise per event, a wait only when the send buffer is full.
      const room = stream.send(e.bytes);
      this.#c.count(e.id <= replayUntil ? 'replayed' : 'delivered', 1);
      if (!room) return stream.drained().then(() => this.#send(batch, i + 1, replayUntil));
    }
    return true;
  }

  async #sendEnd(): Promise<void> {
    const end = this.#c.end();
    const { stream } = this;
    if (end === undefined || !this.#isLive()) return;
    switch (end.kind) {
      case 'done':
        this.#c.onEndSent(this);
        await stream.end(end.summary);
        return;
      case 'error': {
        // ERROR drops data the subscriber has not read yet: send it only once every event before
        // it was acknowledged, so the error never hides events (FW-EV-13).
        const log = this.#c.replayLog;
        while (log.ackedId < log.lastId && this.#isLive()) await this.#c.changed.wait();
        if (!this.#isLive()) return;
        this.#c.onEndSent(this);
        const e = end.error;
        stream.fail(e.code, e.message, withOptional({ details: e.details, retryAfterMs: e.retryAfterMs, retryable: e.retryable }));
        return;
      }
      case 'cancelled':
        this.#c.onEndSent(this);
        stream.cancel(end.reason);
        return;
    }
  }

  /** The subscriber's acknowledgements: they free replay room (FW-EV-31). */
  async #readAcks(): Promise<void> {
    const { stream } = this;
    try {
      for await (const m of stream) {
        const ack = decodeClientMessage(m);
        if (ack.id > this.#sent) {
          stream.fail('PROTOCOL_ERROR', `ack of event ${ack.id}, but only ${this.#sent} was sent`);
          return;
        }
        this.#c.replayLog.acknowledge(ack.id);
        this.#c.changed.notify();
        this.#c.flushCoalesced();
      }
    } catch (error) {
      if (isFramewireError(error) && error.code === 'MALFORMED_PAYLOAD') stream.fail(error.code, error.message);
    }
  }
}

function withOptional<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]: Exclude<T[K], undefined> };
}
