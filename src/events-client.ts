/**
 * L5: `subscribe()`, the convenience client of the event-stream profile. Each subscription owns
 * its framewire connection(s): it connects, reconnects with backoff and resumes by itself.
 *
 *   const sub = subscribe('tokens', { port, params: { prompt } });
 *   for await (const ev of sub) render(ev);
 *   const outcome = await sub.outcome;
 */

import { connect, type ConnectOptions } from './client.ts';
import type { Connection } from './connection.ts';
import { subscribeWith, type SubscribeOptions, type SubscriberConnection, type Subscription } from './events/index.ts';

export type EventSubscribeOptions = SubscribeOptions & Omit<ConnectOptions, 'signal' | 'onStream' | 'logger'>;

/** Adapts a framewire Connection to what the subscriber needs. */
export function subscriberConnection(connection: Connection): SubscriberConnection {
  return {
    open: (options) => connection.open(options),
    get isOpen() {
      return connection.session.isOpen;
    },
    close: () => {
      connection.close();
    },
  };
}

export function subscribe(name: string, options: EventSubscribeOptions): Subscription {
  const { from, key, params, signal, reconnect, heartbeatTimeoutMs, logger, ...connectOptions } = options;
  // A clock drives the subscriber's timers and the connections' alike.
  const clock = connectOptions.clock;
  const sub: SubscribeOptions = Object.fromEntries(Object.entries({ from, key, params, signal, reconnect, heartbeatTimeoutMs, logger, clock }).filter(([, v]) => v !== undefined));
  return subscribeWith(
    async (abort) => subscriberConnection(await connect({ ...connectOptions, signal: abort, ...(logger === undefined ? {} : { logger }) })),
    name,
    sub,
  );
}
