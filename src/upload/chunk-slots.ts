/**
 * One writer per chunk index at a time, in this process: the state machine's promise to the blob
 * stores (no two writes of one index at once, so a part file's range is only ever written by one
 * writer). A second writer with the same token waits, then finds the chunk stored (FW-UP-18).
 *
 * A writer whose token was superseded is doomed (FW-UP-21: it will be refused when it tries to
 * record its chunk), so it must not make the current writer wait: a granted token stops every
 * older writer of the upload at once, and a writer finding its index held by an older token stops
 * that one too. Without this, a fenced writer on a dead connection would hold its index until the
 * connection timed out, and the client that took over would stall on that chunk.
 */

interface Holder {
  readonly token: number;
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

export class ChunkSlots {
  readonly #held = new Map<string, Holder>();
  readonly #byUpload = new Map<string, Set<Holder>>();

  /**
   * Runs `fn` as the only writer of (upload, index); `fn`'s signal fires when the writer is fenced
   * out, and `waited` says whether another writer held the index first (then what the caller read
   * before may be out of date: that writer may have stored the chunk).
   */
  async run<T>(upload: string, index: number, token: number, fn: (stop: AbortSignal, waited: boolean) => Promise<T>): Promise<T> {
    const key = `${upload}:${index}`;
    let waited = false;
    for (let holder = this.#held.get(key); holder !== undefined; holder = this.#held.get(key)) {
      if (holder.token < token) holder.stop.abort(new Error(`chunk ${index}: fenced by token ${token}`));
      waited = true;
      await holder.done;
    }
    let release!: () => void;
    const me: Holder = { token, stop: new AbortController(), done: new Promise<void>((resolve) => { release = resolve; }) };
    this.#held.set(key, me);
    const writers = this.#byUpload.get(upload) ?? new Set<Holder>();
    this.#byUpload.set(upload, writers.add(me));
    try {
      return await fn(me.stop.signal, waited);
    } finally {
      this.#held.delete(key);
      writers.delete(me);
      if (writers.size === 0) this.#byUpload.delete(upload);
      release();
    }
  }

  /** Stops every writer of `upload` whose token is below `token` (a newer one was granted; Infinity: the upload ended). */
  fence(upload: string, token: number): void {
    for (const holder of this.#byUpload.get(upload) ?? []) {
      if (holder.token < token) holder.stop.abort(new Error(`fenced by token ${token}`));
    }
  }
}
