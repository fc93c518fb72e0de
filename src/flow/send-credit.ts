/**
 * The sender's side of one flow-control window (spec §8.3): how many DATA bytes were sent and the
 * absolute offset the peer allows. Offsets, not increments, so a CREDIT can never be double-counted
 * and the same numbers serve as resume positions.
 */

export class SendCredit {
  #sent = 0;
  #limit: number;

  constructor(initialLimit: number) {
    this.#limit = initialLimit;
  }

  /** Bytes that may be sent now. */
  get available(): number {
    return this.#limit - this.#sent;
  }

  get sent(): number {
    return this.#sent;
  }

  get limit(): number {
    return this.#limit;
  }

  /** Records bytes sent; the caller never sends more than `available`. */
  consume(bytes: number): void {
    this.#sent += bytes;
  }

  /** Applies a CREDIT. Returns true when the limit grew (a smaller one is ignored, FW-FLOW-3). */
  raise(limit: number): boolean {
    if (limit <= this.#limit) return false;
    this.#limit = limit;
    return true;
  }
}
