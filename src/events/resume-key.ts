/**
 * The resume key: a subscription's resume point as one string, `<key>@<after>` (instance key, then
 * the id of the last event delivered), so that another process can continue the stream where this
 * one stopped — `framewire tail NAME --resume KEY`, or `subscribe(name, { from: parseResumeKey(k) })`.
 * `@` cannot occur in an instance key (spec/EVENTS.md §12.2), so the split is unambiguous.
 */

import { FramewireError } from '../errors.ts';
import { validateKey } from './protocol.ts';

/** A resume point: the instance key and the id of the last event delivered (0 before the first). */
export interface ResumePoint {
  readonly key: string;
  readonly after: number;
}

/** `<key>@<after>`. */
export function formatResumeKey(point: ResumePoint): string {
  return `${point.key}@${point.after}`;
}

/** Parses `<key>@<after>`; anything else is INVALID_ARGUMENT. */
export function parseResumeKey(text: string): ResumePoint {
  const at = text.lastIndexOf('@');
  const after = Number(text.slice(at + 1));
  if (at <= 0 || !/^\d+$/u.test(text.slice(at + 1)) || !Number.isSafeInteger(after)) {
    throw new FramewireError('INVALID_ARGUMENT', `a resume key is <instance key>@<last event id>, got "${text}"`);
  }
  try {
    return { key: validateKey(text.slice(0, at)), after };
  } catch (error) {
    throw new FramewireError('INVALID_ARGUMENT', `resume key "${text}": ${(error as Error).message}`, { cause: error });
  }
}
