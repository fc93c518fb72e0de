/** §8.3 Flow control and §7.4 CREDIT: overruns, credit overflow, and the target obeying our credit. */

import { FrameType } from '../../wire/index.ts';
import type { Conn } from '../context.ts';
import { expectAccepted, expectConnectionError } from '../expect.ts';
import { outcome, type Outcome } from '../types.ts';
import { connectionErrorAfter, pattern, sleep, type Case } from './helpers.ts';

const S = '8.3 Flow control';

/**
 * Sends `bytes` DATA bytes on a stream in frames the target accepts, with no regard for credit,
 * as messages no longer than its max_message_size: credit is checked before the message size
 * (FW-FLOW-9), but a message that failed its stream first would have its later bytes discarded
 * and credited back (FW-FLOW-7), and the overrun would never come.
 */
function blast(conn: Conn, stream: number, bytes: number, endLastMessage = false): void {
  const frame = Math.min(conn.target.maxFramePayload, 16 * 1024);
  const maxMessage = conn.target.maxMessageSize;
  let inMessage = 0;
  for (let sent = 0; sent < bytes; ) {
    const n = Math.min(frame, bytes - sent, maxMessage === 0 ? Infinity : maxMessage - inMessage);
    inMessage += n;
    const endOfMessage = inMessage === maxMessage || (endLastMessage && sent + n === bytes);
    conn.dataRaw(stream, pattern(n, sent), !endOfMessage);
    if (endOfMessage) inMessage = 0;
    sent += n;
  }
}

/** Frames blast() needs for `bytes`: a tiny max_message_size makes a flood of them. */
function blastFrames(conn: Conn, bytes: number): number {
  const maxMessage = conn.target.maxMessageSize;
  const perFrame = Math.min(conn.target.maxFramePayload, 16 * 1024, maxMessage === 0 ? Infinity : maxMessage);
  return Math.ceil(bytes / perFrame);
}

/** DATA bytes the target sent on a stream, and the largest frame. */
function received(conn: Conn, stream: number): { bytes: number; largest: number } {
  let bytes = 0;
  let largest = 0;
  for (const r of conn.peer.framesOn(stream)) {
    if (r.frame?.type !== FrameType.DATA) continue;
    bytes += r.frame.payload.length;
    largest = Math.max(largest, r.frame.payload.length);
  }
  return { bytes, largest };
}

export const cases: Case[] = [
  {
    id: 'FW-FLOW-2/stream-overrun',
    requirements: ['FW-FLOW-2', 'FW-FLOW-1', 'FW-REF-2'],
    section: S,
    level: 'MUST',
    title: 'initial_stream_credit + 1 bytes of DATA on a sink stream → FLOW_CONTROL',
    quote: 'A receiver that finds a stream\'s or the connection\'s received total above its granted limit fails with `FLOW_CONTROL` (connection error).',
    needs: ['sink'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const credit = conn.target.initialStreamCredit;
      if (credit > 64 * 1024 * 1024 || blastFrames(conn, credit + 1) > 100_000) {
        return outcome.unsupported(`initial_stream_credit ${credit} in messages of at most max_message_size ${conn.target.maxMessageSize} is too much to overrun quickly`);
      }
      const id = conn.openSink();
      blast(conn, id, credit + 1);
      return expectConnectionError(conn.peer, 'FLOW_CONTROL', { timeoutMs: ctx.timeoutMs });
    },
  },
  {
    id: 'FW-FLOW-2/connection-overrun',
    requirements: ['FW-FLOW-2', 'FW-FLOW-1'],
    section: S,
    level: 'MUST',
    title: 'sink streams each within their credit, together initial_connection_credit + 1 bytes → FLOW_CONTROL',
    quote: 'the total over all streams MUST stay at or below the connection limit … A receiver that finds … the connection\'s received total above its granted limit fails with `FLOW_CONTROL` (connection error).',
    needs: ['sink'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const total = conn.target.initialConnectionCredit + 1;
      const per = conn.target.initialStreamCredit;
      if (per === 0) return outcome.unsupported('initial_stream_credit is 0: every DATA byte is a stream overrun');
      const streams = Math.ceil(total / per);
      if (streams > conn.target.maxConcurrentStreams || streams > 1000 || total > 64 * 1024 * 1024 || blastFrames(conn, total) > 100_000) {
        return outcome.unsupported(`needs ${streams} streams of ${per} bytes (max_concurrent_streams ${conn.target.maxConcurrentStreams})`);
      }
      if (per >= total) return outcome.unsupported('initial_stream_credit exceeds the connection credit: covered by stream-overrun');
      let left = total;
      for (let i = 0; i < streams; i++) {
        const id = conn.openSink();
        const n = Math.min(per, left);
        blast(conn, id, n);
        left -= n;
      }
      return expectConnectionError(conn.peer, 'FLOW_CONTROL', { timeoutMs: ctx.timeoutMs });
    },
  },
  {
    id: 'FW-FLOW-9/check-order',
    requirements: ['FW-FLOW-9', 'FW-STREAM-11', 'FW-SEQ-2', 'FW-FLOW-2', 'FW-STREAM-7'],
    section: '8.3.1 Receiving DATA',
    level: 'MUST',
    title: 'three connections, each with one DATA frame that breaks two rules: on an unopened id with a wrong seq → PROTOCOL_ERROR; with a seq gap beyond the stream credit → SEQ_ERROR; after our DONE and beyond the stream credit → FLOW_CONTROL',
    quote: 'A receiver MUST run step 6 of §3.3 for a DATA frame in this order and report the first check that fails, checking nothing after it.',
    needs: ['sink'],
    async run(ctx) {
      const a = await ctx.handshake();
      const credit = a.target.initialStreamCredit;
      if (credit > 64 * 1024 * 1024 || blastFrames(a, credit) > 100_000) return outcome.unsupported(`initial_stream_credit ${credit} is too much to fill quickly`);
      // 6.1 (the id was opened) before 6.2 (seq).
      a.peer.frame({ type: FrameType.DATA, flags: 0, stream: 101, seq: 7, payload: pattern(4) });
      let o = await expectConnectionError(a.peer, 'PROTOCOL_ERROR', { timeoutMs: ctx.timeoutMs });
      if (o.verdict !== 'pass') return { ...o, detail: `DATA on an unopened id with seq 7: ${o.detail}` };
      // 6.2 (seq) before 6.5 (credit): the stream's window full, then one byte with a seq gap.
      const b = await ctx.handshake();
      const sb = b.openSink();
      blast(b, sb, credit);
      b.peer.frame({ type: FrameType.DATA, flags: 0, stream: sb, seq: b.peer.peekSeq(sb) + 1, payload: pattern(1) });
      o = await expectConnectionError(b.peer, 'SEQ_ERROR', { timeoutMs: ctx.timeoutMs });
      if (o.verdict !== 'pass') return { ...o, detail: `a seq gap beyond the stream credit: ${o.detail}` };
      // 6.5 (credit) before 6.7 (DATA after DONE): the window full in whole messages, DONE, one byte more.
      const c = await ctx.handshake();
      const sc = c.openSink();
      blast(c, sc, credit, true);
      c.peer.done(sc);
      c.dataRaw(sc, pattern(1));
      o = await expectConnectionError(c.peer, 'FLOW_CONTROL', { timeoutMs: ctx.timeoutMs });
      if (o.verdict !== 'pass') return { ...o, detail: `DATA after DONE beyond the stream credit: ${o.detail}` };
      return outcome.pass('PROTOCOL_ERROR, SEQ_ERROR and FLOW_CONTROL, each the earlier check of its pair');
    },
  },
  {
    id: 'FW-FLOW-6/credit-overflow-stream-0',
    requirements: ['FW-FLOW-6'],
    section: '7.4 CREDIT',
    level: 'MUST',
    title: 'CREDIT on stream 0 with offset 2^53 → FLOW_CONTROL',
    quote: 'A sender MUST NOT send an offset above 2^53-1 (9007199254740991); a receiver that gets one fails with `FLOW_CONTROL` (connection error).',
    run: connectionErrorAfter('FLOW_CONTROL', (conn) => {
      const payload = Buffer.alloc(8);
      payload.writeUInt32BE(0x0020_0000, 0);
      conn.peer.rawFrame({ type: FrameType.CREDIT, stream: 0, payload });
    }),
  },
  {
    id: 'FW-FLOW-6/credit-overflow-on-stream',
    requirements: ['FW-FLOW-6'],
    section: '7.4 CREDIT',
    level: 'MUST',
    title: 'CREDIT on an open echo stream with offset 2^64-1 → FLOW_CONTROL',
    quote: 'A sender MUST NOT send an offset above 2^53-1 (9007199254740991); a receiver that gets one fails with `FLOW_CONTROL` (connection error).',
    needs: ['echo'],
    run: connectionErrorAfter('FLOW_CONTROL', (conn) => {
      const id = conn.openEcho();
      conn.peer.rawFrame({ type: FrameType.CREDIT, stream: id, payload: Buffer.alloc(8, 0xff) });
    }),
  },
  {
    id: 'FW-FLOW-6/credit-max-accepted',
    requirements: ['FW-FLOW-6', 'FW-FLOW-3'],
    section: '7.4 CREDIT',
    level: 'MUST',
    title: 'CREDIT on stream 0 with offset 2^53-1 exactly, then a lower one → accepted',
    quote: 'Credit offsets MUST NOT exceed 2^53-1 … A CREDIT whose offset does not exceed the current limit … MUST be ignored.',
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.peer.credit(0, Number.MAX_SAFE_INTEGER);
      conn.peer.credit(0, 5);
      return expectAccepted(conn, 'CREDIT 2^53-1 then a lower CREDIT');
    },
  },
  {
    id: 'FW-HS-8/obeys-our-settings',
    requirements: ['FW-HS-8', 'FW-FLOW-1', 'FW-SCHED-5', 'FW-DATA-1', 'FW-SET-4', 'FW-FRAME-3'],
    section: '8.1 Handshake',
    level: 'MUST',
    title: 'we declare max_frame_payload 1024, initial_stream_credit 2048, initial_connection_credit 3000: a 6000-byte echo stops at each limit until CREDIT',
    quote: 'Each peer MUST obey the other\'s settings (§6) from the moment it has received the other\'s HELLO. … A peer MUST cut DATA into frames no larger than the receiver\'s `max_frame_payload` and its available credit.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake({ settings: { maxFramePayload: 1024, initialStreamCredit: 2048, initialConnectionCredit: 3000 } });
      conn.autoCredit = false;
      const id = conn.openEcho();
      const msg = pattern(6000, 9);
      await conn.send(id, msg);
      return judgeCreditSteps(conn, id, msg, ctx.quietMs, ctx.timeoutMs);
    },
  },
  {
    id: 'FW-FLOW-1/zero-credit',
    requirements: ['FW-FLOW-1', 'FW-SET-1'],
    section: S,
    level: 'MUST',
    title: 'we declare initial_stream_credit 0: an empty message is echoed (needs no credit), a 1-byte message only after CREDIT',
    quote: 'A DATA frame needs both credits; a zero-length DATA frame needs none.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake({ settings: { initialStreamCredit: 0 } });
      conn.autoCredit = false;
      const id = conn.openEcho();
      conn.dataRaw(id, new Uint8Array(0));
      conn.dataRaw(id, Uint8Array.of(7));
      await conn.messages(id, 1);
      await sleep(ctx.quietMs);
      const v = conn.streamState(id);
      if (received(conn, id).bytes > 0) return outcome.fail('DATA sent without stream credit', '0 bytes before CREDIT', `${received(conn, id).bytes} bytes`);
      if (v.messages.length !== 1) return outcome.fail('the empty message was not echoed', '1 empty message', conn.describeStreamEnd(id));
      conn.peer.credit(id, 1);
      const after = await conn.messages(id, 2);
      if (after.messages.length !== 2) return outcome.fail('no echo after CREDIT', '2 messages', conn.describeStreamEnd(id));
      return outcome.pass('credit obeyed, empty DATA sent without credit');
    },
  },
  {
    id: 'FW-FLOW-3/lower-credit-ignored',
    requirements: ['FW-FLOW-3'],
    section: S,
    level: 'MUST',
    title: 'initial_stream_credit 1000; CREDIT 5000 then CREDIT 2000 on the stream: the echo of 5000 bytes arrives whole',
    quote: 'A CREDIT whose offset does not exceed the current limit (for that stream or the connection) MUST be ignored: limits never decrease.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake({ settings: { initialStreamCredit: 1000 } });
      conn.autoCredit = false;
      const id = conn.openEcho();
      conn.peer.credit(id, 5000);
      conn.peer.credit(id, 2000);
      await conn.send(id, pattern(5000));
      const view = await conn.messages(id, 1);
      const got = received(conn, id).bytes;
      if (view.messages.length === 1 && got === 5000) return outcome.pass('the lower CREDIT did not shrink the limit');
      return outcome.fail('the lower CREDIT reduced the limit', '5000 bytes echoed', `${got} bytes`);
    },
  },
  {
    id: 'FW-FLOW-7/dead-stream-data-counts',
    requirements: ['FW-FLOW-7', 'FW-FLOW-2', 'FW-STREAM-10'],
    section: S,
    level: 'MUST',
    title: 'sinks fill the connection window to 100 bytes short; 101 bytes on a refused stream → FLOW_CONTROL',
    quote: 'DATA received for a stream that has ended, was cancelled or refused, MUST still be counted against the connection limit (and may cause FW-FLOW-2).',
    needs: ['sink'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const per = conn.target.initialStreamCredit;
      const fill = conn.target.initialConnectionCredit - 100;
      const streams = per === 0 ? Infinity : Math.ceil(fill / per);
      if (fill < 0 || streams + 1 > conn.target.maxConcurrentStreams || streams > 1000 || fill > 64 * 1024 * 1024 || blastFrames(conn, fill) > 100_000) {
        return outcome.unsupported(`filling the connection window needs ${streams} sink streams`);
      }
      const refused = conn.open('conformance.no-such-kind');
      await conn.ended(refused);
      let left = fill;
      while (left > 0) {
        const id = conn.openSink();
        const n = Math.min(per, left);
        blast(conn, id, n);
        left -= n;
      }
      conn.dataRaw(refused, pattern(101));
      return expectConnectionError(conn.peer, 'FLOW_CONTROL', { timeoutMs: ctx.timeoutMs });
    },
  },
  {
    id: 'FW-FLOW-7/dead-stream-data-credited-back',
    requirements: ['FW-FLOW-7'],
    section: S,
    level: 'SHOULD',
    title: 'half the target\'s connection window + 1 bytes on a refused stream come back as connection CREDIT',
    quote: 'its bytes SHOULD be credited back at the connection level immediately.',
    async run(ctx) {
      const conn = await ctx.handshake();
      const refused = conn.open('conformance.no-such-kind');
      await conn.ended(refused);
      const before = conn.grantedByTarget(0);
      const bytes = Math.min(Math.floor(conn.target.initialConnectionCredit / 2) + 1, 8 * 1024 * 1024);
      blast(conn, refused, bytes);
      const after = await conn.peer.until(() => (conn.grantedByTarget(0) > before ? conn.grantedByTarget(0) : undefined), ctx.timeoutMs);
      if (after === undefined) return outcome.fail(`no connection CREDIT after ${bytes} bytes on a refused stream`, 'CREDIT on stream 0', 'none');
      return outcome.pass(`connection limit raised from ${before} to ${after}`);
    },
  },
  {
    id: 'FW-FLOW-8/message-larger-than-window',
    requirements: ['FW-FLOW-8', 'FW-STREAM-13', 'FW-FLOW-1'],
    section: S,
    level: 'MUST',
    title: 'one message of 4 × the target\'s initial_stream_credit (at most max_message_size and 8 MiB) to the echo: credit comes while the echo waits for it, and the message comes back whole',
    quote: 'A receiver MUST count the bytes of an unfinished message as consumed while its application waits for that message, and MUST then return credit for them as FW-FLOW-4 describes.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const window = conn.target.initialStreamCredit;
      const maxMessage = conn.target.maxMessageSize === 0 ? Infinity : conn.target.maxMessageSize;
      const size = Math.min(4 * window, maxMessage, 8 * 1024 * 1024);
      if (window === 0) return outcome.unsupported('initial_stream_credit is 0');
      if (size <= window) return outcome.unsupported(`max_message_size ${conn.target.maxMessageSize} does not exceed initial_stream_credit ${window}: no message is longer than the window`);
      const id = conn.openEcho();
      const message = pattern(size, 77);
      // Waits for the target's CREDIT at every window: a target that credits only whole messages never sends it.
      await conn.send(id, message);
      const view = await conn.messages(id, 1, ctx.timeoutMs * 4);
      if (view.messages.length !== 1 || view.messages[0]?.equals(message) !== true) {
        return outcome.fail('the message did not come back whole', `one message of ${size} bytes`, conn.describeStreamEnd(id));
      }
      return outcome.pass(`${size} bytes in one message (${(size / window).toFixed(1)} windows of ${window}), echoed whole`);
    },
  },
  {
    id: 'FW-FLOW-4/credit-returned',
    requirements: ['FW-FLOW-4'],
    section: S,
    level: 'SHOULD',
    title: 'a message of 3 × the target\'s initial_stream_credit reaches the echo: the target returns credit as it consumes',
    quote: 'A receiver SHOULD return credit when the application has **consumed** the bytes … it SHOULD send a CREDIT once at least half a window of consumed bytes has not yet been advertised.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const size = Math.min(3 * conn.target.initialStreamCredit, 8 * 1024 * 1024);
      if (size === 0) return outcome.unsupported('initial_stream_credit is 0');
      const id = conn.openEcho();
      const piece = conn.target.maxMessageSize === 0 ? size : Math.min(size, conn.target.maxMessageSize);
      const count = Math.ceil(size / piece);
      for (let i = 0; i < count; i++) await conn.send(id, pattern(piece, i));
      const view = await conn.messages(id, count, ctx.timeoutMs * 4);
      return view.messages.length === count ? outcome.pass(`${count * piece} bytes through a ${conn.target.initialStreamCredit}-byte window`) : outcome.fail('the echo did not complete', `${count} messages back`, conn.describeStreamEnd(id));
    },
  },
];

/** Checks that the echo stops at the stream limit, then at the connection limit, and completes after CREDIT. */
async function judgeCreditSteps(conn: Conn, id: number, msg: Buffer, quietMs: number, timeoutMs: number): Promise<Outcome> {
  await conn.peer.until(() => (received(conn, id).bytes >= 2048 ? true : undefined), timeoutMs);
  await sleep(quietMs);
  const step1 = received(conn, id);
  if (step1.bytes !== 2048) return outcome.fail('did not stop at our initial_stream_credit', '2048 bytes, then wait', `${step1.bytes} bytes`);
  conn.peer.credit(id, 6000);
  await conn.peer.until(() => (received(conn, id).bytes >= 3000 ? true : undefined), timeoutMs);
  await sleep(quietMs);
  const step2 = received(conn, id);
  if (step2.bytes !== 3000) return outcome.fail('did not stop at our initial_connection_credit', '3000 bytes, then wait', `${step2.bytes} bytes`);
  conn.peer.credit(0, 6000);
  const view = await conn.messages(id, 1);
  const step3 = received(conn, id);
  if (step3.largest > 1024) return outcome.fail('a DATA frame above our max_frame_payload', 'frames <= 1024 bytes', `a ${step3.largest}-byte frame`);
  if (view.messages.length !== 1 || view.messages[0]?.equals(msg) !== true) return outcome.fail('the message did not complete intact', '6000 bytes, one message', conn.describeStreamEnd(id));
  return outcome.pass('stopped at 2048 (stream) and 3000 (connection), frames <= 1024, message intact');
}
