/**
 * L5: `subscribe()`, the convenience client of the event-stream profile. Each subscription owns
 * its framewire connection(s): it connects, reconnects with backoff and resumes by itself.
 *
 *   const sub = subscribe('tokens', { port, params: { prompt } });
 *   for await (const ev of sub) render(ev);
 *   const outcome = await sub.outcome;
 */

import { connect, type ConnectOptions } from './client.ts';
import { subscribeWith, type SubscribeOptions, type Subscription } from './events/index.ts';

/** Options of `subscribe()`: the subscription options plus where and how to connect. */
export type EventSubscribeOptions = SubscribeOptions & Omit<ConnectOptions, 'signal' | 'onStream' | 'logger'>;

/**
 * Subscribes to the event stream `name` of a server: iterate the returned subscription for the events, in
 * order, across reconnects (spec/EVENTS.md).
 */
export function subscribe(name: string, options: EventSubscribeOptions): Subscription {
  const { from, key, params, signal, reconnect, heartbeatTimeoutMs, logger, ...connectOptions } = options;
  // A clock drives the subscriber's timers and the connections' alike.
  const clock = connectOptions.clock;
  const sub: SubscribeOptions = Object.fromEntries(Object.entries({ from, key, params, signal, reconnect, heartbeatTimeoutMs, logger, clock }).filter(([, v]) => v !== undefined));
  // A Connection is what the subscriber needs from a connection: no adapter between them.
  return subscribeWith((abort) => connect({ ...connectOptions, signal: abort, ...(logger === undefined ? {} : { logger }) }), name, sub);
}
