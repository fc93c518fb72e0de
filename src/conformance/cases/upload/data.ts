/** §11 upload profile cases: chunks, commit and fencing (spec/UPLOAD.md). */

import { randomBytes } from 'node:crypto';
import { expectStreamError } from '../../expect.ts';
import { outcome, type Outcome } from '../../types.ts';
import { pattern, sleep, type Case } from '../helpers.ts';
import type { Conn } from '../../context.ts';
import {
  KIND,
  S_CHUNK,
  S_COMMIT,
  S_FENCE,
  sha256,
  isUint,
  show,
  same,
  chunkOf,
  trailerOf,
  statusProblems,
  commitProblems,
  storedSet,
  createUpload,
  sendChunk,
  ackProblems,
  storeChunk,
  storeAll,
  status,
  commit,
  errorThen,
  endText,
  type Upload,
} from './support.ts';

/** Chunk 0, sent as `stream` with the wrong number of bytes, must fail with BAD_RANGE and leave chunk 0 unstored (FW-UP-14). */
function badRangeNothingStored(conn: Conn, u: Upload, stream: number): Promise<Outcome> {
  return errorThen(conn, stream, 'BAD_RANGE', async () => {
    const t = await status(conn, u);
    return storedSet(t).has(0) ? outcome.fail('chunk 0 is stored after BAD_RANGE', 'not stored', show(t['stored'])) : 'not stored';
  });
}

export const cases: Case[] = [
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
      return badRangeNothingStored(conn, u, id);
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
      return badRangeNothingStored(conn, u, id);
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
];
