/**
 * Control frames waiting for the pump, which writes them ahead of any queued DATA (FW-SCHED-1).
 * The queue is bounded (limits.maxControlQueue: a peer that never reads must not grow it without
 * end), and CREDIT is coalesced: one queued entry per stream, and one for the connection, carries
 * the newest limit when it is written. Payloads made from application arguments (OPEN, CANCEL,
 * ERROR, GOAWAY) arrive encoded and checked (control-payload.ts): writing an entry cannot fail.
 */

import { encodeAckPayload, encodeCreditPayload, FrameType } from '../wire/index.ts';
import type { StreamCore } from './stream-core.ts';

/** What a stream queues itself (stream-core.ts); its CREDIT goes through pushCredit(). */
export type StreamControlEntry =
  | { readonly kind: 'ack'; readonly stream: StreamCore; readonly seq: number }
  | { readonly kind: 'cancel'; readonly stream: StreamCore; readonly payload: Uint8Array }
  | { readonly kind: 'error'; readonly stream: StreamCore; readonly payload: Uint8Array };

export type ControlEntry =
  | StreamControlEntry
  | { readonly kind: 'open'; readonly stream: StreamCore }
  | { readonly kind: 'credit'; readonly stream: StreamCore | undefined }
  | { readonly kind: 'refuse'; readonly streamId: number; readonly payload: Uint8Array }
  | { readonly kind: 'ping'; readonly flags: number; readonly payload: Uint8Array }
  | { readonly kind: 'goaway'; readonly payload: Uint8Array };

/** What writing the entries needs from the session. */
export interface ControlSink {
  /** A frame on `stream`, numbered with the stream's next seq. */
  streamFrame(stream: StreamCore, type: number, flags: number, payload: Uint8Array): void;
  /** A frame on stream 0, numbered with its next seq. */
  connectionFrame(type: number, flags: number, payload: Uint8Array): void;
  /** A frame with the seq given (a refusal is our first frame on a stream we never created: seq 0). */
  frame(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): void;
  /** The stream's OPEN was written: its DATA may follow. */
  opened(stream: StreamCore): void;
  /** The connection's current receive limit, for its CREDIT. */
  connectionLimit(): number;
}

export class ControlQueue {
  readonly #max: number;
  #entries: ControlEntry[] = [];
  #head = 0;
  #connectionCredit = false;
  readonly #streamCredit = new WeakSet<StreamCore>();

  /** Holds at most `max` entries. */
  constructor(max: number) {
    this.#max = max;
  }

  /** True when entries wait to be written. */
  get pending(): boolean {
    return this.#head < this.#entries.length;
  }

  /** Queues an entry; false when the queue is full (the peer does not read). */
  push(entry: ControlEntry): boolean {
    if (this.#entries.length - this.#head >= this.#max) return false;
    this.#entries.push(entry);
    return true;
  }

  /** Queues a CREDIT for `stream` (undefined: the connection) unless one already waits; false when full. */
  pushCredit(stream: StreamCore | undefined): boolean {
    if (stream === undefined) {
      if (this.#connectionCredit) return true;
      this.#connectionCredit = true;
    } else {
      if (this.#streamCredit.has(stream)) return true;
      this.#streamCredit.add(stream);
    }
    return this.push({ kind: 'credit', stream });
  }

  /** Writes the entries in order; stops early once `stopped()` (the connection closed meanwhile). */
  drain(sink: ControlSink, stopped: () => boolean): void {
    while (this.#head < this.#entries.length) {
      const entry = this.#entries[this.#head]!;
      this.#entries[this.#head++] = undefined as unknown as ControlEntry;
      this.#write(entry, sink);
      if (stopped()) return;
    }
    this.#entries = [];
    this.#head = 0;
  }

  #write(entry: ControlEntry, sink: ControlSink): void {
    switch (entry.kind) {
      case 'open': {
        const s = entry.stream;
        if (s.ended || s.openPayload === undefined) return;
        sink.streamFrame(s, FrameType.OPEN, 0, s.openPayload);
        sink.opened(s);
        return;
      }
      case 'credit': {
        const s = entry.stream;
        if (s === undefined) {
          this.#connectionCredit = false;
          sink.connectionFrame(FrameType.CREDIT, 0, encodeCreditPayload(sink.connectionLimit()));
          return;
        }
        this.#streamCredit.delete(s);
        if (!s.ended && !s.receiveEnded) sink.streamFrame(s, FrameType.CREDIT, 0, encodeCreditPayload(s.flow.receiveLimit));
        return;
      }
      case 'ack':
        // Nothing more after ERROR or CANCEL, sent or received (FW-STREAM-5).
        if (entry.stream.signal.aborted) return;
        sink.streamFrame(entry.stream, FrameType.ACK, 0, encodeAckPayload(entry.seq));
        return;
      case 'cancel':
        if (!entry.stream.opened) return;
        sink.streamFrame(entry.stream, FrameType.CANCEL, 0, entry.payload);
        return;
      case 'error':
        // A local stream whose OPEN never went out needs no frame: the peer never heard of it.
        if (!entry.stream.opened) return;
        sink.streamFrame(entry.stream, FrameType.ERROR, 0, entry.payload);
        return;
      case 'refuse':
        sink.frame(FrameType.ERROR, 0, entry.streamId, 0, entry.payload);
        return;
      case 'ping':
        sink.connectionFrame(FrameType.PING, entry.flags, entry.payload);
        return;
      case 'goaway':
        sink.connectionFrame(FrameType.GOAWAY, 0, entry.payload);
        return;
    }
  }
}
