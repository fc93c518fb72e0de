/**
 * The object read profile on the wire (spec/OBJECTS.md): OPEN kinds, meta and trailer keys, their
 * types and bounds, the positioned DATA message, and the parsers both sides use. One place for
 * every key name, so the spec, the service and the client cannot drift apart.
 *
 * Every parser throws MALFORMED_PAYLOAD (a stream error: the session accepted the OPEN) for a known
 * key of the wrong type or out of its bounds, and ignores unknown keys (FW-OBJ-3).
 */

import { FramewireError } from '../errors.ts';
import { compact, SHA256_HEX_PATTERN } from '../upload/index.ts';
import { encodedAsFloat, type ControlMap } from '../wire/index.ts';

/** OPEN kinds of the profile, one per operation (FW-OBJ-1). */
export const ObjectKind = {
  stat: 'objects.stat',
  list: 'objects.list',
  read: 'objects.read',
  delete: 'objects.delete',
} as const;

export const MAX_OBJECT_ID = 256;
/** Unit digests per stat answer: default and ceiling of `units_max` (§15.4.1). */
export const DEFAULT_UNITS_MAX = 256;
export const MAX_UNITS_MAX = 1024;
/** Objects per list page: default and ceiling of `limit` (§15.4.2). */
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
export const MAX_CURSOR = 256;
/** Each read DATA message starts with the object offset of its first byte, u64 big-endian (FW-OBJ-9). */
export const POSITION_BYTES = 8;
export const DIGEST_BYTES = 32;

function bad(op: string, why: string): FramewireError {
  return new FramewireError('MALFORMED_PAYLOAD', `${op}: ${why}`);
}

function uint(op: string, map: ControlMap, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = map[key];
  if (v === undefined) return undefined;
  // A float, even 2.0, is not a uint (PROTOCOL.md §5.3, FW-CTRL-6).
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max || encodedAsFloat(map, key)) throw bad(op, `"${key}" must be an unsigned integer in ${min}..${max}`);
  return v;
}

function str(op: string, map: ControlMap, key: string, maxLength: number, pattern?: RegExp): string | undefined {
  const v = map[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) throw bad(op, `"${key}" must be a string of 1..${maxLength} characters`);
  if (pattern !== undefined && !pattern.test(v)) throw bad(op, `"${key}" has the wrong format`);
  return v;
}

function required<T>(op: string, key: string, v: T | undefined): T {
  if (v === undefined) throw bad(op, `required key "${key}" is missing`);
  return v;
}

function metadataOf(op: string, map: ControlMap): Record<string, string> | undefined {
  const v = map['metadata'];
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) throw bad(op, '"metadata" must be a map');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw bad(op, '"metadata" values must be strings');
    out[k] = x;
  }
  return out;
}

// ---- objects.stat ------------------------------------------------------------------------------

export interface StatRequest {
  readonly unitsFrom: number;
  readonly unitsMax: number;
}

export function encodeStatMeta(r: Partial<StatRequest>): ControlMap {
  return compact({ units_from: r.unitsFrom, units_max: r.unitsMax });
}

export function parseStatMeta(meta: ControlMap | undefined): StatRequest {
  const op = ObjectKind.stat;
  const m = meta ?? {};
  return { unitsFrom: uint(op, m, 'units_from') ?? 0, unitsMax: uint(op, m, 'units_max', 0, MAX_UNITS_MAX) ?? DEFAULT_UNITS_MAX };
}

/** What list says of an object. */
export interface ObjectSummary {
  readonly objectId: string;
  readonly size: number;
  readonly sha256: string;
  readonly committedAt: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The stat answer: the summary, the unit geometry and one page of unit digests. */
export interface ObjectDescription extends ObjectSummary {
  readonly unitSize: number;
  readonly unitCount: number;
  readonly unitsFrom: number;
  /** SHA-256 of units unitsFrom, unitsFrom + 1, …: 32 bytes each. */
  readonly unitDigests: Uint8Array;
}

function encodeSummary(s: ObjectSummary): ControlMap {
  return compact({ object_id: s.objectId, size: s.size, sha256: s.sha256, committed_at: s.committedAt, metadata: s.metadata });
}

function parseSummary(op: string, m: ControlMap): ObjectSummary {
  return compact({
    objectId: required(op, 'object_id', str(op, m, 'object_id', MAX_OBJECT_ID)),
    size: required(op, 'size', uint(op, m, 'size')),
    sha256: required(op, 'sha256', str(op, m, 'sha256', 64, SHA256_HEX_PATTERN)),
    committedAt: required(op, 'committed_at', uint(op, m, 'committed_at')),
    metadata: metadataOf(op, m),
  });
}

export function encodeStatTrailer(d: ObjectDescription): ControlMap {
  return { ...encodeSummary(d), unit_size: d.unitSize, unit_count: d.unitCount, units_from: d.unitsFrom, unit_digests: d.unitDigests };
}

export function parseStatTrailer(t: ControlMap | undefined): ObjectDescription {
  const op = 'objects.stat trailer';
  const m = t ?? {};
  const summary = parseSummary(op, m);
  const unitSize = required(op, 'unit_size', uint(op, m, 'unit_size', 1));
  const unitCount = required(op, 'unit_count', uint(op, m, 'unit_count'));
  if (unitCount !== Math.ceil(summary.size / unitSize)) throw bad(op, '"unit_count" does not match size and unit_size');
  const unitsFrom = required(op, 'units_from', uint(op, m, 'units_from', 0, unitCount));
  const unitDigests = m['unit_digests'];
  if (!(unitDigests instanceof Uint8Array) || unitDigests.length % DIGEST_BYTES !== 0 || unitDigests.length / DIGEST_BYTES > unitCount - unitsFrom) {
    throw bad(op, '"unit_digests" must be binary: 32 bytes per unit, within the object');
  }
  return { ...summary, unitSize, unitCount, unitsFrom, unitDigests };
}

// ---- objects.list ------------------------------------------------------------------------------

/** The meta of objects.list: where to continue and how many objects at most. */
export interface ListRequest {
  readonly cursor?: string;
  readonly limit: number;
}

export function encodeListMeta(r: Partial<ListRequest>): ControlMap {
  return compact({ cursor: r.cursor, limit: r.limit });
}

export function parseListMeta(meta: ControlMap | undefined): ListRequest {
  const op = ObjectKind.list;
  const m = meta ?? {};
  return compact({ cursor: str(op, m, 'cursor', MAX_CURSOR), limit: uint(op, m, 'limit', 1, MAX_LIST_LIMIT) ?? DEFAULT_LIST_LIMIT });
}

/** One page of objects.list. */
export interface ListPage {
  readonly objects: readonly ObjectSummary[];
  /** Present when more objects may follow: pass it to the next list. */
  readonly cursor?: string;
}

export function encodeListEntry(s: ObjectSummary): ControlMap {
  return encodeSummary(s);
}

export function encodeListTrailer(entries: readonly ControlMap[], cursor: string | undefined): ControlMap {
  return compact({ objects: [...entries], cursor });
}

export function parseListTrailer(t: ControlMap | undefined): ListPage {
  const op = 'objects.list trailer';
  const m = t ?? {};
  const objects = m['objects'];
  if (!Array.isArray(objects)) throw bad(op, '"objects" must be an array');
  return compact({
    objects: objects.map((o: unknown) => {
      if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad(op, '"objects" entries must be maps');
      return parseSummary(op, o as ControlMap);
    }),
    cursor: str(op, m, 'cursor', MAX_CURSOR),
  });
}

// ---- objects.read ------------------------------------------------------------------------------

/** The meta of objects.read: the range to read. */
export interface ReadRequest {
  readonly offset: number;
  /** Absent: to the end of the object. */
  readonly length?: number;
}

export function encodeReadMeta(r: ReadRequest): ControlMap {
  return compact({ offset: r.offset, length: r.length });
}

export function parseReadMeta(meta: ControlMap | undefined): ReadRequest {
  const op = ObjectKind.read;
  const m = meta ?? {};
  return compact({ offset: uint(op, m, 'offset') ?? 0, length: uint(op, m, 'length') });
}

/** The DONE trailer of objects.read (FW-OBJ-10). */
export interface ReadTrailer {
  /** The SHA-256 of the whole object, not of the range (FW-OBJ-10). */
  readonly sha256: string;
  readonly size: number;
  readonly offset: number;
  readonly length: number;
}

export function encodeReadTrailer(r: ReadTrailer): ControlMap {
  return { sha256: r.sha256, size: r.size, offset: r.offset, length: r.length };
}

/** Parses the read's DONE trailer; MALFORMED_PAYLOAD when a key is missing or wrong. */
export function parseReadTrailer(t: ControlMap | undefined): ReadTrailer {
  const op = 'objects.read trailer';
  const m = t ?? {};
  return {
    sha256: required(op, 'sha256', str(op, m, 'sha256', 64, SHA256_HEX_PATTERN)),
    size: required(op, 'size', uint(op, m, 'size')),
    offset: required(op, 'offset', uint(op, m, 'offset')),
    length: required(op, 'length', uint(op, m, 'length')),
  };
}

/** The position a read message starts with (FW-OBJ-9); PROTOCOL_ERROR for a message too short to carry one and a byte. */
export function positionOf(message: Uint8Array): number {
  if (message.length <= POSITION_BYTES) throw new FramewireError('PROTOCOL_ERROR', `a read message of ${message.length} bytes carries no object bytes after its position`);
  const view = new DataView(message.buffer, message.byteOffset, POSITION_BYTES);
  const position = Number(view.getBigUint64(0));
  if (!Number.isSafeInteger(position)) throw new FramewireError('PROTOCOL_ERROR', 'a read message position beyond 2^53');
  return position;
}

export function writePosition(into: Uint8Array, position: number): void {
  new DataView(into.buffer, into.byteOffset, POSITION_BYTES).setBigUint64(0, BigInt(position));
}

// ---- objects.delete ----------------------------------------------------------------------------

export function encodeDeleteTrailer(deleted: boolean): ControlMap {
  return { deleted };
}

export function parseDeleteTrailer(t: ControlMap | undefined): boolean {
  const v = (t ?? {})['deleted'];
  if (typeof v !== 'boolean') throw bad('objects.delete trailer', '"deleted" must be a boolean');
  return v;
}
