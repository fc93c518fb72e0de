/**
 * The DATA scheduler (spec §8.4): strict priority by urgency (0 first), round-robin one frame at a
 * time within an urgency level, so one bulk stream cannot starve its peers (FW-SCHED-2, FW-SCHED-3).
 * Streams blocked on their own credit leave the ring until a CREDIT wakes them, so a crowd of
 * stalled streams costs nothing per frame.
 *
 * The interleaving within an urgency level is a local policy: with `fifo` (for experiments, see
 * bench/hol.bench.ts) every pick starts from the front of the ring, so the stream that became ready
 * first is served until it has nothing sendable; urgency levels stay strictly ordered either way.
 */

import { MAX_URGENCY } from '../wire/index.ts';
import type { SchedulingPolicy } from './options.ts';
import type { Sendable } from './send-half.ts';
import type { StreamCore } from './stream-core.ts';

export interface Pick {
  readonly stream: StreamCore;
  readonly sendable: Sendable;
}

export class Scheduler {
  readonly #rings: StreamCore[][] = Array.from({ length: MAX_URGENCY + 1 }, () => []);
  readonly #cursor: number[] = new Array<number>(MAX_URGENCY + 1).fill(0);
  readonly #members = new Set<StreamCore>();
  readonly #pick: { stream: StreamCore; sendable: Sendable } = { stream: undefined as unknown as StreamCore, sendable: undefined as unknown as Sendable };
  /** FIFO: no rotation, the ring is scanned from its oldest member on every pick. */
  readonly #fifo: boolean;

  constructor(policy: SchedulingPolicy = 'round-robin') {
    this.#fifo = policy === 'fifo';
  }

  /** Makes a stream eligible; harmless if it already is. */
  add(stream: StreamCore): void {
    if (this.#members.has(stream)) return;
    this.#members.add(stream);
    this.#rings[stream.urgency]!.push(stream);
  }

  get size(): number {
    return this.#members.size;
  }

  /**
   * The next frame to send, honouring urgency and fairness, or undefined when nothing can go. The
   * result is reused: valid until the next call. `transportBlocked` names streams whose own
   * transport queue is full (QUIC): they keep their place and are skipped.
   */
  next(maxFramePayload: number, transportBlocked?: (stream: number) => boolean): Pick | undefined {
    for (let level = 0; level < this.#rings.length; level++) {
      const ring = this.#rings[level]!;
      if (this.#fifo) this.#cursor[level] = 0;
      let checked = 0;
      while (checked < ring.length) {
        let at = this.#cursor[level]!;
        if (at >= ring.length) at = 0;
        const stream = ring[at]!;
        if (!stream.send.hasPending || stream.ended || stream.send.blockedOnStreamCredit) {
          // Leaves the ring; write() or a CREDIT brings it back through add().
          ring.splice(at, 1);
          this.#members.delete(stream);
          this.#cursor[level] = at;
          continue;
        }
        checked++;
        if (transportBlocked?.(stream.id) === true) {
          this.#cursor[level] = at + 1;
          continue;
        }
        const sendable = stream.nextSendable(maxFramePayload);
        if (sendable === undefined) {
          // Not yet opened, or waiting for connection credit: stays, the next one gets its turn.
          this.#cursor[level] = at + 1;
          continue;
        }
        this.#cursor[level] = at + 1;
        // Reused (valid until the next call): no allocation per frame.
        this.#pick.stream = stream;
        this.#pick.sendable = sendable;
        return this.#pick;
      }
    }
    return undefined;
  }
}
