/**
 * Coalescing (spec/EVENTS.md §12.8, FW-EV-60..62): while the consumer is behind, or within
 * minIntervalMs of the previous coalescable event, a coalescable event does not wait: it is merged
 * into one pending event, which is appended (and only then given an id) as soon as the consumer
 * catches up. Ids stay contiguous; the merged-away events are counted, never numbered.
 */

import type { CoalesceOptions, ProducedEvent } from './producer.ts';
import { invalidArgument } from '../errors.ts';

const keepNewer = (_pending: ProducedEvent, next: ProducedEvent): ProducedEvent => next;

export class Coalescer {
  readonly minIntervalMs: number;
  readonly #types: ReadonlySet<string> | undefined;
  readonly #merge: (pending: ProducedEvent, next: ProducedEvent) => ProducedEvent;
  #pending: ProducedEvent | undefined;
  /** Clock time of the last coalescable append, for minIntervalMs. */
  lastAppendAt = Number.NEGATIVE_INFINITY;

  constructor(options: CoalesceOptions) {
    const interval = options.minIntervalMs ?? 0;
    if (!(interval >= 0)) throw invalidArgument(`coalesce.minIntervalMs must be >= 0, got ${interval}`);
    this.minIntervalMs = interval;
    this.#types = options.types === undefined ? undefined : new Set(options.types);
    this.#merge = options.merge ?? keepNewer;
  }

  applies(type: string): boolean {
    return this.#types === undefined || this.#types.has(type);
  }

  get pending(): ProducedEvent | undefined {
    return this.#pending;
  }

  /** Adds an event to the pending slot; returns how many events were merged away (0 or 1). */
  hold(event: ProducedEvent): number {
    if (this.#pending === undefined) {
      this.#pending = event;
      return 0;
    }
    this.#pending = this.#merge(this.#pending, event);
    return 1;
  }

  take(): ProducedEvent | undefined {
    const p = this.#pending;
    this.#pending = undefined;
    return p;
  }

  /** Ms until the interval allows the next coalescable append (0 = now). */
  waitMs(now: number): number {
    return Math.max(0, this.lastAppendAt + this.minIntervalMs - now);
  }
}
