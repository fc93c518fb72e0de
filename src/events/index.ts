/** L3 events: the resumable event-stream profile (spec/EVENTS.md). */
export { EventService, eventDefaults, type EventServiceOptions } from './service.ts';
export { EventInstance, type InstanceStateName } from './instance.ts';
export { ReplayBudget } from './budget.ts';
export { defaultEventLimits, EVENT_OVERHEAD_BYTES, type EventLimits } from './limits.ts';
export { defaultReconnectPolicy, Subscription, subscribeWith, type DeliveredEvent, type EventOutcome, type SubscribeOptions, type SubscriberStats } from './subscriber.ts';
// The shared store's parts (its log, the remote attachment, the scripts) stay internal.
export { RedisReplayStore, redisReplayDefaults, type RedisReplayStoreOptions } from './redis-replay-store.ts';
export type { ProducerEnd } from './producer-pump.ts';
export { isSharedReplayStore, type Claim, type RemoteSubscriberHost, type ServeContext, type SharedReplayStore } from './replay-cluster.ts';
export { formatResumeKey, parseResumeKey, type ResumePoint } from './resume-key.ts';
export { MemoryReplayLog, memoryReplayStore, defaultReplayLimits, type LoggedEvent, type ReplayLimits, type ReplayLog, type ReplayStore } from './replay-log.ts';
export type { CoalesceOptions, EventCounters, EventSummary, HandleOptions, ProducedEvent, Producer, ProducerContext } from './producer.ts';
export { SUBSCRIBE_KIND } from './protocol.ts';
