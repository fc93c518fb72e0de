/**
 * Wakes everything of one event instance that waits for a change: the producer pump waiting for
 * room in the replay log, the subscriber writer waiting for events or acknowledgements. One signal
 * for every change (append, ack, attach, detach, end) keeps the waits simple: each waiter re-checks
 * its own condition when woken.
 */
export class Notifier {
  #waiters: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  notify(): void {
    if (this.#waiters.length === 0) return;
    const woken = this.#waiters;
    this.#waiters = [];
    for (const wake of woken) wake();
  }
}
