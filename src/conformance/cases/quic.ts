/**
 * The QUIC mapping (spec §14), where a peer can observe it: what rides the control stream
 * (FW-QUIC-2), how QUIC streams bind to framewire streams (FW-QUIC-3), that nothing of a stream is
 * acted on before the HELLO (FW-QUIC-4), and how QUIC streams end: FIN, never RESET_STREAM for a
 * live stream (FW-QUIC-6, FW-QUIC-7). These cases break the mapping on purpose through the QUIC
 * link's own controls; over TCP they do not apply.
 */

import { defaultSettings, FrameType } from '../../wire/index.ts';
import { Conn, type CaseContext } from '../context.ts';
import { expectAccepted, expectConnectionError, pingAnswered, violationsOf } from '../expect.ts';
import type { QuicControls } from '../quic-link.ts';
import { describeCode, type RawPeer } from '../raw-peer.ts';
import { CaseAbort, outcome, type Outcome } from '../types.ts';
import { connectionErrorAfter, pattern, pingBytes, sleep, type Case, handshakeDeadlineOutcome } from './helpers.ts';

const STREAMS = '14.2 Streams and ids';
const ENDS = '14.4 Ending streams: FIN, CANCEL and ERROR';
const ONLY_QUIC = { tcp: 'a rule of the QUIC mapping (§14): a TCP connection has no QUIC streams' } as const;

const Q2 = 'A frame with a non-zero stream id on the control stream is a `PROTOCOL_ERROR` connection error.';
const Q3 =
  'A new QUIC stream whose first frame is not an OPEN with the opener\'s id parity and an unused id, or a frame of another stream on a bound QUIC stream, is a `PROTOCOL_ERROR` connection error.';
const Q6 = 'A peer FIN on a QUIC stream whose framewire stream is not over is a `PROTOCOL_ERROR` connection error.';
const Q6FRAME =
  'A FIN inside a frame, on any QUIC stream of the connection, is a `PROTOCOL_ERROR` connection error too: unlike the end of a TCP byte stream (`TRUNCATED`, FW-FRAME-10), it is the peer\'s own violation, and the connection is still there to tell it.';
const Q12 =
  'Over QUIC the receiver of a GOAWAY that has sent none itself therefore MUST NOT close the transport because no stream is left until no stream has been left for `goawayCloseWaitMs` …; until then it leaves the close to the GOAWAY\'s sender, which MUST close once none is left (FW-GOAWAY-4), and serves an OPEN of the sender read meanwhile as any other.';
const Q7 = 'A RESET_STREAM or STOP_SENDING for a stream that already ended is ignored; for a live stream it is a `PROTOCOL_ERROR` connection error.';

function quicOf(peer: RawPeer): QuicControls {
  if (peer.quic === undefined) throw new CaseAbort(outcome.fail('internal: a QUIC case ran over TCP'));
  return peer.quic;
}

/** Opens an echo stream and has one message echoed: the target has bound the stream to its QUIC stream. */
async function echoStream(conn: Conn): Promise<number> {
  const id = conn.openEcho();
  conn.dataRaw(id, pattern(5));
  const view = await conn.messages(id, 1);
  if (view.messages.length !== 1) throw new CaseAbort(outcome.fail('the echo stream did not answer', 'one message echoed', conn.describeStreamEnd(id)));
  return id;
}

/**
 * With an echo stream bound on the target, `act` breaks the mapping through the QUIC link (a frame
 * on the wrong QUIC stream, a FIN, a reset, …): the target must fail the connection with PROTOCOL_ERROR.
 */
function breakLiveEcho(act: (quic: QuicControls, id: number, conn: Conn) => void | Promise<void>): Case['run'] {
  return connectionErrorAfter('PROTOCOL_ERROR', async (conn) => {
    const id = await echoStream(conn);
    await act(quicOf(conn.peer), id, conn);
  });
}

/** Resolves once the target answered a PING written now: what we wrote before it on the connection was read. */
async function pingRoundTrip(conn: Conn, tag: number): Promise<boolean> {
  const payload = pingBytes(tag);
  conn.peer.ping(payload);
  return (await conn.peer.until(() => (pingAnswered(conn.peer, payload) ? true : conn.peer.ending === undefined ? undefined : false), conn.ctx.timeoutMs)) === true;
}

/** How the target ended its half of each stream's QUIC stream, once all did (or the timeout). */
async function targetEnds(conn: Conn, streams: readonly number[]): Promise<string[]> {
  const quic = quicOf(conn.peer);
  await conn.peer.until(() => (streams.every((s) => quic.targetEnd(s) !== undefined) ? true : undefined), conn.ctx.timeoutMs);
  return streams.map((s) => `${s}: ${quic.targetEnd(s) ?? 'not ended'}`);
}

/** After the peer ended a QUIC stream inside a frame: ERROR PROTOCOL_ERROR on stream 0, then close, and never a local-only code. */
async function finInsideFrame(conn: Conn): Promise<Outcome> {
  const verdict = await expectConnectionError(conn.peer, 'PROTOCOL_ERROR', { timeoutMs: conn.ctx.timeoutMs });
  const sent = violationsOf(conn.peer, 'FW-ERR-2');
  if (sent.length > 0) return outcome.fail(sent.join('; '), 'ERROR PROTOCOL_ERROR, nothing coded TRUNCATED', 'a local-only code sent');
  return verdict;
}

export const cases: Case[] = [
  {
    id: 'FW-QUIC-2/stream-frame-on-control',
    requirements: ['FW-QUIC-2'],
    section: STREAMS,
    level: 'MUST',
    notOver: ONLY_QUIC,
    title: 'DATA of an open echo stream sent on the control stream → PROTOCOL_ERROR',
    quote: Q2,
    needs: ['echo'],
    run: breakLiveEcho((quic, id, conn) => {
      quic.sendOn(0, conn.peer.data(id, pattern(7), false, false));
    }),
  },
  {
    id: 'FW-QUIC-2/handshake-deadline-on-control',
    requirements: ['FW-QUIC-2', 'FW-HS-5'],
    section: STREAMS,
    level: 'MUST',
    slow: true,
    notOver: { tcp: 'FW-HS-5/handshake-deadline covers the deadline over TCP' },
    title: 'the control stream opened with one byte of a HELLO header, then nothing → ERROR HANDSHAKE on it at the deadline, close',
    quote: 'The client writes its HELLO on it first. … The server MUST wait for the client\'s HELLO for at most the handshake timeout … and, when it expires, fails with `HANDSHAKE` (ERROR on stream 0, close).',
    async run(ctx) {
      const peer = await ctx.connect();
      quicOf(peer).sendOn(0, peer.hello({}, false).subarray(0, 1));
      return handshakeDeadlineOutcome(ctx, peer);
    },
  },
  {
    id: 'FW-QUIC-3/first-frame-not-open',
    requirements: ['FW-QUIC-3'],
    section: STREAMS,
    level: 'MUST',
    notOver: ONLY_QUIC,
    title: 'DATA of an open echo stream as the first frame of a new QUIC stream (valid over TCP) → PROTOCOL_ERROR',
    quote: Q3,
    needs: ['echo'],
    run: breakLiveEcho((quic, id, conn) => {
      quic.sendOnNewStream(conn.peer.data(id, pattern(7), false, false));
    }),
  },
  {
    id: 'FW-QUIC-3/wrong-parity-open',
    requirements: ['FW-QUIC-3', 'FW-STREAM-1'],
    section: STREAMS,
    level: 'MUST',
    notOver: { tcp: 'FW-STREAM-1/even-id-from-client covers the wrong parity over TCP (STREAM_ID)' },
    title: 'a new QUIC stream starting with OPEN of stream 2 (the server\'s parity) → PROTOCOL_ERROR',
    quote: Q3,
    run: connectionErrorAfter('PROTOCOL_ERROR', (conn) => {
      conn.peer.open(2, 'conformance.echo');
    }),
  },
  {
    id: 'FW-QUIC-3/used-id-on-new-stream',
    requirements: ['FW-QUIC-3', 'FW-STREAM-2'],
    section: STREAMS,
    level: 'MUST',
    notOver: ONLY_QUIC,
    title: 'with echo stream 1 open, a new QUIC stream starting with OPEN of stream 1 again → PROTOCOL_ERROR',
    quote: Q3,
    needs: ['echo'],
    run: breakLiveEcho((quic, id, conn) => {
      quic.sendOnNewStream(conn.peer.frame({ type: FrameType.OPEN, flags: 0, stream: id, seq: 0, payload: { kind: 'conformance.echo' } }, false));
    }),
  },
  {
    id: 'FW-QUIC-3/other-stream-on-bound',
    requirements: ['FW-QUIC-3'],
    section: STREAMS,
    level: 'MUST',
    notOver: ONLY_QUIC,
    title: 'two echo streams open; DATA of the second sent on the QUIC stream of the first → PROTOCOL_ERROR',
    quote: Q3,
    needs: ['echo'],
    run: breakLiveEcho(async (quic, first, conn) => {
      const second = await echoStream(conn);
      quic.sendOn(first, conn.peer.data(second, pattern(7), false, false));
    }),
  },
  {
    id: 'FW-QUIC-4/stream-before-hello',
    requirements: ['FW-QUIC-4', 'FW-HS-7'],
    section: STREAMS,
    level: 'MUST',
    notOver: { tcp: 'over TCP a frame before the HELLO is a HANDSHAKE error (FW-HS-7/open-before-hello)' },
    title: 'OPEN, DATA and DONE of an echo stream written before our HELLO: nothing answered until the HELLO, then the server HELLO and the echo (in any order: QUIC keeps no order across streams)',
    quote: 'A receiver … MUST NOT hand it any frame of a peer\'s stream before the peer\'s HELLO.',
    needs: ['echo'],
    async run(ctx) {
      const peer = await ctx.connect();
      const id = 1;
      const message = pattern(21);
      peer.sendBytes(Buffer.concat([peer.open(id, 'conformance.echo', {}, false), peer.data(id, message, false, false), peer.done(id, undefined, false)]));
      await sleep(ctx.quietMs);
      if (peer.frames.length > 0 || peer.ending !== undefined) {
        const first = peer.frames[0];
        const actual = first === undefined ? `connection closed (${peer.ending?.how ?? '?'})` : describeFrame(peer, 0);
        return outcome.fail('the target acted on stream frames before our HELLO', 'nothing until the HELLO', actual);
      }
      peer.hello({ agent: 'framewire-conformance/1', ...(ctx.run.auth === undefined ? {} : { auth: ctx.run.auth }) });
      const helloSeen = (): boolean => peer.frames.some((r) => r.raw.stream === 0 && r.frame?.type === FrameType.HELLO);
      const served = (): boolean => peer.frames.some((r) => r.raw.stream === id && r.frame?.type !== FrameType.CREDIT);
      const ended = await peer.until(() => (helloSeen() && served() ? true : undefined), ctx.timeoutMs);
      // The server's HELLO rides the control stream and the echo its own QUIC stream: they may
      // arrive in either order (§14.2), so only their presence is checked.
      if (!helloSeen()) return outcome.fail('no server HELLO', 'the server HELLO', peer.frames.length === 0 ? 'nothing' : describeFrame(peer, 0));
      const conn = connOf(ctx, peer);
      const view = await conn.ended(id);
      if (ended !== true || !view.done || view.messages.length !== 1 || !view.messages[0]?.equals(message)) {
        return outcome.fail('the stream written before the HELLO was not served after it', 'the message echoed, then DONE', conn.describeStreamEnd(id));
      }
      return outcome.pass('held until the HELLO, then served');
    },
  },
  {
    id: 'FW-QUIC-12/open-read-after-goaway',
    requirements: ['FW-QUIC-12', 'FW-GOAWAY-4'],
    section: STREAMS,
    level: 'MUST',
    notOver: { tcp: 'over TCP an OPEN written before a GOAWAY is read before it (one ordered byte stream)' },
    title: 'no stream open; GOAWAY {last_stream 0} and a PING on the control stream; once the PING is answered (the GOAWAY was read), OPEN, DATA and DONE of an echo stream on a new QUIC stream (what an OPEN written before the GOAWAY and read after it looks like) → the target serves the stream instead of closing',
    quote: Q12,
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.peer.frame({ type: FrameType.GOAWAY, flags: 0, stream: 0, payload: { lastStream: 0, code: 0, message: 'conformance' } });
      if (!(await pingRoundTrip(conn, 12))) return outcome.fail('the target closed on our GOAWAY with no stream open', 'the PING after the GOAWAY answered, the connection open', conn.peer.ending === undefined ? 'no PING ACK' : `closed (${conn.peer.ending.how})`);
      const id = conn.openEcho();
      const message = pattern(17);
      conn.dataRaw(id, message);
      conn.peer.done(id);
      const view = await conn.ended(id);
      if (!view.done || view.messages.length !== 1 || !view.messages[0]?.equals(message)) {
        return outcome.fail('the stream that reached the target after our GOAWAY was not served', 'the message echoed, then DONE', conn.describeStreamEnd(id));
      }
      const err = conn.connectionError();
      if (err !== undefined) return outcome.fail('the target failed the connection', 'no error', `ERROR ${describeCode(err.code)} "${err.message}"`);
      return outcome.pass('the stream read after our GOAWAY was served');
    },
  },
  {
    id: 'FW-QUIC-6/fin-on-live-stream',
    requirements: ['FW-QUIC-6'],
    section: ENDS,
    level: 'MUST',
    notOver: ONLY_QUIC,
    title: 'FIN on the QUIC stream of an open echo stream, without DONE → PROTOCOL_ERROR',
    quote: Q6,
    needs: ['echo'],
    run: breakLiveEcho((quic, id) => {
      quic.finish(id);
    }),
  },
  {
    id: 'FW-QUIC-6/fin-inside-frame',
    requirements: ['FW-QUIC-6', 'FW-ERR-2'],
    section: ENDS,
    level: 'MUST',
    notOver: { tcp: 'FW-FRAME-10/truncated-then-close covers the end of input inside a frame over TCP' },
    title: 'the first 30 bytes of a DATA frame on an echo stream\'s QUIC stream, then FIN → PROTOCOL_ERROR (never TRUNCATED, nor INTERNAL)',
    quote: `${Q6FRAME} A receiver MUST NOT send \`TRUNCATED\` or \`CONNECTION_LOST\` (they are local-only codes).`,
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = await echoStream(conn);
      const quic = quicOf(conn.peer);
      quic.sendOn(id, conn.peer.data(id, pattern(100), false, false).subarray(0, 30));
      quic.finish(id);
      return finInsideFrame(conn);
    },
  },
  {
    id: 'FW-QUIC-6/fin-inside-frame-control',
    requirements: ['FW-QUIC-6', 'FW-ERR-2'],
    section: ENDS,
    level: 'MUST',
    notOver: { tcp: 'FW-FRAME-10/truncated-then-close covers the end of input inside a frame over TCP' },
    title: 'the first 10 bytes of a frame header on the control stream, then FIN → PROTOCOL_ERROR, and the ERROR reaches us before the close',
    quote: `${Q6FRAME} A receiver MUST NOT send \`TRUNCATED\` or \`CONNECTION_LOST\` (they are local-only codes).`,
    async run(ctx) {
      const conn = await ctx.handshake();
      const quic = quicOf(conn.peer);
      quic.sendOn(0, conn.peer.data(1, pattern(20), false, false).subarray(0, 10));
      quic.finish(0);
      return finInsideFrame(conn);
    },
  },
  {
    id: 'FW-QUIC-6/target-finishes-ended-streams',
    requirements: ['FW-QUIC-6', 'FW-QUIC-7'],
    section: ENDS,
    level: 'MUST',
    notOver: ONLY_QUIC,
    title: 'an echo stream ended with DONE both ways, one we cancelled and one refused (unknown kind): the target FINs its half of each QUIC stream, never RESET_STREAM',
    quote: 'A side finishes (FIN) its half of a stream\'s QUIC stream once the framewire stream is over for it — it sent or received CANCEL or ERROR, or DONE went both ways. … CANCEL and ERROR travel as frames on the stream … and do not reset it.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const done = await echoStream(conn);
      conn.peer.done(done);
      const cancelled = await echoStream(conn);
      conn.peer.cancel(cancelled, { reason: 'conformance' });
      const refused = conn.open('conformance.no-such-kind');
      const ends = await targetEnds(conn, [done, cancelled, refused]);
      if (!ends.every((e) => e.endsWith(': fin'))) return outcome.fail('the target did not FIN every ended stream', 'fin on each', ends.join(', '));
      return expectAccepted(conn, `streams ended (${ends.join(', ')})`);
    },
  },
  {
    id: 'FW-QUIC-7/reset-live-stream',
    requirements: ['FW-QUIC-7'],
    section: ENDS,
    level: 'MUST',
    notOver: ONLY_QUIC,
    title: 'RESET_STREAM on the QUIC stream of an open echo stream → PROTOCOL_ERROR',
    quote: Q7,
    needs: ['echo'],
    run: breakLiveEcho((quic, id) => {
      quic.reset(id);
    }),
  },
  {
    id: 'FW-QUIC-7/stop-sending-live-stream',
    requirements: ['FW-QUIC-7'],
    section: ENDS,
    level: 'MUST',
    notOver: ONLY_QUIC,
    title: 'STOP_SENDING on the QUIC stream of an open echo stream, then (once a PING after it was answered) one more message for the echo → PROTOCOL_ERROR',
    // Our QUIC library sends STOP_SENDING only once the read it has pending on the stream returns:
    // one echoed message lets it out. The message after the PING gives the target a write on the
    // stopped stream: a target whose QUIC library reports STOP_SENDING only to a write (the
    // reference's, §14.4) sees it there; one that sees it at once has failed the connection already.
    quote: Q7,
    needs: ['echo'],
    run: breakLiveEcho(async (quic, id, conn) => {
      const stopped = quic.stopSending(id);
      conn.dataRaw(id, pattern(9));
      await conn.messages(id, 2);
      await stopped;
      if (await pingRoundTrip(conn, 7)) conn.dataRaw(id, pattern(11));
    }),
  },
  {
    id: 'FW-QUIC-7/reset-after-end-ignored',
    requirements: ['FW-QUIC-7'],
    section: ENDS,
    level: 'MUST',
    notOver: ONLY_QUIC,
    title: 'RESET_STREAM on the QUIC stream of an echo stream after DONE went both ways → ignored, connection alive',
    quote: Q7,
    needs: ['echo'],
    async run(ctx): Promise<Outcome> {
      const conn = await ctx.handshake();
      const id = await echoStream(conn);
      conn.peer.done(id);
      const view = await conn.ended(id);
      if (!view.done) return outcome.fail('the echo stream did not end', 'DONE', conn.describeStreamEnd(id));
      quicOf(conn.peer).reset(id);
      return expectAccepted(conn, 'RESET_STREAM of an ended stream');
    },
  },
];

function describeFrame(peer: RawPeer, index: number): string {
  const r = peer.frames[index];
  if (r === undefined) return 'nothing';
  const f = r.frame;
  return f?.type === FrameType.ERROR ? `ERROR ${describeCode(f.payload.code)} "${f.payload.message}" on stream ${r.raw.stream}` : `frame type 0x${r.raw.type.toString(16)} on stream ${r.raw.stream}`;
}

/** The handshaken connection of a peer whose HELLO the case sent itself. */
function connOf(ctx: CaseContext, peer: RawPeer): Conn {
  // The HELLO is the first frame of the control stream, not necessarily of the connection: QUIC
  // keeps no order across streams (§14.2).
  const hello = peer.frames.find((r) => r.raw.stream === 0)?.frame;
  if (hello?.type !== FrameType.HELLO) throw new CaseAbort(outcome.fail('handshake failed', 'the server HELLO first on the control stream', hello === undefined ? 'nothing on the control stream' : `frame type 0x${hello.type.toString(16)}`));
  return new Conn(ctx, peer, hello.payload, { ...defaultSettings });
}
