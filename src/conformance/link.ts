/**
 * What carries the raw peer's bytes: a TCP socket (one byte stream) or a QUIC connection (a
 * control stream and one QUIC stream per framewire stream, spec §14). The raw peer decodes what
 * arrives per byte stream and keeps every frame in arrival order; the link decides where the
 * bytes it is given go.
 */

import type { QuicControls } from './quic-link.ts';

/** The transports the runner can reach a target over. */
export type Transport = 'tcp' | 'quic';

/** Where a link hands what it receives. */
export interface LinkSink {
  /** Bytes of the target on one of its byte streams (`source` tells them apart: each has its own framing). */
  received(source: object, chunk: Uint8Array): void;
  /** Something a case may wait for happened without a frame (QUIC: the target ended one of its streams). */
  changed(): void;
  /** The connection ended: the target closed it ('eof'), it broke ('reset'), or we cut it ('local'). */
  ended(how: 'eof' | 'reset' | 'local', error?: string): void;
}

export interface PeerLink {
  /** Starts delivering to `sink`; nothing is read before. */
  start(sink: LinkSink): void;
  /** Bytes as a byte-stream peer would write them; over QUIC routed frame by frame (quic-link.ts). */
  send(bytes: Uint8Array): void;
  /** Our side is done writing (TCP FIN; over QUIC, FIN on every stream we write, the control stream last). */
  endOutput(): void;
  destroy(): void;
  /** QUIC-only controls for cases that break the mapping of §14 on purpose; undefined over TCP. */
  readonly quic: QuicControls | undefined;
}
