/** §8.5 Heartbeat and idle timeout, §8.6 GOAWAY, §8.7 Connection errors, §9 error-code rules. */

import { ErrorCodes } from '../../errors.ts';
import { FrameType, PingFlags, type GoawayPayload } from '../../wire/index.ts';
import type { Conn } from '../context.ts';
import { expectAccepted, expectConnectionError, expectStreamError, pingAnswered } from '../expect.ts';
import { describeCode } from '../raw-peer.ts';
import { outcome, type Outcome } from '../types.ts';
import { connectionErrorAfter, pattern, pingBytes, sleep, type Case } from './helpers.ts';

const HB = '8.5 Heartbeat and idle timeout';
const GA = '8.6 GOAWAY';
const CE = '8.7 Connection errors and loss';

/** DATA payload bytes the target sent on a stream, among its first `upTo` frames (default: all). */
function echoBytes(conn: Conn, stream: number, upTo = conn.peer.frames.length): number {
  let n = 0;
  for (const r of conn.peer.frames.slice(0, upTo)) if (r.raw.stream === stream && r.frame?.type === FrameType.DATA) n += r.frame.payload.length;
  return n;
}

/**
 * Over QUIC, the GOAWAY (control stream) may be read before the OPEN we wrote ahead of it (its own
 * QUIC stream, §14.2); the target must then wait for it (FW-QUIC-12, checked by
 * FW-QUIC-12/open-read-after-goaway), and one echoed message first keeps the case about its own
 * rule. Over TCP the order is the wire's: nothing is sent. Returns the messages the echo answered.
 */
async function establish(conn: Conn, id: number): Promise<number> {
  if (conn.ctx.transport !== 'quic') return 0;
  conn.dataRaw(id, pattern(5));
  return (await conn.messages(id, 1)).messages.length;
}

/** The conformance kind that makes a target send GOAWAY (spec §13.2). */
const GOAWAY_KIND = 'conformance.goaway';

/**
 * Waits for the GOAWAY that opening `conformance.goaway` (stream `id`) makes the target send.
 * Returns its payload, or the outcome: unsupported when the target does not know the kind.
 */
async function targetGoaway(conn: Conn, id: number, timeoutMs: number): Promise<GoawayPayload | Outcome> {
  const found = await conn.peer.until(() => {
    for (const r of conn.peer.frames) if (r.frame?.type === FrameType.GOAWAY) return r.frame.payload;
    return conn.streamState(id).error === undefined ? undefined : null;
  }, timeoutMs);
  if (found !== undefined && found !== null) return found;
  if (conn.streamState(id).error === ErrorCodes.NOT_FOUND.code) return outcome.unsupported(`the target does not offer ${GOAWAY_KIND} (NOT_FOUND)`);
  return outcome.fail(`no GOAWAY after opening ${GOAWAY_KIND}`, 'GOAWAY on stream 0', conn.describeStreamEnd(id));
}

export const cases: Case[] = [
  {
    id: 'FW-HB-2/ping-answered',
    requirements: ['FW-HB-2'],
    section: HB,
    level: 'MUST',
    title: 'three PINGs in one write → three PING ACKs with the same bytes',
    quote: 'A peer that receives a PING without the ACK flag MUST answer it promptly with a PING that has the ACK flag set and the same 8 payload bytes, ahead of queued DATA.',
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.peer.sendBytes(Buffer.concat([conn.peer.ping(pingBytes(21), false, false), conn.peer.ping(pingBytes(22), false, false), conn.peer.ping(pingBytes(23), false, false)]));
      const ok = await conn.peer.until(() => ([21, 22, 23].every((t) => pingAnswered(conn.peer, pingBytes(t))) ? true : undefined), ctx.timeoutMs);
      return ok === true ? outcome.pass('all answered with the same bytes') : outcome.fail('not every PING was answered', '3 PING ACKs', conn.describeStreamEnd(0));
    },
  },
  {
    id: 'FW-HB-2/ping-answer-ahead-of-data',
    requirements: ['FW-HB-2', 'FW-SCHED-1', 'FW-FLOW-1'],
    section: HB,
    level: 'MUST',
    notOver: { quic: 'the PING rides the control stream and the CREDIT the echo stream\'s own QUIC stream: the target may read the CREDIT first, and the answer and the DATA arrive on different streams, so "ahead of" is not observable (§14.2)' },
    title: 'the echo holds DATA our stream credit (1 KiB) does not let it send; a PING, then a CREDIT for the rest, in one write: the PING answer comes before any DATA beyond the first 1 KiB',
    quote: 'A peer that receives a PING without the ACK flag MUST answer it promptly with a PING that has the ACK flag set and the same 8 payload bytes, ahead of queued DATA: the answer is passed to the transport before any DATA frame the peer had not yet passed to it when it received the PING.',
    needs: ['echo'],
    async run(ctx) {
      const allowed = 1024;
      const conn = await ctx.handshake({ settings: { initialStreamCredit: allowed } });
      conn.autoCredit = false;
      // Within the target's own initial credit, so that it reads all of it without waiting for us.
      const total = Math.min(conn.target.initialStreamCredit, conn.target.initialConnectionCredit, 128 * 1024);
      if (total <= allowed) return outcome.unsupported(`the target's initial credit (${total} bytes) leaves it nothing to hold beyond our ${allowed}`);
      const piece = Math.min(16 * 1024, conn.target.maxMessageSize === 0 ? 16 * 1024 : conn.target.maxMessageSize);
      const id = conn.openEcho();
      for (let at = 0; at < total; at += piece) conn.dataRaw(id, pattern(Math.min(piece, total - at), at));
      // The target sends what our credit allows and holds the rest: the DATA the PING must overtake.
      await conn.peer.until(() => (echoBytes(conn, id) >= allowed ? true : undefined), ctx.timeoutMs);
      await sleep(ctx.quietMs);
      if (echoBytes(conn, id) !== allowed) return outcome.fail('the echo did not stop at our stream credit (FW-FLOW-1)', `${allowed} bytes`, `${echoBytes(conn, id)} bytes`);
      const ping = pingBytes(24);
      conn.peer.sendBytes(Buffer.concat([conn.peer.ping(ping, false, false), conn.peer.credit(id, total, false)]));
      await conn.peer.until(() => (pingAnswered(conn.peer, ping) && echoBytes(conn, id) >= total ? true : undefined), ctx.timeoutMs * 2);
      const pingAt = conn.peer.frames.findIndex((r) => r.frame?.type === FrameType.PING && (r.frame.flags & PingFlags.ACK) !== 0 && Buffer.from(r.frame.payload).equals(Buffer.from(ping)));
      if (pingAt < 0) return outcome.fail('PING not answered', 'PING ACK', 'none');
      const before = echoBytes(conn, id, pingAt);
      if (before > allowed) {
        return outcome.fail('DATA the target still held when it read the PING went out before the answer', `PING ACK after at most ${allowed} echo bytes`, `after ${before} echo bytes`);
      }
      if (echoBytes(conn, id) !== total) return outcome.fail('the echo did not complete after our CREDIT', `${total} bytes back`, `${echoBytes(conn, id)} bytes; ${conn.describeStreamEnd(id)}`);
      return outcome.pass(`answered before the ${total - allowed} echo bytes that were held back`);
    },
  },
  {
    id: 'FW-HB-3/ack-not-answered',
    requirements: ['FW-HB-3'],
    section: HB,
    level: 'MUST',
    title: 'a PING with the ACK flag (matching nothing) is not answered',
    quote: 'A peer MUST NOT answer a PING that has the ACK flag set. A PING ACK whose bytes match no PING it sent is ignored.',
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.peer.ping(pingBytes(25), true);
      await sleep(ctx.quietMs);
      const answered = conn.peer.frames.some((r) => r.frame?.type === FrameType.PING && Buffer.from(r.frame.payload).equals(Buffer.from(pingBytes(25))));
      if (answered) return outcome.fail('the target answered a PING ACK', 'no answer', 'a PING with the same bytes');
      return expectAccepted(conn, 'an unsolicited PING ACK');
    },
  },
  {
    id: 'FW-HB-4/idle-timeout',
    requirements: ['FW-HB-4', 'FW-CONN-1'],
    section: HB,
    level: 'MUST',
    slow: true,
    title: 'after the handshake we send nothing (not even PING answers): ERROR IDLE_TIMEOUT on stream 0 after the target\'s idle_timeout_ms, then close',
    quote: 'When a peer with `idle_timeout_ms` > 0 (its own setting) has received nothing for that long, it MUST send ERROR `IDLE_TIMEOUT` on stream 0 and close the connection.',
    async run(ctx) {
      const conn = await ctx.handshake({ autoPong: false });
      const idle = conn.target.idleTimeoutMs;
      if (idle === 0) return outcome.unsupported('the target declares idle_timeout_ms 0 (no idle timeout)');
      if (idle > ctx.run.longWaitMs) return outcome.info(`idle_timeout_ms ${idle} is longer than the ${ctx.run.longWaitMs} ms this run waits`);
      const started = Date.now();
      const o = await expectConnectionError(conn.peer, 'IDLE_TIMEOUT', { timeoutMs: idle + ctx.timeoutMs });
      const elapsed = Date.now() - started;
      if (o.verdict === 'pass' && elapsed < idle * 0.9) return outcome.fail(`closed after ${elapsed} ms, before the declared ${idle} ms`);
      return { ...o, detail: `${o.detail} after ${elapsed} ms (idle_timeout_ms ${idle})` };
    },
  },
  {
    id: 'FW-HB-1/heartbeat-ping',
    requirements: ['FW-HB-1'],
    section: HB,
    level: 'SHOULD',
    slow: true,
    title: 'the target sends PING after its heartbeat_interval_ms without receiving anything',
    quote: 'When a peer with `heartbeat_interval_ms` > 0 (its own setting) has received nothing for that long, it SHOULD send a PING without the ACK flag.',
    async run(ctx) {
      const conn = await ctx.handshake();
      const interval = conn.target.heartbeatIntervalMs;
      if (interval === 0) return outcome.info('the target declares heartbeat_interval_ms 0 (no heartbeat)');
      if (interval > ctx.run.longWaitMs) return outcome.info(`heartbeat_interval_ms ${interval} is longer than the ${ctx.run.longWaitMs} ms this run waits`);
      await sleep(50);
      const quietFrom = Date.now();
      const r = await conn.peer.until(() => conn.peer.frames.find((f) => f.at > quietFrom && f.frame?.type === FrameType.PING && (f.frame.flags & PingFlags.ACK) === 0), interval + ctx.timeoutMs);
      if (r === undefined) return outcome.fail(`no PING within ${interval + ctx.timeoutMs} ms`, `PING after ${interval} ms`, 'none');
      return outcome.pass(`PING after ${r.at - quietFrom} ms of silence (heartbeat_interval_ms ${interval})`);
    },
  },
  {
    id: 'FW-GOAWAY-3/client-goaway',
    requirements: ['FW-GOAWAY-3', 'FW-GOAWAY-4', 'FW-ERR-3'],
    section: GA,
    level: 'MUST',
    title: 'GOAWAY {last_stream 0, code 0xBEEF (unregistered)} from us: our open echo stream still completes; the target opens no stream',
    quote: 'The receiver of GOAWAY MUST NOT open new streams on the connection … Streams with ids up to and including `last_stream`, and the GOAWAY sender\'s own streams, run to completion.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.openEcho();
      const before = await establish(conn, id);
      conn.peer.frame({ type: FrameType.GOAWAY, flags: 0, stream: 0, payload: { lastStream: 0, code: 0xbeef, message: 'conformance' } });
      await sleep(20);
      conn.dataRaw(id, pattern(33));
      conn.peer.done(id);
      const view = await conn.ended(id);
      await sleep(ctx.quietMs);
      const opened = conn.peer.frames.filter((r) => r.frame?.type === FrameType.OPEN);
      if (opened.length > 0) return outcome.fail('the target opened a stream after our GOAWAY', 'no OPEN', `OPEN of stream ${opened[0]?.raw.stream ?? '?'}`);
      if (!view.done || view.messages.length !== before + 1) return outcome.fail('our stream did not complete after GOAWAY', 'echo and DONE', conn.describeStreamEnd(id));
      const err = conn.connectionError();
      if (err !== undefined) return outcome.fail('the target failed the connection', 'no error', `ERROR ${describeCode(err.code)}`);
      return outcome.pass('stream completed after GOAWAY, no stream opened by the target');
    },
  },
  {
    id: 'FW-GOAWAY-2/refused-after-goaway',
    requirements: ['FW-GOAWAY-2', 'FW-GOAWAY-1', 'FW-GOAWAY-4', 'FW-GOAWAY-6', 'FW-REF-3'],
    section: GA,
    level: 'MUST',
    title: 'conformance.goaway: the target sends GOAWAY {last_stream = that stream, NO_ERROR}; a stream opened after it → REFUSED_STREAM; the goaway stream still echoes; after both DONEs the target closes, having opened no stream',
    quote: 'The sender of GOAWAY sets `last_stream` to the highest stream id opened by the receiver that it has accepted, and MUST refuse every later OPEN from the receiver (id above `last_stream`) with ERROR `REFUSED_STREAM`.',
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.open(GOAWAY_KIND, { meta: { deadline_ms: 10_000 } });
      const goaway = await targetGoaway(conn, id, ctx.timeoutMs);
      if (!('lastStream' in goaway)) return goaway;
      if (goaway.lastStream !== id || goaway.code !== 0) return outcome.fail('a GOAWAY other than §13.2 describes', `last_stream ${id}, code NO_ERROR`, `last_stream ${goaway.lastStream}, code ${describeCode(goaway.code)}`);
      const late = conn.open('conformance.echo');
      const refused = await expectStreamError(conn, late, 'REFUSED_STREAM');
      if (refused.verdict !== 'pass') return { ...refused, detail: `the OPEN after GOAWAY: ${refused.detail}` };
      // Streams up to last_stream run to completion (FW-GOAWAY-4).
      conn.dataRaw(id, pattern(5));
      const echoed = await conn.messages(id, 1);
      if (echoed.messages.length !== 1) return outcome.fail('the stream GOAWAY accepted stopped working', 'its echo', conn.describeStreamEnd(id));
      conn.peer.done(id);
      const end = await conn.ended(id);
      if (!end.done) return outcome.fail('the stream GOAWAY accepted did not complete', 'DONE', conn.describeStreamEnd(id));
      const ending = await conn.peer.waitEnd(ctx.timeoutMs);
      const err = conn.connectionError();
      if (err !== undefined) return outcome.fail('a connection ERROR instead of a graceful close', 'close', `ERROR ${describeCode(err.code)} "${err.message}"`);
      if (ending === undefined) return outcome.fail('the target did not close once no stream was left (FW-GOAWAY-4)', 'close', 'still open');
      const opened = conn.peer.frames.filter((r) => r.frame?.type === FrameType.OPEN);
      if (opened.length > 0) return outcome.nonStrict('the target opened a stream after its own GOAWAY (FW-GOAWAY-6)', 'no OPEN', `OPEN of stream ${opened[0]?.raw.stream ?? '?'}`);
      return outcome.pass(`GOAWAY last_stream ${id}; stream ${late} refused; stream ${id} completed; then closed (${ending.how})`);
    },
  },
  {
    id: 'FW-GOAWAY-4/deadline',
    requirements: ['FW-GOAWAY-4', 'FW-REF-3'],
    section: GA,
    level: 'MUST',
    title: 'conformance.goaway with deadline_ms 300, the stream left open: GOAWAY {deadline_ms 300}, then ERROR TIMEOUT on the stream after about 300 ms, then close',
    quote: 'when `deadline_ms` … has passed, the GOAWAY\'s sender MUST fail each stream still open with ERROR `TIMEOUT` on that stream and then close the transport.',
    async run(ctx) {
      const conn = await ctx.handshake();
      const started = Date.now();
      const id = conn.open(GOAWAY_KIND, { meta: { deadline_ms: 300 } });
      const goaway = await targetGoaway(conn, id, ctx.timeoutMs);
      if (!('lastStream' in goaway)) return goaway;
      if (goaway.deadlineMs !== 300) return outcome.fail('the GOAWAY does not carry the deadline asked for', 'deadline_ms 300', String(goaway.deadlineMs ?? 'absent'));
      const end = await conn.ended(id, 300 + ctx.timeoutMs);
      const elapsed = Date.now() - started;
      if (end.error !== ErrorCodes.TIMEOUT.code) return outcome.fail('the stream still open at the deadline did not fail with TIMEOUT', 'ERROR TIMEOUT on the stream', conn.describeStreamEnd(id));
      if (elapsed < 270) return outcome.fail(`TIMEOUT after ${elapsed} ms, before the deadline`, 'after 300 ms', `${elapsed} ms`);
      const ending = await conn.peer.waitEnd(ctx.timeoutMs);
      if (ending === undefined) return outcome.fail('the target did not close at the deadline', 'close', 'still open');
      return outcome.pass(`ERROR TIMEOUT on stream ${id} after ${elapsed} ms, then closed (${ending.how})`);
    },
  },
  {
    id: 'FW-GOAWAY-5/last-stream-increases',
    requirements: ['FW-GOAWAY-5'],
    section: GA,
    level: 'MUST',
    title: 'with an echo stream of ours open, GOAWAY last_stream 0 and GOAWAY last_stream 2 in one write → PROTOCOL_ERROR',
    quote: '`last_stream` MUST NOT increase from one GOAWAY to the next; a receiver that sees it increase fails with `PROTOCOL_ERROR` (connection error).',
    // A receiver of GOAWAY may close the transport as soon as no stream is left (§8.6). With none
    // open, and the two GOAWAYs read apart, a target could close in between and never see the
    // second: a bare close, which --strict counts as a failure. Our open stream and one write rule that out.
    run: connectionErrorAfter('PROTOCOL_ERROR', async (conn) => {
      if (conn.ctx.features.has('echo')) {
        const id = conn.openEcho();
        conn.dataRaw(id, pattern(3));
        await conn.messages(id, 1);
      }
      const first = conn.peer.frame({ type: FrameType.GOAWAY, flags: 0, stream: 0, payload: { lastStream: 0, code: 0 } }, false);
      const second = conn.peer.frame({ type: FrameType.GOAWAY, flags: 0, stream: 0, payload: { lastStream: 2, code: 0 } }, false);
      conn.peer.sendBytes(Buffer.concat([first, second]));
    }),
  },
  {
    id: 'FW-GOAWAY-5/warning-then-exact',
    requirements: ['FW-GOAWAY-5'],
    section: GA,
    level: 'MUST',
    title: 'with an echo stream open, GOAWAY last_stream 0xFFFFFFFE (warning), then last_stream 0 → accepted, the stream still works',
    needs: ['echo'],
    quote: 'A peer MAY send more than one GOAWAY (for example a first one with `last_stream` … 0xFFFFFFFE as a warning and a later exact one).',
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.openEcho();
      const before = await establish(conn, id);
      conn.peer.frame({ type: FrameType.GOAWAY, flags: 0, stream: 0, payload: { lastStream: 0xffff_fffe, code: 0 } });
      conn.peer.frame({ type: FrameType.GOAWAY, flags: 0, stream: 0, payload: { lastStream: 0, code: 0 } });
      conn.dataRaw(id, pattern(9));
      const view = await conn.messages(id, before + 1);
      if (view.messages.length !== before + 1) return outcome.fail('our stream stopped working after two GOAWAYs', 'echo', conn.describeStreamEnd(id));
      return expectAccepted(conn, 'two GOAWAYs with decreasing last_stream');
    },
  },
  {
    id: 'FW-CONN-2/peer-error-closes',
    requirements: ['FW-CONN-2', 'FW-ERR-1'],
    section: CE,
    level: 'MUST',
    title: 'ERROR {code CANCELLED (a stream code)} on stream 0 from us → the target closes and sends nothing more',
    quote: 'A peer that receives ERROR on stream 0 MUST treat the connection as closed by the peer: … the receiver sends nothing more and closes the transport. … A receiver MUST act on where an ERROR arrives, not on the scope column.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.openEcho();
      await conn.alive();
      conn.peer.drain();
      const count = conn.peer.frames.length;
      conn.peer.autoPong = false;
      conn.peer.error(0, ErrorCodes.CANCELLED.code, 'conformance: closing');
      const ending = await conn.peer.waitEnd(ctx.timeoutMs);
      const after = conn.peer.frames.slice(count).filter((r) => r.frame?.type !== FrameType.PING);
      if (after.length > 0) return outcome.fail('the target sent frames after our connection ERROR', 'nothing, then close', after.map((r) => `type 0x${r.raw.type.toString(16)} on stream ${r.raw.stream}`).join(', '));
      if (ending === undefined) return outcome.fail('the target kept the connection open', 'close', 'open');
      return outcome.pass(`closed (${ending.how})`);
    },
  },
  {
    id: 'FW-ERR-1/connection-code-on-stream',
    requirements: ['FW-ERR-1', 'FW-STREAM-5'],
    section: '9 Error-code registry',
    level: 'MUST',
    title: 'ERROR {code BAD_CRC (a connection code)} on an echo stream ends only that stream',
    quote: 'an ERROR on a stream ends that stream only, whatever its code. A receiver MUST act on where an ERROR arrives, not on the scope column.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.openEcho();
      conn.peer.error(id, ErrorCodes.BAD_CRC.code);
      await sleep(ctx.quietMs);
      const late = conn.streamState(id).frames;
      if (late > 0) return outcome.fail('the target sent frames on the stream after our ERROR', 'nothing', `${late} frames`);
      const other = conn.openEcho();
      conn.dataRaw(other, pattern(3));
      const v = await conn.messages(other, 1);
      if (v.messages.length !== 1) return outcome.fail('the connection no longer serves streams', 'echo on a new stream', conn.describeStreamEnd(other));
      return expectAccepted(conn, 'a connection-scope code on a stream');
    },
  },
  {
    id: 'FW-ERR-3/unknown-codes',
    requirements: ['FW-ERR-3', 'FW-CANCEL-1'],
    section: '9 Error-code registry',
    level: 'MUST',
    title: 'ERROR and CANCEL with the unregistered code 0xDEAD end their streams and are not protocol violations',
    quote: 'A receiver that gets a code it does not know (in ERROR, CANCEL or GOAWAY) MUST treat the failure like a `PROTOCOL_ERROR`-class failure of the same scope … An unknown code is never itself a protocol violation.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const a = conn.openEcho();
      const b = conn.openEcho();
      conn.peer.error(a, 0xdead, 'conformance');
      conn.peer.cancel(b, { code: 0xdead, reason: 'conformance' });
      return expectAccepted(conn, 'unknown codes in ERROR and CANCEL');
    },
  },
];

