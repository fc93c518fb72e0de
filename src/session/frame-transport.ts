/** The session's one port to a transport (L4 implements it: a socket, QUIC streams, an in-memory pair). */

/** What the session needs from a transport. */
export interface FrameTransport {
  /** Queue one frame. A payload longer than copyLimit is not copied: it must stay unchanged until written. */
  write(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): void;
  /** write() copies payloads of at most this many bytes: their buffers may be reused once it returns. */
  readonly copyLimit: number;
  /** The end of a burst: write out what was queued (one syscall for many frames). */
  flush(): void;
  /** Bytes accepted by write() but not yet taken by the OS; the scheduler stops DATA above a high-water mark. */
  readonly bufferedBytes: number;
  /**
   * A transport with a queue per stream (QUIC: spec FW-QUIC-5) says which streams' queues are full;
   * the scheduler serves other streams meanwhile, and `writable()` brings them back. Absent: one queue.
   */
  streamBlocked?(stream: number): boolean;
  /** The largest payload the decoder accepts from now on. */
  setMaxPayload(maxPayload: number): void;
  /** Bytes of a frame received in part (0 at a frame boundary), for the frame deadline (FW-LIMIT-6); absent when the transport delivers whole frames. */
  readonly partialFrameBytes?: number;
  /** Frames received so far, unknown types included (with partialFrameBytes: tells one partial frame from the next). */
  readonly framesDecoded?: number;
  /**
   * A transport that keeps no order across streams (QUIC, spec §14.2) sets this: an OPEN the peer
   * wrote before its GOAWAY may still be read after it, so a received GOAWAY with no stream left
   * does not close at once; the GOAWAY's sender closes (FW-GOAWAY-4), and only after this long
   * with no stream left does the receiver close itself (FW-QUIC-12). Absent: at once (§8.6 MAY).
   * An integer in 0..2^31-1 (a timer's range): the Session refuses another with INVALID_ARGUMENT.
   */
  readonly goawayCloseWaitMs?: number;
  /** Flush and close; no frame is written after this. */
  close(): void;
}
