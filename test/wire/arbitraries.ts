/**
 * fast-check arbitraries for typed frames of all ten types: arbitrary payloads within the limits
 * of spec §5-§7, and flags, stream ids and seq numbers consistent with each type's placement.
 */

import fc from 'fast-check';
import {
  FrameType,
  MAX_CREDIT_OFFSET,
  MAX_URGENCY,
  settingBounds,
  settingKeys,
  type Frame,
  type FrameTypeCode,
  type Settings,
} from '../../src/wire/index.ts';

export const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const byte = fc.integer({ min: 0, max: 0xff });
const streamId = fc.integer({ min: 1, max: 0xffff_ffff });
const anyStream = fc.oneof(fc.constant(0), streamId);

export const key = fc.string({ unit: 'grapheme', maxLength: 10 }).filter((k) => k !== '__proto__');
const text = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', maxLength });

/** A MessagePack value that survives a round trip exactly (no -0: MessagePack has one integer zero). */
export const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: -300, max: 300 }),
  fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0)),
  text(16),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 16 }),
);

const dict = <T>(values: fc.Arbitrary<T>, maxKeys: number): fc.Arbitrary<Record<string, T>> =>
  fc.dictionary(key, values, { maxKeys, noNullPrototype: true });

export const value: fc.Arbitrary<unknown> = fc.oneof(leaf, fc.array(leaf, { maxLength: 4 }), dict(leaf, 4));
export const controlMap = dict(value, 5);

const settings: fc.Arbitrary<Partial<Settings>> = fc.record(
  Object.fromEntries(settingKeys.map((k) => [k, fc.integer({ min: settingBounds[k].min, max: settingBounds[k].max })])) as Record<keyof Settings, fc.Arbitrary<number>>,
  { requiredKeys: [], noNullPrototype: true },
);

const opt = { noNullPrototype: true } as const;

const payloads: { [K in FrameTypeCode]: fc.Arbitrary<Extract<Frame, { type: K }>['payload']> } = {
  [FrameType.HELLO]: fc.record(
    {
      versions: fc.array(fc.integer({ min: 1, max: 0xffff }), { minLength: 1, maxLength: 16 }),
      settings,
      auth: value,
      agent: text(40),
    },
    { requiredKeys: ['versions', 'settings'], ...opt },
  ),
  [FrameType.OPEN]: fc.record(
    { kind: text(30), target: text(60), meta: controlMap, urgency: fc.integer({ min: 0, max: MAX_URGENCY }) },
    { requiredKeys: ['kind'], ...opt },
  ),
  [FrameType.DATA]: fc.oneof(
    { weight: 8, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 5000 }) },
  ),
  [FrameType.CREDIT]: fc.oneof(fc.integer({ min: 0, max: MAX_CREDIT_OFFSET }), fc.integer({ min: 0, max: 0xffff_ffff }), fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, MAX_CREDIT_OFFSET)),
  [FrameType.ACK]: u32,
  [FrameType.DONE]: fc.record({ trailer: controlMap }, { requiredKeys: [], ...opt }),
  [FrameType.ERROR]: fc.record(
    { code: u32, message: text(40), retryable: fc.boolean(), retryAfterMs: fc.maxSafeNat(), details: controlMap },
    { requiredKeys: ['code', 'message'], ...opt },
  ),
  [FrameType.CANCEL]: fc.record({ code: u32, reason: text(40) }, { requiredKeys: [], ...opt }),
  [FrameType.PING]: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  [FrameType.GOAWAY]: fc.record({ lastStream: u32, code: u32, message: text(40), deadlineMs: fc.maxSafeNat() }, { requiredKeys: ['lastStream', 'code'], ...opt }),
};

const streams: Record<FrameTypeCode, fc.Arbitrary<number>> = {
  [FrameType.HELLO]: fc.constant(0),
  [FrameType.OPEN]: streamId,
  [FrameType.DATA]: streamId,
  [FrameType.CREDIT]: anyStream,
  [FrameType.ACK]: streamId,
  [FrameType.DONE]: streamId,
  [FrameType.ERROR]: anyStream,
  [FrameType.CANCEL]: streamId,
  [FrameType.PING]: fc.constant(0),
  [FrameType.GOAWAY]: fc.constant(0),
};

export function frameOfType(type: FrameTypeCode): fc.Arbitrary<Frame> {
  return fc
    .record({ flags: byte, stream: streams[type], seq: u32, payload: payloads[type] as fc.Arbitrary<unknown> })
    .map(({ flags, stream, seq, payload }) => ({ type, flags, stream, seq, payload }) as Frame);
}

export const allFrameTypes = Object.values(FrameType);

export const anyFrame: fc.Arbitrary<Frame> = fc.oneof(...allFrameTypes.map(frameOfType));

/** Cuts `bytes` at the given points (taken modulo its length); may yield empty chunks. */
export function splitAt(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  if (bytes.length === 0) return [bytes];
  const cuts = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

export const splitPoints = fc.oneof(fc.array(fc.nat({ max: 100_000 }), { maxLength: 12 }), fc.constant([]));
