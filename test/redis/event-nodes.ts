/**
 * In-process server nodes for the shared replay log's tests (spec/EVENTS.md §12.13): each node is
 * a framewire server with its own EventService over its own RedisReplayStore, all on one
 * redis-server, with fast polls so that losses are noticed within a few hundred ms.
 */

import { EventService, type EventServiceOptions, type Producer } from '../../src/api/events.ts';
import { RedisReplayStore, type RedisReplayStoreOptions } from '../../src/events/redis-replay-store.ts';
import type { Harness } from '../integration/helpers.ts';

export interface EventNode {
  readonly events: EventService;
  readonly store: RedisReplayStore;
  readonly port: number;
}

/** Faster than the defaults, yet a node must stall over a second (the machine is loaded) to be declared dead. */
export const FAST = { pollMs: 200, nodeTtlMs: 1500 } as const;

export async function eventNode(h: Harness, redisUrl: string, register: (events: EventService) => void, options: Partial<EventServiceOptions> = {}, storeOptions: Partial<RedisReplayStoreOptions> = {}): Promise<EventNode> {
  const store = new RedisReplayStore({ redis: redisUrl, ...FAST, ...storeOptions });
  await store.ready;
  const events = new EventService({ store, heartbeatMs: 2000, graceMs: 10_000, ...options });
  register(events);
  stores.push(store);
  const { port } = await h.server({ services: [events] });
  return { events, store, port };
}

/** Nodes A and B on one Redis, each serving the stream `name` with the same producer, so a subscriber can move between them. */
export async function twoEventNodes(h: Harness, redisUrl: string, name: string, producer: Producer, options: Partial<EventServiceOptions> = {}): Promise<[a: EventNode, b: EventNode]> {
  const a = await eventNode(h, redisUrl, (e) => e.handle(name, producer), options);
  const b = await eventNode(h, redisUrl, (e) => e.handle(name, producer), options);
  return [a, b];
}

const stores: RedisReplayStore[] = [];

/** Closes the stores of every node started (after the harness closed their servers). */
export async function closeStores(): Promise<void> {
  await Promise.all(stores.splice(0).map((s) => s.close()));
}
