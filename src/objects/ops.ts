/**
 * The client side of each object operation, one stream each (spec/OBJECTS.md §15.4): open with
 * the kind, target and meta, end the request with DONE, and read the answer from the server's DONE
 * trailer — or throw the coded error it sent. The downloader is built from these; tests use them
 * to probe the service. Any ClientConnection carries them.
 */

import { FramewireError } from '../errors.ts';
import { exchange, parse } from '../upload/ops.ts';
import type { ClientConnection, Stream } from '../session/index.ts';
import {
  DIGEST_BYTES,
  encodeListMeta,
  encodeReadMeta,
  encodeStatMeta,
  MAX_UNITS_MAX,
  ObjectKind,
  parseDeleteTrailer,
  parseListTrailer,
  parseStatTrailer,
  type ListPage,
  type ListRequest,
  type ObjectDescription,
  type ReadRequest,
} from './protocol.ts';

/** Control operations jump ahead of read data (FW-SCHED-3), as the upload client's do. */
export const CONTROL_URGENCY = 1;
export const READ_URGENCY = 4;

/** One stat: the description with one page of unit digests (from `unitsFrom`). */
export async function statObject(conn: ClientConnection, objectId: string, request: { unitsFrom?: number; unitsMax?: number } = {}): Promise<ObjectDescription> {
  const stream = conn.open({ kind: ObjectKind.stat, target: objectId, meta: encodeStatMeta(request), urgency: CONTROL_URGENCY });
  return parse(ObjectKind.stat, await exchange(stream), parseStatTrailer);
}

/** The description with every unit digest, fetched in pages of `MAX_UNITS_MAX`. */
export async function describeObject(conn: ClientConnection, objectId: string): Promise<ObjectDescription> {
  const first = await statObject(conn, objectId, { unitsMax: MAX_UNITS_MAX });
  const pages = [first.unitDigests];
  for (let held = first.unitDigests.length / DIGEST_BYTES; held < first.unitCount; ) {
    const next = await statObject(conn, objectId, { unitsFrom: held, unitsMax: MAX_UNITS_MAX });
    if (next.sha256 !== first.sha256 || next.unitCount !== first.unitCount || next.unitsFrom !== held || next.unitDigests.length === 0) {
      throw new FramewireError('PROTOCOL_ERROR', `objects.stat of ${objectId} answered another page than asked for`);
    }
    pages.push(next.unitDigests);
    held += next.unitDigests.length / DIGEST_BYTES;
  }
  return { ...first, unitsFrom: 0, unitDigests: Buffer.concat(pages) };
}

/** One page of the principal's objects, in id order; pass the page's `cursor` to get the next one. */
export async function listObjects(conn: ClientConnection, request: Partial<ListRequest> = {}): Promise<ListPage> {
  const stream = conn.open({ kind: ObjectKind.list, meta: encodeListMeta(request), urgency: CONTROL_URGENCY });
  return parse(ObjectKind.list, await exchange(stream), parseListTrailer);
}

/** Deletes the object; true when this call removed it, false when there was nothing (of ours) to remove. */
export async function deleteObject(conn: ClientConnection, objectId: string): Promise<boolean> {
  const stream = conn.open({ kind: ObjectKind.delete, target: objectId, urgency: CONTROL_URGENCY });
  return parse(ObjectKind.delete, await exchange(stream), parseDeleteTrailer);
}

/** Opens a read and ends the request; the caller reads the positioned messages and the trailer from the stream. */
export function openRead(conn: ClientConnection, objectId: string, request: ReadRequest): Stream {
  const stream = conn.open({ kind: ObjectKind.read, target: objectId, meta: encodeReadMeta(request), urgency: READ_URGENCY });
  // Nothing else goes this way (FW-OBJ-2); a failure here shows in the stream's outcome.
  stream.end().catch(() => undefined);
  return stream;
}
