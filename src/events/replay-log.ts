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

/** Bytes of a log's first segment; each next one is a quarter of what the log retains, up to SEGMENT_MAX_BYTES. */
const SEGMENT_MIN_BYTES = 1024;
const SEGMENT_MAX_BYTES = 64 * 1024;
/** An event at least this large is kept as its own segment, by reference, rather than copied. */
const OWN_SEGMENT_BYTES = 8 * 1024;

/**
 * The embedded default: a bounded window in memory, O(1) append, read and eviction.
 *
 * Retained events hold no JavaScript object each. A window lives for seconds to minutes, long
 * enough for the garbage collector to move every retained event out of the young generation (two
 * copies) and into the old one, where it then dies: at a few thousand events a second that made
 * promotion and old-generation collections the largest source of delivery latency spikes
 * (bench:events, the Redis rows). So the encoded bytes are copied into segments (a few large
 * buffers, written once and never reused: a view handed out by `read` stays valid however long a
 * send queue holds it) and the id, offset, length and time of each event sit in typed-array rings;
 * `read` builds the short-lived LoggedEvent views. A segment is released when its last event is
 * dropped, and an empty log holds no segment and no ring. Events are dropped oldest first and small
 * ones fill segments in id order, so what a log holds beyond its retained bytes and rings (28 bytes
 * an event, up to twice that after growth) is the free end of the segment being filled and the
 * dropped start of the oldest one still in use: each at most one segment, max(1 KiB, a quarter of
 * what the log retained when it was allocated, the event that did not fit) and at most 64 KiB.
 * Counted against the replay budget as EVENT_OVERHEAD_BYTES an event, that stays within the
 * budget for a log of a few events or more; below that, within about 2 KiB a log, which the
 * instance limits bound.
 */
export class MemoryReplayLog implements ReplayLog {
  readonly #limits: ReplayLimits;
  /** Segments, oldest first (released ones are holes); #segments[i] has sequence number #segmentBase + i. */
  #segments: (Uint8Array | undefined)[] = [];
  /** Retained events in each segment. */
  #live: number[] = [];
  #segmentBase = 0;
  /** The segment small events are copied into (its sequence number), and the bytes written into it. */
  #fill = -1;
  #filled = 0;
  /** Ring of the retained events' metadata: slot (#head + k) & #mask holds event firstId + k. */
  #segment = new Int32Array(0);
  #offset = new Int32Array(0);
  #length = new Int32Array(0);
  #at = new Float64Array(0);
  #types: string[] = [];
  #mask = -1;
  #head = 0;
  #count = 0;
  #bytes = 0;
  #lastId = 0;
  #acked = 0;

  constructor(limits: ReplayLimits = defaultReplayLimits) {
    this.#limits = validateReplayLimits(limits);
  }

  get firstId(): number {
    return this.#lastId - this.#count + 1;
  }

  get lastId(): number {
    return this.#lastId;
  }

  get ackedId(): number {
    return this.#acked;
  }

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** @internal Bytes of the segments held (retained bytes and the slack the class comment bounds); for tests. */
  get heldBytes(): number {
    let held = 0;
    for (const segment of this.#segments) held += segment?.length ?? 0;
    return held;
  }

  hasRoom(size: number, now: number): boolean {
    if (size > this.#limits.maxBytes) {
      throw new FramewireError('MESSAGE_TOO_LARGE', `event of ${size} bytes exceeds the replay log's maxBytes (${this.#limits.maxBytes})`);
    }
    this.trim(now);
    // Acknowledged events can always make room; unacknowledged ones never do (FW-EV-21).
    let count = this.#count;
    let bytes = this.#bytes;
    for (let id = this.firstId; count > 0 && (count + 1 > this.#limits.maxEvents || bytes + size > this.#limits.maxBytes); id++) {
      if (id > this.#acked) return false;
      bytes -= this.#length[(this.#head + (id - this.firstId)) & this.#mask] ?? 0;
      count--;
    }
    return count + 1 <= this.#limits.maxEvents && bytes + size <= this.#limits.maxBytes;
  }

  append(event: LoggedEvent): void {
    if (event.id !== this.#lastId + 1) throw new FramewireError('INTERNAL', `replay log: expected id ${this.#lastId + 1}, got ${event.id}`);
    const size = event.bytes.length;
    while (this.#count > 0 && (this.#count + 1 > this.#limits.maxEvents || this.#bytes + size > this.#limits.maxBytes)) {
      if (!this.#dropOldestAcked()) throw new FramewireError('INTERNAL', 'replay log: append without room (hasRoom was not checked)');
    }
    if (this.#count === this.#mask + 1) this.#grow();
    const slot = (this.#head + this.#count) & this.#mask;
    this.#store(event.bytes, slot);
    this.#at[slot] = event.at;
    // Equal types share one string, so a producer that builds its type anew for each event does not retain a string per event.
    const previous = this.#count > 0 ? this.#types[(slot - 1) & this.#mask] : undefined;
    this.#types[slot] = previous === event.type ? previous : event.type;
    this.#count++;
    this.#bytes += size;
    this.#lastId = event.id;
  }

  acknowledge(id: number): void {
    if (id > this.#acked) this.#acked = Math.min(id, this.#lastId);
  }

  read(after: number, max: number): readonly LoggedEvent[] {
    const first = this.firstId;
    const from = Math.max(after + 1, first);
    const n = Math.min(max, this.#lastId - from + 1);
    if (n <= 0) return [];
    const events: LoggedEvent[] = new Array<LoggedEvent>(n);
    for (let k = 0; k < n; k++) {
      const slot = (this.#head + (from - first) + k) & this.#mask;
      const segment = this.#segments[(this.#segment[slot] ?? -1) - this.#segmentBase];
      if (segment === undefined) throw new FramewireError('INTERNAL', `replay log: the segment of event ${from + k} was released`);
      const offset = this.#offset[slot] ?? 0;
      events[k] = { id: from + k, type: this.#types[slot] ?? '', bytes: segment.subarray(offset, offset + (this.#length[slot] ?? 0)), at: this.#at[slot] ?? 0 };
    }
    return events;
  }

  trim(now: number): void {
    const maxAge = this.#limits.maxAgeMs;
    if (maxAge <= 0) return;
    while (this.#count > 0 && this.firstId <= this.#acked && now - (this.#at[this.#head] ?? 0) >= maxAge) this.#dropOldestAcked();
  }

  dropAcknowledged(): void {
    while (this.#dropOldestAcked());
  }

  /** Drops the retained events. */
  dispose(): void {
    this.#clear();
  }

  /** Releases segments and rings: nothing is retained (ids go on from lastId). */
  #clear(): void {
    this.#segmentBase += this.#segments.length;
    this.#segments = [];
    this.#live = [];
    this.#fill = -1;
    this.#filled = 0;
    this.#types = [];
    this.#segment = new Int32Array(0);
    this.#offset = new Int32Array(0);
    this.#length = new Int32Array(0);
    this.#at = new Float64Array(0);
    this.#mask = -1;
    this.#head = 0;
    this.#count = 0;
    this.#bytes = 0;
  }

  /** Puts an event's bytes where slot records them: copied into the segment being filled, or a large one as a segment of its own. */
  #store(bytes: Uint8Array, slot: number): void {
    const size = bytes.length;
    if (size >= OWN_SEGMENT_BYTES) {
      // By reference when the event owns its buffer; a view into a larger one is copied, not to retain the rest.
      this.#record(slot, this.#addSegment(bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()), 0, size);
      return;
    }
    let fill = this.#segments[this.#fill - this.#segmentBase];
    if (fill === undefined || this.#filled + size > fill.length) {
      const full = this.#fill;
      fill = new Uint8Array(Math.max(size, Math.min(SEGMENT_MAX_BYTES, Math.max(SEGMENT_MIN_BYTES, this.#bytes >> 2))));
      this.#fill = this.#addSegment(fill);
      this.#filled = 0;
      this.#releaseIfEmpty(full);
    }
    fill.set(bytes, this.#filled);
    this.#record(slot, this.#fill, this.#filled, size);
    this.#filled += size;
  }

  /** Appends a segment; returns its sequence number. */
  #addSegment(segment: Uint8Array): number {
    this.#segments.push(segment);
    this.#live.push(0);
    return this.#segmentBase + this.#segments.length - 1;
  }

  /** Releases segment `seq` when no retained event is in it and it is not the one being filled. */
  #releaseIfEmpty(seq: number): void {
    const i = seq - this.#segmentBase;
    if (i < 0 || this.#live[i] !== 0 || seq === this.#fill) return;
    this.#segments[i] = undefined;
    let released = 0;
    while (released < this.#segments.length && this.#segments[released] === undefined) released++;
    if (released > 0) {
      this.#segments.splice(0, released);
      this.#live.splice(0, released);
      this.#segmentBase += released;
    }
  }

  #record(slot: number, segment: number, offset: number, length: number): void {
    this.#live[segment - this.#segmentBase] = (this.#live[segment - this.#segmentBase] ?? 0) + 1;
    this.#segment[slot] = segment;
    this.#offset[slot] = offset;
    this.#length[slot] = length;
  }

  /** Doubles the rings, keeping the retained events in order from slot 0. */
  #grow(): void {
    const capacity = Math.max(16, 2 * (this.#mask + 1));
    const order = (ring: Int32Array | Float64Array, grown: Int32Array | Float64Array): void => {
      for (let k = 0; k < this.#count; k++) grown[k] = ring[(this.#head + k) & this.#mask] ?? 0;
    };
    const segment = new Int32Array(capacity);
    const offset = new Int32Array(capacity);
    const length = new Int32Array(capacity);
    const at = new Float64Array(capacity);
    order(this.#segment, segment);
    order(this.#offset, offset);
    order(this.#length, length);
    order(this.#at, at);
    const types = new Array<string>(capacity).fill('');
    for (let k = 0; k < this.#count; k++) types[k] = this.#types[(this.#head + k) & this.#mask] ?? '';
    this.#segment = segment;
    this.#offset = offset;
    this.#length = length;
    this.#at = at;
    this.#types = types;
    this.#mask = capacity - 1;
    this.#head = 0;
  }

  #dropOldestAcked(): boolean {
    if (this.#count === 0 || this.firstId > this.#acked) return false;
    const slot = this.#head;
    this.#bytes -= this.#length[slot] ?? 0;
    this.#types[slot] = '';
    this.#head = (slot + 1) & this.#mask;
    this.#count--;
    if (this.#count === 0) {
      // An empty log holds nothing: no segment a burst once grew, no ring as long as the window once was.
      this.#clear();
      return true;
    }
    const seq = this.#segment[slot] ?? -1;
    this.#live[seq - this.#segmentBase] = (this.#live[seq - this.#segmentBase] ?? 1) - 1;
    this.#releaseIfEmpty(seq);
    return true;
  }
}

/** A replay store that keeps each log in memory. */
export const memoryReplayStore: ReplayStore = {
  create: (_name, _key, limits) => new MemoryReplayLog(limits),
};
