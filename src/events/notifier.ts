/**
 * Wakes everything of one event instance that waits for a change: the producer pump waiting for
 * room in the replay log, the subscriber writer waiting for events or acknowledgements. One signal
 * for every change (append, ack, attach, detach, end) keeps the waits simple: each waiter re-checks
 * its own condition when woken.
 */
export class Notifier {
  /** What every wait() since the last notify() returned: one promise per change, not per waiter. */
  #next: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  wait(): Promise<void> {
    return (this.#next ??= new Promise((resolve) => {
      this.#wake = resolve;
    }));
  }

  notify(): void {
    const wake = this.#wake;
    if (wake === undefined) return;
    this.#next = undefined;
    this.#wake = undefined;
    wake();
  }
}
