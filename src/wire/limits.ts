/** Fixed sizes and bounds of protocol version 1 (spec/PROTOCOL.md §3, §6). */

export const PROTOCOL_VERSION = 1;

/** Every frame starts with this many header bytes. */
export const HEADER_SIZE = 20;

/** Bytes 0..15 of the header are covered by the CRC, followed by the payload. */
export const CRC_COVERED_HEADER = 16;

/** No negotiation can raise the payload length above this (FW-FRAME-3). */
export const MAX_PAYLOAD_CEILING = 16 * 1024 * 1024;

/** The smallest max_frame_payload a peer may declare (FW-SET-2). */
export const MIN_MAX_PAYLOAD = 1024;

/**
 * Until both HELLOs are exchanged, each side accepts frames up to this payload (FW-HS-4), so a
 * peer cannot make us allocate 16 MiB before it has even said hello.
 */
export const HANDSHAKE_MAX_PAYLOAD = 16 * 1024;

/** Stream ids and seq numbers are u32 on the wire. */
export const MAX_U32 = 0xffff_ffff;

/** Credit offsets are u64 on the wire but must stay exact in a JS number (FW-FLOW-6). */
export const MAX_CREDIT_OFFSET = Number.MAX_SAFE_INTEGER;
