/**
 * The replay log of an instance whose producer runs on this node, shared through Redis Streams
 * (spec/EVENTS.md §12.13). This node keeps the retained window in memory, exactly as the local log
 * does (MemoryReplayLog: the same limits and the same decisions, FW-EV-20..22), so its own
 * subscribers read at memory speed; every append is mirrored into the instance's Redis stream by
 * one script that also trims the stream to the same first id (XADD MINID), so Redis retains what
 * this node retains — by count, bytes and age — and never more. Other nodes serve resumes from that
 * stream (remote-attachment.ts).
 *
 * Appends are batched and pipelined on the store's connection: the events appended in one turn of
 * the event loop (a producer's burst: its emits resolve in microtasks) go to Redis together, in one
 * script call sent on process.nextTick, so a burst costs one round trip, one tail message and one
 * wake-up of every serving node instead of one per event (at most APPEND_BATCH_BYTES of events a
 * call). `append` returns at once while fewer than APPEND_WINDOW events are unconfirmed, and a
 * promise of the newest batch beyond that, so a fast producer waits for Redis and memory stays
 * bounded. A failed append (Redis unreachable, the log lost in a restart, the instance taken by
 * another node) fails the log: ids must stay contiguous in Redis, so nothing is appended after a
 * failure, and the producer's next emit rejects with the coded error.
 */

import type { Redis } from 'ioredis';
import { FramewireError } from '../errors.ts';
import type { ProducerEnd } from './producer-pump.ts';
import type { RemoteSubscriberHost } from './replay-cluster.ts';
import { MemoryReplayLog, type LoggedEvent, type ReplayLimits, type ReplayLog } from './replay-log.ts';
import { encodeEnd, scripts, type InstanceKeys } from './redis-log-scripts.ts';
import { encodeTailEvents } from './redis-tail.ts';

/** Unconfirmed appends before `append` makes the producer wait for Redis. */
export const APPEND_WINDOW = 64;

/**
 * Encoded bytes of events one append call carries at most (a larger event goes alone): bounds the
 * script's arguments and the tail message every serving node receives (Redis disconnects a
 * subscriber whose output buffer passes its pubsub limit, 8 MiB for a minute by default).
 */
export const APPEND_BATCH_BYTES = 256 * 1024;

/** Events appended in this turn of the event loop, not yet sent to Redis. */
interface PendingBatch {
  readonly events: LoggedEvent[];
  bytes: number;
  /** Settles #newest once Redis answered the call carrying the batch (or it was not sent: the log failed). */
  readonly settle: () => void;
}

/** What subscribers served by other nodes tell the producer's node (its pub/sub channel). */
export type ControlMessage =
  | { readonly op: 'attach'; readonly h: string; readonly token: string; readonly node: string; readonly acked: number }
  | { readonly op: 'ack'; readonly h: string; readonly token: string; readonly id: number }
  | { readonly op: 'detach'; readonly h: string; readonly token: string; readonly confirmed: boolean }
  | { readonly op: 'cancel'; readonly h: string; readonly token: string; readonly reason: string }
  /** To the serving node: its attachment was superseded (FW-EV-27). */
  | { readonly op: 'supersede'; readonly token: string };

export interface ProducerLogContext {
  readonly redis: Redis;
  readonly node: string;
  readonly keys: InstanceKeys;
  /** TTL of the instance's keys, renewed by each append and by the store while the instance lives. */
  readonly keyTtlMs: number;
  /** How long a remote attachment lasts without a renewal (the serving node renews it every pollMs). */
  readonly leaseMs: number;
  readonly send: (node: string, message: ControlMessage) => void;
  readonly onDispose: () => void;
}

export class RedisReplayLog implements ReplayLog {
  readonly #mem: MemoryReplayLog;
  readonly #c: ProducerLogContext;
  #host: RemoteSubscriberHost | undefined;
  /** The attachment another node serves, if any. */
  #remote: { readonly node: string; readonly token: string } | undefined;
  #unconfirmed = 0;
  #newest: Promise<void> = Promise.resolve();
  #batch: PendingBatch | undefined;
  #failure: FramewireError | undefined;
  /** The first id Redis was last told to retain. */
  #redisFirst = 1;
  #disposed = false;

  constructor(limits: ReplayLimits, context: ProducerLogContext) {
    this.#mem = new MemoryReplayLog(limits);
    this.#c = context;
  }

  get keys(): InstanceKeys {
    return this.#c.keys;
  }

  get firstId(): number {
    return this.#mem.firstId;
  }

  get lastId(): number {
    return this.#mem.lastId;
  }

  get ackedId(): number {
    return this.#mem.ackedId;
  }

  get count(): number {
    return this.#mem.count;
  }

  get bytes(): number {
    return this.#mem.bytes;
  }

  hasRoom(size: number, now: number): boolean {
    if (this.#failure !== undefined) throw this.#failure;
    const room = this.#mem.hasRoom(size, now);
    this.#syncTrim();
    return room;
  }

  append(event: LoggedEvent): void | Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    this.#mem.append(event);
    this.#redisFirst = this.#mem.firstId;
    this.#unconfirmed++;
    const size = event.bytes.byteLength;
    if (this.#batch !== undefined && this.#batch.bytes + size > APPEND_BATCH_BYTES) this.#flush();
    const batch = (this.#batch ??= this.#newBatch());
    batch.events.push(event);
    batch.bytes += size;
    if (this.#unconfirmed <= APPEND_WINDOW) return undefined;
    return this.#newest;
  }

  #newBatch(): PendingBatch {
    let settle: () => void = () => undefined;
    const sent = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.#newest = sent.then(() => {
      if (this.#failure !== undefined) throw this.#failure;
    });
    this.#newest.catch(() => undefined);
    process.nextTick(this.#flushScheduled);
    return { events: [], bytes: 0, settle };
  }

  readonly #flushScheduled = (): void => {
    this.#flush();
  };

  /**
   * Sends the pending batch, in order with what was sent before it: every other call of this log
   * (trim, end, drop) flushes first. The stream is trimmed to what this node retains when the
   * batch is sent (#redisFirst), so a trim that happened while it waited rides along.
   */
  #flush(): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    this.#batch = undefined;
    const n = batch.events.length;
    if (this.#failure !== undefined || this.#disposed) {
      this.#unconfirmed -= n;
      batch.settle();
      return;
    }
    const c = this.#c;
    const firstId = batch.events[0]?.id ?? 0;
    void scripts.append.run(c.redis, [c.keys.meta, c.keys.log], [c.node, c.keyTtlMs, c.keys.tail, this.#redisFirst, encodeTailEvents(batch.events)]).then(
      (r) => {
        if (r !== 1) this.#fail(appendRefused(r, firstId));
      },
      (error: unknown) => {
        this.#fail(unavailable(error));
      },
    ).finally(() => {
      this.#unconfirmed -= n;
      batch.settle();
    });
  }

  acknowledge(id: number): void {
    this.#mem.acknowledge(id);
  }

  read(after: number, max: number): readonly LoggedEvent[] {
    return this.#mem.read(after, max);
  }

  trim(now: number): void {
    this.#mem.trim(now);
    this.#syncTrim();
  }

  dropAcknowledged(): void {
    this.#mem.dropAcknowledged();
    this.#syncTrim();
  }

  recordEnd(end: ProducerEnd): void {
    if (this.#failure !== undefined || this.#disposed) return;
    this.#flush();
    const c = this.#c;
    scripts.end.run(c.redis, [c.keys.meta, c.keys.log], [c.node, this.#mem.lastId, encodeEnd(end), c.keyTtlMs, c.keys.tail]).catch(() => undefined);
  }

  bind(host: RemoteSubscriberHost): void {
    this.#host = host;
  }

  attachedLocally(): void {
    const r = this.#remote;
    if (r === undefined) return;
    this.#remote = undefined;
    this.#c.send(r.node, { op: 'supersede', token: r.token });
  }

  /** What a subscriber on another node did (the store routes its node's channel here). */
  onControl(m: ControlMessage): void {
    const host = this.#host;
    if (host === undefined || m.op === 'supersede') return;
    if (m.op === 'attach') {
      const old = this.#remote;
      if (old?.token !== m.token) {
        if (old !== undefined) this.#c.send(old.node, { op: 'supersede', token: old.token });
        this.#remote = { node: m.node, token: m.token };
      }
      if (!host.remoteAttached(this.#c.leaseMs)) {
        this.#c.send(m.node, { op: 'supersede', token: m.token });
        return;
      }
      this.#acknowledged(m.acked);
      return;
    }
    if (this.#remote?.token !== m.token) return;
    switch (m.op) {
      case 'ack':
        this.#acknowledged(m.id);
        return;
      case 'detach':
        this.#remote = undefined;
        host.remoteDetached(m.confirmed);
        return;
      case 'cancel':
        this.#remote = undefined;
        host.remoteCancelled(m.reason);
        return;
    }
  }

  dispose(): Promise<void> {
    if (this.#disposed) return Promise.resolve();
    this.#flush();
    this.#disposed = true;
    this.#mem.dispose();
    this.#c.onDispose();
    const c = this.#c;
    return scripts.drop.run(c.redis, [c.keys.meta, c.keys.log], [c.node]).then(
      () => undefined,
      () => undefined,
    );
  }

  #acknowledged(id: number): void {
    if (id <= this.#mem.ackedId) return;
    this.#mem.acknowledge(id);
    this.#host?.remoteAcknowledged();
  }

  /** Tells Redis what this node dropped without an append (age, the replay budget), in order with the appends. */
  #syncTrim(): void {
    const first = this.#mem.firstId;
    if (first <= this.#redisFirst || this.#failure !== undefined || this.#disposed) return;
    this.#redisFirst = first;
    // A batch waiting to be sent carries the trim (its call trims to #redisFirst).
    if (this.#batch !== undefined) return;
    const c = this.#c;
    scripts.trim.run(c.redis, [c.keys.meta, c.keys.log], [c.node, first]).catch(() => undefined);
  }

  #fail(error: FramewireError): void {
    this.#failure ??= error;
  }
}

function appendRefused(r: unknown, id: number): FramewireError {
  const why =
    r === -1 ? 'is gone from Redis (restarted without persistence, or expired)'
    : r === 0 ? 'was taken over by another node'
    : r === -3 ? `refused the events from ${id}: not in the layout of the tail channel`
    : `refused event ${id}: an earlier append failed`;
  return new FramewireError('PRODUCER_FAILED', `the shared replay log ${why}`, { details: { reason: 'log_lost' } });
}

export function unavailable(cause: unknown): FramewireError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new FramewireError('INTERNAL', `the shared replay log (Redis) is unavailable: ${message}`, { cause });
}
