/**
 * The replay budget (spec/EVENTS.md FW-EV-71): what all instances' replay logs retain, counted
 * server-wide and per principal. Every log is wrapped, so that an append it cannot fit in the
 * budget waits exactly like an append its own limits refuse (FW-EV-21): the producer pauses,
 * nothing unacknowledged is dropped. Acknowledged events are expendable: before refusing, the
 * budget has the logs that can help drop theirs (FW-EV-22), so history nobody needs never blocks a
 * producer whose subscriber keeps up.
 */

import { EVENT_OVERHEAD_BYTES } from './limits.ts';
import type { ProducerEnd } from './producer-pump.ts';
import type { LoggedEvent, ReplayLog } from './replay-log.ts';

/**
 * What all event instances' replay logs retain, server-wide and per principal (FW-EV-71): an
 * `EventService` keeps one, as `budget`.
 */
export class ReplayBudget {
  readonly maxBytes: number;
  readonly maxBytesPerPrincipal: number;
  readonly #ledger = new Ledger();

  constructor(maxBytes: number, maxBytesPerPrincipal: number) {
    this.maxBytes = maxBytes;
    this.maxBytesPerPrincipal = maxBytesPerPrincipal;
  }

  /** Bytes retained by every log, or by one principal's. */
  used(principal?: string): number {
    return this.#ledger.used(principal);
  }

  /** Wraps a new instance's log; `onRoom` is called when room may have come back after a refusal. */
  wrap(inner: ReplayLog, principal: string, onRoom: () => void): ReplayLog {
    const log = new BudgetedLog(this, this.#ledger, inner, principal, onRoom);
    this.#ledger.logs.add(log);
    return log;
  }

  /** Room for `bytes` more of `principal` (reclaiming acknowledged events where that helps)? */
  fits(principal: string, bytes: number): boolean {
    // Asked before every append: no closure per call (they cost more than the sums).
    if (this.#totalFits(bytes) && this.#ownFits(principal, bytes)) return true;
    for (const log of this.#ledger.logs) {
      // Another principal's history only helps when the server-wide total is what is short.
      if (log.principal !== principal && this.#totalFits(bytes)) continue;
      log.reclaim();
      if (this.#totalFits(bytes) && this.#ownFits(principal, bytes)) return true;
    }
    return false;
  }

  #totalFits(bytes: number): boolean {
    return this.#ledger.used() + bytes <= this.maxBytes;
  }

  #ownFits(principal: string, bytes: number): boolean {
    return this.#ledger.used(principal) + bytes <= this.maxBytesPerPrincipal;
  }

  /** Registers a refused log for the next release. */
  waitForRoom(onRoom: () => void): void {
    this.#ledger.waiting.add(onRoom);
  }
}

/** The budget's books, shared with the logs it wrapped and with nobody else. */
class Ledger {
  readonly logs = new Set<BudgetedLog>();
  /** Logs that were refused room: woken when any log shrinks. */
  readonly waiting = new Set<() => void>();
  #used = 0;
  readonly #byPrincipal = new Map<string, number>();

  used(principal?: string): number {
    return principal === undefined ? this.#used : (this.#byPrincipal.get(principal) ?? 0);
  }

  /** A log's retained bytes changed from `before` to `after`. */
  account(log: BudgetedLog, before: number, after: number): void {
    if (before === after) return;
    this.#used += after - before;
    const p = (this.#byPrincipal.get(log.principal) ?? 0) + after - before;
    if (p === 0) this.#byPrincipal.delete(log.principal);
    else this.#byPrincipal.set(log.principal, p);
    if (after < before) this.#release();
  }

  #release(): void {
    if (this.waiting.size === 0) return;
    const woken = [...this.waiting];
    this.waiting.clear();
    for (const wake of woken) wake();
  }
}

/** A replay log whose retained bytes count against the budget. */
class BudgetedLog implements ReplayLog {
  readonly principal: string;
  readonly #budget: ReplayBudget;
  readonly #ledger: Ledger;
  readonly #inner: ReplayLog;
  readonly #onRoom: () => void;
  #held = 0;

  constructor(budget: ReplayBudget, ledger: Ledger, inner: ReplayLog, principal: string, onRoom: () => void) {
    this.#budget = budget;
    this.#ledger = ledger;
    this.#inner = inner;
    this.principal = principal;
    this.#onRoom = onRoom;
    this.#sync();
  }

  get firstId(): number {
    return this.#inner.firstId;
  }

  get lastId(): number {
    return this.#inner.lastId;
  }

  get ackedId(): number {
    return this.#inner.ackedId;
  }

  get count(): number {
    return this.#inner.count;
  }

  get bytes(): number {
    return this.#inner.bytes;
  }

  hasRoom(size: number, now: number): boolean {
    const own = this.#inner.hasRoom(size, now);
    this.#sync();
    if (!own) return false;
    if (this.#budget.fits(this.principal, size + EVENT_OVERHEAD_BYTES)) return true;
    this.#budget.waitForRoom(this.#onRoom);
    return false;
  }

  append(event: LoggedEvent): void | Promise<void> {
    const r = this.#inner.append(event);
    if (r instanceof Promise) return r.finally(() => { this.#sync(); });
    this.#sync();
    return r;
  }

  acknowledge(id: number): void {
    this.#inner.acknowledge(id);
  }

  read(after: number, max: number): readonly LoggedEvent[] | Promise<readonly LoggedEvent[]> {
    return this.#inner.read(after, max);
  }

  trim(now: number): void {
    this.#inner.trim(now);
    this.#sync();
  }

  dropAcknowledged(): void {
    this.reclaim();
  }

  recordEnd(end: ProducerEnd): void {
    this.#inner.recordEnd?.(end);
  }

  attachedLocally(): void {
    this.#inner.attachedLocally?.();
  }

  /** Drops this log's acknowledged events, if it can. */
  reclaim(): void {
    this.#inner.dropAcknowledged?.();
    this.#sync();
  }

  dispose(): void | Promise<void> {
    const r = this.#inner.dispose();
    this.#ledger.account(this, this.#held, 0);
    this.#held = 0;
    this.#ledger.logs.delete(this);
    return r;
  }

  #sync(): void {
    const now = this.#inner.bytes + this.#inner.count * EVENT_OVERHEAD_BYTES;
    const before = this.#held;
    this.#held = now;
    this.#ledger.account(this, before, now);
  }
}
