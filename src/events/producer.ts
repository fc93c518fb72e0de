/**
 * What an application registers with `events.handle(name, producer, options)` (spec/EVENTS.md
 * §12.7): an async generator of events, or a function using the push API `ctx.emit()`. Both get
 * an AbortSignal that fires when the stream is cancelled or its subscriber is gone for longer
 * than the grace period; emit() then rejects, so a producer that keeps going stops at its next emit.
 */

import type { Logger } from 'pino';
import type { ControlMap } from '../wire/index.ts';
import type { ReplayLimits, ReplayStore } from './replay-log.ts';

/** One event as a producer hands it over: a type and a payload (bytes or any MessagePack value). */
export interface ProducedEvent {
  readonly type: string;
  readonly data?: unknown;
}

/** The summary a producer returns becomes the DONE trailer (a map; other values are wrapped as { value }). */
export type EventSummary = ControlMap | undefined;

/** What a producer gets: the stream's name, key and params, an abort signal, a logger and `emit()`. */
export interface ProducerContext {
  readonly name: string;
  /** The instance key (request id): every log line of the instance carries it. */
  readonly key: string;
  /** The subscriber's OPEN meta.params. */
  readonly params: ControlMap;
  /** Fires on cancel (client or server) and when the grace period ends without a subscriber. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * Push API: appends one event. Resolves when the event is in the replay log and the consumer is
   * not too far behind (backpressure); with coalescing, never waits. Rejects with the abort reason
   * once the signal fired.
   */
  readonly emit: (type: string, data?: unknown) => Promise<void>;
}

/**
 * An async generator of events, or a push-API function. The generator's return value (or the
 * function's resolved value) is the summary: an EventSummary map, or anything else wrapped as { value }.
 */
export type Producer = (ctx: ProducerContext) => AsyncIterable<ProducedEvent, unknown> | Promise<unknown>;

/**
 * Coalescing: while the subscriber cannot take more, events of the listed types are merged into one
 * pending event (by default the newest wins) instead of queued, at most one per `minIntervalMs`.
 */
export interface CoalesceOptions {
  /** Event types that may be coalesced; absent: all. Other types wait as usual, after the pending one. */
  readonly types?: readonly string[];
  /** Combines the pending event with a newer one; default: keep the newer (sampling). */
  readonly merge?: (pending: ProducedEvent, next: ProducedEvent) => ProducedEvent;
  /** At most one coalescable event per this many ms (e.g. 50: one UI refresh per 50 ms). Default 0. */
  readonly minIntervalMs?: number;
}

/** Per-name options of `events.handle` (defaults in EventServiceOptions). */
export interface HandleOptions {
  /** false: no resume (FW-EV-25); a lost subscriber stops the producer at once. Default true. */
  readonly resumable?: boolean;
  readonly replay?: Partial<ReplayLimits>;
  /** How long an instance outlives its subscriber (and a sent end its confirmation), ms. */
  readonly graceMs?: number;
  /** Heartbeat interval while no event flows, ms; 0 = none. */
  readonly heartbeatMs?: number;
  /** Opt into coalescing instead of blocking when the consumer is behind (FW-EV-60). */
  readonly coalesce?: CoalesceOptions;
  /** Subscriber acknowledgement delay the server asks for, ms. */
  readonly ackMs?: number;
  /** Replay storage; default in-memory. */
  readonly store?: ReplayStore;
  /**
   * Checks the params of a subscription that would start a new instance, before it starts
   * (FW-EV-6): throw to refuse it — a FramewireError keeps its code and details, anything else
   * is MALFORMED_PAYLOAD with the error's message. No instance, no `start`, no producer call.
   */
  readonly checkParams?: (params: ControlMap) => void;
}

/** Event-level counters of one instance, and summed over a service. */
export interface EventCounters {
  /** Events written live to a subscriber. */
  delivered: number;
  /** Events resent from the replay log to a (re)attaching subscriber. */
  replayed: number;
  /** Events merged away by coalescing (never given an id). */
  droppedByCoalescing: number;
}

export function newCounters(): EventCounters {
  return { delivered: 0, replayed: 0, droppedByCoalescing: 0 };
}
