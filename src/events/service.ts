/**
 * The server side of the event-stream profile (spec/EVENTS.md §12): a StreamService claiming the
 * `events.subscribe` kind, a registry of producers by name, and of live instances by (name, key).
 *
 *   const events = new EventService();
 *   events.handle('tokens', async function* ({ params, signal }) { yield { type: 'token', data: 'hi' }; });
 *   createServer({ services: [events] });
 */

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { checkIntegers } from '../arguments.ts';
import { FramewireError, invalidArgument, isFramewireError } from '../errors.ts';
import { ANONYMOUS, defaultPrincipalId, systemClock, type Clock, type PrincipalId, type Session, type Stream } from '../session/index.ts';
import type { ControlMap } from '../wire/index.ts';
import { ReplayBudget } from './budget.ts';
import { EventInstance } from './instance.ts';
import { EVENT_OVERHEAD_BYTES, resolveEventLimits, type EventLimits } from './limits.ts';
import { parseSubscribe, SUBSCRIBE_KIND, validateName } from './protocol.ts';
import { newCounters, type EventCounters, type HandleOptions, type Producer } from './producer.ts';
import { isSharedReplayStore, type Claim, type SharedReplayStore } from './replay-cluster.ts';
import { defaultReplayLimits, memoryReplayStore, validateReplayLimits, type ReplayLimits, type ReplayStore } from './replay-log.ts';

/**
 * Options of `EventService`: defaults for every producer, aggregate limits, the replay store, clock,
 * logger and principal mapping.
 */
export interface EventServiceOptions {
  /** Defaults for every `handle()` (FW-EV-70). */
  readonly replay?: Partial<ReplayLimits>;
  readonly graceMs?: number;
  readonly heartbeatMs?: number;
  readonly ackMs?: number;
  /** Aggregate limits: instances server-wide, per principal and per connection, replay bytes (FW-EV-71). */
  readonly limits?: Partial<EventLimits>;
  readonly store?: ReplayStore;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /**
   * Maps `session.principal` to a stable id. Instance keys are scoped by it: another principal's
   * key names nothing for this one (FW-EV-5). Default `defaultPrincipalId`; undefined → FORBIDDEN.
   */
  readonly principalId?: PrincipalId;
}

/** Default grace period, heartbeat interval and acknowledgement interval. */
export const eventDefaults = {
  graceMs: 30_000,
  heartbeatMs: 15_000,
  ackMs: 50,
} as const;

interface Registration {
  readonly producer: Producer;
  readonly resumable: boolean;
  readonly replay: ReplayLimits;
  readonly graceMs: number;
  readonly heartbeatMs: number;
  readonly ackMs: number;
  readonly store: ReplayStore;
  readonly options: HandleOptions;
}

/**
 * The server side of resumable event streams (spec/EVENTS.md): register producers with `handle(name,
 * producer)` and add the service to `createServer({ services })`.
 */
export class EventService {
  readonly kinds: readonly string[] = [SUBSCRIBE_KIND];
  /** Counters summed over every instance, past and present. */
  readonly counters: EventCounters = newCounters();
  readonly limits: EventLimits;
  /** What every instance's replay log retains (FW-EV-71). */
  readonly budget: ReplayBudget;
  readonly #o: EventServiceOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #principalId: PrincipalId;
  readonly #producers = new Map<string, Registration>();
  readonly #instances = new Map<string, EventInstance>();
  readonly #perPrincipal = new Map<string, number>();
  readonly #perConnection = new WeakMap<Session, number>();
  #closed = false;

  constructor(options: EventServiceOptions = {}) {
    this.#o = options;
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ service: 'events' });
    this.#clock = options.clock ?? systemClock;
    this.#principalId = options.principalId ?? defaultPrincipalId;
    this.limits = resolveEventLimits(options.limits);
    this.budget = new ReplayBudget(this.limits.maxReplayBytes, this.limits.maxReplayBytesPerPrincipal);
  }

  /** Live instances of one principal. */
  instancesOf(principalId: string): number {
    return this.#perPrincipal.get(principalId) ?? 0;
  }

  /** Registers a producer for a stream name (server API), or — as a StreamService — serves one subscription stream. */
  handle(name: string, producer: Producer, options?: HandleOptions): this;
  handle(stream: Stream, session: Session): void;
  handle(a: string | Stream, b: Producer | Session, options: HandleOptions = {}): this | undefined {
    if (typeof a === 'string') {
      this.#register(a, b as Producer, options);
      return this;
    }
    this.#subscribe(a, b as Session);
    return undefined;
  }

  /** Live instances (for tests and metrics). */
  get size(): number {
    return this.#instances.size;
  }

  /** @internal The live instance (name, key) of a principal (an id from the `principalId` mapping). */
  instance(name: string, key: string, principalId = ANONYMOUS): EventInstance | undefined {
    return this.#instances.get(instanceId(principalId, name, key));
  }

  /** Cancels one instance from the server side: its producer stops, its subscriber gets CANCEL. */
  cancel(name: string, key: string, reason?: string, principalId = ANONYMOUS): boolean {
    const instance = this.instance(name, key, principalId);
    if (instance === undefined) return false;
    instance.cancel(reason);
    return true;
  }

  /** Stops every producer and drops every instance (the server calls it on close). */
  close(): void {
    this.#closed = true;
    for (const instance of [...this.#instances.values()]) instance.dispose(new FramewireError('CLOSED', 'the event service is closing'));
  }

  #register(name: string, producer: Producer, options: HandleOptions): void {
    validateName(name);
    if (this.#producers.has(name)) throw invalidArgument(`events: a producer is already registered for "${name}"`);
    const o = this.#o;
    const replay = validateReplayLimits({ ...defaultReplayLimits, ...o.replay, ...options.replay });
    const graceMs = options.graceMs ?? o.graceMs ?? eventDefaults.graceMs;
    const heartbeatMs = options.heartbeatMs ?? o.heartbeatMs ?? eventDefaults.heartbeatMs;
    const ackMs = options.ackMs ?? o.ackMs ?? eventDefaults.ackMs;
    checkIntegers('events:', { graceMs, heartbeatMs, ackMs });
    this.#producers.set(name, { producer, resumable: options.resumable ?? true, replay, graceMs, heartbeatMs, ackMs, store: options.store ?? o.store ?? memoryReplayStore, options });
  }

  #subscribe(stream: Stream, session: Session): void {
    let request;
    try {
      request = parseSubscribe(stream.target, stream.meta);
    } catch (error) {
      const e = isFramewireError(error) ? error : new FramewireError('MALFORMED_PAYLOAD', String(error));
      stream.fail(e.code, e.message);
      return;
    }
    const { name, after, params } = request;
    const reg = this.#producers.get(name);
    if (reg === undefined) {
      stream.fail('NOT_FOUND', `no event stream named "${name}"`, { details: { name } });
      return;
    }
    if (this.#closed) {
      stream.fail('REFUSED_STREAM', 'the event service is closing', { details: { processed: 'no' } });
      return;
    }
    const principal = this.#principalId(session.principal);
    if (principal === undefined) {
      stream.fail('FORBIDDEN', 'the connection has no principal id event streams can belong to');
      return;
    }
    const key = request.key ?? randomUUID();
    const s: Subscribing = { stream, session, principal, reg, name, key, after, params, log: session.log.child({ request: key }) };
    // With a shared store, Redis says who runs the key, even when this node has an instance of it:
    // one that another node took over (this node stalled past its liveness TTL) must not be served.
    if (isSharedReplayStore(reg.store)) {
      void this.#subscribeShared(reg.store, s);
      return;
    }
    if (this.#attachLocal(s)) return;
    this.#startOrRefuse(s);
  }

  /** Attaches to this node's instance of the key, if there is one (or refuses, as FW-EV-25 says); false when there is none. */
  #attachLocal(s: Subscribing): boolean {
    const { stream, name, key, log } = s;
    const id = instanceId(s.principal, name, key);
    let existing = this.#instances.get(id);
    if (existing?.endConfirmed === true) {
      // Confirmed but not yet dropped (the DONE came in the same read as this OPEN): gone from now on (FW-EV-30).
      existing.dispose();
      existing = undefined;
    }
    if (existing === undefined) return false;
    if (!existing.resumable) {
      log.info('attach refused: the event stream is not resumable');
      stream.fail('NOT_RESUMABLE', `event stream "${name}" cannot be resumed or attached twice`, { details: { key } });
      return true;
    }
    if (this.#admit(stream, s.session, s.principal, false)) existing.attach(stream, s.after ?? 0, log);
    return true;
  }

  /**
   * With a shared replay store (§12.13) the key may name an instance another node runs: the store
   * says who runs it, and such an instance is served from its shared log.
   */
  async #subscribeShared(store: SharedReplayStore, s: Subscribing): Promise<void> {
    const { stream, name, key, after, reg } = s;
    let claim: Claim;
    try {
      claim = await store.claim(s.principal, name, key, reg.replay, after !== undefined);
    } catch (error) {
      const e = isFramewireError(error) ? error : new FramewireError('INTERNAL', String(error));
      s.log.warn({ err: e.message }, 'shared replay store unavailable');
      stream.fail(e.code, e.message, { retryable: true });
      return;
    }
    if (stream.ended || this.#closed) {
      if (claim.kind === 'created') claim.release();
      if (!stream.ended) stream.fail('REFUSED_STREAM', 'the event service is closing', { details: { processed: 'no' } });
      return;
    }
    if (claim.kind !== 'self') this.#instances.get(instanceId(s.principal, name, key))?.dispose(new FramewireError('PRODUCER_FAILED', 'this node no longer owns the event stream in the shared log'));
    switch (claim.kind) {
      case 'self':
        if (this.#attachLocal(s)) return;
        // This node's instance ended a moment ago and its keys are being dropped: a retry finds the key free.
        if (after === undefined) stream.fail('REFUSED_STREAM', 'the previous instance of this key is being dropped; retry', { details: { processed: 'no' } });
        else this.#startOrRefuse(s);
        return;
      case 'unknown':
        this.#startOrRefuse(s);
        return;
      case 'lost':
        s.log.info({ code: claim.error.code }, 'resume of an instance whose node died');
        stream.fail(claim.error.code, claim.error.message, { retryable: true, ...(claim.error.details === undefined ? {} : { details: claim.error.details }) });
        return;
      case 'remote':
        if (!reg.resumable) {
          stream.fail('NOT_RESUMABLE', `event stream "${name}" cannot be resumed or attached twice`, { details: { key } });
          return;
        }
        if (!this.#admit(stream, s.session, s.principal, false)) return;
        claim.serve(stream, after ?? 0, {
          start: { key, resumable: true, hbMs: reg.heartbeatMs, graceMs: reg.graceMs, ackEvery: ackEvery(reg.replay), ackMs: reg.ackMs },
          logger: s.log,
          count: (counter, n) => {
            this.counters[counter] += n;
          },
        });
        return;
      case 'created':
        if (!this.#startOrRefuse(s)) claim.release();
        return;
    }
  }

  /** A new instance, or NOT_FOUND for a resume of an unknown key (FW-EV-26); false when nothing started. */
  #startOrRefuse(s: Subscribing): boolean {
    const { stream, session, principal, reg, name, key, after, params, log } = s;
    const id = instanceId(principal, name, key);
    if (after !== undefined) {
      // Unknown key on resume: never existed, expired after the grace period, or the server
      // restarted. Nothing about its ids is known: the client must start over (FW-EV-26).
      log.info({ after }, 'resume of an unknown instance');
      stream.fail('NOT_FOUND', `no event stream instance "${key}" of "${name}" (expired, ended, or the server restarted)`, { details: { name, key, reason: 'unknown_key' } });
      return false;
    }
    if (!this.#paramsAccepted(stream, reg, params)) return false;
    if (!this.#admit(stream, session, principal, true)) return false;
    const inner = reg.store.create(name, key, reg.replay, principal);
    const instance: EventInstance = new EventInstance({
      name,
      key,
      params,
      resumable: reg.resumable,
      graceMs: reg.resumable ? reg.graceMs : 0,
      heartbeatMs: reg.heartbeatMs,
      ackEvery: ackEvery(reg.replay),
      ackMs: reg.ackMs,
      coalesce: reg.options.coalesce,
      replayLog: this.budget.wrap(inner, principal, () => {
        instance.wake();
      }),
      clock: this.#clock,
      logger: this.#log.child({ events: name, request: key }),
      totals: this.counters,
      onDispose: (i) => {
        if (this.#instances.get(id) !== i) return;
        this.#instances.delete(id);
        const n = (this.#perPrincipal.get(principal) ?? 1) - 1;
        if (n === 0) this.#perPrincipal.delete(principal);
        else this.#perPrincipal.set(principal, n);
      },
    });
    inner.bind?.(instance);
    this.#instances.set(id, instance);
    this.#perPrincipal.set(principal, this.instancesOf(principal) + 1);
    log.debug({ events: name }, 'event stream instance started');
    instance.attach(stream, 0, log);
    instance.start(reg.producer);
    return true;
  }

  /** The producer's own check of a new instance's params (FW-EV-6); a refusal fails the stream before `start`. */
  #paramsAccepted(stream: Stream, reg: Registration, params: ControlMap): boolean {
    const check = reg.options.checkParams;
    if (check === undefined) return true;
    try {
      check(params);
      return true;
    } catch (error) {
      const e = isFramewireError(error) ? error : new FramewireError('MALFORMED_PAYLOAD', error instanceof Error ? error.message : String(error));
      stream.fail(e.code, e.message, e.details === undefined ? undefined : { details: e.details });
      return false;
    }
  }

  /**
   * Counts a subscription stream against the limits, or refuses it with LIMIT_EXCEEDED +
   * retry_after_ms and details {limit} (FW-EV-71). An attach to an existing instance counts only
   * against its connection; a new instance against everything.
   */
  #admit(stream: Stream, session: Session, principal: string, isNew: boolean): boolean {
    const l = this.limits;
    const connection = this.#perConnection.get(session) ?? 0;
    const limit = refusal(l, { connection, principal: this.instancesOf(principal), total: this.#instances.size, isNew, budget: this.budget, who: principal });
    if (limit !== undefined) {
      stream.fail('LIMIT_EXCEEDED', `event stream refused: the limit ${limit} (${l[limit]}) is reached; retry after ${l.retryAfterMs} ms`, { retryAfterMs: l.retryAfterMs, details: { limit } });
      return false;
    }
    this.#perConnection.set(session, connection + 1);
    void stream.outcome.then(() => {
      this.#perConnection.set(session, (this.#perConnection.get(session) ?? 1) - 1);
    });
    return true;
  }
}

/** A subscription being dispatched (FW-EV-4). */
interface Subscribing {
  readonly stream: Stream;
  readonly session: Session;
  readonly principal: string;
  readonly reg: Registration;
  readonly name: string;
  readonly key: string;
  readonly after: number | undefined;
  readonly params: ControlMap;
  readonly log: Logger;
}

/** The subscriber acknowledges at least every maxEvents/4 events (FW-EV-31). */
function ackEvery(replay: ReplayLimits): number {
  return Math.max(1, Math.floor(replay.maxEvents / 4));
}

/** Which limit a refused subscription met (FW-EV-71), or undefined when it may go ahead. */
function refusal(l: EventLimits, o: { connection: number; principal: number; total: number; isNew: boolean; budget: ReplayBudget; who: string }): keyof EventLimits | undefined {
  if (o.connection >= l.maxSubscriptionsPerConnection) return 'maxSubscriptionsPerConnection';
  if (!o.isNew) return undefined;
  if (o.principal >= l.maxInstancesPerPrincipal) return 'maxInstancesPerPrincipal';
  if (o.total >= l.maxInstances) return 'maxInstances';
  // A new instance must be able to log at least one event.
  if (o.budget.fits(o.who, EVENT_OVERHEAD_BYTES)) return undefined;
  return o.budget.used(o.who) + EVENT_OVERHEAD_BYTES > l.maxReplayBytesPerPrincipal ? 'maxReplayBytesPerPrincipal' : 'maxReplayBytes';
}

/** Instances are keyed per principal: the same key used by two principals names two instances (FW-EV-5). */
function instanceId(principal: string, name: string, key: string): string {
  return `${principal}\u0000${name}\u0000${key}`;
}
