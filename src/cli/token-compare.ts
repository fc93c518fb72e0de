/**
 * Token comparison in constant time (issue 12, item 15). `===` on strings, or a hash-table lookup,
 * returns at the first differing character, so its timing tells an attacker how much of a guess was
 * right. SHA-256 digests compared with crypto.timingSafeEqual take the same time whatever the
 * inputs (and digests have equal lengths, which timingSafeEqual requires, whatever the tokens'),
 * and every known token is compared, so the time does not tell which one matched either.
 */

import { createHash, timingSafeEqual } from 'node:crypto';

export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The value whose token digest equals the digest of `given` (anything a client sent), or undefined. */
export function lookupToken<T>(known: readonly (readonly [digest: Buffer, value: T])[], given: unknown): T | undefined {
  if (typeof given !== 'string') return undefined;
  const d = tokenDigest(given);
  let found: T | undefined;
  for (const [digest, value] of known) {
    if (timingSafeEqual(d, digest) && found === undefined) found = value;
  }
  return found;
}
