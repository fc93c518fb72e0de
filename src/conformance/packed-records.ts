/**
 * The payload of a PACKED DATA frame (spec §8.2.6, FW-PACK-2): records back to back, each a u32
 * big-endian length n and n bytes, filling the payload exactly; at least one record.
 *
 * The runner packs and unpacks with this file, never with the session's code, so that one
 * misreading of the record layout cannot hide on both sides of a test (ARCHITECTURE.md, L6).
 */

/** Bytes of a record's length field. */
export const RECORD_LENGTH_SIZE = 4;

/** The payload carrying `records` as whole messages, in order. */
export function packRecords(records: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const length = Buffer.alloc(RECORD_LENGTH_SIZE);
    length.writeUInt32BE(r.length, 0);
    parts.push(length, Buffer.from(r.buffer, r.byteOffset, r.byteLength));
  }
  return Buffer.concat(parts);
}

/** The records of a payload, or why it is not exactly tiled by records (with the records before the fault). */
export type Unpacked = { readonly ok: true; readonly records: Buffer[] } | { readonly ok: false; readonly problem: string; readonly records: Buffer[] };

export function unpackRecords(payload: Uint8Array): Unpacked {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const records: Buffer[] = [];
  if (bytes.length === 0) return { ok: false, problem: 'the payload is empty (a PACKED frame carries at least one record)', records };
  let at = 0;
  while (at < bytes.length) {
    const left = bytes.length - at;
    if (left < RECORD_LENGTH_SIZE) {
      return { ok: false, problem: `${left} byte(s) left over at offset ${at}, too few for a record length`, records };
    }
    const n = bytes.readUInt32BE(at);
    if (n > left - RECORD_LENGTH_SIZE) {
      return { ok: false, problem: `the record at offset ${at} says ${n} bytes, but only ${left - RECORD_LENGTH_SIZE} follow`, records };
    }
    records.push(Buffer.from(bytes.subarray(at + RECORD_LENGTH_SIZE, at + RECORD_LENGTH_SIZE + n)));
    at += RECORD_LENGTH_SIZE + n;
  }
  return { ok: true, records };
}

/**
 * Records whose payload is exactly `total` bytes (length fields included), each at most
 * `maxRecord` bytes of content: for cases that need a PACKED frame of a given size.
 * `total` must be at least 4.
 */
export function recordsFilling(total: number, maxRecord: number): Buffer[] {
  const count = Math.ceil(total / (maxRecord + RECORD_LENGTH_SIZE));
  const content = total - RECORD_LENGTH_SIZE * count;
  if (count === 0 || content < 0) throw new RangeError(`cannot fill ${total} bytes with records`);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const n = Math.floor(content / count) + (i < content % count ? 1 : 0);
    out.push(Buffer.alloc(n, 0x61 + (i % 26)));
  }
  return out;
}
