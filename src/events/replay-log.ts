/**
 * Replay storage behind an interface (spec/EVENTS.md §12.6). An instance appends every event it
 * produces; a (re)attaching subscriber reads from its resume point. The embedded default keeps a
 * bounded window in memory; a shared log for several server processes implements the same
 * interface over a store (its methods may return promises for that reason).
 *
 * Retention rules (FW-EV-20..23): ids are contiguous; count and byte limits never drop an event the
 * subscriber has not acknowledged (the producer waits instead, `hasRoom` is false); acknowledged
 * events are dropped oldest first when a limit needs room or when older than maxAgeMs.
 */

import { checkInteger } from '../arguments.ts';
import { FramewireError, invalidArgument } from '../errors.ts';
import type { ProducerEnd } from './producer-pump.ts';
import type { RemoteSubscriberHost } from './replay-cluster.ts';

/** An event as a replay log keeps it. */
export interface LoggedEvent {
  readonly id: number;
  readonly type: string;
  /** The encoded `ev` message, resent byte for byte on replay. */
  readonly bytes: Uint8Array;
  /** Clock time of the append, for the age limit. */
  readonly at: number;
}

/** What one instance's replay log retains for a resume. */
export interface ReplayLimits {
  /** Events retained per instance. */
  readonly maxEvents: number;
  /** Encoded bytes retained per instance; one event larger than this is refused (MESSAGE_TOO_LARGE). */
  readonly maxBytes: number;
  /** Acknowledged events older than this are dropped even when count and bytes allow. */
  readonly maxAgeMs: number;
}

/** The default replay limits: 4096 events, 4 MiB, 5 minutes. */
export const defaultReplayLimits: ReplayLimits = {
  maxEvents: 4096,
  maxBytes: 4 * 1024 * 1024,
  maxAgeMs: 5 * 60_000,
};

export function validateReplayLimits(l: ReplayLimits): ReplayLimits {
  checkInteger('replay.maxEvents', l.maxEvents, 1);
  checkInteger('replay.maxBytes', l.maxBytes, 64);
  if (!(l.maxAgeMs >= 0)) throw invalidArgument(`replay.maxAgeMs must be >= 0, got ${l.maxAgeMs}`);
  return l;
}

/** The events an instance keeps for a resume, bounded by its limits. */
export interface ReplayLog {
  /** The earliest id still retained; lastId + 1 when nothing is retained. */
  readonly firstId: number;
  /** The highest id appended; 0 before the first. */
  readonly lastId: number;
  /** The highest id the subscriber acknowledged (monotonic). */
  readonly ackedId: number;
  readonly count: number;
  readonly bytes: number;
  /** Can an event of `size` encoded bytes be appended now without dropping an unacknowledged one? */
  hasRoom(size: number, now: number): boolean;
  /** Appends event lastId + 1 (precondition: hasRoom). Drops acknowledged events as the limits require. */
  append(event: LoggedEvent): void | Promise<void>;
  /** Records the subscriber's acknowledgement; never moves backwards. */
  acknowledge(id: number): void;
  /** Retained events with ids after `after`, oldest first, at most `max`, contiguous from after + 1 when retained. */
  read(after: number, max: number): readonly LoggedEvent[] | Promise<readonly LoggedEvent[]>;
  /** Drops acknowledged events older than maxAgeMs. */
  trim(now: number): void;
  /**
   * Drops every acknowledged event, when the server-wide replay budget needs the room (FW-EV-71).
   * Optional: a log without it keeps its acknowledged events until its own limits drop them.
   */
  dropAcknowledged?(): void;
  /** Releases what the log holds; the instance is gone. */
  dispose(): void | Promise<void>;
  /**
   * Records how the producer ended, after its last event, so that a node serving the instance
   * from a shared log ends the subscriber the same way (§12.13). Optional: a local log has no reader elsewhere.
   */
  recordEnd?(end: ProducerEnd): void;
  /** A shared log: the instance that hears about subscribers other nodes serve (§12.13). */
  bind?(host: RemoteSubscriberHost): void;
  /** A shared log: a subscriber attached on this node; one another node serves is superseded (FW-EV-27). */
  attachedLocally?(): void;
}

/** Creates the log of one instance; a shared store keys it by (principal, name, key). */
export interface ReplayStore {
  /** The replay log of the instance `name`/`key` of `principal`. */
  create(name: string, key: string, limits: ReplayLimits, principal?: string): ReplayLog;
}

/** The embedded default: a bounded window in memory, O(1) append, read and eviction. */
export class MemoryReplayLog implements ReplayLog {
  readonly #limits: ReplayLimits;
  #items: LoggedEvent[] = [];
  #head = 0;
  #bytes = 0;
  #lastId = 0;
  #acked = 0;

  constructor(limits: ReplayLimits = defaultReplayLimits) {
    this.#limits = validateReplayLimits(limits);
  }

  get firstId(): number {
    return this.#items[this.#head]?.id ?? this.#lastId + 1;
  }

  get lastId(): number {
    return this.#lastId;
  }

  get ackedId(): number {
    return this.#acked;
  }

  get count(): number {
    return this.#items.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  hasRoom(size: number, now: number): boolean {
    if (size > this.#limits.maxBytes) {
      throw new FramewireError('MESSAGE_TOO_LARGE', `event of ${size} bytes exceeds the replay log's maxBytes (${this.#limits.maxBytes})`);
    }
    this.trim(now);
    // Acknowledged events can always make room; unacknowledged ones never do (FW-EV-21).
    let count = this.count;
    let bytes = this.#bytes;
    for (let i = this.#head; i < this.#items.length && (count + 1 > this.#limits.maxEvents || bytes + size > this.#limits.maxBytes); i++) {
      const e = this.#items[i];
      if (e === undefined || e.id > this.#acked) return false;
      count--;
      bytes -= e.bytes.length;
    }
    return count + 1 <= this.#limits.maxEvents && bytes + size <= this.#limits.maxBytes;
  }

  append(event: LoggedEvent): void {
    if (event.id !== this.#lastId + 1) throw new FramewireError('INTERNAL', `replay log: expected id ${this.#lastId + 1}, got ${event.id}`);
    const size = event.bytes.length;
    while (this.count > 0 && (this.count + 1 > this.#limits.maxEvents || this.#bytes + size > this.#limits.maxBytes)) {
      if (!this.#dropOldestAcked()) throw new FramewireError('INTERNAL', 'replay log: append without room (hasRoom was not checked)');
    }
    this.#items.push(event);
    this.#bytes += size;
    this.#lastId = event.id;
  }

  acknowledge(id: number): void {
    if (id > this.#acked) this.#acked = Math.min(id, this.#lastId);
  }

  read(after: number, max: number): readonly LoggedEvent[] {
    const from = Math.max(after + 1, this.firstId);
    if (from > this.#lastId || max <= 0) return [];
    const start = this.#head + (from - this.firstId);
    return this.#items.slice(start, Math.min(this.#items.length, start + max));
  }

  trim(now: number): void {
    const maxAge = this.#limits.maxAgeMs;
    if (maxAge <= 0) return;
    for (;;) {
      const e = this.#items[this.#head];
      if (e === undefined || e.id > this.#acked || now - e.at < maxAge) break;
      this.#dropOldestAcked();
    }
  }

  dropAcknowledged(): void {
    while (this.#dropOldestAcked());
  }

  /** Drops the retained events. */
  dispose(): void {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #dropOldestAcked(): boolean {
    const e = this.#items[this.#head];
    if (e === undefined || e.id > this.#acked) return false;
    this.#items[this.#head++] = undefined as unknown as LoggedEvent;
    this.#bytes -= e.bytes.length;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    return true;
  }
}

/** A replay store that keeps each log in memory. */
export const memoryReplayStore: ReplayStore = {
  create: (_name, _key, limits) => new MemoryReplayLog(limits),
};
