/**
 * The replay store of a cluster (issue 19, spec/EVENTS.md §12.13): event-stream instances whose logs
 * live in Redis Streams, so a subscriber resumes on any node. The producer runs on the node where
 * the instance started (RedisReplayLog); any other node serves its subscribers from the log
 * (RemoteAttachment). Per node, two connections: one for commands and one for pub/sub (its own
 * channel, where subscribers served elsewhere send acks, cancels and leases, and the tail channels
 * of the instances it serves).
 *
 * Liveness: this node renews `<p>node:<id>:alive` (TTL nodeTtlMs) every nodeTtlMs/3. A node that
 * serves an instance of a node whose key expired ends that subscription with PRODUCER_FAILED
 * (retryable, details.reason "producer_node_lost") within nodeTtlMs + pollMs of the death.
 */

import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { checkInteger } from '../arguments.ts';
import { FramewireError } from '../errors.ts';
import { openRedis } from '../redis-connection.ts';
import type { Stream } from '../session/index.ts';
import type { Claim, ServeContext, SharedReplayStore } from './replay-cluster.ts';
import { validateReplayLimits, type ReplayLimits, type ReplayLog } from './replay-log.ts';
import { aliveKey, instanceKeys, nodeChannel, scripts, type InstanceKeys } from './redis-log-scripts.ts';
import { decodeTail } from './redis-tail.ts';
import { APPEND_WINDOW, RedisReplayLog, unavailable, type ControlMessage } from './redis-replay-log.ts';
import { RemoteAttachment, type FollowContext, type InstanceState } from './remote-attachment.ts';

/** Options of `RedisReplayStore`: the Redis URL, the key prefix, liveness and polling periods, the keys' TTL. */
export interface RedisReplayStoreOptions {
  /** redis://host:port: the store opens its two connections and closes them with `close()`. */
  readonly redis: string;
  /** Prefix of every key and channel. Default `fw:`. */
  readonly keyPrefix?: string;
  /** TTL of this node's liveness key: how long after its death its subscribers elsewhere may wait, less pollMs. Default 3000. */
  readonly nodeTtlMs?: number;
  /** How often a serving node reads an instance's state and renews its attachment. Default 1000. */
  readonly pollMs?: number;
  /** TTL of an instance's keys, renewed while it lives: a backstop for a node that died. Default 10 min. */
  readonly keyTtlMs?: number;
  readonly logger?: Logger;
}

/** The defaults of `RedisReplayStoreOptions` (milliseconds). */
export const redisReplayDefaults = { keyPrefix: 'fw:', nodeTtlMs: 3000, pollMs: 1000, keyTtlMs: 10 * 60_000 } as const;

export class RedisReplayStore implements SharedReplayStore {
  readonly shared = true;
  /** This node's id in the cluster: random per process. */
  readonly node = randomBytes(8).toString('hex');
  /** Connected, subscribed to this node's channel, and announced alive. */
  readonly ready: Promise<void>;
  readonly #o: Required<Omit<RedisReplayStoreOptions, 'logger'>>;
  readonly #log: Logger;
  readonly #cmd: Redis;
  readonly #sub: Redis;
  /** Instances whose producer runs here, by key digest. */
  readonly #producers = new Map<string, RedisReplayLog>();
  /** Attachments served here, by token (for `supersede`). */
  readonly #attachments = new Map<string, () => void>();
  /** Tail channels subscribed here, and who listens. */
  readonly #tails = new Map<string, Set<(message: Buffer) => void>>();
  readonly #timer: NodeJS.Timeout;
  #ticks = 0;

  constructor(options: RedisReplayStoreOptions) {
    this.#o = { ...redisReplayDefaults, ...options };
    for (const k of ['nodeTtlMs', 'pollMs', 'keyTtlMs'] as const) checkInteger(`redis replay store: ${k}`, this.#o[k], 10);
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ store: 'redis-replay', node: this.node });
    this.#cmd = openRedis(options.redis, { connectionName: `fw-events-${this.node}` });
    this.#sub = openRedis(options.redis, { connectionName: `fw-events-sub-${this.node}` });
    // As Buffers: a tail message carries an event's bytes.
    this.#sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      this.#onMessage(channel.toString(), message);
    });
    this.ready = Promise.all([this.#sub.subscribe(nodeChannel(this.#o.keyPrefix, this.node)), this.#beat()]).then(() => undefined);
    this.ready.catch(() => undefined);
    this.#timer = setInterval(() => {
      void this.#beat();
    }, Math.max(1, Math.floor(this.#o.nodeTtlMs / 3)));
    this.#timer.unref();
  }

  /** @internal The command connection (tests count its round trips). */
  get redis(): Redis {
    return this.#cmd;
  }

  create(name: string, key: string, limits: ReplayLimits, principal = ''): ReplayLog {
    return this.createLog(name, key, limits, principal);
  }

  /** @internal `create` with the Redis-side type (tests read its keys); kept out of the public types, which must not depend on ioredis's. */
  createLog(name: string, key: string, limits: ReplayLimits, principal = ''): RedisReplayLog {
    const keys = instanceKeys(this.#o.keyPrefix, principal, name, key);
    const log: RedisReplayLog = new RedisReplayLog(validateReplayLimits(limits), {
      redis: this.#cmd,
      node: this.node,
      keys,
      keyTtlMs: this.#o.keyTtlMs,
      leaseMs: 3 * this.#o.pollMs,
      send: (node, m) => {
        this.#send(node, m);
      },
      onDispose: () => {
        if (this.#producers.get(keys.hash) === log) this.#producers.delete(keys.hash);
      },
    });
    this.#producers.set(keys.hash, log);
    return log;
  }

  async claim(principal: string, name: string, key: string, limits: ReplayLimits, resume: boolean): Promise<Claim> {
    validateReplayLimits(limits);
    const o = this.#o;
    const keys = instanceKeys(o.keyPrefix, principal, name, key);
    let r: (string | null)[];
    try {
      await this.ready;
      r = (await scripts.claim.run(this.#cmd, [keys.meta, keys.log], [this.node, name, key, o.keyTtlMs, o.keyPrefix, resume ? 'resume' : 'new'])) as (string | null)[];
    } catch (error) {
      throw unavailable(error);
    }
    const [kind, owner, last, first, ended] = r;
    const state = { last: Number(last ?? 0), first: Number(first ?? 1), ended: ended === '1' };
    switch (kind ?? 'unknown') {
      case 'created':
        return {
          kind: 'created',
          release: () => {
            scripts.drop.run(this.#cmd, [keys.meta, keys.log], [this.node]).catch(() => undefined);
          },
        };
      case 'remote':
        return { kind: 'remote', serve: (stream, after, context) => { this.#serve(keys, owner ?? '', state, stream, after, context); } };
      case 'self':
        return { kind: 'self' };
      case 'lost':
        return {
          kind: 'lost',
          error: new FramewireError('PRODUCER_FAILED', `the node running event stream "${name}" (key ${key}) stopped before the stream ended; start a new subscription`, {
            details: { key, reason: 'producer_node_lost', last: state.last },
          }),
        };
      default:
        return { kind: 'unknown' };
    }
  }

  /** Stops renewing this node's liveness and closes both connections. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#cmd.del(aliveKey(this.#o.keyPrefix, this.node)).catch(() => undefined);
    this.#cmd.disconnect();
    this.#sub.disconnect();
  }

  #serve(keys: InstanceKeys, owner: string, state: InstanceState, stream: Stream, after: number, context: ServeContext): void {
    if (after > state.last && after <= state.last + APPEND_WINDOW + 1 && !state.ended) {
      // The producer's node delivers an event before its pipelined append reaches Redis (at most
      // APPEND_WINDOW + 1 unconfirmed), so a subscriber that moved fast may be that far ahead of
      // the log: wait for the log (§12.13, FW-EV-100). Further ahead is never in flight.
      void this.#awaitLog(keys, after, state).then((reached) => {
        if (stream.ended) return;
        if (reached.kind === 'behind') {
          stream.fail('TIMEOUT', `resume after ${after}, but the shared log reached only ${reached.state.last} within ${this.#o.pollMs} ms; retry`, { retryable: true, details: { key: context.start.key, last: reached.state.last, reason: 'log_behind' } });
          return;
        }
        this.#serveFrom(keys, owner, reached.state, stream, after, context);
      }).catch((error: unknown) => {
        const e = unavailable(error);
        stream.fail(e.code, e.message, { retryable: e.retryable });
      });
      return;
    }
    this.#serveFrom(keys, owner, state, stream, after, context);
  }

  /**
   * Waits up to pollMs for the log of a live instance to reach `after`, woken by the append's tail
   * notification: `reached` with the state read then; `behind` if the owner is alive, the instance
   * has not ended and the log is still short; rejects if Redis does not answer; `final` (ended, owner lost,
   * log gone): the state as it is, for the ordinary checks.
   */
  async #awaitLog(keys: InstanceKeys, after: number, state: InstanceState): Promise<{ kind: 'reached' | 'behind' | 'final'; state: InstanceState }> {
    const tail = this.#followContext(keys, '').tail;
    let wake: () => void = () => undefined;
    let notifications = 0;
    let unsubscribe: () => void = () => undefined;
    const deadline = Date.now() + this.#o.pollMs;
    try {
      unsubscribe = await tail(keys.tail, (m) => {
        const t = decodeTail(m);
        if (t?.kind === 'events' && (t.events[t.events.length - 1]?.id ?? 0) < after) return;
        notifications++;
        wake();
      });
      for (;;) {
        const seen = notifications;
        // Read after subscribing, so an append between the claim and the subscription is not missed.
        const r = (await scripts.poll.run(this.#cmd, [keys.meta], [this.#o.keyPrefix])) as (string | number | null)[];
        if (r.length === 0) return { kind: 'final', state };
        const current = { last: Number(r[1] ?? 0), first: Number(r[2] ?? 1), ended: r[3] === '1' };
        if (current.last >= after) return { kind: 'reached', state: current };
        if (current.ended || r[4] === 0) return { kind: 'final', state: current };
        const left = deadline - Date.now();
        if (left <= 0) return { kind: 'behind', state: current };
        if (notifications !== seen) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      unsubscribe();
    }
  }

  #serveFrom(keys: InstanceKeys, owner: string, state: InstanceState, stream: Stream, after: number, context: ServeContext): void {
    const details = { key: context.start.key, earliest: state.first, last: state.last };
    if (after > state.last) {
      stream.fail('PROTOCOL_ERROR', `resume after ${after}, but the last event id is ${state.last}`, { details: { key: details.key, last: state.last } });
      return;
    }
    if (after + 1 < state.first) {
      stream.fail('RESUME_GAP', `events after ${after} are no longer retained; the earliest available is ${state.first}`, { details });
      return;
    }
    const attachment = new RemoteAttachment(this.#followContext(keys, owner), stream, state, after, context.logger);
    context.logger.debug({ after, last: state.last, owner }, 'subscriber attached to an instance of another node');
    void attachment.run(after, context, state.ended);
  }

  #followContext(keys: InstanceKeys, owner: string): FollowContext {
    return {
      redis: this.#cmd,
      prefix: this.#o.keyPrefix,
      node: this.node,
      keys,
      owner,
      pollMs: this.#o.pollMs,
      unreachableMs: this.#o.nodeTtlMs,
      send: (node, m) => {
        this.#send(node, m);
      },
      tail: async (channel, onMessage) => {
        const existing = this.#tails.get(channel);
        const set = existing ?? new Set();
        // Listening before the subscription is confirmed: a message may arrive in the same read as
        // the confirmation, before this function resumes, and must not be lost.
        set.add(onMessage);
        const unsubscribe = (): void => {
          set.delete(onMessage);
          if (set.size > 0 || this.#tails.get(channel) !== set) return;
          this.#tails.delete(channel);
          this.#sub.unsubscribe(channel).catch(() => undefined);
        };
        if (existing === undefined) {
          this.#tails.set(channel, set);
          try {
            await this.#sub.subscribe(channel);
          } catch (error) {
            unsubscribe();
            throw error;
          }
        }
        return unsubscribe;
      },
      register: (token, superseded) => {
        this.#attachments.set(token, superseded);
        return () => this.#attachments.delete(token);
      },
    };
  }

  #send(node: string, message: ControlMessage): void {
    this.#cmd.publish(nodeChannel(this.#o.keyPrefix, node), JSON.stringify(message)).catch(() => undefined);
  }

  #onMessage(channel: string, message: Buffer): void {
    const tail = this.#tails.get(channel);
    if (tail !== undefined) {
      for (const listener of tail) listener(message);
      return;
    }
    let m: ControlMessage;
    try {
      m = JSON.parse(message.toString()) as ControlMessage;
    } catch {
      this.#log.warn({ channel }, 'unreadable control message ignored');
      return;
    }
    if (m.op === 'supersede') this.#attachments.get(m.token)?.();
    else this.#producers.get(m.h)?.onControl(m);
  }

  /** Renews this node's liveness; every minute or so, the keys of its live instances too. */
  async #beat(): Promise<void> {
    const o = this.#o;
    try {
      await this.#cmd.set(aliveKey(o.keyPrefix, this.node), '1', 'PX', o.nodeTtlMs);
      if (++this.#ticks % Math.max(1, Math.floor(o.keyTtlMs / 4 / Math.max(1, Math.floor(o.nodeTtlMs / 3)))) !== 0) return;
      for (const log of this.#producers.values()) await scripts.renew.run(this.#cmd, [log.keys.meta, log.keys.log], [this.node, o.keyTtlMs]);
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, 'cannot renew the liveness of this node in Redis');
    }
  }
}
