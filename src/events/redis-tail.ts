/**
 * The message layout of an instance's tail channel (spec/EVENTS.md §12.13): `b`, then for each
 * event in id order `<id>:<at>:<type length>:<b length>:<type><b>` (lengths in bytes, decimal);
 * `e<last>` after the end. The producer's node builds the events' message once, and the append
 * script both publishes it as is and reads its XADDs from it (redis-log-scripts.ts), so the call
 * carries one argument whatever the number of events. Both directions work on the bytes: this runs
 * once per event on every node, and a string or an array per field is what made the Redis path
 * allocate more than the local log.
 */

import type { LoggedEvent } from './replay-log.ts';

/** What the tail channel said: events just appended (as the log holds them, in order), or the end after event `last`. */
export type TailMessage = { readonly kind: 'events'; readonly events: readonly LoggedEvent[] } | { readonly kind: 'end'; readonly last: number };

const COLON = 0x3a;
const ZERO = 0x30;
const DOT = 0x2e;
const B = 0x62;
const E = 0x65;
/** Bytes of a field written in decimal at most: a safe integer takes 16 digits, a double as JavaScript writes it 25 characters. */
const MAX_NUMBER_CHARS = 25;

/** The events' message, as the append script publishes it and the stream holds them (ids contiguous, the caller's business). */
export function encodeTailEvents(events: readonly LoggedEvent[]): Buffer {
  let bound = 1;
  let type: string | undefined;
  let typeLength = 0;
  for (const e of events) {
    if (e.type !== type) {
      type = e.type;
      typeLength = Buffer.byteLength(type, 'utf8');
    }
    bound += 4 * (MAX_NUMBER_CHARS + 1) + typeLength + e.bytes.byteLength;
  }
  const out = Buffer.allocUnsafe(bound);
  out[0] = B;
  let at = 1;
  type = undefined;
  for (const e of events) {
    if (e.type !== type) {
      type = e.type;
      typeLength = Buffer.byteLength(type, 'utf8');
    }
    at = writeNumber(out, at, e.id);
    at = writeNumber(out, at, e.at);
    at = writeNumber(out, at, typeLength);
    at = writeNumber(out, at, e.bytes.byteLength);
    at += out.write(type, at, 'utf8');
    out.set(e.bytes, at);
    at += e.bytes.byteLength;
  }
  return out.subarray(0, at);
}

/** Writes `n` as String(n) does, then a colon; returns the offset after them. */
function writeNumber(out: Buffer, at: number, n: number): number {
  if (Number.isSafeInteger(n) && n >= 0) {
    let digits = 1;
    for (let p = 10; p <= n; p *= 10) digits++;
    let rest = n;
    for (let i = at + digits - 1; i >= at; i--) {
      out[i] = ZERO + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    at += digits;
  } else {
    at += out.write(String(n), at, 'latin1');
  }
  out[at] = COLON;
  return at + 1;
}

/**
 * Reads a message of the tail channel; undefined when it is not one (a message of another layout
 * is ignored whole: the serving node then reads the stream, §12.13). Consecutive events of one
 * type share its string.
 */
export function decodeTail(m: Buffer): TailMessage | undefined {
  if (m[0] === E) {
    const last = Number(m.toString('latin1', 1));
    return m.length > 1 && Number.isSafeInteger(last) ? { kind: 'end', last } : undefined;
  }
  if (m[0] !== B || m.length < 2) return undefined;
  const events: LoggedEvent[] = [];
  let type = '';
  let typeStart = -1;
  let typeLength = -1;
  let at = 1;
  let expected = -1;
  while (at < m.length) {
    let colon = colonFrom(m, at);
    const id = readInteger(m, at, colon);
    if (Number.isNaN(id) || (expected >= 0 && id !== expected)) return undefined;
    at = colon + 1;
    colon = colonFrom(m, at);
    if (colon < 0) return undefined;
    const time = readDecimal(m, at, colon);
    if (!Number.isFinite(time)) return undefined;
    at = colon + 1;
    colon = colonFrom(m, at);
    const length = readInteger(m, at, colon);
    at = colon + 1;
    colon = colonFrom(m, at);
    const bytesLength = readInteger(m, at, colon);
    at = colon + 1;
    const typeEnd = at + length;
    const end = typeEnd + bytesLength;
    if (Number.isNaN(length) || Number.isNaN(bytesLength) || end > m.length) return undefined;
    if (length !== typeLength || !sameBytes(m, typeStart, at, length)) type = m.toString('utf8', at, typeEnd);
    typeStart = at;
    typeLength = length;
    events.push({ id, type, bytes: m.subarray(typeEnd, end), at: time });
    expected = id + 1;
    at = end;
  }
  return { kind: 'events', events };
}

/** The first colon from `at`, or -1: a field is a few bytes, scanned here rather than through a call into Buffer.indexOf. */
function colonFrom(m: Buffer, at: number): number {
  for (let i = at; i < m.length; i++) if (m[i] === COLON) return i;
  return -1;
}

/** The decimal digits of m[from, to) as a safe integer; NaN when empty, not all digits, too large or not ended by a colon (to < 0). */
function readInteger(m: Buffer, from: number, to: number): number {
  if (from >= to) return NaN;
  let n = 0;
  for (let i = from; i < to; i++) {
    const digit = (m[i] ?? 0) - ZERO;
    if (digit < 0 || digit > 9) return NaN;
    n = n * 10 + digit;
  }
  return Number.isSafeInteger(n) ? n : NaN;
}

/** Powers of ten a double holds exactly. */
const EXACT_POWERS_OF_TEN = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * m[from, to) as Number() reads it. Without making a string when it is digits with at most one
 * point (a time as String(performance.now()) writes it) and at most 2^53 as an integer: that
 * integer and the power of ten are exact doubles, so their quotient is the correctly rounded
 * value, the one Number() gives. Anything else goes through Number().
 */
function readDecimal(m: Buffer, from: number, to: number): number {
  let mantissa = 0;
  let point = -1;
  for (let i = from; i < to; i++) {
    const c = m[i] ?? 0;
    if (c === DOT && point < 0) {
      point = i;
      continue;
    }
    const digit = c - ZERO;
    if (digit < 0 || digit > 9) return Number(m.toString('latin1', from, to));
    mantissa = mantissa * 10 + digit;
  }
  const scale = point < 0 ? 1 : EXACT_POWERS_OF_TEN[to - point - 1];
  if (to - from - (point < 0 ? 0 : 1) === 0 || mantissa > Number.MAX_SAFE_INTEGER || scale === undefined) return Number(m.toString('latin1', from, to));
  return mantissa / scale;
}

function sameBytes(m: Buffer, a: number, b: number, length: number): boolean {
  if (a < 0) return false;
  for (let i = 0; i < length; i++) if (m[a + i] !== m[b + i]) return false;
  return true;
}
