/**
 * One producer instance, keyed by (name, key), that outlives connections (spec/EVENTS.md §12.7):
 * runs the producer (ProducerPump), keeps its events in the replay log, serves at most one attached
 * subscriber stream at a time (SubscriberWriter), and ends exactly once (done, error or cancelled).
 * When the subscriber is lost it waits grace_ms for a resume, then aborts the producer and goes away.
 *
 * The lifecycle is one field, `#state`, and it changes only in `#enter`, against the table of
 * legal transitions below (as the ws receiver's states or yamux's StreamState):
 *
 *   created ──attach──▶ attached ──end sent──▶ end-sent ──the subscriber's DONE──▶ disposed
 *                        ▲  │  ▲                 │ │
 *                        │  │  └────attach───────┘ └──lost (resumable)──┐
 *                 attach │  └──lost (resumable)──▶ detached ◀───────────┘
 *                        └─────────────────────────┘    ▲ └──grace_ms over──▶ disposed
 *
 * With a shared log (§12.13) a subscriber may be served by another node: the instance is then
 * `remote` (from any live state, superseding a local attachment), held by a lease the serving node
 * renews; a local attach supersedes it, its detach or an expired lease lead to `detached`.
 *
 * An attach in `attached` or `end-sent` supersedes the old stream (FW-EV-27). `detached` and
 * `end-sent` run the grace timer (FW-EV-50, FW-EV-30); an end of the producer while `detached`
 * starts it again. A client cancel, a lost non-resumable stream, `cancel`-less `dispose` (service
 * close) and an internal error lead from any state to `disposed`. How the producer ended is the
 * pump's (`ProducerPump.end`), not a state: it decides what the writer sends last.
 */

import type { Logger } from 'pino';
import { FramewireError } from '../errors.ts';
import { Guard, type Clock, type Stream, type StreamOutcome, type TimerHandle } from '../session/index.ts';
import type { ControlMap } from '../wire/index.ts';
import { Notifier } from './notifier.ts';
import { ProducerPump } from './producer-pump.ts';
import type { CoalesceOptions, EventCounters, Producer } from './producer.ts';
import { newCounters } from './producer.ts';
import type { RemoteSubscriberHost } from './replay-cluster.ts';
import type { ReplayLog } from './replay-log.ts';
import { SubscriberWriter, type WriterContext } from './subscriber-writer.ts';

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
  readonly replayLog: ReplayLog;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Service-wide counters, incremented alongside the instance's own. */
  readonly totals: EventCounters;
  readonly onDispose: (instance: EventInstance) => void;
}

type InstanceState =
  /** Constructed; its first subscriber is attached next. */
  | { readonly name: 'created' }
  /** A subscriber stream is attached and the end has not been sent on it. */
  | { readonly name: 'attached'; readonly writer: SubscriberWriter }
  /** The end was sent on the attached stream; its confirmation is awaited for grace_ms (FW-EV-30). */
  | { readonly name: 'end-sent'; readonly writer: SubscriberWriter; readonly grace: TimerHandle }
  /** No subscriber: a resume is awaited for grace_ms (FW-EV-50). */
  | { readonly name: 'detached'; readonly grace: TimerHandle }
  /** Another node serves the subscriber from the shared log, for as long as it renews the lease (§12.13). */
  | { readonly name: 'remote'; readonly lease: TimerHandle }
  | { readonly name: 'disposed' };

export type InstanceStateName = InstanceState['name'];

/** Where a transition leads; `#enter` adds the grace timer. */
type Target =
  | { readonly name: 'attached' | 'end-sent'; readonly writer: SubscriberWriter }
  | { readonly name: 'remote'; readonly leaseMs: number }
  | { readonly name: 'detached' | 'disposed' };

/** Every legal transition; any other is a bug, reported through the guard. */
const TRANSITIONS: { readonly [S in InstanceStateName]: readonly InstanceStateName[] } = {
  created: ['attached', 'detached', 'disposed'],
  attached: ['attached', 'end-sent', 'detached', 'remote', 'disposed'],
  'end-sent': ['attached', 'detached', 'remote', 'disposed'],
  detached: ['attached', 'detached', 'remote', 'disposed'],
  remote: ['attached', 'detached', 'remote', 'disposed'],
  disposed: [],
};

export class EventInstance implements RemoteSubscriberHost {
  readonly name: string;
  readonly key: string;
  readonly resumable: boolean;
  readonly counters = newCounters();
  readonly logger: Logger;
  readonly #c: InstanceConfig;
  readonly #guard: Guard;
  /** The config's clock, its timers behind the guard. */
  readonly #clock: Clock;
  readonly #replayLog: ReplayLog;
  readonly #changed = new Notifier();
  readonly #pump: ProducerPump;
  readonly #writerContext: WriterContext;
  #state: InstanceState = { name: 'created' };

  constructor(config: InstanceConfig) {
    // Its timers (heartbeat, grace period, coalescing) run behind a guard: an exception in one ends this instance, not the process.
    this.#guard = new Guard(config.logger, () => {
      this.#failInternally();
    });
    this.#c = config;
    this.#clock = this.#guard.clock(config.clock, 'event instance timer');
    this.name = config.name;
    this.key = config.key;
    this.resumable = config.resumable;
    this.#replayLog = config.replayLog;
    this.logger = config.logger;
    const count = (counter: keyof EventCounters, n: number): void => {
      this.counters[counter] += n;
      config.totals[counter] += n;
    };
    this.#pump = new ProducerPump({
      name: config.name,
      key: config.key,
      params: config.params,
      coalesce: config.coalesce,
      replayLog: config.replayLog,
      clock: this.#clock,
      logger: config.logger,
      changed: this.#changed,
      count,
      // A subscriber on another node has caught up once it acknowledged every event (FW-EV-60, §12.13).
      consumerBehind: () => (this.#state.name === 'remote' ? this.#replayLog.ackedId < this.#replayLog.lastId : !('writer' in this.#state) || this.#state.writer.behind),
      onEnd: () => {
        this.#onProducerEnd();
      },
    });
    this.#writerContext = {
      start: { key: config.key, resumable: config.resumable, hbMs: config.heartbeatMs, graceMs: config.graceMs, ackEvery: config.ackEvery, ackMs: config.ackMs },
      replayLog: config.replayLog,
      clock: this.#clock,
      changed: this.#changed,
      count,
      end: () => this.#pump.end,
      flushCoalesced: () => {
        this.#pump.flushCoalesced();
      },
      onEndSent: (writer) => {
        this.#enter({ name: 'end-sent', writer });
      },
    };
  }

  get state(): InstanceStateName {
    return this.#state.name;
  }

  get signal(): AbortSignal {
    return this.#pump.signal;
  }

  get attached(): boolean {
    return 'writer' in this.#state;
  }

  get ended(): boolean {
    return this.#pump.end !== undefined;
  }

  get disposed(): boolean {
    return this.#state.name === 'disposed';
  }

  /**
   * The subscriber's DONE confirmed the end (FW-EV-30), even if the stream's outcome callback, a
   * microtask away, has not dropped the instance yet: a resume read in the same chunk as that DONE
   * must already find it gone.
   */
  get endConfirmed(): boolean {
    const s = this.#state;
    return s.name === 'end-sent' && this.#pump.end?.kind === 'done' && s.writer.stream.status === 'completed';
  }

  /** Memory this instance holds for replay: bounded by the replay limits (FW-EV-21). */
  get retained(): { readonly events: number; readonly bytes: number; readonly firstId: number; readonly lastId: number; readonly ackedId: number } {
    const l = this.#replayLog;
    return { events: l.count, bytes: l.bytes, firstId: l.firstId, lastId: l.lastId, ackedId: l.ackedId };
  }

  /** Bytes queued on the attached subscriber's stream (bounded by the session's streamWriteBuffer). */
  get queuedBytes(): number {
    const s = this.#state;
    return 'writer' in s ? s.writer.stream.queuedBytes : 0;
  }

  start(producer: Producer): void {
    this.#pump.start(producer);
  }

  /** The push API (ProducerContext.emit). */
  emit(type: string, data?: unknown): Promise<void> {
    return this.#pump.emit(type, data);
  }

  /** Something outside the instance changed (the replay budget has room again): re-check what waits. */
  wake(): void {
    this.#changed.notify();
  }

  /** Server-side cancel (FW-EV-14): the producer stops, the subscriber gets CANCEL. */
  cancel(reason = 'cancelled by the server'): void {
    if (this.#state.name === 'disposed') return;
    this.#pump.cancel(reason);
  }

  /** Attaches a subscriber stream that has delivered everything up to `after` (FW-EV-24). Last attach wins. */
  attach(stream: Stream, after: number, logger: Logger): void {
    const log = this.#replayLog;
    if (after > log.lastId) {
      stream.fail('PROTOCOL_ERROR', `resume after ${after}, but the last event id is ${log.lastId}`, { details: { key: this.key, last: log.lastId } });
      return;
    }
    if (after + 1 < log.firstId) {
      stream.fail('RESUME_GAP', `events after ${after} are no longer retained; the earliest available is ${log.firstId}`, {
        details: { key: this.key, earliest: log.firstId, last: log.lastId },
      });
      return;
    }
    // A resume point is an acknowledgement: the subscriber delivered everything up to it (FW-EV-31).
    log.acknowledge(after);
    log.attachedLocally?.();
    const from = this.#state;
    const writer = new SubscriberWriter(this.#writerContext, stream, after, logger);
    if (!this.#enter({ name: 'attached', writer })) {
      stream.fail('INTERNAL', 'internal error');
      return;
    }
    if ('writer' in from) {
      from.writer.logger.info('subscriber superseded by a newer attach');
      from.writer.stream.cancel('superseded: another subscriber attached to this event stream');
    }
    logger.debug({ after, lastId: log.lastId }, after < log.lastId ? 'subscriber attached, replaying' : 'subscriber attached');
    void stream.outcome.then(
      this.#guard.wrap('event subscriber outcome', (o: StreamOutcome) => {
        this.#onSubscriberEnd(writer, o);
      }),
    );
    writer.run();
  }

  /** Drops the instance: timers stop, the producer is aborted if it still runs, the log is released. */
  dispose(reason?: FramewireError): void {
    const from = this.#state;
    if (from.name === 'disposed') return;
    this.#enter({ name: 'disposed' });
    this.#pump.abort(reason ?? new FramewireError('CANCELLED', 'event stream instance disposed'));
    this.#pump.stop();
    if ('writer' in from) {
      // A sent DONE is left to complete: cancelling now could overtake it (FW-EV-30).
      const doneSent = from.name === 'end-sent' && this.#pump.end?.kind === 'done';
      if (!from.writer.stream.ended && !doneSent) from.writer.stream.cancel(reason?.message ?? 'event stream instance disposed');
    }
    this.#c.onDispose(this);
    // A custom store's dispose() that throws must not escape (nor keep the instance registered).
    this.#guard.run('replay log dispose', () => {
      void Promise.resolve(this.#replayLog.dispose()).catch(() => undefined);
    });
  }

  /** A subscriber on another node attached or renewed its lease (§12.13); last attach wins (FW-EV-27). */
  remoteAttached(leaseMs: number): boolean {
    const from = this.#state;
    if (from.name === 'disposed') return false;
    if (!this.#enter({ name: 'remote', leaseMs })) return false;
    if ('writer' in from) {
      from.writer.logger.info('subscriber superseded by an attach on another node');
      from.writer.stream.cancel('superseded: another subscriber attached to this event stream');
    } else if (from.name !== 'remote') {
      this.logger.info('subscriber attached on another node');
    }
    return true;
  }

  remoteAcknowledged(): void {
    this.#changed.notify();
    this.#pump.flushCoalesced();
  }

  remoteDetached(confirmed: boolean): void {
    if (this.#state.name !== 'remote') return;
    if (confirmed && this.#pump.end?.kind === 'done') {
      this.dispose();
      return;
    }
    this.logger.info({ graceMs: this.#c.graceMs }, 'subscriber on another node lost; waiting for a resume');
    this.#enter({ name: 'detached' });
  }

  remoteCancelled(reason: string): void {
    if (this.#state.name !== 'remote') return;
    this.logger.info('cancelled by the subscriber on another node');
    this.#pump.abort(new FramewireError('CANCELLED', reason, { remote: true }));
    this.dispose();
  }

  #onSubscriberEnd(writer: SubscriberWriter, o: StreamOutcome): void {
    writer.detach();
    const s = this.#state;
    if (!('writer' in s) || s.writer !== writer) return;
    if (o.status === 'cancelled' && o.error.remote) {
      writer.logger.info('cancelled by the subscriber');
      this.#pump.abort(new FramewireError('CANCELLED', 'cancelled by the subscriber', { remote: true }));
      this.dispose();
      return;
    }
    if (o.status === 'completed' && s.name === 'end-sent') {
      // The subscriber's DONE confirms it received the end: nothing left to resume (FW-EV-30).
      this.dispose();
      return;
    }
    const code = o.status === 'completed' ? undefined : o.error.code;
    if (!this.resumable) {
      writer.logger.info({ code }, 'subscriber lost; stream is not resumable');
      this.#pump.abort(new FramewireError('CANCELLED', 'subscriber lost and the event stream is not resumable'));
      this.dispose();
      return;
    }
    writer.logger.info({ code, graceMs: this.#c.graceMs, lastId: this.#replayLog.lastId }, 'subscriber lost; waiting for a resume');
    this.#enter({ name: 'detached' });
  }

  #onProducerEnd(): void {
    const end = this.#pump.end;
    if (end !== undefined) this.#guard.run('replay log end', () => { this.#replayLog.recordEnd?.(end); });
    // Nobody attached: the ended instance is kept grace_ms from now for a resume (FW-EV-13, FW-EV-30).
    const s = this.#state.name;
    if (s === 'created' || s === 'detached') this.#enter({ name: 'detached' });
  }

  #onGraceOver(): void {
    if (this.#pump.end === undefined) {
      this.logger.info({ graceMs: this.#c.graceMs }, 'no subscriber within the grace period: stopping the producer');
      this.#pump.abort(new FramewireError('TIMEOUT', `no subscriber resumed within ${this.#c.graceMs} ms`));
    }
    this.dispose();
  }

  /**
   * The one place the state changes. Leaving a state ends what belonged to it (its grace timer, a
   * writer that does not stay); entering `end-sent` or `detached` starts the grace timer.
   */
  #enter(target: Target): boolean {
    const from = this.#state;
    if (!TRANSITIONS[from.name].includes(target.name)) {
      this.#guard.fail('event instance transition', new FramewireError('INTERNAL', `event instance: no transition from ${from.name} to ${target.name}`));
      return false;
    }
    if ('grace' in from) from.grace.cancel();
    if ('lease' in from) from.lease.cancel();
    if ('writer' in from && !('writer' in target && target.writer === from.writer)) from.writer.detach();
    if ('writer' in target) {
      this.#state = target.name === 'attached' ? { name: 'attached', writer: target.writer } : { name: 'end-sent', writer: target.writer, grace: this.#startGrace() };
    } else if (target.name === 'remote') {
      const lease = this.#clock.setTimeout(() => {
        this.logger.info({ leaseMs: target.leaseMs }, 'the node serving the subscriber stopped renewing its lease');
        this.#enter({ name: 'detached' });
      }, target.leaseMs);
      this.#state = { name: 'remote', lease };
    } else {
      this.#state = target.name === 'detached' ? { name: 'detached', grace: this.#startGrace() } : { name: 'disposed' };
    }
    this.#changed.notify();
    return true;
  }

  #startGrace(): TimerHandle {
    return this.#clock.setTimeout(() => {
      this.#onGraceOver();
    }, this.#c.graceMs);
  }

  /** What the guard does after reporting an exception: the subscriber gets INTERNAL, the instance goes away. */
  #failInternally(): void {
    const s = this.#state;
    if ('writer' in s) s.writer.stream.fail('INTERNAL', 'internal error');
    this.dispose(new FramewireError('INTERNAL', 'internal error'));
  }
}
