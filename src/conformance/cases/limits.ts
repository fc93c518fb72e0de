/**
 * §8.8 Local limits against abuse. FW-LIMIT-1 is a MUST. The flood limits (FW-LIMIT-2..4) are
 * SHOULDs with local values, so their verdicts are: ENHANCE_YOUR_CALM (connection error) → pass;
 * the target absorbs the flood and still serves → informational (no limit observed, no harm);
 * another code or a bare close → non-strict; the target stops answering → fail.
 */

import type { Conn } from '../context.ts';
import { expectConnectionError, expectStreamError } from '../expect.ts';
import { outcome, type Outcome } from '../types.ts';
import { pattern, pingBytes, sleep, type Case } from './helpers.ts';

const S = '8.8 Local limits against abuse';

/** Judges the end of a flood (see the file comment). */
async function judgeFlood(conn: Conn, what: string): Promise<Outcome> {
  const timeoutMs = conn.ctx.timeoutMs;
  await conn.peer.until(() => conn.connectionError() ?? conn.peer.ending, timeoutMs);
  const err = conn.connectionError();
  if (err !== undefined || conn.peer.ending !== undefined) {
    return expectConnectionError(conn.peer, 'ENHANCE_YOUR_CALM', { timeoutMs });
  }
  if (await conn.alive(timeoutMs * 2)) return outcome.info(`no limit observed: the target absorbed ${what} and still answers`);
  return outcome.fail(`the target stopped answering after ${what}`, 'ENHANCE_YOUR_CALM, or service as usual', 'no PING answer');
}

export const cases: Case[] = [
  {
    id: 'FW-LIMIT-1/max-concurrent-streams',
    requirements: ['FW-LIMIT-1', 'FW-STREAM-8', 'FW-CONN-3'],
    section: S,
    level: 'MUST',
    title: 'max_concurrent_streams echo streams open, one more OPEN → ERROR REFUSED_STREAM on it; the others still work',
    quote: 'A peer MUST refuse, with ERROR `REFUSED_STREAM`, an OPEN that would make the number of streams opened by the other peer and not yet released exceed its `max_concurrent_streams`.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const max = conn.target.maxConcurrentStreams;
      if (max > 5000) return outcome.unsupported(`max_concurrent_streams ${max} is too many to open in a test`);
      const ids: number[] = [];
      for (let i = 0; i < max; i++) ids.push(conn.openEcho());
      const extra = conn.openEcho();
      const o = await expectStreamError(conn, extra, 'REFUSED_STREAM');
      if (o.verdict !== 'pass') return o;
      const early = ids.filter((id) => conn.streamState(id).error !== undefined);
      if (early.length > 0) return outcome.fail(`streams within the limit were refused: ${early.slice(0, 5).join(', ')}`, `${max} streams accepted`, `${early.length} refused`);
      const first = ids[0];
      if (first !== undefined) {
        conn.dataRaw(first, pattern(4));
        const v = await conn.messages(first, 1);
        if (v.messages.length !== 1) return outcome.fail('an accepted stream stopped working', 'echo on the first stream', conn.describeStreamEnd(first));
      }
      return outcome.pass(`${max} streams accepted, stream ${extra} refused with REFUSED_STREAM`);
    },
  },
  {
    id: 'FW-LIMIT-2/rapid-reset',
    requirements: ['FW-LIMIT-2', 'FW-LIMIT-5'],
    section: S,
    level: 'SHOULD',
    title: '3000 streams opened and cancelled at once → ENHANCE_YOUR_CALM (or the flood is absorbed: informational)',
    quote: 'Rapid reset: a peer SHOULD limit the rate of streams the other peer opens and then cancels, or that it has to refuse; above the limit (default: 200 per second, burst 1000) it fails with `ENHANCE_YOUR_CALM` (connection error).',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const chunks: Buffer[] = [];
      for (let i = 0; i < 3000; i++) {
        const id = conn.newStreamId();
        chunks.push(conn.peer.open(id, 'conformance.echo', {}, false), conn.peer.cancel(id, {}, false));
        if (chunks.length >= 200) {
          conn.peer.sendBytes(Buffer.concat(chunks.splice(0)));
          await sleep(0);
        }
      }
      conn.peer.sendBytes(Buffer.concat(chunks));
      return judgeFlood(conn, '3000 open+cancel pairs');
    },
  },
  {
    id: 'FW-LIMIT-3/ping-flood',
    requirements: ['FW-LIMIT-3'],
    section: S,
    level: 'SHOULD',
    title: '2000 PINGs at once → ENHANCE_YOUR_CALM (or the flood is absorbed: informational)',
    quote: 'PING flood: a peer SHOULD limit the rate of PINGs without the ACK flag it answers; above the limit (default: 50 per second, burst 100) it fails with `ENHANCE_YOUR_CALM` (connection error).',
    async run(ctx) {
      const conn = await ctx.handshake();
      const chunks: Buffer[] = [];
      for (let i = 0; i < 2000; i++) chunks.push(conn.peer.ping(pingBytes(100_000 + i), false, false));
      conn.peer.sendBytes(Buffer.concat(chunks));
      return judgeFlood(conn, '2000 PINGs');
    },
  },
  {
    id: 'FW-LIMIT-4/empty-data-flood',
    requirements: ['FW-LIMIT-4'],
    section: S,
    level: 'SHOULD',
    title: '20000 empty DATA frames (FOLLOWS set) on one stream → ENHANCE_YOUR_CALM (or absorbed: informational)',
    quote: 'Empty frames: a peer SHOULD limit the rate of zero-length DATA frames it accepts; above the limit (default: 1000 per second, burst 5000) it fails with `ENHANCE_YOUR_CALM` (connection error).',
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = ctx.features.has('sink') ? conn.openSink() : conn.openEcho();
      const empty = new Uint8Array(0);
      const chunks: Buffer[] = [];
      for (let i = 0; i < 20000; i++) chunks.push(conn.peer.data(id, empty, true, false));
      conn.peer.sendBytes(Buffer.concat(chunks));
      return judgeFlood(conn, '20000 empty DATA frames');
    },
  },
];
