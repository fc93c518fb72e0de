/**
 * What a replay store shared by several server nodes adds to the ReplayStore interface (spec/EVENTS.md
 * §12.13): before an instance is created or attached, the store is asked who runs it (`claim`); an
 * instance another node runs is served from the shared log (`serve`); and the producer's instance
 * hears, through its log, about the subscriber another node serves (RemoteSubscriberHost).
 */

import type { Logger } from 'pino';
import type { FramewireError } from '../errors.ts';
import type { Stream } from '../session/index.ts';
import type { EventCounters } from './producer.ts';
import type { StartMessage } from './protocol.ts';
import type { ReplayLimits, ReplayStore } from './replay-log.ts';

/** The producer's instance, as its shared log sees it: what a subscriber on another node did. */
export interface RemoteSubscriberHost {
  /** A subscriber on another node attached, or renewed its lease of `leaseMs`; false once the instance is gone. */
  remoteAttached(leaseMs: number): boolean;
  /** It acknowledged events (the log already recorded the id): waiting appends re-check. */
  remoteAcknowledged(): void;
  /** Its stream ended without a cancel; `confirmed`: after the end, with the subscriber's DONE (FW-EV-30). */
  remoteDetached(confirmed: boolean): void;
  /** The subscriber cancelled (FW-EV-14): the producer stops. */
  remoteCancelled(reason: string): void;
}

/** What serving an attachment from the shared log needs from the service. */
export interface ServeContext {
  /** The `start` message without `next` (the serving node's own heartbeat interval, FW-EV-40). */
  readonly start: Omit<StartMessage, 't' | 'next'>;
  readonly logger: Logger;
  /** Adds `n` to one of the service's counters. */
  readonly count: (counter: keyof EventCounters, n: number) => void;
}

/** Who runs the instance (principal, name, key), as the shared store answers. */
export type Claim =
  /** Nobody: it is now this node's, and the caller creates it (or calls `release` when it cannot). */
  | {
      readonly kind: 'created';
      /** Gives the key up again: the caller could not create the instance. */
      release(): void;
    }
  /** This node runs it (or ran it a moment ago): the caller's own instances decide. */
  | { readonly kind: 'self' }
  /** No instance, and the caller asked to resume: NOT_FOUND (FW-EV-26). */
  | { readonly kind: 'unknown' }
  /** Another node runs it, or it ended: served from the shared log. */
  | {
      readonly kind: 'remote';
      /** Serves `stream` from the shared log after id `after`, with this node's heartbeats. */
      serve(stream: Stream, after: number, context: ServeContext): void;
    }
  /** It existed but is lost (its node died before it ended): the coded, retryable error to send. */
  | { readonly kind: 'lost'; readonly error: FramewireError };

/** A ReplayStore whose logs every node of a cluster reads. */
export interface SharedReplayStore extends ReplayStore {
  readonly shared: true;
  /** Who runs the instance; `resume`: the subscriber sent `after`. Rejects (INTERNAL, retryable) when the store is unreachable. */
  claim(principal: string, name: string, key: string, limits: ReplayLimits, resume: boolean): Promise<Claim>;
}

export function isSharedReplayStore(store: ReplayStore): store is SharedReplayStore {
  return 'shared' in store && store.shared === true;
}
