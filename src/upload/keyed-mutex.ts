/**
 * One async mutex per key, for what one process must serialise: the file-system backend's
 * compare-and-set (one process owns a data directory) and the state machine's one-writer-per-chunk
 * rule. Keys are released as soon as nobody waits on them, so the map holds only live keys.
 */

export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
