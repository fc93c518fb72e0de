/**
 * Shared by the upload-profile cases (operations.ts, data.ts): metas and trailers built and checked
 * by hand from the tables of spec/UPLOAD.md.
 *
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
import { ErrorCodes } from '../../../errors.ts';
import type { CaseContext, Conn } from '../../context.ts';
import { expectStreamError } from '../../expect.ts';
import { CaseAbort, outcome, type Outcome } from '../../types.ts';

export const KIND = {
  create: 'upload.create',
  status: 'upload.status',
  chunk: 'upload.chunk',
  commit: 'upload.commit',
  abort: 'upload.abort',
  list: 'upload.list',
} as const;

export const UPLOAD_ID = /^[0-9a-f]{32}$/u;
export const SHA256_HEX = /^[0-9a-f]{64}$/u;
export const STATES = ['receiving', 'committing', 'committed', 'aborted', 'expired'];

export type Trailer = Readonly<Record<string, unknown>>;

export const S_CONV = '11.2 Conventions';
export const S_CREATE = '11.4.1 upload.create';
export const S_STATUS = '11.4.2 upload.status';
export const S_CHUNK = '11.4.3 upload.chunk';
export const S_COMMIT = '11.4.4 upload.commit';
export const S_ABORT = '11.4.5 upload.abort';
export const S_LIST = '11.4.6 upload.list';
export const S_FENCE = '11.5.1 Fencing';
export const S_LIMITS = '11.6 Limits';
export const S_EXPIRY = '11.7 Expiry and cleanup';

// ---- helpers ---------------------------------------------------------------------------------------

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function show(v: unknown): string {
  if (v instanceof Uint8Array) return `bin(${Buffer.from(v).toString('hex')})`;
  if (v === undefined) return 'absent';
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `bin(${Buffer.from(x).toString('hex')})` : x));
}

/** Deep equality of decoded MessagePack values, key order aside. */
export function same(a: unknown, b: unknown): boolean {
  const canon = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return `bin(${Buffer.from(v).toString('hex')})`;
    if (typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) return v.map(canon);
    return Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([k, x]) => [k, canon(x)]));
  };
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

/** An upload this case created: its geometry, its bytes, and the fencing token we hold. */
export interface Upload {
  readonly id: string;
  readonly size: number;
  readonly chunkSize: number;
  readonly count: number;
  readonly data: Buffer;
  token: number;
  readonly trailer: Trailer;
}

export function chunkOf(u: Upload, index: number): Buffer {
  const from = index * u.chunkSize;
  return u.data.subarray(from, Math.min(from + u.chunkSize, u.size));
}

/** Opens a control operation: OPEN, then DONE, no DATA (FW-UP-2). Returns the stream id. */
export function control(conn: Conn, kind: string, target: string | undefined, meta?: Record<string, unknown>): number {
  const id = conn.open(kind, { ...(target === undefined ? {} : { target }), ...(meta === undefined ? {} : { meta }) });
  conn.peer.done(id);
  return id;
}

/** The DONE trailer of an operation that must succeed; otherwise the case ends with `fail`. */
export async function trailerOf(conn: Conn, stream: number, what: string): Promise<Trailer> {
  const v = await conn.ended(stream);
  if (v.done) return v.trailer ?? {};
  throw new CaseAbort(outcome.fail(`${what} did not succeed`, 'DONE with a trailer', conn.describeStreamEnd(stream)));
}

/** Problems with a status trailer (§11.5 table, FW-UP-4: absent optional keys are omitted, never nil). */
export function statusProblems(t: Trailer, expected: { id?: string; size?: number; chunkSize?: number; state?: string } = {}): string[] {
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
export function commitProblems(t: Trailer, u: Upload): string[] {
  const p: string[] = [];
  const objectId = t['object_id'];
  if (typeof objectId !== 'string' || objectId.length === 0 || objectId.length > 256) p.push(`object_id ${show(objectId)} is not a string of 1..256 characters`);
  if (t['sha256'] !== sha256(u.data)) p.push(`sha256 ${show(t['sha256'])}, expected the object's ${sha256(u.data)}`);
  if (t['size'] !== u.size) p.push(`size ${show(t['size'])}, expected ${u.size}`);
  if (!isUint(t['committed_at'])) p.push(`committed_at ${show(t['committed_at'])} is not a uint`);
  return p;
}

/** The indexes whose bit is set in a status trailer's `stored` bitmap (bit i = byte[i >> 3] & (0x80 >> (i & 7))). */
export function storedSet(t: Trailer): Set<number> {
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
export async function createUpload(conn: Conn, o: CreateOptions = {}): Promise<Upload> {
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
  if (v.error === ErrorCodes.LIMIT_EXCEEDED.code) {
    // A target that bounds unfinished uploads per principal (FW-UP-37) may be full of someone else's: not a failure of this case.
    throw new CaseAbort(outcome.info(`the target refused to create an upload for this case: ${conn.describeStreamEnd(stream)} (its upload budget, FW-UP-37; run with a principal of its own)`));
  }
  if (!v.done) throw new CaseAbort(outcome.fail('upload.create did not succeed', 'DONE with the status trailer', conn.describeStreamEnd(stream)));
  const t = v.trailer ?? {};
  const id = t['upload_id'];
  const token = t['token'];
  if (typeof id !== 'string' || !UPLOAD_ID.test(id) || !isUint(token)) {
    throw new CaseAbort(outcome.fail('the create trailer lacks a usable upload_id or token', '{upload_id: 32 hex digits, token: uint, …}', show(t)));
  }
  leaveNothingBehind(conn, id);
  return { id, size, chunkSize, count: size === 0 ? 0 : Math.ceil(size / chunkSize), data, token, trailer: t };
}

/** Uploads each case created, aborted when the case ends: unfinished ones count against the target's budget (FW-UP-37). */
const created = new WeakMap<CaseContext, string[]>();

export function leaveNothingBehind(conn: Conn, id: unknown): void {
  if (typeof id !== 'string' || !UPLOAD_ID.test(id)) return;
  const ctx = conn.ctx;
  let ids = created.get(ctx);
  if (ids === undefined) {
    const list: string[] = [];
    ids = list;
    created.set(ctx, list);
    ctx.defer(async () => {
      const cleaner = await ctx.handshake();
      // Committed ones answer ALREADY_COMMITTED and stay; the rest are deleted.
      await Promise.all(list.map((upload) => cleaner.ended(control(cleaner, KIND.abort, upload))));
    });
  }
  ids.push(id);
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
export async function sendChunk(conn: Conn, u: Upload, index: number, o: ChunkOptions = {}): Promise<number> {
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
export function ackProblems(t: Trailer, index: number, duplicate: boolean): string[] {
  const p: string[] = [];
  if (t['index'] !== index) p.push(`index ${show(t['index'])}, expected ${index}`);
  if (t['stored'] !== true) p.push(`stored ${show(t['stored'])}, expected true`);
  if (t['duplicate'] !== duplicate) p.push(`duplicate ${show(t['duplicate'])}, expected ${duplicate}`);
  if (!isUint(t['expires_at'])) p.push(`expires_at ${show(t['expires_at'])} is not a uint`);
  return p;
}

/** A chunk that must be acknowledged (not as a duplicate); otherwise the case ends with `fail`. */
export async function storeChunk(conn: Conn, u: Upload, index: number, o: ChunkOptions = {}): Promise<Trailer> {
  const t = await trailerOf(conn, await sendChunk(conn, u, index, o), `chunk ${index}`);
  const p = ackProblems(t, index, false);
  if (p.length > 0) throw new CaseAbort(outcome.fail(`the acknowledgement of chunk ${index} is wrong: ${p.join('; ')}`, '{index, stored: true, duplicate: false, expires_at}', show(t)));
  return t;
}

export async function storeAll(conn: Conn, u: Upload, order?: readonly number[]): Promise<void> {
  for (const i of order ?? [...Array(u.count).keys()]) await storeChunk(conn, u, i);
}

/** upload.status (read-only, or with acquire); the trailer, which must be a valid status trailer. */
export async function status(conn: Conn, u: Upload, acquire = false): Promise<Trailer> {
  const t = await trailerOf(conn, control(conn, KIND.status, u.id, acquire ? { acquire: true } : undefined), acquire ? 'upload.status {acquire: true}' : 'upload.status');
  const p = statusProblems(t, { id: u.id, size: u.size, chunkSize: u.chunkSize });
  if (p.length > 0) throw new CaseAbort(outcome.fail(`the status trailer is wrong: ${p.join('; ')}`, 'the status trailer of §11.5', show(t)));
  return t;
}

export function commit(conn: Conn, u: Upload, o: { token?: number; sha256?: string | false } = {}): number {
  const meta: Record<string, unknown> = { token: o.token ?? u.token };
  if (o.sha256 !== false) meta['sha256'] = o.sha256 ?? sha256(u.data);
  return control(conn, KIND.commit, u.id, meta);
}

/** An expected stream error, then more checks: the first non-pass verdict wins, else pass with every detail. */
export async function errorThen(conn: Conn, stream: number, code: keyof typeof ErrorCodes, then: () => Promise<string | Outcome>): Promise<Outcome> {
  const o = await expectStreamError(conn, stream, code);
  if (o.verdict === 'fail') return o;
  const more = await then();
  if (typeof more !== 'string') return more;
  return o.verdict === 'pass' ? outcome.pass(`${o.detail}; ${more}`) : { ...o, detail: `${o.detail}; ${more}` };
}

/** The code of a stream's ERROR as text, or how it ended. */
export function endText(conn: Conn, stream: number): string {
  return conn.describeStreamEnd(stream);
}

