/**
 * Frames as a discriminated union on `type`, and the two conversions between the raw form the
 * decoder emits (header fields + payload bytes) and the typed form the session handles.
 */

import { decodeAckPayload, encodeAckPayload } from './frames/ack.ts';
import { decodeCancelPayload, encodeCancelPayload, type CancelPayload } from './frames/cancel.ts';
import { decodeCreditPayload, encodeCreditPayload } from './frames/credit.ts';
import { decodeDonePayload, encodeDonePayload, type DonePayload } from './frames/done.ts';
import { decodeErrorPayload, encodeErrorPayload, type ErrorPayload } from './frames/error.ts';
import { decodeGoawayPayload, encodeGoawayPayload, type GoawayPayload } from './frames/goaway.ts';
import { decodeHelloPayload, encodeHelloPayload, type HelloPayload } from './frames/hello.ts';
import { decodeOpenPayload, encodeOpenPayload, type OpenPayload } from './frames/open.ts';
import { decodePingPayload } from './frames/ping.ts';
import { invalidArgument } from '../errors.ts';
import { FrameType } from './frame-type.ts';

/** What the decoder emits: verified header fields and a view of the payload bytes. */
export interface RawFrame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly seq: number;
  readonly payload: Uint8Array;
  /**
   * Only on DATA frames from a decoder with `keepPieces`, when the frame straddled chunks: the
   * payload's bytes as views of those chunks, in order, and their total length. `payload` then
   * joins them on first use (a copy); the session reads `parts` instead.
   */
  readonly parts?: readonly Uint8Array[];
  readonly payloadLength?: number;
}

/** The payload length of a raw frame without joining a piecewise payload. */
export function rawPayloadLength(raw: RawFrame): number {
  return raw.payloadLength ?? raw.payload.length;
}

/** A frame of type `T` with a payload of type `P`. */
export interface FrameOf<T extends number, P> {
  readonly type: T;
  readonly flags: number;
  readonly stream: number;
  readonly seq: number;
  readonly payload: P;
}

/** A HELLO frame. */
export type HelloFrame = FrameOf<typeof FrameType.HELLO, HelloPayload>;
/** An OPEN frame. */
export type OpenFrame = FrameOf<typeof FrameType.OPEN, OpenPayload>;
/** A DATA frame. */
export type DataFrame = FrameOf<typeof FrameType.DATA, Uint8Array>;
/** payload: the absolute credit offset. */
export type CreditFrame = FrameOf<typeof FrameType.CREDIT, number>;
/** payload: the highest seq processed. */
export type AckFrame = FrameOf<typeof FrameType.ACK, number>;
/** A DONE frame. */
export type DoneFrame = FrameOf<typeof FrameType.DONE, DonePayload>;
/** An ERROR frame. */
export type ErrorFrame = FrameOf<typeof FrameType.ERROR, ErrorPayload>;
/** A CANCEL frame. */
export type CancelFrame = FrameOf<typeof FrameType.CANCEL, CancelPayload>;
/** payload: 8 opaque bytes. */
export type PingFrame = FrameOf<typeof FrameType.PING, Uint8Array>;
/** A GOAWAY frame. */
export type GoawayFrame = FrameOf<typeof FrameType.GOAWAY, GoawayPayload>;

/** A frame with a typed payload: a union discriminated by `type`. */
export type Frame =
  | HelloFrame
  | OpenFrame
  | DataFrame
  | CreditFrame
  | AckFrame
  | DoneFrame
  | ErrorFrame
  | CancelFrame
  | PingFrame
  | GoawayFrame;

/** Frames that may travel on stream 0. */
export type ConnectionFrame = HelloFrame | CreditFrame | ErrorFrame | PingFrame | GoawayFrame;
/** Frames that may travel on a stream. */
export type StreamFrame = OpenFrame | DataFrame | CreditFrame | AckFrame | DoneFrame | ErrorFrame | CancelFrame;

/**
 * Decodes the payload of a known frame type. Throws MALFORMED_PAYLOAD or FRAME_SIZE, and
 * INVALID_ARGUMENT for a type it does not know: the decoder skips unknown types, so only a caller
 * of its own can pass one.
 */
export function parseFrame(raw: RawFrame): Frame {
  const { flags, stream, seq, payload } = raw;
  switch (raw.type) {
    case FrameType.DATA:
      return { type: FrameType.DATA, flags, stream, seq, payload };
    case FrameType.CREDIT:
      return { type: FrameType.CREDIT, flags, stream, seq, payload: decodeCreditPayload(payload) };
    case FrameType.HELLO:
      return { type: FrameType.HELLO, flags, stream, seq, payload: decodeHelloPayload(payload) };
    case FrameType.OPEN:
      return { type: FrameType.OPEN, flags, stream, seq, payload: decodeOpenPayload(payload) };
    case FrameType.ACK:
      return { type: FrameType.ACK, flags, stream, seq, payload: decodeAckPayload(payload) };
    case FrameType.DONE:
      return { type: FrameType.DONE, flags, stream, seq, payload: decodeDonePayload(payload) };
    case FrameType.ERROR:
      return { type: FrameType.ERROR, flags, stream, seq, payload: decodeErrorPayload(payload) };
    case FrameType.CANCEL:
      return { type: FrameType.CANCEL, flags, stream, seq, payload: decodeCancelPayload(payload) };
    case FrameType.PING:
      return { type: FrameType.PING, flags, stream, seq, payload: decodePingPayload(payload) };
    case FrameType.GOAWAY:
      return { type: FrameType.GOAWAY, flags, stream, seq, payload: decodeGoawayPayload(payload) };
    default:
      throw invalidArgument(`parseFrame called with unknown frame type 0x${raw.type.toString(16)}`);
  }
}

/** The payload bytes of a typed frame (MessagePack for control frames, fixed binary otherwise). */
export function payloadBytes(frame: Frame): Uint8Array {
  switch (frame.type) {
    case FrameType.DATA:
    case FrameType.PING:
      return frame.payload;
    case FrameType.CREDIT:
      return encodeCreditPayload(frame.payload);
    case FrameType.HELLO:
      return encodeHelloPayload(frame.payload);
    case FrameType.OPEN:
      return encodeOpenPayload(frame.payload);
    case FrameType.ACK:
      return encodeAckPayload(frame.payload);
    case FrameType.DONE:
      return encodeDonePayload(frame.payload);
    case FrameType.ERROR:
      return encodeErrorPayload(frame.payload);
    case FrameType.CANCEL:
      return encodeCancelPayload(frame.payload);
    case FrameType.GOAWAY:
      return encodeGoawayPayload(frame.payload);
  }
}
