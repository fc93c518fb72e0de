/**
 * `framewire/events`: resumable event streams (spec/EVENTS.md). The server side is an
 * {@link EventService} with named producers; the client side is {@link subscribe} (or
 * {@link subscribeWith} over connections you make yourself). Several server nodes share the
 * instances' replay logs through Redis with `new EventService({ store: new RedisReplayStore({ redis }) })`
 * (spec/EVENTS.md §12.13).
 *
 * @packageDocumentation
 */
export { subscribe, type EventSubscribeOptions } from '../events-client.ts';
export {
  EVENT_OVERHEAD_BYTES,
  EventService,
  MemoryReplayLog,
  RedisReplayStore,
  ReplayBudget,
  Subscription,
  defaultEventLimits,
  defaultReconnectPolicy,
  defaultReplayLimits,
  eventDefaults,
  formatResumeKey,
  memoryReplayStore,
  redisReplayDefaults,
  parseResumeKey,
  subscribeWith,
  type Claim,
  type CoalesceOptions,
  type DeliveredEvent,
  type EventCounters,
  type EventLimits,
  type EventOutcome,
  type EventServiceOptions,
  type EventSummary,
  type HandleOptions,
  type LoggedEvent,
  type ProducedEvent,
  type Producer,
  type ProducerContext,
  type ProducerEnd,
  type RemoteSubscriberHost,
  type RedisReplayStoreOptions,
  type ReplayLimits,
  type ReplayLog,
  type ReplayStore,
  type ServeContext,
  type SharedReplayStore,
  type ResumePoint,
  type SubscribeOptions,
  type SubscriberStats,
} from '../events/index.ts';
