/**
 * The receiving direction of one stream (spec §8.2): DATA and PACKED frames queued as whole
 * messages or pieces, the peer's DONE, and the readers that wait for them (messages, chunks,
 * batches, read()). What is read is reported to the stream's flow object (StreamFlow), which
 * decides when credit comes back; the stream core decides the outcome.
 */

import type { StreamFlow } from '../flow/index.ts';
import { DataFlags, PACKED_LENGTH_SIZE, PackedReader, scanPacked, type ControlMap } from '../wire/index.ts';
import { Fifo } from './fifo.ts';
import { isWholeMessage, Piece, receivedBytes, type Received, type ReceivedItem } from './queued.ts';
import type { StreamCore } from './stream-core.ts';
import { END, StreamReader } from './stream-reader.ts';

/** 'open' until the peer's DONE ('ended') or a reset either way ('reset'). */
export type ReceiveState = 'open' | 'ended' | 'reset';

export class ReceiveHalf {
  readonly #core: StreamCore;
  readonly #flow: StreamFlow;
  /** Our max_message_size (0 = unlimited). */
  readonly #maxMessageSize: number;
  readonly #queue = new Fifo<ReceivedItem>();
  #messageBytes = 0;
  #messageOpen = false;
  /** Readers waiting for a chunk or the end: several iterators may wait at once, none is lost. */
  #readers: (() => void)[] = [];
  /** The read() in progress: read() calls are served one after another, in call order. */
  #lastRead: Promise<Uint8Array | undefined> | undefined;
  #trailer: ControlMap | undefined;
  #state: ReceiveState = 'open';

  constructor(core: StreamCore, flow: StreamFlow, maxMessageSize: number) {
    this.#core = core;
    this.#flow = flow;
    this.#maxMessageSize = maxMessageSize;
  }

  get state(): ReceiveState {
    return this.#state;
  }

  get trailer(): ControlMap | undefined {
    return this.#trailer;
  }

  /** Items queued and not yet read. */
  get unread(): number {
    return this.#queue.size;
  }

  // ---- the application's side ----------------------------------------------------------------

  messages(): AsyncIterableIterator<Uint8Array> {
    return new StreamReader<Uint8Array>(this.#poll, this.#waitForChunk, 'messages');
  }

  chunks(): AsyncIterableIterator<Uint8Array> {
    return new StreamReader<Uint8Array>(this.#poll, this.#waitForChunk, 'chunks');
  }

  batches(): AsyncIterableIterator<Uint8Array[]> {
    return new StreamReader<Uint8Array[]>(this.#poll, this.#waitForChunk, 'batches');
  }

  read(): Promise<Uint8Array | undefined> {
    const previous = this.#lastRead;
    const mine = previous === undefined ? this.#readOne() : previous.then(this.#readOne, this.#readOne);
    this.#lastRead = mine;
    const clear = (): void => {
      if (this.#lastRead === mine) this.#lastRead = undefined;
    };
    mine.then(clear, clear);
    return mine;
  }

  readonly #readOne = async (): Promise<Uint8Array | undefined> => {
    const r = await this.messages().next();
    // Leave the reader: a whole message was taken from the queue, so nothing is left half-read.
    return r.done === true ? undefined : r.value;
  };

  /**
   * The next received chunk, reported as read; END at DONE; undefined when none is queued yet.
   * Throws when the stream failed. Synchronous, so a reader that finds data queued costs no await.
   */
  readonly #poll = (): Received | typeof END | undefined => {
    const queue = this.#queue;
    const head = queue.at(0);
    if (head !== undefined) {
      let chunk: Received;
      let length: number;
      if (isWholeMessage(head)) {
        chunk = head;
        length = head.length;
        queue.shift();
      } else if (head instanceof PackedReader) {
        chunk = head.next();
        length = chunk.length;
        if (head.messagesLeft === 0) queue.shift();
      } else {
        chunk = head;
        length = head.data.length;
        queue.shift();
      }
      if (this.#flow.read(length, queue.size === 0)) this.#core.creditDue();
      return chunk;
    }
    if (this.#state === 'ended') {
      this.#core.maybeRelease();
      return END;
    }
    if (this.#state === 'reset') {
      const failure = this.#core.failure;
      if (failure !== undefined) throw failure;
      return END;
    }
    return undefined;
  };

  /** Resolves when a chunk arrives or the read side ends. */
  readonly #waitForChunk = (): Promise<void> =>
    new Promise<void>((resolve) => {
      this.#readers.push(resolve);
    });

  #wakeReader(): void {
    const readers = this.#readers;
    if (readers.length === 0) return;
    if (readers.length === 1) {
      const reader = readers[0]!;
      readers.length = 0;
      reader();
      return;
    }
    this.#readers = [];
    // Each re-polls in turn: the first takes what arrived, the others wait again.
    for (const reader of readers) reader();
  }

  // ---- the session's side --------------------------------------------------------------------

  /** DATA arrived (seq and placement checked, counted against the windows by the caller). */
  onData(payload: Uint8Array, flags: number, parts: readonly Uint8Array[] | undefined): void {
    if ((flags & DataFlags.PACKED) !== 0) {
      this.#onPacked(parts === undefined ? payload : Buffer.concat(parts), flags);
      return;
    }
    const endOfMessage = (flags & DataFlags.FOLLOWS) === 0;
    // A payload that arrived in pieces (RawFrame.parts) is queued as its pieces: no copy.
    const length = parts === undefined ? payload.length : sumLengths(parts);
    this.#messageBytes += length;
    if (this.#maxMessageSize > 0 && this.#messageBytes > this.#maxMessageSize) {
      // This frame is never queued, so never read (FW-FLOW-7).
      this.#flow.abandoned(length);
      this.#core.fail('MESSAGE_TOO_LARGE', `message exceeds max_message_size ${this.#maxMessageSize}`);
      return;
    }
    this.#messageOpen = !endOfMessage;
    if (endOfMessage) this.#messageBytes = 0;
    if (parts === undefined) {
      this.#queue.push(endOfMessage ? payload : new Piece(payload));
    } else {
      const last = parts.length - 1;
      for (let i = 0; i < last; i++) this.#queue.push(new Piece(parts[i]!));
      this.#queue.push(endOfMessage ? parts[last]! : new Piece(parts[last]!));
    }
    this.#wakeReader();
  }

  /**
   * A PACKED frame (spec §8.2.6): checked whole before any of its messages is queued (FW-PACK-4,
   * FW-PACK-5), then queued for reading one message per record (FW-PACK-3), views of the payload, no copy.
   * The lengths count as consumed now: the application never reads them (FW-FLOW-4).
   */
  #onPacked(payload: Uint8Array, flags: number): void {
    let problem: string | undefined;
    if ((flags & DataFlags.FOLLOWS) !== 0) problem = 'PACKED DATA with FOLLOWS set';
    else if (this.#messageOpen) problem = 'PACKED DATA inside an unfinished message (the previous DATA had FOLLOWS set)';
    const scan = problem === undefined ? scanPacked(payload) : undefined;
    if (scan?.ok !== true || (this.#maxMessageSize > 0 && scan.longest > this.#maxMessageSize)) {
      // Never queued, so never read (FW-FLOW-7).
      this.#flow.abandoned(payload.length);
      if (scan?.ok === true) this.#core.fail('MESSAGE_TOO_LARGE', `a packed message of ${scan.longest} bytes exceeds max_message_size ${this.#maxMessageSize}`);
      else this.#core.fail('PROTOCOL_ERROR', problem ?? (scan as { problem: string }).problem);
      return;
    }
    // Queued whole: its messages are sliced off as they are read, not one queue slot each now.
    this.#queue.push(new PackedReader(payload, scan.messages));
    if (this.#flow.consumed(scan.messages * PACKED_LENGTH_SIZE)) this.#core.creditDue();
    this.#wakeReader();
  }

  /** The peer's DONE: false when it came inside an unfinished message (the caller fails the stream). */
  onDone(trailer: ControlMap | undefined): boolean {
    if (this.#messageOpen) return false;
    this.#state = 'ended';
    this.#flow.endReceive();
    this.#trailer = trailer;
    this.#wakeReader();
    return true;
  }

  /** The stream was reset: a direction still open ends here. */
  reset(): void {
    if (this.#state !== 'open') return;
    this.#state = 'reset';
    this.#flow.endReceive();
  }

  /** After a reset: readers wake to see the outcome. */
  wakeReaders(): void {
    this.#wakeReader();
  }

  /** Drops what nobody will read; returns its bytes. */
  discardUnread(): number {
    let bytes = 0;
    for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) bytes += receivedBytes(item);
    return bytes;
  }
}

function sumLengths(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}
