/**
 * What a stream queues, in both directions. A whole message is queued as itself, so the common
 * write or receipt allocates nothing per message (a wrapper per message showed in the GC profile at
 * millions of small messages per second); the rare cases are wrapped in classes of our own.
 */

import type { PackedReader } from '../wire/index.ts';

/** Part of a message that more bytes of the same message follow (a FOLLOWS chain), queued either way. */
export class Piece {
  constructor(readonly data: Uint8Array) {}
}

/** Our DONE, queued behind the data: its payload was encoded when end() was called. */
export class EndOfData {
  constructor(readonly payload: Uint8Array) {}
}

/** A queued write: a whole message, a piece of one, or our DONE. */
export type SendItem = Uint8Array | Piece | EndOfData;

/**
 * A received DATA payload: one that ends a message as itself, one that does not as a Piece. A
 * PACKED frame is queued whole, as the PackedReader its messages are sliced from when read.
 */
export type Received = Uint8Array | Piece;
export type ReceivedItem = Received | PackedReader;

/** Bytes of application data an item in the receive queue still holds. */
export function receivedBytes(r: ReceivedItem): number {
  if (isWholeMessage(r)) return r.length;
  return r instanceof Piece ? r.data.length : r.bytesLeft;
}

/** A bare Uint8Array in a queue is a whole message. isView compiles to a type check, cheaper than instanceof. */
export function isWholeMessage(item: SendItem | ReceivedItem): item is Uint8Array {
  return ArrayBuffer.isView(item);
}
