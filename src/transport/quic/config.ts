/**
 * Options of the QUIC transport and the quinn settings they become. QUIC's own flow control only
 * has to cover the path's bandwidth-delay product: the transport reads every stream eagerly, so
 * what bounds memory is framewire's credit (spec §14.3), not these windows.
 */

import type { QuinnConfigInput } from './binding.ts';
import type { QuicIdentity } from './identity.ts';

/**
 * QUIC settings: handshake and idle deadlines, keep-alives, stream count and flow-control windows, UDP
 * buffers.
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
