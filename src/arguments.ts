/**
 * The checks of the numbers the API is given (options, limits, arguments): a count, a size or a
 * number of milliseconds that is not a safe integer within its range is a coded INVALID_ARGUMENT
 * (errors.ts), thrown where it was given. Beside errors.ts: every layer may use it.
 */

import { invalidArgument } from './errors.ts';

/** The longest wait a timer can be given: node fires a longer setTimeout after 1 ms (with a warning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Returns `value` if it is a safe integer in [min, max]; INVALID_ARGUMENT naming `name` otherwise. */
export function checkInteger(name: string, value: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    throw invalidArgument(`${name} must be an integer ${range}, got ${String(value)}`);
  }
  return value;
}

/**
 * Checks every value of an options record with checkInteger, each named `<what> <key>`, and
 * returns the record; `min` is the least value (per key, if a function).
 */
export function checkIntegers<T extends object>(what: string, values: T, min: number | ((key: string) => number) = 0): T {
  for (const [key, value] of Object.entries(values)) checkInteger(`${what} ${key}`, value, typeof min === 'number' ? min : min(key));
  return values;
}
