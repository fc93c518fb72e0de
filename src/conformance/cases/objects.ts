/**
 * §15 The object read profile (spec/OBJECTS.md, FW-OBJ-*): stat, list, read and delete of objects
 * the case itself committed through the upload profile (small chunks, so nothing waits for credit).
 * Metas are built and trailers and positioned messages checked by hand from the tables of
 * OBJECTS.md, never with src/objects. A target without the profile (objects.list not answered with
 * a page) gets `unsupported`. Objects a case committed are deleted when it ends.
 */

import { randomBytes } from 'node:crypto';
import { ErrorCodes } from '../../errors.ts';
import type { Conn } from '../context.ts';
import { expectStreamError } from '../expect.ts';
import { CaseAbort, outcome } from '../types.ts';
import { pattern, type Case } from './helpers.ts';
import { commit, commitProblems, control, createUpload, isUint, sha256, show, storeAll, trailerOf, type Trailer } from './upload/support.ts';

const KIND = { stat: 'objects.stat', list: 'objects.list', read: 'objects.read', delete: 'objects.delete' } as const;
const S_CONV = '15.2 Conventions';
const S_STAT = '15.4.1 objects.stat';
const S_LIST = '15.4.2 objects.list';
const S_READ = '15.4.3 objects.read';
const S_DELETE = '15.4.4 objects.delete';
const NEEDS = ['upload', 'objects'] as const;

interface Committed {
  readonly id: string;
  readonly data: Buffer;
  readonly commit: Trailer;
}

/** Creates, fills and commits an object of random bytes; deleted when the case ends. */
async function commitObject(conn: Conn, size = 2500, chunkSize = 1024): Promise<Committed> {
  const u = await createUpload(conn, { size, chunkSize });
  await storeAll(conn, u);
  const t = await trailerOf(conn, commit(conn, u), 'upload.commit');
  const p = commitProblems(t, u);
  if (p.length > 0) throw new CaseAbort(outcome.fail(`the commit trailer is wrong: ${p.join('; ')}`, 'the commit trailer of §11.4.4', show(t)));
  const id = t['object_id'] as string;
  conn.ctx.defer(async () => {
    const cleaner = await conn.ctx.handshake();
    await cleaner.ended(control(cleaner, KIND.delete, id));
  });
  return { id, data: u.data, commit: t };
}

/** Reads a range; its positioned messages reassembled and checked, and the trailer (FW-OBJ-9, FW-OBJ-10). */
async function readRange(conn: Conn, o: Committed, meta: Record<string, unknown>, from: number, to: number): Promise<string[]> {
  const v = await conn.ended(control(conn, KIND.read, o.id, meta));
  if (!v.done) return [`the read ${show(meta)} ended with ${v.error === undefined ? 'no DONE' : `ERROR 0x${v.error.toString(16)}`}`];
  const p: string[] = [];
  let expected = from;
  const parts: Buffer[] = [];
  for (const m of v.messages) {
    if (m.length <= 8) {
      p.push(`a message of ${m.length} bytes carries no object bytes after its 8-byte position`);
      continue;
    }
    const position = Number(m.readBigUInt64BE(0));
    if (position !== expected) p.push(`a message at position ${position}, expected ${expected}`);
    parts.push(m.subarray(8));
    expected = position + m.length - 8;
  }
  const got = Buffer.concat(parts);
  if (!got.equals(o.data.subarray(from, to))) p.push(`the messages carry ${got.length} bytes that are not the object's [${from}, ${to})`);
  const t = v.trailer ?? {};
  if (t['sha256'] !== sha256(o.data)) p.push(`trailer sha256 ${show(t['sha256'])}, expected the whole object's`);
  if (t['size'] !== o.data.length || t['offset'] !== from || t['length'] !== to - from) p.push(`trailer ${show(t)}, expected size ${o.data.length}, offset ${from}, length ${to - from}`);
  return p;
}

export const cases: Case[] = [
  {
    id: 'FW-OBJ-1/unknown-objects-kind',
    requirements: ['FW-OBJ-1'],
    section: S_CONV,
    level: 'MUST',
    title: 'OPEN of kind "objects.no-such-op" → ERROR NOT_FOUND on that stream',
    quote: 'The server MUST claim the kinds of the table above and MUST refuse any other `objects.*` kind with `NOT_FOUND`.',
    needs: ['objects'],
    async run(ctx) {
      const conn = await ctx.handshake();
      return expectStreamError(conn, control(conn, 'objects.no-such-op', undefined), 'NOT_FOUND');
    },
  },
  {
    id: 'FW-OBJ-2/stat-with-data',
    requirements: ['FW-OBJ-2'],
    section: S_CONV,
    level: 'MUST',
    title: 'objects.stat of a committed object with 4 bytes of DATA → ERROR PROTOCOL_ERROR on that stream',
    quote: 'The client sends OPEN then DONE and nothing else on every operation: a stream on which the client sends DATA bytes fails with `PROTOCOL_ERROR` (stream error).',
    needs: NEEDS,
    async run(ctx) {
      const conn = await ctx.handshake();
      const o = await commitObject(conn);
      const id = conn.open(KIND.stat, { target: o.id });
      conn.dataRaw(id, pattern(4));
      conn.peer.done(id);
      return expectStreamError(conn, id, 'PROTOCOL_ERROR');
    },
  },
  {
    id: 'FW-OBJ-3/malformed-meta',
    requirements: ['FW-OBJ-3'],
    section: S_CONV,
    level: 'MUST',
    title: 'objects.read with offset "10" (a string), objects.stat with units_max 1025, objects.list with limit 0 → MALFORMED_PAYLOAD each; the connection goes on',
    quote: 'A known key of the wrong type or out of its bounds is `MALFORMED_PAYLOAD` (a stream error).',
    needs: NEEDS,
    async run(ctx) {
      const conn = await ctx.handshake();
      const o = await commitObject(conn);
      const streams = [control(conn, KIND.read, o.id, { offset: '10' }), control(conn, KIND.stat, o.id, { units_max: 1025 }), control(conn, KIND.list, undefined, { limit: 0 })];
      for (const id of streams) {
        const r = await expectStreamError(conn, id, 'MALFORMED_PAYLOAD');
        if (r.verdict !== 'pass') return { ...r, detail: `stream ${id}: ${r.detail}` };
      }
      return outcome.pass('three malformed requests refused with MALFORMED_PAYLOAD as stream errors');
    },
  },
  {
    id: 'FW-OBJ-4/unknown-ids-alike',
    requirements: ['FW-OBJ-4'],
    section: S_CONV,
    level: 'MUST',
    title: 'stat and read of an unknown 32-hex id, of "../../etc/passwd" and of a deleted object → NOT_FOUND each, with one message and no details',
    quote: 'Stat and read of a missing object, of a deleted one, of one owned by another principal and of a target that is no object id at all MUST all fail with `NOT_FOUND` with the same message and no details.',
    needs: NEEDS,
    async run(ctx) {
      const conn = await ctx.handshake();
      const o = await commitObject(conn, 10, 10);
      await trailerOf(conn, control(conn, KIND.delete, o.id), 'objects.delete');
      const answers = new Set<string>();
      const wrong: string[] = [];
      for (const target of [randomBytes(16).toString('hex'), '../../etc/passwd', o.id]) {
        for (const kind of [KIND.stat, KIND.read]) {
          const v = await conn.ended(control(conn, kind, target));
          if (v.error !== ErrorCodes.NOT_FOUND.code) wrong.push(`${kind} of ${target}: ${v.done ? 'DONE' : `0x${(v.error ?? 0).toString(16)}`}`);
          answers.add(`${v.errorMessage ?? ''}|${show(v.errorDetails)}`);
        }
      }
      if (wrong.length > 0) return outcome.fail('not every unknown object answered NOT_FOUND', 'ERROR NOT_FOUND (0x16) each', wrong.join('; '));
      if (answers.size > 1) return outcome.fail('the NOT_FOUND answers differ, which tells the ids apart', 'one message, no details', [...answers].join(' / '));
      return outcome.pass('six NOT_FOUND answers, identical');
    },
  },
  {
    id: 'FW-OBJ-6/stat',
    requirements: ['FW-OBJ-6', 'FW-OBJ-5'],
    section: S_STAT,
    level: 'MUST',
    title: 'commit 2500 bytes, then objects.stat (all digests, then units_from 1 / units_max 1, then units_from past the end) → the commit\'s size, SHA-256 and time, unit digests of the bytes, BAD_RANGE',
    quote: '`unit_digests` MUST hold the digests of `min(units_max, unit_count − units_from)` units in order, each the SHA-256 of exactly that unit\'s bytes of the object; `units_from` > `unit_count` MUST fail with `BAD_RANGE`.',
    needs: NEEDS,
    async run(ctx) {
      const conn = await ctx.handshake();
      const o = await commitObject(conn);
      const t = await trailerOf(conn, control(conn, KIND.stat, o.id, { units_max: 1024 }), 'objects.stat');
      const p: string[] = [];
      if (t['object_id'] !== o.id || t['size'] !== o.data.length || t['sha256'] !== o.commit['sha256'] || t['committed_at'] !== o.commit['committed_at']) p.push(`object_id/size/sha256/committed_at ${show([t['object_id'], t['size'], t['sha256'], t['committed_at']])} differ from the commit's`);
      const unit = t['unit_size'];
      if (!isUint(unit) || unit < 1) return outcome.fail(`unit_size ${show(unit)} is not a uint >= 1`, 'the stat trailer of §15.4.1', show(t));
      const count = Math.ceil(o.data.length / unit);
      const digests = (from: number, n: number): Buffer => Buffer.concat(Array.from({ length: n }, (_, i) => Buffer.from(sha256(o.data.subarray((from + i) * unit, (from + i + 1) * unit)), 'hex')));
      if (t['unit_count'] !== count) p.push(`unit_count ${show(t['unit_count'])}, expected ${count}`);
      if (!(t['unit_digests'] instanceof Uint8Array) || !Buffer.from(t['unit_digests']).equals(digests(0, count))) p.push('unit_digests are not the SHA-256 of each unit');
      const page = await trailerOf(conn, control(conn, KIND.stat, o.id, { units_from: 1, units_max: 1 }), 'objects.stat {units_from: 1, units_max: 1}');
      if (count > 1 && (page['units_from'] !== 1 || !(page['unit_digests'] instanceof Uint8Array) || !Buffer.from(page['unit_digests']).equals(digests(1, 1)))) p.push(`the page from unit 1 is ${show(page['unit_digests'])}`);
      if (p.length > 0) return outcome.fail(p.join('; '), 'the stat trailer of §15.4.1', show(t));
      return expectStreamError(conn, control(conn, KIND.stat, o.id, { units_from: count + 1 }), 'BAD_RANGE');
    },
  },
  {
    id: 'FW-OBJ-7/list-pages',
    requirements: ['FW-OBJ-7'],
    section: S_LIST,
    level: 'MUST',
    title: 'commit 3 objects, then objects.list {limit: 1} following each cursor → each of the three exactly once, pages of at most 1; cursor "!" → MALFORMED_PAYLOAD',
    quote: 'The server MUST return only the asking principal\'s objects … at most `limit` of them … and MUST answer a `cursor` with which the next call continues after the last object of this page … A cursor the server cannot read is `MALFORMED_PAYLOAD`.',
    needs: NEEDS,
    async run(ctx) {
      const conn = await ctx.handshake();
      const ours = [await commitObject(conn, 10, 10), await commitObject(conn, 10, 10), await commitObject(conn, 10, 10)].map((o) => o.id);
      const seen: string[] = [];
      let cursor: unknown;
      for (let pages = 0; pages < 10_000; pages++) {
        const t = await trailerOf(conn, control(conn, KIND.list, undefined, { limit: 1, ...(cursor === undefined ? {} : { cursor }) }), 'objects.list');
        const objects = t['objects'];
        if (!Array.isArray(objects) || objects.length > 1) return outcome.fail(`a page of ${show(objects)}`, 'an array of at most 1 object', show(t));
        for (const x of objects as Trailer[]) seen.push(String(x['object_id']));
        cursor = t['cursor'];
        if (cursor === undefined) break;
      }
      const counts = ours.map((id) => seen.filter((s) => s === id).length);
      if (counts.some((n) => n !== 1)) return outcome.fail(`our objects appeared ${counts.join(', ')} times`, 'each once', seen.join(', '));
      return expectStreamError(conn, control(conn, KIND.list, undefined, { cursor: '!' }), 'MALFORMED_PAYLOAD');
    },
  },
  {
    id: 'FW-OBJ-8/range-past-end',
    requirements: ['FW-OBJ-8'],
    section: S_READ,
    level: 'MUST',
    title: 'objects.read of offset size+1, and of offset 10 length size → BAD_RANGE with details {size} and no DATA; offset = size → DONE, no DATA',
    quote: '`offset` > `size`, or `offset` + `length` > `size`, fails with `BAD_RANGE` with details `{"size": size}`.',
    needs: NEEDS,
    async run(ctx) {
      const conn = await ctx.handshake();
      const o = await commitObject(conn);
      const size = o.data.length;
      const p: string[] = [];
      for (const meta of [{ offset: size + 1 }, { offset: 10, length: size }]) {
        const stream = control(conn, KIND.read, o.id, meta);
        const v = await conn.ended(stream);
        if (v.error !== ErrorCodes.BAD_RANGE.code || v.errorDetails?.['size'] !== size || v.messages.length > 0) p.push(`${show(meta)}: ${conn.describeStreamEnd(stream)} after ${v.messages.length} message(s), details ${show(v.errorDetails)}`);
      }
      const end = await conn.ended(control(conn, KIND.read, o.id, { offset: size }));
      if (!end.done || end.messages.length > 0) p.push(`offset = size: ${end.done ? `DONE after ${end.messages.length} message(s)` : 'no DONE'}`);
      if (p.length > 0) return outcome.fail(p.join('; '), 'BAD_RANGE {size} twice, then an empty DONE', p[0] ?? '');
      return outcome.pass('both ranges refused with BAD_RANGE and the size; the empty range at the end answered');
    },
  },
  {
    id: 'FW-OBJ-9/positioned-messages',
    requirements: ['FW-OBJ-9', 'FW-OBJ-10', 'FW-OBJ-5'],
    section: S_READ,
    level: 'MUST',
    title: 'objects.read of the whole object and of [1000, 2200) → messages of 8-byte position + bytes, contiguous, exactly the range; DONE {sha256 of the whole object, size, offset, length}',
    quote: 'Each message is an 8-byte unsigned big-endian position … followed by at least one byte of the object from that position … the messages together carry exactly the range … the trailer `{"sha256", "size", "offset", "length"}`: the SHA-256 of the whole object.',
    needs: NEEDS,
    async run(ctx) {
      const conn = await ctx.handshake();
      const o = await commitObject(conn, 5000, 1024);
      const p = [...(await readRange(conn, o, {}, 0, 5000)), ...(await readRange(conn, o, { offset: 1000, length: 1200 }, 1000, 2200))];
      if (p.length > 0) return outcome.fail(p.join('; '), 'positioned messages and the trailer of §15.4.3', p[0] ?? '');
      return outcome.pass('two reads: positions contiguous, bytes exact, trailer right');
    },
  },
  {
    id: 'FW-OBJ-12/delete-idempotent',
    requirements: ['FW-OBJ-12', 'FW-OBJ-7'],
    section: S_DELETE,
    level: 'MUST',
    title: 'objects.delete twice → {deleted: true}, then {deleted: false}; then stat → NOT_FOUND and list does not show it',
    quote: 'Delete MUST remove the object for good … It is idempotent: the answer is DONE `{"deleted": true}` when this call removed the object and `{"deleted": false}` when there was nothing to remove.',
    needs: NEEDS,
    async run(ctx) {
      const conn = await ctx.handshake();
      const o = await commitObject(conn, 10, 10);
      const first = await trailerOf(conn, control(conn, KIND.delete, o.id), 'objects.delete');
      const second = await trailerOf(conn, control(conn, KIND.delete, o.id), 'objects.delete again');
      if (first['deleted'] !== true || second['deleted'] !== false) return outcome.fail('the delete answers are wrong', '{deleted: true}, then {deleted: false}', `${show(first)}, then ${show(second)}`);
      const listed: string[] = [];
      let cursor: unknown;
      for (let pages = 0; pages < 10_000; pages++) {
        const t = await trailerOf(conn, control(conn, KIND.list, undefined, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) }), 'objects.list');
        for (const x of (Array.isArray(t['objects']) ? t['objects'] : []) as Trailer[]) listed.push(String(x['object_id']));
        cursor = t['cursor'];
        if (cursor === undefined) break;
      }
      if (listed.includes(o.id)) return outcome.fail('the deleted object is still listed', 'not in objects.list', o.id);
      return expectStreamError(conn, control(conn, KIND.stat, o.id), 'NOT_FOUND');
    },
  },
];


