/**
 * The stream table (spec §8.2): which streams exist, whose ids are whose, and how many each side
 * has open. Ids are never reused: each side's ids strictly increase, client odd, server even
 * (FW-STREAM-1, FW-STREAM-2), so a closed stream is recognised by its id alone and the table keeps
 * nothing for it.
 */

import { FramewireError } from '../errors.ts';
import { MAX_U32 } from '../wire/index.ts';
import type { Role } from './options.ts';
import type { StreamCore } from './stream-core.ts';

export class StreamTable {
  readonly #streams = new Map<number, StreamCore>();
  /** Local streams waiting for a slot under the peer's max_concurrent_streams, in id order. */
  readonly #pending: StreamCore[] = [];
  readonly #peerParity: number;
  #nextLocalId: number;
  #highestPeerId = 0;
  #localActive = 0;
  #peerActive = 0;

  constructor(role: Role) {
    this.#nextLocalId = role === 'client' ? 1 : 2;
    this.#peerParity = role === 'client' ? 0 : 1;
  }

  get size(): number {
    return this.#streams.size;
  }

  get highestPeerId(): number {
    return this.#highestPeerId;
  }

  /** Streams the peer opened that still hold a slot. */
  get peerActive(): number {
    return this.#peerActive;
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  get(id: number): StreamCore | undefined {
    return this.#streams.get(id);
  }

  /** A snapshot, safe to iterate while streams end. */
  all(): StreamCore[] {
    return [...this.#streams.values()];
  }

  /** Reserves the next local id. */
  allocateLocalId(): number {
    const id = this.#nextLocalId;
    if (id > MAX_U32) throw new FramewireError('LIMIT_EXCEEDED', 'stream ids exhausted: open a new connection', { retryable: true });
    this.#nextLocalId += 2;
    return id;
  }

  /** Checks the id of a peer's OPEN (parity, strictly increasing) and records it. */
  acceptPeerId(id: number): void {
    if (id % 2 !== this.#peerParity || id <= this.#highestPeerId) {
      throw new FramewireError('STREAM_ID', `OPEN for stream ${id}: peer ids must be ${this.#peerParity === 1 ? 'odd' : 'even'} and above ${this.#highestPeerId}`);
    }
    this.#highestPeerId = id;
  }

  /** True when either side has ever opened `id` (so a frame for it, if unknown, belongs to a closed stream). */
  wasOpened(id: number): boolean {
    return id % 2 === this.#peerParity ? id <= this.#highestPeerId : id < this.#nextLocalId;
  }

  add(stream: StreamCore): void {
    this.#streams.set(stream.id, stream);
    if (stream.local) this.#localActive++;
    else this.#peerActive++;
  }

  /** Queues a local stream until the peer has a slot for it. */
  queuePending(stream: StreamCore): void {
    this.#pending.push(stream);
  }

  /** Removes and returns the pending streams that fit under the peer's limit, oldest first. */
  takeOpenable(peerMaxConcurrent: number): StreamCore[] {
    const out: StreamCore[] = [];
    while (this.#pending.length > 0 && this.#localActive - this.#pending.length < peerMaxConcurrent) {
      const stream = this.#pending.shift()!;
      if (!stream.ended) out.push(stream);
    }
    return out;
  }

  takeAllPending(): StreamCore[] {
    return this.#pending.splice(0);
  }

  /** Releases a stream's slot. False when it was not in the table. */
  remove(stream: StreamCore): boolean {
    if (this.#streams.get(stream.id) !== stream) return false;
    this.#streams.delete(stream.id);
    if (stream.local) this.#localActive--;
    else this.#peerActive--;
    const pending = this.#pending.indexOf(stream);
    if (pending >= 0) this.#pending.splice(pending, 1);
    return true;
  }

  /** Empties the table, returning every stream it held (open and pending). */
  clear(): StreamCore[] {
    const all = [...this.#streams.values(), ...this.#pending];
    this.#streams.clear();
    this.#pending.length = 0;
    return [...new Set(all)];
  }
}
