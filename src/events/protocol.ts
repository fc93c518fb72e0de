/**
 * The event-stream profile's wire schemas (spec/EVENTS.md §12.3–§12.5): the OPEN meta keys, the
 * MessagePack maps each DATA message carries, and their validation. Pure functions on bytes.
 *
 * Server → client: one `start`, then `ev` (one per event) and `hb` (heartbeats); the end is the
 * stream's DONE (trailer = summary), ERROR or CANCEL. Client → server: `ack` messages, then DONE
 * once the server's DONE arrived (FW-EV-30).
 */

import { Decoder, Encoder } from '@msgpack/msgpack';
import { FramewireError } from '../errors.ts';
import { encodedAsFloat, type ControlMap } from '../wire/index.ts';
import { CanonicalEventReader, writeCanonicalEvent } from './canonical-event.ts';

/** The OPEN kind of a subscription (FW-EV-1). */
export const SUBSCRIBE_KIND = 'events.subscribe';

/** Keys: 1..128 characters of [A-Za-z0-9._~:-] (FW-EV-3). */
export const KEY_PATTERN = /^[A-Za-z0-9._~:-]{1,128}$/;
/** Names: 1..256 characters, no control characters (FW-EV-2). */
const NAME_MAX = 256;
/** Event types: 1..128 characters (FW-EV-11). */
export const TYPE_MAX = 128;

/** What a subscriber asks for in OPEN meta (FW-EV-3, FW-EV-4). */
export interface SubscribeRequest {
  readonly name: string;
  /** The instance key; absent: the server starts a new instance and assigns one. */
  readonly key: string | undefined;
  /** Resume: the last event id the subscriber delivered; absent: attach-or-create. */
  readonly after: number | undefined;
  readonly params: ControlMap;
}

export function validateName(name: string | undefined): string {
  if (name === undefined || name.length === 0 || name.length > NAME_MAX || /\p{Cc}/u.test(name)) {
    throw new FramewireError('MALFORMED_PAYLOAD', `events.subscribe: target must be a stream name of 1..${NAME_MAX} characters without control characters`);
  }
  return name;
}

export function validateKey(key: string): string {
  if (!KEY_PATTERN.test(key)) throw new FramewireError('MALFORMED_PAYLOAD', 'events.subscribe: key must be 1..128 characters of [A-Za-z0-9._~:-]');
  return key;
}

function isMap(v: unknown): v is ControlMap {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** Parses the OPEN of an `events.subscribe` stream; MALFORMED_PAYLOAD (stream error) when invalid. */
export function parseSubscribe(target: string | undefined, meta: ControlMap | undefined): SubscribeRequest {
  const name = validateName(target);
  const m = meta ?? {};
  const key = m['key'];
  const after = m['after'];
  const params = m['params'];
  if (key !== undefined && typeof key !== 'string') throw new FramewireError('MALFORMED_PAYLOAD', 'events.subscribe: meta.key must be a string');
  if (after !== undefined && (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0 || encodedAsFloat(m, 'after'))) {
    throw new FramewireError('MALFORMED_PAYLOAD', 'events.subscribe: meta.after must be an unsigned integer');
  }
  if (after !== undefined && key === undefined) throw new FramewireError('MALFORMED_PAYLOAD', 'events.subscribe: meta.after needs meta.key');
  if (params !== undefined && !isMap(params)) throw new FramewireError('MALFORMED_PAYLOAD', 'events.subscribe: meta.params must be a map');
  return { name, key: key === undefined ? undefined : validateKey(key), after, params: params ?? {} };
}

/** Builds the OPEN meta of a subscription. */
export function subscribeMeta(key: string | undefined, after: number | undefined, params: ControlMap | undefined): ControlMap {
  const meta: Record<string, unknown> = {};
  if (key !== undefined) meta['key'] = key;
  if (after !== undefined) meta['after'] = after;
  if (params !== undefined) meta['params'] = params;
  return meta;
}

// ---- messages ---------------------------------------------------------------------------------

/** The first message of every accepted subscription (FW-EV-10). */
export interface StartMessage {
  readonly t: 'start';
  readonly key: string;
  readonly resumable: boolean;
  /** The id of the first event this stream will carry: `after` + 1 (1 for a new instance). */
  readonly next: number;
  /** Heartbeat interval of this stream, ms (FW-EV-40). */
  readonly hbMs: number;
  /** How long the instance outlives a lost subscriber, ms (FW-EV-50). */
  readonly graceMs: number;
  /** The subscriber acknowledges at least every `ackEvery` delivered events … */
  readonly ackEvery: number;
  /** … and at most `ackMs` after a delivery it has not yet acknowledged (FW-EV-31). */
  readonly ackMs: number;
}

/** An event as it travels: `{ t: 'ev', id, type, data }`. */
export interface EventMessage {
  readonly t: 'ev';
  readonly id: number;
  readonly type: string;
  readonly data: unknown;
}

/** A message the server sends on a subscription stream: start, event or heartbeat. */
export type ServerMessage = StartMessage | EventMessage | { readonly t: 'hb' };

/** A message the subscriber sends: an acknowledgement of the events up to `id`. */
export type ClientMessage = { readonly t: 'ack'; readonly id: number };

const encoder = new Encoder({ ignoreUndefined: true, initialBufferSize: 512 });
// Event data is the application's: the session's max_message_size already bounds a message.
const decoder = new Decoder({ useBigInt64: false, maxExtLength: 0 });
const canonicalEvents = new CanonicalEventReader(decoder);

// encode() returns a copy of its buffer (@msgpack/msgpack 3; encodeSharedRef() is the view): each
// message below owns its bytes without another copy.

/** One event as one DATA message. The bytes are what the replay log keeps and resends (FW-EV-22). */
export function encodeEvent(id: number, type: string, data: unknown): Uint8Array {
  return writeCanonicalEvent(id, type, data) ?? encoder.encode({ t: 'ev', id, type, data });
}

export function encodeStart(m: Omit<StartMessage, 't'>): Uint8Array {
  return encoder.encode({ t: 'start', key: m.key, resumable: m.resumable, next: m.next, hb_ms: m.hbMs, grace_ms: m.graceMs, ack_every: m.ackEvery, ack_ms: m.ackMs });
}

export const HEARTBEAT_MESSAGE: Uint8Array = encoder.encode({ t: 'hb' });

/** Encodes the acknowledgement of the events up to `id`. */
export function encodeAck(id: number): Uint8Array {
  return encoder.encode({ t: 'ack', id });
}

function bad(why: string): FramewireError {
  return new FramewireError('MALFORMED_PAYLOAD', `event-stream message: ${why}`);
}

function decodeMap(bytes: Uint8Array): ControlMap {
  let v: unknown;
  try {
    v = decoder.decode(bytes);
  } catch (cause) {
    throw new FramewireError('MALFORMED_PAYLOAD', `event-stream message is not MessagePack: ${(cause as Error).message}`, { cause });
  }
  if (!isMap(v)) throw bad('must be a map');
  return v;
}

function uint(m: ControlMap, key: string): number {
  const v = m[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`"${key}" must be an unsigned integer`);
  return v;
}

/** Decodes and checks a server → client message (the "schema check per event" of the checklist). */
export function decodeServerMessage(bytes: Uint8Array): ServerMessage {
  // Nearly every message is an event as encodeEvent wrote it: read by offsets, no map built.
  const event = canonicalEvents.read(bytes);
  if (event !== undefined && event.type.length <= TYPE_MAX) return event;
  const m = decodeMap(bytes);
  switch (m['t']) {
    case 'ev': {
      const type = m['type'];
      if (typeof type !== 'string' || type.length === 0 || type.length > TYPE_MAX) throw bad(`"type" must be a string of 1..${TYPE_MAX} characters`);
      const id = uint(m, 'id');
      if (id === 0) throw bad('event ids start at 1');
      return { t: 'ev', id, type, data: m['data'] };
    }
    case 'hb':
      return { t: 'hb' };
    case 'start': {
      const key = m['key'];
      const resumable = m['resumable'];
      if (typeof key !== 'string' || !KEY_PATTERN.test(key)) throw bad('start "key" is missing or invalid');
      if (typeof resumable !== 'boolean') throw bad('start "resumable" must be a boolean');
      const next = uint(m, 'next');
      if (next === 0) throw bad('start "next" must be at least 1');
      return { t: 'start', key, resumable, next, hbMs: uint(m, 'hb_ms'), graceMs: uint(m, 'grace_ms'), ackEvery: Math.max(1, uint(m, 'ack_every')), ackMs: uint(m, 'ack_ms') };
    }
    default:
      throw bad(`unknown message type ${JSON.stringify(m['t'])}`);
  }
}

export function decodeClientMessage(bytes: Uint8Array): ClientMessage {
  const m = decodeMap(bytes);
  if (m['t'] !== 'ack') throw bad(`unknown client message type ${JSON.stringify(m['t'])}`);
  return { t: 'ack', id: uint(m, 'id') };
}
