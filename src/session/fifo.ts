/**
 * A first-in first-out queue on a power-of-two ring. A stream's send and receive queues fill and
 * drain in bursts of hundreds of small messages; an array used as a queue (push, then shift or
 * `length = 0`) reallocated its backing store on every burst, which showed in the profile at
 * millions of messages per second. The ring keeps its capacity and costs O(1) per operation.
 */

const MIN_CAPACITY = 16;
/** An empty ring larger than this is released, so one past burst does not pin memory forever. */
const KEEP_CAPACITY = 64 * 1024;

export class Fifo<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(MIN_CAPACITY);
  #mask = MIN_CAPACITY - 1;
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The item `i` places behind the head (0 = the head), or undefined past the end. */
  at(i: number): T | undefined {
    return i < this.#size ? this.#items[(this.#head + i) & this.#mask] : undefined;
  }

  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) & this.#mask] = item;
    this.#size++;
  }

  /** Removes and returns the head, or undefined when empty. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    if (--this.#size === 0) this.#emptied();
    return item;
  }

  /** Removes the `n` items at the head (n <= size). */
  drop(n: number): void {
    for (let i = 0; i < n; i++) {
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) & this.#mask;
    }
    this.#size -= n;
    if (this.#size === 0) this.#emptied();
  }

  clear(): void {
    this.drop(this.#size);
  }

  #emptied(): void {
    this.#head = 0;
    if (this.#items.length > KEEP_CAPACITY) {
      this.#items = new Array<T | undefined>(MIN_CAPACITY);
      this.#mask = MIN_CAPACITY - 1;
    }
  }

  #grow(): void {
    const old = this.#items;
    const items = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#size; i++) items[i] = old[(this.#head + i) & this.#mask];
    this.#items = items;
    this.#mask = items.length - 1;
    this.#head = 0;
  }
}
