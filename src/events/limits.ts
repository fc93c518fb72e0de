/**
 * The event service's aggregate limits (spec/EVENTS.md §12.10, PROTOCOL.md FW-LIMIT-5). A replay
 * log is bounded per instance, but instances are cheap to ask for: without these, a few hundred
 * subscriptions opened with zero credit, or opened and dropped, each keep a full log for the
 * grace period and exhaust the server's memory. So instances are bounded server-wide, per
 * principal and per connection, and the bytes all logs retain are bounded server-wide and per
 * principal.
 */

import { checkIntegers } from '../arguments.ts';

/** The event service's aggregate limits: live instances and retained replay bytes, server-wide, per principal and per connection. */
export interface EventLimits {
  /** Live instances on the server, all principals. */
  readonly maxInstances: number;
  /** Live instances of one principal (attached or waiting out their grace period). */
  readonly maxInstancesPerPrincipal: number;
  /** Subscription streams attached at once on one connection. */
  readonly maxSubscriptionsPerConnection: number;
  /** Replay bytes retained by all instances together (encoded events + EVENT_OVERHEAD_BYTES each). */
  readonly maxReplayBytes: number;
  /** Replay bytes retained by one principal's instances. */
  readonly maxReplayBytesPerPrincipal: number;
  /** The retry_after_ms hint of LIMIT_EXCEEDED. */
  readonly retryAfterMs: number;
}

/** The default of every aggregate event-stream limit. */
export const defaultEventLimits: EventLimits = {
  maxInstances: 4096,
  maxInstancesPerPrincipal: 256,
  maxSubscriptionsPerConnection: 64,
  maxReplayBytes: 256 * 1024 * 1024,
  maxReplayBytesPerPrincipal: 64 * 1024 * 1024,
  retryAfterMs: 1000,
};

/**
 * What one retained event costs beyond its encoded bytes. The memory log keeps 28 bytes an event in
 * its rings (up to twice that after growth) and at most two partly used segments a log (at most 28
 * bytes an event in a full 4096-event window of 100-byte events); it was 140..260 bytes when each
 * event was an object of its own. Counted high, so that a budget of small events is a bound on
 * memory, not only on payload, whichever store holds the log.
 */
export const EVENT_OVERHEAD_BYTES = 256;

export function resolveEventLimits(o: Partial<EventLimits> = {}): EventLimits {
  return checkIntegers('events: limit', { ...defaultEventLimits, ...o });
}
