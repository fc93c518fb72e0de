/**
 * §11 The upload profile (spec/UPLOAD.md, FW-UP-*): create, status, chunk, commit and abort, each
 * one stream whose OPEN kind names the operation. Metas are built and trailers checked here by
 * hand, from the tables of UPLOAD.md, never with src/upload: a bug in the reference schema must
 * not hide on both sides of a test.
 *
 * Every case creates its own upload(s), with small chunks (1 KiB) so that no case waits for credit.
 * A target without the profile (upload.create answered NOT_FOUND) gets `unsupported`.
 * The expiry case waits the target's `ttl_ms` (from the create trailer) when it fits the run's
 * long-wait budget, and is informational otherwise.
 */

import { createHash, randomBytes } from 'node:crypto';
import { ErrorCodes } from '../../errors.ts';
import type { Conn } from '../context.ts';
import { FrameType } from '../../wire/index.ts';
import { expectStreamError } from '../expect.ts';
import { CaseAbort, outcome, type Outcome } from '../types.ts';
import { pattern, sleep, type Case } from './helpers.ts';

const KIND = {
  create: 'upload.create',
  status: 'upload.status',
  chunk: 'upload.chunk',
  commit: 'upload.commit',
  abort: 'upload.abort',
} as const;

const UPLOAD_ID = /^[0-9a-f]{32}$/u;
const SHA256_HEX = /^[0-9a-f]{64}$/u;
const STATES = ['receiving', 'committing', 'committed', 'aborted', 'expired'];

type Trailer = Readonly<Record<string, unknown>>;

const S_CONV = '11.2 Conventions';
const S_CREATE = '11.4.1 upload.create';
const S_STATUS = '11.4.2 upload.status';
const S_CHUNK = '11.4.3 upload.chunk';
const S_COMMIT = '11.4.4 upload.commit';
const S_ABORT = '11.4.5 upload.abort';
const S_FENCE = '11.5.1 Fencing';
const S_LIMITS = '11.6 Limits';
const S_EXPIRY = '11.7 Expiry and cleanup';

// ---- helpers ---------------------------------------------------------------------------------------

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `bin(${Buffer.from(v).toString('hex')})`;
  if (v === undefined) return 'absent';
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `bin(${Buffer.from(x).toString('hex')})` : x));
}

/** Deep equality of decoded MessagePack values, key order aside. */
function same(a: unknown, b: unknown): boolean {
  const canon = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return `bin(${Buffer.from(v).toString('hex')})`;
    if (typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) return v.map(canon);
    return Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([k, x]) => [k, canon(x)]));
  };
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

/** An upload this case created: its geometry, its bytes, and the fencing token we hold. */
interface Upload {
  readonly id: string;
  readonly size: number;
  readonly chunkSize: number;
  readonly count: number;
  readonly data: Buffer;
  token: number;
  readonly trailer: Trailer;
}

function chunkOf(u: Upload, index: number): Buffer {
  const from = index * u.chunkSize;
  return u.data.subarray(from, Math.min(from + u.chunkSize, u.size));
}

/** Opens a control operation: OPEN, then DONE, no DATA (FW-UP-2). Returns the stream id. */
function control(conn: Conn, kind: string, target: string | undefined, meta?: Record<string, unknown>): number {
  const id = conn.open(kind, { ...(target === undefined ? {} : { target }), ...(meta === undefined ? {} : { meta }) });
  conn.peer.done(id);
  return id;
}

/** The DONE trailer of an operation that must succeed; otherwise the case ends with `fail`. */
async function trailerOf(conn: Conn, stream: number, what: string): Promise<Trailer> {
  const v = await conn.ended(stream);
  if (v.done) return v.trailer ?? {};
  throw new CaseAbort(outcome.fail(`${what} did not succeed`, 'DONE with a trailer', conn.describeStreamEnd(stream)));
}

/** Problems with a status trailer (§11.5 table, FW-UP-4: absent optional keys are omitted, never nil). */
function statusProblems(t: Trailer, expected: { id?: string; size?: number; chunkSize?: number; state?: string } = {}): string[] {
  const p: string[] = [];
  for (const [k, v] of Object.entries(t)) if (v === null) p.push(`"${k}" is nil (absent keys are omitted, never nil)`);
  const id = t['upload_id'];
  if (typeof id !== 'string' || !UPLOAD_ID.test(id)) p.push(`upload_id ${show(id)} is not 32 lowercase hex digits`);
  else if (expected.id !== undefined && id !== expected.id) p.push(`upload_id ${id}, expected ${expected.id}`);
  const state = t['state'];
  if (typeof state !== 'string' || !STATES.includes(state)) p.push(`state ${show(state)} is not one of ${STATES.join('/')}`);
  else if (expected.state !== undefined && state !== expected.state) p.push(`state "${state}", expected "${expected.state}"`);
  for (const k of ['size', 'chunk_size', 'chunk_count', 'expires_at', 'ttl_ms', 'stored_chunks', 'stored_bytes']) {
    if (!isUint(t[k])) p.push(`${k} ${show(t[k])} is not a uint`);
  }
  if (expected.size !== undefined && t['size'] !== expected.size) p.push(`size ${show(t['size'])}, expected ${expected.size}`);
  if (expected.chunkSize !== undefined && t['chunk_size'] !== expected.chunkSize) p.push(`chunk_size ${show(t['chunk_size'])}, expected ${expected.chunkSize}`);
  if (expected.size !== undefined && expected.chunkSize !== undefined) {
    const count = expected.size === 0 ? 0 : Math.ceil(expected.size / expected.chunkSize);
    if (t['chunk_count'] !== count) p.push(`chunk_count ${show(t['chunk_count'])}, expected ${count}`);
  }
  const stored = t['stored'];
  const count = t['chunk_count'];
  if (!(stored instanceof Uint8Array)) p.push(`stored ${show(stored)} is not bin`);
  else if (isUint(count) && stored.length !== Math.ceil(count / 8)) p.push(`stored has ${stored.length} bytes, expected ceil(${count} / 8)`);
  if (t['sha256'] !== undefined && (typeof t['sha256'] !== 'string' || !SHA256_HEX.test(t['sha256']))) p.push(`sha256 ${show(t['sha256'])} is not 64 lowercase hex digits`);
  if (t['token'] !== undefined && !isUint(t['token'])) p.push(`token ${show(t['token'])} is not a uint`);
  if (t['created'] !== undefined && typeof t['created'] !== 'boolean') p.push(`created ${show(t['created'])} is not a bool`);
  if (t['object'] !== undefined && (typeof t['object'] !== 'object' || t['object'] instanceof Uint8Array)) p.push(`object ${show(t['object'])} is not a map`);
  return p;
}

/** Problems with a commit trailer (§11.4.4). */
function commitProblems(t: Trailer, u: Upload): string[] {
  const p: string[] = [];
  const objectId = t['object_id'];
  if (typeof objectId !== 'string' || objectId.length === 0 || objectId.length > 256) p.push(`object_id ${show(objectId)} is not a string of 1..256 characters`);
  if (t['sha256'] !== sha256(u.data)) p.push(`sha256 ${show(t['sha256'])}, expected the object's ${sha256(u.data)}`);
  if (t['size'] !== u.size) p.push(`size ${show(t['size'])}, expected ${u.size}`);
  if (!isUint(t['committed_at'])) p.push(`committed_at ${show(t['committed_at'])} is not a uint`);
  return p;
}

/** The indexes whose bit is set in a status trailer's `stored` bitmap (bit i = byte[i >> 3] & (0x80 >> (i & 7))). */
function storedSet(t: Trailer): Set<number> {
  const out = new Set<number>();
  const b = t['stored'];
  if (!(b instanceof Uint8Array)) return out;
  for (let i = 0; i < b.length * 8; i++) if (((b[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0) out.add(i);
  return out;
}

interface CreateOptions {
  readonly size?: number;
  readonly chunkSize?: number;
  readonly key?: string;
  /** Declare the object's SHA-256 at create (true: the right one). */
  readonly sha256?: boolean | string;
}

/** upload.create of a fresh upload with random bytes; `unsupported` when the target has no upload profile. */
async function createUpload(conn: Conn, o: CreateOptions = {}): Promise<Upload> {
  const size = o.size ?? 2500;
  const chunkSize = o.chunkSize ?? 1024;
  const data = randomBytes(size);
  const declared = o.sha256 === true ? sha256(data) : typeof o.sha256 === 'string' ? o.sha256 : undefined;
  const meta: Record<string, unknown> = { size, chunk_size: chunkSize };
  if (declared !== undefined) meta['sha256'] = declared;
  if (o.key !== undefined) meta['idempotency_key'] = o.key;
  const stream = control(conn, KIND.create, undefined, meta);
  const v = await conn.ended(stream);
  if (v.error === ErrorCodes.NOT_FOUND.code) throw new CaseAbort(outcome.unsupported('the target answers upload.create with NOT_FOUND: it offers no upload profile'));
  if (!v.done) throw new CaseAbort(outcome.fail('upload.create did not succeed', 'DONE with the status trailer', conn.describeStreamEnd(stream)));
  const t = v.trailer ?? {};
  const id = t['upload_id'];
  const token = t['token'];
  if (typeof id !== 'string' || !UPLOAD_ID.test(id) || !isUint(token)) {
    throw new CaseAbort(outcome.fail('the create trailer lacks a usable upload_id or token', '{upload_id: 32 hex digits, token: uint, …}', show(t)));
  }
  return { id, size, chunkSize, count: size === 0 ? 0 : Math.ceil(size / chunkSize), data, token, trailer: t };
}

interface ChunkOptions {
  /** The bytes to send (default: the chunk's own). */
  readonly bytes?: Uint8Array;
  /** The declared digest (default: the SHA-256 of `bytes`). */
  readonly sha256?: string;
  readonly token?: number;
  readonly offset?: number;
  readonly length?: number;
  /** Split the bytes into this many messages (FW-UP-13). Default 1. */
  readonly messages?: number;
  /** Send DONE after the bytes (default true). */
  readonly done?: boolean;
}

/** upload.chunk: OPEN with the chunk's meta, its bytes as DATA, DONE. Returns the stream id. */
async function sendChunk(conn: Conn, u: Upload, index: number, o: ChunkOptions = {}): Promise<number> {
  const own = chunkOf(u, index);
  const bytes = o.bytes ?? own;
  const meta = {
    index,
    offset: o.offset ?? index * u.chunkSize,
    length: o.length ?? own.length,
    sha256: o.sha256 ?? sha256(bytes),
    token: o.token ?? u.token,
  };
  const id = conn.open(KIND.chunk, { target: u.id, meta });
  const n = Math.max(1, o.messages ?? 1);
  const step = Math.ceil(bytes.length / n);
  // A target may refuse the chunk before reading it (CHUNK_CONFLICT, LEASE_CONFLICT …): then stop sending.
  const refused = (): boolean => conn.peer.targetEnded.get(id) !== undefined;
  for (let at = 0, i = 0; i < n && !refused(); i++, at += step) {
    const part = bytes.subarray(Math.min(at, bytes.length), Math.min(at + step, bytes.length));
    if (part.length === 0 && i > 0) continue;
    try {
      await conn.send(id, part);
    } catch (error) {
      if (!refused()) throw error;
    }
  }
  if (o.done !== false && !refused()) conn.peer.done(id);
  return id;
}

/** Problems with a chunk acknowledgement {index, stored: true, duplicate, expires_at} (FW-UP-14). */
function ackProblems(t: Trailer, index: number, duplicate: boolean): string[] {
  const p: string[] = [];
  if (t['index'] !== index) p.push(`index ${show(t['index'])}, expected ${index}`);
  if (t['stored'] !== true) p.push(`stored ${show(t['stored'])}, expected true`);
  if (t['duplicate'] !== duplicate) p.push(`duplicate ${show(t['duplicate'])}, expected ${duplicate}`);
  if (!isUint(t['expires_at'])) p.push(`expires_at ${show(t['expires_at'])} is not a uint`);
  return p;
}

/** A chunk that must be acknowledged (not as a duplicate); otherwise the case ends with `fail`. */
async function storeChunk(conn: Conn, u: Upload, index: number, o: ChunkOptions = {}): Promise<Trailer> {
  const t = await trailerOf(conn, await sendChunk(conn, u, index, o), `chunk ${index}`);
  const p = ackProblems(t, index, false);
  if (p.length > 0) throw new CaseAbort(outcome.fail(`the acknowledgement of chunk ${index} is wrong: ${p.join('; ')}`, '{index, stored: true, duplicate: false, expires_at}', show(t)));
  return t;
}

async function storeAll(conn: Conn, u: Upload, order?: readonly number[]): Promise<void> {
  for (const i of order ?? [...Array(u.count).keys()]) await storeChunk(conn, u, i);
}

/** upload.status (read-only, or with acquire); the trailer, which must be a valid status trailer. */
async function status(conn: Conn, u: Upload, acquire = false): Promise<Trailer> {
  const t = await trailerOf(conn, control(conn, KIND.status, u.id, acquire ? { acquire: true } : undefined), acquire ? 'upload.status {acquire: true}' : 'upload.status');
  const p = statusProblems(t, { id: u.id, size: u.size, chunkSize: u.chunkSize });
  if (p.length > 0) throw new CaseAbort(outcome.fail(`the status trailer is wrong: ${p.join('; ')}`, 'the status trailer of §11.5', show(t)));
  return t;
}

function commit(conn: Conn, u: Upload, o: { token?: number; sha256?: string | false } = {}): number {
  const meta: Record<string, unknown> = { token: o.token ?? u.token };
  if (o.sha256 !== false) meta['sha256'] = o.sha256 ?? sha256(u.data);
  return control(conn, KIND.commit, u.id, meta);
}

/** An expected stream error, then more checks: the first non-pass verdict wins, else pass with every detail. */
async function errorThen(conn: Conn, stream: number, code: keyof typeof ErrorCodes, then: () => Promise<string | Outcome>): Promise<Outcome> {
  const o = await expectStreamError(conn, stream, code);
  if (o.verdict === 'fail') return o;
  const more = await then();
  if (typeof more !== 'string') return more;
  return o.verdict === 'pass' ? outcome.pass(`${o.detail}; ${more}`) : { ...o, detail: `${o.detail}; ${more}` };
}

/** The code of a stream's ERROR as text, or how it ended. */
function endText(conn: Conn, stream: number): string {
  return conn.describeStreamEnd(stream);
}

// ---- cases -----------------------------------------------------------------------------------------

export const cases: Case[] = [
  {
    id: 'FW-UP-1/unknown-upload-kind',
    requirements: ['FW-UP-1'],
    section: S_CONV,
    level: 'MUST',
    title: 'OPEN of kind "upload.no-such-op" → ERROR NOT_FOUND on that stream',
    quote: 'The server MUST claim the kinds of the table above and MUST refuse any other `upload.*` kind with `NOT_FOUND`.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      return expectStreamError(conn, control(conn, 'upload.no-such-op', undefined), 'NOT_FOUND');
    },
  },
  {
    id: 'FW-UP-2/acts-after-done',
    requirements: ['FW-UP-2'],
    section: S_CONV,
    level: 'MUST',
    title: 'OPEN upload.create without DONE → no answer; then DONE → the status trailer',
    quote: 'The server MUST wait for the request\'s DONE before acting.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.open(KIND.create, { meta: { size: 10, chunk_size: 10 } });
      await sleep(ctx.quietMs);
      const early = conn.peer.framesOn(id).filter((r) => r.frame?.type !== undefined && r.frame.type !== FrameType.CREDIT && r.frame.type !== FrameType.ACK);
      if (early.length > 0) return outcome.fail('the target answered before the request\'s DONE', 'nothing until DONE', endText(conn, id));
      conn.peer.done(id);
      const t = await trailerOf(conn, id, 'upload.create');
      const p = statusProblems(t, { size: 10, chunkSize: 10, state: 'receiving' });
      if (p.length > 0) return outcome.fail(`the status trailer is wrong: ${p.join('; ')}`, 'the status trailer', show(t));
      return outcome.pass('no answer before DONE; the status trailer after it');
    },
  },
  {
    id: 'FW-UP-2/control-with-data',
    requirements: ['FW-UP-2', 'FW-CONN-3'],
    section: S_CONV,
    level: 'MUST',
    title: 'upload.status with 4 bytes of DATA → ERROR PROTOCOL_ERROR on that stream',
    quote: '`upload.create`, `upload.status`, `upload.commit` and `upload.abort` carry no DATA … [the server] fails a stream that carries DATA bytes with `PROTOCOL_ERROR` (stream error).',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      const id = conn.open(KIND.status, { target: u.id });
      conn.dataRaw(id, pattern(4));
      conn.peer.done(id);
      return expectStreamError(conn, id, 'PROTOCOL_ERROR');
    },
  },
  {
    id: 'FW-UP-3/create-trailer',
    requirements: ['FW-UP-3', 'FW-UP-20', 'FW-UP-4', 'FW-UP-40'],
    section: S_CREATE,
    level: 'MUST',
    title: 'upload.create {size 2500, chunk_size 1024} twice → two status trailers: distinct 32-hex ids, state receiving, chunk_count 3, empty bitmap, token 1, created true',
    quote: 'Upload ids are generated by the server: 128 random bits written as 32 lowercase hexadecimal digits … Create grants token 1 … Answer: the status trailer (§11.5) with `created` and `token` (1 for a new upload).',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const a = await createUpload(conn);
      const b = await createUpload(conn);
      const problems: string[] = [];
      for (const u of [a, b]) {
        problems.push(...statusProblems(u.trailer, { size: 2500, chunkSize: 1024, state: 'receiving' }));
        if (u.trailer['token'] !== 1) problems.push(`token ${show(u.trailer['token'])}, expected 1`);
        if (u.trailer['created'] !== true) problems.push(`created ${show(u.trailer['created'])}, expected true`);
        if (u.trailer['stored_chunks'] !== 0 || u.trailer['stored_bytes'] !== 0 || storedSet(u.trailer).size > 0) problems.push('a new upload reports stored chunks');
      }
      if (a.id === b.id) problems.push(`two creates returned the same id ${a.id}`);
      if (problems.length > 0) return outcome.fail(problems.join('; '), 'two valid status trailers', show(a.trailer));
      return outcome.pass(`ids ${a.id} and ${b.id}, ttl_ms ${show(a.trailer['ttl_ms'])}`);
    },
  },
  {
    id: 'FW-UP-3/target-not-an-upload',
    requirements: ['FW-UP-3', 'FW-UP-50'],
    section: S_CONV,
    level: 'MUST',
    title: 'status, chunk, commit and abort of an unknown 32-hex id, status of "../../etc/passwd", and of 32 uppercase hex digits → UPLOAD_NOT_FOUND each',
    quote: 'The server … MUST answer any `target` that does not match the pattern, or names no upload, with `UPLOAD_NOT_FOUND`.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const unknown = randomBytes(16).toString('hex');
      const fake: Upload = { id: unknown, size: 10, chunkSize: 10, count: 1, data: Buffer.alloc(10), token: 1, trailer: {} };
      const streams: [string, number][] = [
        ['status of an unknown id', control(conn, KIND.status, unknown)],
        ['chunk of an unknown id', await sendChunk(conn, fake, 0)],
        ['commit of an unknown id', commit(conn, fake)],
        ['abort of an unknown id', control(conn, KIND.abort, unknown)],
        ['status of "../../etc/passwd"', control(conn, KIND.status, '../../etc/passwd')],
        ['status of 32 uppercase hex digits', control(conn, KIND.status, unknown.toUpperCase())],
      ];
      const wrong: string[] = [];
      for (const [what, id] of streams) {
        const v = await conn.ended(id);
        if (v.error !== ErrorCodes.UPLOAD_NOT_FOUND.code) wrong.push(`${what}: ${endText(conn, id)}`);
      }
      if (!(await conn.alive())) return outcome.fail('the connection ended', 'stream errors only', conn.describeStreamEnd(streams[0]?.[1] ?? 1));
      if (wrong.length > 0) return outcome.fail(`${wrong.length} of ${streams.length} not refused with UPLOAD_NOT_FOUND`, 'ERROR UPLOAD_NOT_FOUND (0x100) each', wrong.join('; '));
      return outcome.pass(`${streams.length} operations refused with UPLOAD_NOT_FOUND`);
    },
  },
  {
    id: 'FW-UP-4/malformed-meta',
    requirements: ['FW-UP-4', 'FW-CONN-3'],
    section: S_CONV,
    level: 'MUST',
    title: 'upload.create with size "10" (a string), with chunk_size 0, with chunk_size nil → MALFORMED_PAYLOAD on each stream; the connection goes on',
    quote: 'Meta and trailer keys follow §5: known keys with a wrong type or out of bounds fail with `MALFORMED_PAYLOAD` (here a stream error: the OPEN itself was valid).',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      await createUpload(conn, { size: 1, chunkSize: 1 });
      const a = control(conn, KIND.create, undefined, { size: '10', chunk_size: 10 });
      const b = control(conn, KIND.create, undefined, { size: 10, chunk_size: 0 });
      const c = control(conn, KIND.create, undefined, { size: 10, chunk_size: null });
      for (const id of [a, b]) {
        const o = await expectStreamError(conn, id, 'MALFORMED_PAYLOAD');
        if (o.verdict !== 'pass') return { ...o, detail: `stream ${id}: ${o.detail}` };
      }
      const o = await expectStreamError(conn, c, 'MALFORMED_PAYLOAD');
      return o.verdict === 'pass' ? outcome.pass('three malformed creates refused with MALFORMED_PAYLOAD as stream errors') : { ...o, detail: `chunk_size nil: ${o.detail}` };
    },
  },
  {
    id: 'FW-UP-4/unknown-meta-keys',
    requirements: ['FW-UP-4', 'FW-CTRL-4'],
    section: S_CONV,
    level: 'MUST',
    title: 'upload.create and upload.status with unknown meta keys (one nil-valued) work as without them',
    quote: 'Meta and trailer keys follow §5: … absent optional keys are omitted, never nil, and unknown keys are ignored.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn, { size: 1, chunkSize: 1 });
      const id = control(conn, KIND.create, undefined, { size: 30, chunk_size: 10, x_future: [1, 'a'], x_nil: null });
      const t = await trailerOf(conn, id, 'upload.create with unknown keys');
      const p = statusProblems(t, { size: 30, chunkSize: 10, state: 'receiving' });
      const s = await trailerOf(conn, control(conn, KIND.status, u.id, { x_future: { a: 1 } }), 'upload.status with unknown keys');
      p.push(...statusProblems(s, { id: u.id, size: 1, chunkSize: 1 }));
      if (p.length > 0) return outcome.fail(p.join('; '), 'valid status trailers', show(t));
      return outcome.pass('unknown keys ignored');
    },
  },
  {
    id: 'FW-UP-10/create-over-limits',
    requirements: ['FW-UP-10', 'FW-CTRL-3'],
    section: S_CREATE,
    level: 'MUST',
    title: 'upload.create {size 2^53 − 1, chunk_size 1} (a stored-chunk bitmap of 2^50 bytes, beyond any control payload) → BAD_RANGE',
    quote: 'The server MUST check `size`, `chunk_size` and the resulting chunk count against its limits (§11.6) and fails with `BAD_RANGE` if one is exceeded.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      await createUpload(conn, { size: 1, chunkSize: 1 });
      return expectStreamError(conn, control(conn, KIND.create, undefined, { size: Number.MAX_SAFE_INTEGER, chunk_size: 1 }), 'BAD_RANGE');
    },
  },
  {
    id: 'FW-UP-11/idempotent-create',
    requirements: ['FW-UP-11', 'FW-UP-20'],
    section: S_CREATE,
    level: 'MUST',
    title: 'upload.create with an idempotency key twice → the same upload_id, created false and a new token (take-over); the key with another size → IDEMPOTENCY_CONFLICT',
    quote: 'With an `idempotency_key`, the server MUST return the upload that the same principal created earlier with the same key … instead of creating another; its trailer has `created: false`. If that upload\'s `size`, `chunk_size` or `sha256` differ from the request, the server MUST fail with `IDEMPOTENCY_CONFLICT`.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const key = `conformance-${randomBytes(12).toString('hex')}`;
      const first = await createUpload(conn, { key });
      await storeChunk(conn, first, 0);
      const again = control(conn, KIND.create, undefined, { size: first.size, chunk_size: first.chunkSize, idempotency_key: key });
      const t = await trailerOf(conn, again, 'the replayed create');
      const p = statusProblems(t, { size: first.size, chunkSize: first.chunkSize });
      if (t['upload_id'] !== first.id) p.push(`upload_id ${show(t['upload_id'])}, expected the first create's ${first.id}`);
      if (t['created'] !== false) p.push(`created ${show(t['created'])}, expected false`);
      if (!storedSet(t).has(0)) p.push('the stored chunk 0 is missing from the replayed create\'s bitmap');
      if (!isUint(t['token']) || t['token'] <= first.token) p.push(`token ${show(t['token'])}, expected a new token above ${first.token} (a replayed create of a receiving upload is a take-over)`);
      if (p.length > 0) return outcome.fail(p.join('; '), 'the same upload, created false', show(t));
      const conflict = control(conn, KIND.create, undefined, { size: first.size + 1, chunk_size: first.chunkSize, idempotency_key: key });
      return errorThen(conn, conflict, 'IDEMPOTENCY_CONFLICT', () => Promise.resolve(`replay returned ${first.id} with created false and token ${show(t['token'])}`));
    },
  },
  {
    id: 'FW-UP-12/status-in-every-state',
    requirements: ['FW-UP-12', 'FW-UP-27'],
    section: S_STATUS,
    level: 'MUST',
    title: 'upload.status of a receiving, a committed (with its object) and an aborted upload → the status trailer with that state and no token',
    quote: 'Without `acquire`, status is a read-only query: it MUST answer for every upload the server remembers, in any state, with the status trailer (§11.5) and no `token`.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const receiving = await createUpload(conn);
      await storeChunk(conn, receiving, 1);
      const committed = await createUpload(conn, { size: 100, chunkSize: 64 });
      await storeAll(conn, committed);
      const object = await trailerOf(conn, commit(conn, committed), 'upload.commit');
      const aborted = await createUpload(conn, { size: 100, chunkSize: 64 });
      await trailerOf(conn, control(conn, KIND.abort, aborted.id), 'upload.abort');
      const p: string[] = [];
      const r = await status(conn, receiving);
      p.push(...statusProblems(r, { state: 'receiving' }));
      if (r['stored_chunks'] !== 1 || r['stored_bytes'] !== 1024 || [...storedSet(r)].join() !== '1') p.push(`receiving: stored ${show(r['stored'])} (${show(r['stored_chunks'])} chunks, ${show(r['stored_bytes'])} bytes), expected chunk 1 only, 1024 bytes`);
      const c = await status(conn, committed);
      p.push(...statusProblems(c, { state: 'committed' }));
      if (!same(c['object'], object)) p.push(`committed: object ${show(c['object'])}, expected the commit trailer ${show(object)}`);
      const a = await status(conn, aborted);
      p.push(...statusProblems(a, { state: 'aborted' }));
      for (const [name, t] of [['receiving', r], ['committed', c], ['aborted', a]] as const) if (t['token'] !== undefined) p.push(`${name}: a read-only status carries token ${show(t['token'])}`);
      if (p.length > 0) return outcome.fail(p.join('; '), 'status trailers with states receiving, committed, aborted', show(r));
      return outcome.pass('receiving, committed (with object) and aborted reported, no token');
    },
  },
  {
    id: 'FW-UP-14/ack-after-stored',
    requirements: ['FW-UP-14', 'FW-UP-40'],
    section: S_CHUNK,
    level: 'MUST',
    title: 'chunk 0 → DONE {index 0, stored true, duplicate false, expires_at}; a status right after it shows chunk 0 stored, 1024 bytes',
    quote: 'The server MUST answer with the DONE trailer `{"index", "stored": true, "duplicate", "expires_at"}` **only after the chunk is durably stored** … that trailer is the chunk\'s acknowledgement.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      const ack = await storeChunk(conn, u, 0);
      const t = await status(conn, u);
      const stored = storedSet(t);
      if (!stored.has(0) || stored.size !== 1 || t['stored_chunks'] !== 1 || t['stored_bytes'] !== 1024) {
        return outcome.fail('the acknowledged chunk is not reported stored', 'bitmap 0x80, stored_chunks 1, stored_bytes 1024', `stored ${show(t['stored'])}, stored_chunks ${show(t['stored_chunks'])}, stored_bytes ${show(t['stored_bytes'])}`);
      }
      return outcome.pass(`acknowledged ${show(ack)}; status shows it stored`);
    },
  },
  {
    id: 'FW-UP-14/index-out-of-range',
    requirements: ['FW-UP-14'],
    section: S_CHUNK,
    level: 'MUST',
    title: 'chunk index 3 of a 3-chunk upload → BAD_RANGE',
    quote: 'The server MUST check the range (`index`, `offset`, `length`) against the declared object and fails with `BAD_RANGE` if it does not match.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      const id = await sendChunk(conn, u, 3, { bytes: pattern(10), offset: 3 * 1024, length: 10 });
      return errorThen(conn, id, 'BAD_RANGE', async () => {
        const t = await status(conn, u);
        return t['stored_chunks'] === 0 ? 'nothing stored' : outcome.fail(`the refused chunk left stored_chunks ${show(t['stored_chunks'])}`);
      });
    },
  },
  {
    id: 'FW-UP-14/offset-or-length-mismatch',
    requirements: ['FW-UP-14'],
    section: S_CHUNK,
    level: 'MUST',
    title: 'chunk 1 with offset 1000 (not 1024), and chunk 2 with length 1024 (not 452) → BAD_RANGE each',
    quote: 'The server MUST check the range (`index`, `offset`, `length`) against the declared object and fails with `BAD_RANGE` if it does not match.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      const a = await sendChunk(conn, u, 1, { offset: 1000 });
      const o = await expectStreamError(conn, a, 'BAD_RANGE');
      if (o.verdict !== 'pass') return { ...o, detail: `offset 1000: ${o.detail}` };
      const b = await sendChunk(conn, u, 2, { bytes: pattern(1024), length: 1024 });
      const o2 = await expectStreamError(conn, b, 'BAD_RANGE');
      return o2.verdict === 'pass' ? outcome.pass('wrong offset and wrong length refused with BAD_RANGE') : { ...o2, detail: `length 1024: ${o2.detail}` };
    },
  },
  {
    id: 'FW-UP-14/too-many-bytes',
    requirements: ['FW-UP-14', 'FW-UP-17'],
    section: S_CHUNK,
    level: 'MUST',
    title: 'chunk 0 declaring 1024 bytes carries 1100 (no DONE) → BAD_RANGE without waiting for DONE; not stored',
    quote: 'it MUST fail with `BAD_RANGE` as soon as more than `length` bytes arrive, or at DONE if fewer did.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      const bytes = Buffer.concat([chunkOf(u, 0), pattern(76)]);
      const id = await sendChunk(conn, u, 0, { bytes, sha256: sha256(chunkOf(u, 0)), done: false });
      return errorThen(conn, id, 'BAD_RANGE', async () => {
        const t = await status(conn, u);
        return storedSet(t).has(0) ? outcome.fail('chunk 0 is stored after BAD_RANGE', 'not stored', show(t['stored'])) : 'not stored';
      });
    },
  },
  {
    id: 'FW-UP-14/too-few-bytes',
    requirements: ['FW-UP-14', 'FW-UP-17'],
    section: S_CHUNK,
    level: 'MUST',
    title: 'chunk 0 declaring 1024 bytes carries 1000, then DONE → BAD_RANGE; not stored',
    quote: 'it MUST fail with `BAD_RANGE` as soon as more than `length` bytes arrive, or at DONE if fewer did.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      const bytes = chunkOf(u, 0).subarray(0, 1000);
      const id = await sendChunk(conn, u, 0, { bytes, length: 1024, sha256: sha256(chunkOf(u, 0)) });
      return errorThen(conn, id, 'BAD_RANGE', async () => {
        const t = await status(conn, u);
        return storedSet(t).has(0) ? outcome.fail('chunk 0 is stored after BAD_RANGE', 'not stored', show(t['stored'])) : 'not stored';
      });
    },
  },
  {
    id: 'FW-UP-13/message-boundaries',
    requirements: ['FW-UP-13'],
    section: S_CHUNK,
    level: 'MUST',
    title: 'chunk 0 as 5 messages and chunk 1 as one, then commit → the object digest is that of the bytes in order',
    quote: 'The client sends the chunk\'s bytes as DATA and ends with DONE. Message boundaries within the chunk carry no meaning.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn, { size: 2048 });
      await storeChunk(conn, u, 0, { messages: 5 });
      await storeChunk(conn, u, 1);
      const t = await trailerOf(conn, commit(conn, u, { sha256: false }), 'upload.commit');
      const p = commitProblems(t, u);
      if (p.length > 0) return outcome.fail(p.join('; '), 'the object as sent', show(t));
      return outcome.pass('a chunk in 5 messages stored as its bytes');
    },
  },
  {
    id: 'FW-UP-15/duplicate-chunk',
    requirements: ['FW-UP-15'],
    section: S_CHUNK,
    level: 'MUST',
    title: 'chunk 0 twice with the same sha256 → the second acknowledged with duplicate true',
    quote: 'Re-sending a chunk that is stored with the same `sha256` MUST be acknowledged with `duplicate: true` without rewriting the stored chunk.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      await storeChunk(conn, u, 0);
      const t = await trailerOf(conn, await sendChunk(conn, u, 0), 'the repeated chunk 0');
      const p = ackProblems(t, 0, true);
      if (p.length > 0) return outcome.fail(p.join('; '), '{index 0, stored true, duplicate true, expires_at}', show(t));
      return outcome.pass('acknowledged as a duplicate');
    },
  },
  {
    id: 'FW-UP-15/duplicate-still-verified',
    requirements: ['FW-UP-15', 'FW-UP-17'],
    section: S_CHUNK,
    level: 'MUST',
    title: 'chunk 0 stored, then chunk 0 again with the same sha256 but other bytes → CHUNK_CHECKSUM; the object later commits with the first bytes',
    quote: 'Re-sending a chunk that is stored with the same `sha256` MUST be acknowledged with `duplicate: true` without rewriting the stored chunk (the bytes are still received and verified against `sha256`).',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn, { size: 2048 });
      await storeAll(conn, u);
      const corrupt = Buffer.from(chunkOf(u, 0));
      corrupt[17] = (corrupt[17] ?? 0) ^ 0xff;
      const id = await sendChunk(conn, u, 0, { bytes: corrupt, sha256: sha256(chunkOf(u, 0)) });
      return errorThen(conn, id, 'CHUNK_CHECKSUM', async () => {
        const t = await trailerOf(conn, commit(conn, u, { sha256: false }), 'upload.commit');
        const p = commitProblems(t, u);
        return p.length > 0 ? outcome.fail(`the object changed: ${p.join('; ')}`) : 'the stored chunk was not rewritten';
      });
    },
  },
  {
    id: 'FW-UP-16/chunk-conflict',
    requirements: ['FW-UP-16'],
    section: S_CHUNK,
    level: 'MUST',
    title: 'chunk 0 stored, then chunk 0 with other bytes and their own (correct) sha256 → CHUNK_CONFLICT',
    quote: 'A chunk whose index is stored with a different `sha256` MUST fail with `CHUNK_CONFLICT`; the server MAY check this before reading any DATA.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      await storeChunk(conn, u, 0);
      const other = randomBytes(1024);
      const id = await sendChunk(conn, u, 0, { bytes: other });
      return errorThen(conn, id, 'CHUNK_CONFLICT', async () => {
        const t = await status(conn, u);
        return t['stored_chunks'] === 1 ? 'chunk 0 still stored once' : outcome.fail(`stored_chunks ${show(t['stored_chunks'])} after the conflict`);
      });
    },
  },
  {
    id: 'FW-UP-17/corrupt-chunk',
    requirements: ['FW-UP-17'],
    section: S_CHUNK,
    level: 'MUST',
    title: 'chunk 1 whose bytes do not match its declared sha256 → CHUNK_CHECKSUM; status shows it unstored; the right bytes are then stored (not as a duplicate)',
    quote: 'The server MUST verify the SHA-256 of the received bytes against `sha256`; on a mismatch it fails with `CHUNK_CHECKSUM` (retryable) and MUST keep nothing of the chunk: the index stays unstored.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      const good = chunkOf(u, 1);
      const corrupt = Buffer.from(good);
      corrupt[100] = (corrupt[100] ?? 0) ^ 0x01;
      const id = await sendChunk(conn, u, 1, { bytes: corrupt, sha256: sha256(good) });
      return errorThen(conn, id, 'CHUNK_CHECKSUM', async () => {
        const t = await status(conn, u);
        if (storedSet(t).has(1) || t['stored_chunks'] !== 0) return outcome.fail('the corrupt chunk is reported stored', 'chunk 1 unstored', `stored ${show(t['stored'])}, stored_chunks ${show(t['stored_chunks'])}`);
        await storeChunk(conn, u, 1);
        return 'unstored after the mismatch; the right bytes then stored as new';
      });
    },
  },
  {
    id: 'FW-UP-18/any-order-concurrent',
    requirements: ['FW-UP-18'],
    section: S_CHUNK,
    level: 'MUST',
    title: 'chunks 3, 1 and 2 of a 4-chunk upload interleaved on one connection and chunk 0 on a second → all acknowledged; status shows all 4',
    quote: 'Chunks MAY arrive in any order and several at once, on one connection or several.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const other = await ctx.handshake();
      const u = await createUpload(conn, { size: 4000 });
      const open = (c: Conn, i: number): number => {
        const bytes = chunkOf(u, i);
        return c.open(KIND.chunk, { target: u.id, meta: { index: i, offset: i * u.chunkSize, length: bytes.length, sha256: sha256(bytes), token: u.token } });
      };
      const ids = [3, 1, 2].map((i) => ({ i, s: open(conn, i) }));
      const zero = open(other, 0);
      // Interleave: the halves of every chunk, round-robin.
      for (const half of [0, 1]) {
        for (const { i, s } of ids) {
          const b = chunkOf(u, i);
          const mid = Math.floor(b.length / 2);
          await conn.send(s, half === 0 ? b.subarray(0, mid) : b.subarray(mid));
        }
        const b0 = chunkOf(u, 0);
        await other.send(zero, half === 0 ? b0.subarray(0, 512) : b0.subarray(512));
      }
      for (const { s } of ids) conn.peer.done(s);
      other.peer.done(zero);
      const acks = [...ids.map(({ i, s }) => ({ c: conn, i, s })), { c: other, i: 0, s: zero }];
      const p: string[] = [];
      for (const { c, i, s } of acks) {
        const v = await c.ended(s);
        if (!v.done) p.push(`chunk ${i}: ${c.describeStreamEnd(s)}`);
        else p.push(...ackProblems(v.trailer ?? {}, i, false).map((x) => `chunk ${i}: ${x}`));
      }
      if (p.length > 0) return outcome.fail(p.join('; '), 'four acknowledgements', 'see detail');
      const t = await status(conn, u);
      if (storedSet(t).size !== 4 || t['stored_bytes'] !== 4000) return outcome.fail('not every acknowledged chunk is stored', 'chunks 0..3, 4000 bytes', `stored ${show(t['stored'])}, ${show(t['stored_bytes'])} bytes`);
      return outcome.pass('4 chunks, out of order, interleaved, on 2 connections: all stored');
    },
  },
  {
    id: 'FW-UP-20/acquire-increments-token',
    requirements: ['FW-UP-20', 'FW-UP-12'],
    section: S_FENCE,
    level: 'MUST',
    title: 'create (token 1), status {acquire} twice → tokens 2 and 3; a status without acquire carries no token',
    quote: 'Create grants token 1; every `acquire` (and every replayed create of a receiving upload) MUST make the new token `current + 1` durable before answering with it.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      const tokens = [u.trailer['token']];
      tokens.push((await status(conn, u, true))['token']);
      tokens.push((await status(conn, u, true))['token']);
      const plain = await status(conn, u);
      if (show(tokens) !== '[1,2,3]') return outcome.fail('tokens do not count up by one', 'tokens 1, 2, 3', show(tokens));
      if (plain['token'] !== undefined) return outcome.fail(`a read-only status carries token ${show(plain['token'])}`, 'no token', show(plain['token']));
      return outcome.pass('tokens 1, 2, 3');
    },
  },
  {
    id: 'FW-UP-21/stale-token-chunk',
    requirements: ['FW-UP-21'],
    section: S_FENCE,
    level: 'MUST',
    title: 'after status {acquire} (token 2), chunk 0 with token 1 → LEASE_CONFLICT and not stored; with token 2 → stored',
    quote: 'A chunk MUST be made durable only if its `token` equals the upload\'s current token … otherwise it fails with `LEASE_CONFLICT` and nothing of it is kept.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      const taken = await status(conn, u, true);
      const id = await sendChunk(conn, u, 0, { token: 1 });
      return errorThen(conn, id, 'LEASE_CONFLICT', async () => {
        const t = await status(conn, u);
        if (storedSet(t).has(0)) return outcome.fail('the fenced chunk is stored', 'chunk 0 unstored', show(t['stored']));
        if (isUint(taken['token'])) u.token = taken['token'];
        await storeChunk(conn, u, 0);
        return 'the current token writes';
      });
    },
  },
  {
    id: 'FW-UP-21/fenced-mid-chunk',
    requirements: ['FW-UP-21'],
    section: S_FENCE,
    level: 'MUST',
    title: 'chunk 0 with token 1: half of its bytes, then status {acquire} on another stream, then the rest and DONE → LEASE_CONFLICT; not stored',
    quote: 'A chunk MUST be made durable only if its `token` equals the upload\'s current token **at the moment it is made durable** (after its bytes were received and verified), atomically with respect to acquire, commit and abort.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn, { size: 8192, chunkSize: 4096 });
      const bytes = chunkOf(u, 0);
      const id = await sendChunk(conn, u, 0, { bytes: bytes.subarray(0, 2048), sha256: sha256(bytes), length: 4096, done: false });
      await sleep(ctx.quietMs);
      if (conn.streamState(id).error !== undefined) return outcome.fail('the chunk failed before the take-over', 'the chunk stream open', endText(conn, id));
      const taken = await status(conn, u, true);
      if (!isUint(taken['token']) || taken['token'] < 2) return outcome.fail('acquire granted no new token', 'token 2', show(taken['token']));
      if (conn.peer.targetEnded.get(id) === undefined) {
        await conn.send(id, bytes.subarray(2048));
        conn.peer.done(id);
      }
      return errorThen(conn, id, 'LEASE_CONFLICT', async () => {
        const t = await status(conn, u);
        return storedSet(t).has(0) ? outcome.fail('the fenced chunk is stored', 'chunk 0 unstored', show(t['stored'])) : 'the writer taken over mid-chunk kept nothing';
      });
    },
  },
  {
    id: 'FW-UP-21/stale-token-commit',
    requirements: ['FW-UP-21', 'FW-UP-25'],
    section: S_FENCE,
    level: 'MUST',
    title: 'a complete upload taken over (token 2): commit with token 1 → LEASE_CONFLICT, still receiving; commit with token 2 → committed',
    quote: 'Commit MUST likewise carry the current token.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      await storeAll(conn, u);
      const taken = await status(conn, u, true);
      const id = commit(conn, u, { token: 1 });
      return errorThen(conn, id, 'LEASE_CONFLICT', async () => {
        const t = await status(conn, u);
        if (t['state'] !== 'receiving') return outcome.fail(`state "${show(t['state'])}" after a fenced commit`, 'receiving', show(t['state']));
        if (isUint(taken['token'])) u.token = taken['token'];
        const c = await trailerOf(conn, commit(conn, u), 'commit with the current token');
        const p = commitProblems(c, u);
        return p.length > 0 ? outcome.fail(p.join('; ')) : 'the current token commits';
      });
    },
  },
  {
    id: 'FW-UP-24/commit-incomplete',
    requirements: ['FW-UP-24'],
    section: S_COMMIT,
    level: 'MUST',
    title: 'commit with 1 of 3 chunks stored → INCOMPLETE with details {missing: 2}',
    quote: 'The server MUST fail with `INCOMPLETE` (details `{"missing": n}`) if any chunk is not stored.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      await storeChunk(conn, u, 2);
      const id = commit(conn, u);
      const o = await expectStreamError(conn, id, 'INCOMPLETE');
      if (o.verdict === 'fail') return o;
      const missing = conn.streamState(id).errorDetails?.['missing'];
      if (missing !== 2) return outcome.nonStrict('INCOMPLETE without the right details', 'details {missing: 2}', show(conn.streamState(id).errorDetails ?? null));
      return o;
    },
  },
  {
    id: 'FW-UP-25/commit-idempotent',
    requirements: ['FW-UP-25', 'FW-UP-26', 'FW-UP-18'],
    section: S_COMMIT,
    level: 'MUST',
    title: 'chunks stored in the order 2, 0, 1, commit with the object\'s sha256 → {object_id, sha256, size, committed_at}; commit again with token 999 → the same trailer; a chunk afterwards → LEASE_CONFLICT',
    quote: 'a commit of an upload that is already committed MUST return the same trailer `{"object_id", "sha256", "size", "committed_at"}`, whatever token it carries.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn, { sha256: true });
      await storeAll(conn, u, [2, 0, 1]);
      const first = await trailerOf(conn, commit(conn, u), 'upload.commit');
      const p = commitProblems(first, u);
      if (p.length > 0) return outcome.fail(p.join('; '), 'the commit trailer of the object', show(first));
      const again = await trailerOf(conn, commit(conn, u, { token: 999 }), 'the second commit (token 999)');
      if (!same(again, first)) return outcome.fail('the second commit answered another trailer', show(first), show(again));
      const late = await sendChunk(conn, u, 0);
      return errorThen(conn, late, 'LEASE_CONFLICT', () => Promise.resolve(`committed ${show(first['object_id'])}; the same trailer twice`));
    },
  },
  {
    id: 'FW-UP-25/empty-object',
    requirements: ['FW-UP-25', 'FW-UP-10'],
    section: S_COMMIT,
    level: 'MUST',
    title: 'create {size 0, chunk_size 1024} → chunk_count 0, an empty bitmap; commit at once → size 0 and the SHA-256 of nothing',
    quote: '`size` | uint | yes | the object\'s exact size in bytes (0 allowed)',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn, { size: 0 });
      const p = statusProblems(u.trailer, { size: 0, chunkSize: 1024 });
      if (p.length > 0) return outcome.fail(p.join('; '), 'chunk_count 0 and a 0-byte bitmap', show(u.trailer));
      const t = await trailerOf(conn, commit(conn, u), 'commit of the empty object');
      const q = commitProblems(t, u);
      if (q.length > 0) return outcome.fail(q.join('; '), 'size 0, sha256 e3b0c442…', show(t));
      return outcome.pass('the empty object committed');
    },
  },
  {
    id: 'FW-UP-26/digest-mismatch',
    requirements: ['FW-UP-26'],
    section: S_COMMIT,
    level: 'MUST',
    title: 'a complete upload committed with a wrong sha256 → DIGEST_MISMATCH, still receiving; committed with the right one → the object',
    quote: 'The server MUST compute the SHA-256 of the assembled object and compare it with the create\'s `sha256` and the commit\'s `sha256` (each if present); on a mismatch it fails with `DIGEST_MISMATCH`, publishes nothing, and the upload stays `receiving`.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      await storeAll(conn, u);
      const id = commit(conn, u, { sha256: sha256(Buffer.from('not the object')) });
      return errorThen(conn, id, 'DIGEST_MISMATCH', async () => {
        const t = await status(conn, u);
        if (t['state'] !== 'receiving' || t['object'] !== undefined) return outcome.fail('the upload left receiving after DIGEST_MISMATCH', 'state receiving, no object', `${show(t['state'])}, object ${show(t['object'])}`);
        const c = await trailerOf(conn, commit(conn, u), 'commit with the right digest');
        const p = commitProblems(c, u);
        return p.length > 0 ? outcome.fail(p.join('; ')) : 'still receiving; the right digest commits';
      });
    },
  },
  {
    id: 'FW-UP-26/create-digest-mismatch',
    requirements: ['FW-UP-26'],
    section: S_COMMIT,
    level: 'MUST',
    title: 'create declaring a wrong sha256, all chunks, commit without sha256 → DIGEST_MISMATCH',
    quote: 'The server MUST compute the SHA-256 of the assembled object and compare it with the create\'s `sha256` … on a mismatch it fails with `DIGEST_MISMATCH`.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn, { sha256: sha256(Buffer.from('something else')) });
      await storeAll(conn, u);
      return expectStreamError(conn, commit(conn, u, { sha256: false }), 'DIGEST_MISMATCH');
    },
  },
  {
    id: 'FW-UP-27/abort',
    requirements: ['FW-UP-27', 'FW-UP-12'],
    section: S_ABORT,
    level: 'MUST',
    title: 'abort a receiving upload → {state aborted}; then chunk, commit and acquire → ABORTED, status → aborted, abort again → {state aborted}',
    quote: 'Abort of a `receiving` (or already `aborted`) upload MUST delete all of its data and answer `{"state": "aborted"}`; later chunk, acquire and commit operations fail with `ABORTED`.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      await storeChunk(conn, u, 0);
      const first = await trailerOf(conn, control(conn, KIND.abort, u.id), 'upload.abort');
      if (first['state'] !== 'aborted') return outcome.fail('abort answered another state', '{state: "aborted"}', show(first));
      const p: string[] = [];
      const ops: [string, number][] = [
        ['chunk', await sendChunk(conn, u, 1)],
        ['commit', commit(conn, u)],
        ['acquire', control(conn, KIND.status, u.id, { acquire: true })],
      ];
      for (const [what, id] of ops) {
        const v = await conn.ended(id);
        if (v.error !== ErrorCodes.ABORTED.code) p.push(`${what}: ${endText(conn, id)}`);
      }
      const t = await status(conn, u);
      if (t['state'] !== 'aborted') p.push(`status: state ${show(t['state'])}`);
      const again = await trailerOf(conn, control(conn, KIND.abort, u.id), 'the second abort');
      if (again['state'] !== 'aborted') p.push(`second abort: ${show(again)}`);
      if (p.length > 0) return outcome.fail(p.join('; '), 'ABORTED for chunk, commit, acquire; state aborted', 'see detail');
      return outcome.pass('aborted; later operations refused with ABORTED');
    },
  },
  {
    id: 'FW-UP-27/abort-committed',
    requirements: ['FW-UP-27'],
    section: S_ABORT,
    level: 'MUST',
    title: 'abort a committed upload → {state committed}; status still committed with its object',
    quote: 'Aborting a committed upload deletes nothing and answers `{"state": "committed"}`.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn, { size: 100 });
      await storeAll(conn, u);
      const object = await trailerOf(conn, commit(conn, u), 'upload.commit');
      const a = await trailerOf(conn, control(conn, KIND.abort, u.id), 'abort of the committed upload');
      if (a['state'] !== 'committed') return outcome.fail('abort of a committed upload answered another state', '{state: "committed"}', show(a));
      const t = await status(conn, u);
      if (t['state'] !== 'committed' || !same(t['object'], object)) return outcome.fail('the committed upload changed', `committed with ${show(object)}`, `${show(t['state'])} with ${show(t['object'])}`);
      return outcome.pass('committed; abort deleted nothing');
    },
  },
  {
    id: 'FW-UP-35/chunk-concurrency-bounded',
    requirements: ['FW-UP-35'],
    section: S_LIMITS,
    level: 'MUST',
    title: 'up to 48 chunk streams of one upload opened at once, none sending bytes → those over the target\'s bound refused with LIMIT_EXCEEDED carrying retry_after_ms',
    quote: 'A server MUST bound the chunk streams it processes at once per upload and per connection … and MUST refuse a chunk stream over a bound with `LIMIT_EXCEEDED` (retryable) carrying `retry_after_ms`, before processing any of it.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const n = Math.min(48, conn.target.maxConcurrentStreams - 1);
      if (n < 2) return outcome.unsupported(`max_concurrent_streams ${conn.target.maxConcurrentStreams} is too small to open chunk streams at once`);
      const u = await createUpload(conn, { size: 64 * 16, chunkSize: 16 });
      const ids: number[] = [];
      for (let i = 0; i < n; i++) {
        const bytes = chunkOf(u, i);
        ids.push(conn.open(KIND.chunk, { target: u.id, meta: { index: i, offset: i * 16, length: 16, sha256: sha256(bytes), token: u.token } }));
      }
      await conn.peer.until(() => (ids.filter((id) => conn.streamState(id).error !== undefined).length > 0 ? true : undefined), ctx.timeoutMs);
      await sleep(ctx.quietMs);
      const refused = ids.filter((id) => conn.streamState(id).error !== undefined);
      for (const id of ids) if (!refused.includes(id)) conn.peer.cancel(id);
      if (refused.length === 0) return outcome.info(`no bound observed: ${n} chunk streams of one upload were accepted at once`);
      const wrong = refused.filter((id) => conn.streamState(id).error !== ErrorCodes.LIMIT_EXCEEDED.code);
      if (wrong.length > 0) return outcome.fail('chunk streams refused with another code', 'LIMIT_EXCEEDED', endText(conn, wrong[0] ?? 0));
      const noHint = refused.filter((id) => conn.streamState(id).retryAfterMs === undefined);
      if (noHint.length > 0) return outcome.fail('LIMIT_EXCEEDED without retry_after_ms', 'retry_after_ms in every refusal', `${noHint.length} of ${refused.length} without`);
      return outcome.pass(`${n - refused.length} accepted at once, ${refused.length} refused with LIMIT_EXCEEDED, retry_after_ms ${conn.streamState(refused[0] ?? 0).retryAfterMs ?? '?'}`);
    },
  },
  {
    id: 'FW-UP-40/expiry-told-never-earlier',
    requirements: ['FW-UP-40'],
    section: S_EXPIRY,
    level: 'MUST',
    title: 'expires_at in the create trailer, a chunk acknowledgement, a status and an acquire never goes backwards',
    quote: '`expires_at` MUST be told to the client in every status trailer and chunk acknowledgement, and MUST NOT be earlier than what the client was last told unless the upload was aborted.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn);
      const seen: [string, unknown][] = [['create', u.trailer['expires_at']]];
      seen.push(['chunk 0', (await storeChunk(conn, u, 0))['expires_at']]);
      seen.push(['status', (await status(conn, u))['expires_at']]);
      seen.push(['acquire', (await status(conn, u, true))['expires_at']]);
      seen.push(['status', (await status(conn, u))['expires_at']]);
      let last = 0;
      for (const [what, v] of seen) {
        if (!isUint(v)) return outcome.fail(`${what}: expires_at ${show(v)} is not a uint`);
        if (v < last) return outcome.fail(`${what}: expires_at went backwards`, `>= ${last}`, String(v));
        last = v;
      }
      return outcome.pass(`expires_at ${seen.map(([, v]) => show(v)).join(' <= ')}`);
    },
  },
  {
    id: 'FW-UP-41/expired',
    requirements: ['FW-UP-41', 'FW-UP-42', 'FW-UP-12', 'FW-UP-27'],
    section: S_EXPIRY,
    level: 'MUST',
    slow: true,
    title: 'an upload left alone for its ttl_ms: status → expired; chunk, commit and acquire → EXPIRED; status still expired; abort → {state expired}',
    quote: 'From `expires_at` on, the upload MUST be treated as expired whether or not its data was deleted yet: chunk, acquire and commit fail with `EXPIRED`, status reports `expired`. … An expired upload stays expired: it MUST NOT return to `receiving`.',
    needs: ['upload'],
    async run(ctx) {
      let conn = await ctx.handshake();
      const u = await createUpload(conn);
      const ttl = u.trailer['ttl_ms'];
      if (!isUint(ttl)) return outcome.fail(`ttl_ms ${show(ttl)} is not a uint`);
      if (ttl + ctx.timeoutMs > ctx.run.longWaitMs) return outcome.info(`ttl_ms ${ttl} is longer than the ${ctx.run.longWaitMs} ms this run waits`);
      await storeChunk(conn, u, 0);
      // The last activity was before this acknowledgement arrived: ttl_ms from now it has expired, whatever the clocks say.
      const lastActivity = Date.now();
      conn.peer.destroy();
      await sleep(Math.max(0, lastActivity + ttl + 200 - Date.now()));
      conn = await ctx.handshake();
      const p: string[] = [];
      const first = await trailerOf(conn, control(conn, KIND.status, u.id), 'status of the expired upload');
      if (first['state'] !== 'expired') p.push(`status: state ${show(first['state'])}, expected expired`);
      const ops: [string, number][] = [
        ['chunk', await sendChunk(conn, u, 1)],
        ['commit', commit(conn, u)],
        ['acquire', control(conn, KIND.status, u.id, { acquire: true })],
      ];
      for (const [what, id] of ops) {
        const v = await conn.ended(id);
        if (v.error !== ErrorCodes.EXPIRED.code) p.push(`${what}: ${endText(conn, id)}`);
      }
      const later = await trailerOf(conn, control(conn, KIND.status, u.id), 'the second status');
      if (later['state'] !== 'expired') p.push(`second status: state ${show(later['state'])} (FW-UP-42)`);
      const a = await trailerOf(conn, control(conn, KIND.abort, u.id), 'abort of the expired upload');
      if (a['state'] !== 'expired') p.push(`abort: ${show(a)}, expected {state: "expired"}`);
      if (p.length > 0) return outcome.fail(p.join('; '), 'expired, EXPIRED for chunk, commit, acquire', 'see detail');
      return outcome.pass(`expired after ttl_ms ${ttl}; chunk, commit and acquire refused with EXPIRED`);
    },
  },
];
