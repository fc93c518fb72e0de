/**
 * Per-type flag bits (spec/PROTOCOL.md §4). Unknown bits are ignored on receipt and sent as 0.
 * Bits are only meaningful together with their frame type, hence one namespace per type.
 */

export const DataFlags = {
  /** More frames of the same message follow on this stream (like RSocket FOLLOWS, WebSocket !FIN). */
  FOLLOWS: 0x01,
  /**
   * The payload is whole messages, each behind a u32 length (spec §8.2.6), like gRPC's
   * length-prefixed messages in HTTP/2 DATA. Only sent to a peer that declared packed_messages = 1.
   */
  PACKED: 0x02,
} as const;

/** Flag bits of PING. */
export const PingFlags = {
  /** This PING answers one received; never answered itself. */
  ACK: 0x01,
} as const;
