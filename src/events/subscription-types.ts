/**
 * The public shapes of a subscription (spec/EVENTS.md §12.9): its options, the events it delivers,
 * how it ends and its counters. Apart from the Subscription class so that the class is the
 * behaviour only.
 */

import type { Logger } from 'pino';
import type { FramewireError } from '../errors.ts';
import type { Clock, RetryPolicy } from '../session/index.ts';
import type { ControlMap } from '../wire/index.ts';

/**
 * At most 10 failed attempts in a row without a `start`; after a lost stream that had started, the
 * first attempt at once, then 25–50 ms doubling to 2 s (FW-EV-90); never later than the server's
 * grace period after the loss.
 */
export const defaultReconnectPolicy: RetryPolicy = { maxAttempts: 10, initialDelayMs: 50, maxDelayMs: 2000 };

/**
 * Options of a subscription: resume point, instance key, params, abort signal, reconnects and heartbeat
 * timeout.
 */
export interface SubscribeOptions {
  /** Resume a known instance after this id (a cursor the application saved). */
  readonly from?: { readonly key: string; readonly after: number };
  /** Key (request id) for a new instance; default: a random UUID chosen here, so a retry before `start` is safe. */
  readonly key?: string;
  readonly params?: ControlMap;
  /** Cancels like `cancel()`, but the outcome's error (and what iterating throws) is an `AbortError` whose `cause` is the signal's reason. */
  readonly signal?: AbortSignal;
  /** Overrides of defaultReconnectPolicy; false: no automatic reconnect, a lost connection fails the subscription. */
  readonly reconnect?: Partial<RetryPolicy> | false;
  /**
   * Silence (nothing received, nothing unread) after which the server is declared gone and the
   * subscription resumes on a new connection (FW-EV-41). Default max(1.5 × hb_ms, hb_ms + 250 ms);
   * 45 s before `start`.
   */
  readonly heartbeatTimeoutMs?: number;
  readonly logger?: Logger;
  /** Time for the heartbeat timeout, acks and backoff; injected by tests. Default: the system clock. */
  readonly clock?: Clock;
}

/** An event as the subscriber receives it; ids increase by one, without gap or duplicate. */
export interface DeliveredEvent {
  readonly id: number;
  readonly type: string;
  /** Bytes (Uint8Array) or the MessagePack value the producer emitted. */
  readonly data: unknown;
}

/** How a subscription ended: done (with the producer's summary), detached, failed or cancelled. */
export type EventOutcome =
  | { readonly status: 'done'; readonly summary: ControlMap | undefined }
  /** `detach()`: this process let go; the server's instance runs on for its grace period, resumable with `resumeKey`. */
  | { readonly status: 'detached'; readonly resumeKey: string }
  | { readonly status: 'failed'; readonly error: FramewireError }
  | { readonly status: 'cancelled'; readonly error: FramewireError };

/** Counters of a subscription. */
export interface SubscriberStats {
  /** Events handed to the application. */
  delivered: number;
  /** Events received again (id at or below the cursor) and dropped. */
  duplicates: number;
  /** Successful re-attachments after a loss. */
  reconnects: number;
}
