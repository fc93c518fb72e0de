/**
 * Options of the QUIC transport and the quinn settings they become. QUIC's own flow control only
 * has to cover the path's bandwidth-delay product: the transport reads every stream eagerly, so
 * what bounds memory is framewire's credit (spec §14.3), not these windows.
 */

import { checkInteger, MAX_TIMER_MS } from '../../arguments.ts';
import type { QuinnConfigInput } from './binding.ts';
import type { QuicIdentity } from './identity.ts';

/**
 * QUIC settings: handshake and idle deadlines, keep-alives, stream count and flow-control windows, UDP
 * buffers. Each is an integer from 1 (maxQuicStreams: 2) to 2^32-1, quinn's u32 (quicOptionRanges).
 */
export interface QuicTransportOptions {
  /** QUIC handshake deadline (default 5 s). */
  readonly handshakeTimeoutMs?: number;
  /** QUIC idle timeout; keep it above framewire's idle_timeout_ms so framewire reports the idle peer (default 60 s). */
  readonly maxIdleTimeoutMs?: number;
  /** QUIC keep-alive PING period (default 5 s). */
  readonly keepAliveIntervalMs?: number;
  /** QUIC streams the peer may have open: framewire's max_concurrent_streams, the control stream, and slack for streams still closing (default 256). */
  readonly maxQuicStreams?: number;
  /** QUIC stream receive window (default 16 MiB). */
  readonly quicStreamWindow?: number;
  /** QUIC connection receive window (default 64 MiB). */
  readonly quicConnectionWindow?: number;
  /** UDP socket buffer sizes of the client's socket, clamped by the OS (default 4 MiB). */
  readonly udpBufferBytes?: number;
}

export const quicDefaults = {
  handshakeTimeoutMs: 5_000,
  maxIdleTimeoutMs: 60_000,
  keepAliveIntervalMs: 5_000,
  maxQuicStreams: 256,
  quicStreamWindow: 16 * 1024 * 1024,
  quicConnectionWindow: 64 * 1024 * 1024,
  udpBufferBytes: 4 * 1024 * 1024,
} as const;

/** The binding takes each quinn setting as a u32: a larger, negative or fractional number would be silently wrapped. */
const U32 = 2 ** 32 - 1;

/**
 * The least and greatest value of every numeric QUIC option (spec §14.7): those of
 * QuicTransportOptions (quinn's u32s), of QuicTransportTuning (timers) and of the listener.
 */
export const quicOptionRanges = {
  handshakeTimeoutMs: [1, U32],
  maxIdleTimeoutMs: [1, U32],
  keepAliveIntervalMs: [1, U32],
  // The control stream and one framewire stream.
  maxQuicStreams: [2, U32],
  quicStreamWindow: [1, U32],
  quicConnectionWindow: [1, U32],
  udpBufferBytes: [1, U32],
  // 0 would leave every stream blocked for good: the scheduler skips a stream at its high-water mark.
  streamHighWater: [1, Number.MAX_SAFE_INTEGER],
  closeTimeoutMs: [0, MAX_TIMER_MS],
  goawayCloseWaitMs: [0, MAX_TIMER_MS],
  maxConnections: [1, Number.MAX_SAFE_INTEGER],
  port: [0, 65535],
} as const satisfies Record<string, readonly [number, number]>;

/** INVALID_ARGUMENT, naming the option, for a numeric QUIC option that is not an integer within its range; absent ones are fine. */
export function checkQuicOptions(options: { readonly [K in keyof typeof quicOptionRanges]?: unknown }): void {
  for (const [key, [min, max]] of Object.entries(quicOptionRanges)) {
    const value = options[key as keyof typeof quicOptionRanges];
    if (value !== undefined) checkInteger(`quic.${key}`, value, min, max);
  }
}

/** The binding's configuration for `identity` and `options`. */
export function quinnConfig(identity: QuicIdentity, options: QuicTransportOptions): QuinnConfigInput {
  const o = { ...quicDefaults, ...options };
  return {
    privateKeyProto: identity.privateKeyProto,
    handshakeTimeout: o.handshakeTimeoutMs,
    maxIdleTimeout: o.maxIdleTimeoutMs,
    keepAliveInterval: o.keepAliveIntervalMs,
    maxConcurrentStreamLimit: o.maxQuicStreams,
    maxStreamData: o.quicStreamWindow,
    maxConnectionData: o.quicConnectionWindow,
    receiveBufferSize: o.udpBufferBytes,
    sendBufferSize: o.udpBufferBytes,
  };
}
