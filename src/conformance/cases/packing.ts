/**
 * §8.2.6 Packed messages: PACKED DATA only after negotiation (FW-PACK-1), well-formed records
 * (FW-PACK-2) delivered as separate messages (FW-PACK-3), bad frames failing the stream with
 * nothing delivered (FW-PACK-4, FW-PACK-5), and flow control over the whole packed payload.
 *
 * Cases that send PACKED frames need a target that declared packed_messages = 1; against one that
 * did not they are unsupported (the FW-PACK-1 receiver case covers that target instead), and the
 * other way round.
 */

import { DataFlags, FrameType } from '../../wire/index.ts';
import type { CaseContext, Conn } from '../context.ts';
import { expectConnectionError, expectStreamError, violationsOf } from '../expect.ts';
import { packRecords, RECORD_LENGTH_SIZE, recordsFilling } from '../packed-records.ts';
import { CaseAbort, outcome, type Outcome } from '../types.ts';
import { pattern, type Case } from './helpers.ts';

const S = '8.2.6 Packed messages';
const BURST = 2000;

/** Ends the case as unsupported unless the target declared packed_messages = 1. */
function requirePacking(conn: Conn): void {
  if (conn.target.packedMessages !== 1) {
    throw new CaseAbort(outcome.unsupported('the target declares packed_messages = 0: it does not accept PACKED frames (FW-PACK-1/undeclared-receiver-rejects covers it)'));
  }
}

/** BURST small messages of 0..40 bytes, each distinct. */
function smallMessages(): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < BURST; i++) {
    const m = pattern(i % 41, i);
    if (m.length >= 2) m.writeUInt16BE(i, 0);
    out.push(m);
  }
  return out;
}

/** First index where the echoed messages differ from the sent ones, or -1. */
function firstDifference(sent: readonly Buffer[], got: readonly Buffer[]): number {
  for (let i = 0; i < Math.max(sent.length, got.length); i++) {
    const a = sent[i];
    const b = got[i];
    if (a === undefined || b === undefined || !a.equals(b)) return i;
  }
  return -1;
}

/** Sends `send`'s frame on a fresh echo stream of a target that accepts PACKED, then expects ERROR `code` on the stream and none of the frame's messages echoed. */
function rejectsFrame(code: 'PROTOCOL_ERROR' | 'MESSAGE_TOO_LARGE', send: (conn: Conn, stream: number) => void): (ctx: CaseContext) => Promise<Outcome> {
  return async (ctx) => {
    const conn = await ctx.handshake({ packed: true });
    requirePacking(conn);
    const id = conn.openEcho();
    send(conn, id);
    return judgeRejected(conn, id, code);
  };
}

async function judgeRejected(conn: Conn, stream: number, code: 'PROTOCOL_ERROR' | 'MESSAGE_TOO_LARGE'): Promise<Outcome> {
  const o = await expectStreamError(conn, stream, code);
  // The case sends no whole message but the bad frame's, so any DATA back is the echo of one of them.
  const echoed = conn.peer.framesOn(stream).filter((r) => r.frame?.type === FrameType.DATA).length;
  if (echoed > 0) {
    const messages = conn.streamState(stream).messages.length;
    return outcome.fail(`the target delivered the bad frame: its echo sent ${echoed} DATA frame(s) (${messages} message(s))`, 'the whole frame checked before any of its messages is delivered', `${echoed} DATA frame(s) back; ${o.actual ?? o.detail}`);
  }
  return o;
}

const ok = Buffer.from('ok');
const go = Buffer.from('go');

export const cases: Case[] = [
  {
    id: 'FW-PACK-1/not-packed-unless-declared',
    requirements: ['FW-PACK-1', 'FW-STREAM-13'],
    section: S,
    level: 'MUST',
    title: `we do not declare packed_messages: ${BURST} small messages sent fast on an echo stream come back as exactly those messages, none in a PACKED frame`,
    quote: 'A peer MUST NOT send a DATA frame with PACKED set unless the receiver declared `packed_messages` = 1 in its HELLO (§6).',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.openEcho();
      const sent = smallMessages();
      for (const m of sent) await conn.send(id, m);
      conn.peer.done(id);
      const view = await conn.ended(id, ctx.timeoutMs * 3);
      const packed = violationsOf(conn.peer, 'FW-PACK-1');
      if (packed.length > 0) return outcome.fail(`the target sent ${view.packedFrames} PACKED frame(s) though we did not declare packed_messages = 1`, 'no PACKED frame', packed[0]);
      if (view.packedFrames > 0) return outcome.fail(`the target sent ${view.packedFrames} PACKED frame(s) though we did not declare packed_messages = 1`, 'no PACKED frame', `${view.packedFrames}`);
      const diff = firstDifference(sent, view.messages);
      if (diff >= 0) return outcome.fail(`the echo differs from message ${diff} on`, `${BURST} messages unchanged`, `${view.messages.length} messages; ${conn.describeStreamEnd(id)}`);
      if (!view.done) return outcome.fail('no DONE after the echo', 'DONE', conn.describeStreamEnd(id));
      const frames = conn.peer.framesOn(id).filter((r) => r.frame?.type === FrameType.DATA).length;
      return outcome.pass(`${BURST} messages echoed in ${frames} DATA frames, none PACKED`);
    },
  },
  {
    id: 'FW-PACK-2/target-packs-well-formed',
    requirements: ['FW-PACK-2', 'FW-STREAM-13'],
    section: S,
    level: 'MUST',
    title: `we declare packed_messages = 1: ${BURST} small messages come back as exactly those messages; every PACKED frame of the target is exactly tiled by records, without FOLLOWS`,
    quote: 'The payload of a PACKED frame is one or more records back to back that fill it exactly. A record is a `u32` length n followed by n bytes; each record is one whole message, n = 0 an empty message.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake({ packed: true });
      const id = conn.openEcho();
      const sent = smallMessages();
      for (const m of sent) await conn.send(id, m);
      conn.peer.done(id);
      const view = await conn.ended(id, ctx.timeoutMs * 3);
      const bad = violationsOf(conn.peer, 'FW-PACK-2');
      if (bad.length > 0) return outcome.fail(`${bad.length} malformed PACKED frame(s)`, 'records that fill each PACKED payload exactly', bad.slice(0, 3).join('; '));
      const diff = firstDifference(sent, view.messages);
      if (diff >= 0) return outcome.fail(`the echo differs from message ${diff} on`, `${BURST} messages unchanged`, `${view.messages.length} messages; ${conn.describeStreamEnd(id)}`);
      if (!view.done) return outcome.fail('no DONE after the echo', 'DONE', conn.describeStreamEnd(id));
      if (view.packedFrames === 0) return outcome.info(`${BURST} messages echoed unchanged; the target packed none (packing is the sender's choice)`);
      return outcome.pass(`${BURST} messages echoed unchanged; ${view.packedFrames} PACKED frame(s), all well formed`);
    },
  },
  {
    id: 'FW-PACK-3/records-are-messages',
    requirements: ['FW-PACK-3', 'FW-PACK-2'],
    section: S,
    level: 'MUST',
    title: 'a message in 2 FOLLOWS frames, then one PACKED frame with records "hi", "" and "abc", then a plain message: the echo returns those 5 messages in order',
    quote: 'A receiver MUST deliver the records of a PACKED frame as separate messages, in their order, exactly as if each had arrived in a DATA frame of its own with FOLLOWS clear.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake({ packed: true });
      requirePacking(conn);
      const id = conn.openEcho();
      const expected = ['hello', 'hi', '', 'abc', 'tail'].map((m) => Buffer.from(m));
      conn.dataRaw(id, Buffer.from('he'), true);
      conn.dataRaw(id, Buffer.from('llo'));
      conn.packedRaw(id, packRecords(expected.slice(1, 4)));
      conn.dataRaw(id, Buffer.from('tail'));
      conn.peer.done(id);
      const view = await conn.ended(id);
      const got = view.messages.map((m) => JSON.stringify(m.toString()));
      if (firstDifference(expected, view.messages) >= 0) return outcome.fail('the records were not delivered as separate messages in order', '"hello", "hi", "", "abc", "tail"', `${got.join(', ')}; ${conn.describeStreamEnd(id)}`);
      const counted = view.trailer?.['messages'];
      if (typeof counted === 'number' && counted !== expected.length) return outcome.fail(`the echo counted ${counted} messages`, `${expected.length} messages in the DONE trailer`, `${counted}`);
      return outcome.pass(`5 messages echoed in order${view.packedFrames > 0 ? ` (the target packed ${view.packedFrames} frame(s) of its echo)` : ''}`);
    },
  },
  {
    id: 'FW-PACK-3/packed-bulk-within-credit',
    requirements: ['FW-PACK-3', 'FW-FLOW-1'],
    section: S,
    level: 'MUST',
    title: `${BURST} small messages in PACKED frames of up to 50, sent within the target's credit (length fields count): all echoed in order, credit keeps coming`,
    quote: 'Flow control counts the whole payload, length fields included (FW-FLOW-1, as for any DATA); a receiver counts the length fields as consumed when it unpacks the frame, and each message\'s bytes when the application reads it (FW-FLOW-4).',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake({ packed: true });
      requirePacking(conn);
      const id = conn.openEcho();
      const sent = smallMessages();
      // Up to 50 messages a frame, each frame within what the target can take at once.
      const limit = Math.min(conn.target.maxFramePayload, conn.target.initialStreamCredit, conn.target.initialConnectionCredit);
      if (limit < RECORD_LENGTH_SIZE + 40) return outcome.unsupported(`the target's max_frame_payload or initial credit (${limit} bytes) is too small for a PACKED frame of one 40-byte message`);
      let frames = 0;
      for (let i = 0; i < sent.length; frames++) {
        const group: Buffer[] = [];
        let size = 0;
        for (let m = sent[i]; m !== undefined && group.length < 50 && size + RECORD_LENGTH_SIZE + m.length <= limit; m = sent[i]) {
          group.push(m);
          size += RECORD_LENGTH_SIZE + m.length;
          i++;
        }
        await conn.sendPacked(id, group);
      }
      conn.peer.done(id);
      const view = await conn.ended(id, ctx.timeoutMs * 3);
      const diff = firstDifference(sent, view.messages);
      if (diff >= 0) return outcome.fail(`the echo differs from message ${diff} on`, `${BURST} messages unchanged`, `${view.messages.length} messages; ${conn.describeStreamEnd(id)}`);
      if (!view.done) return outcome.fail('no DONE after the echo', 'DONE', conn.describeStreamEnd(id));
      return outcome.pass(`${BURST} messages in ${frames} PACKED frames, echoed in order`);
    },
  },
  {
    id: 'FW-PACK-4/packed-with-follows',
    requirements: ['FW-PACK-4', 'FW-CONN-3'],
    section: S,
    level: 'MUST',
    title: 'DATA with PACKED and FOLLOWS set (records "ok", "go") → ERROR PROTOCOL_ERROR on the stream; nothing echoed',
    quote: 'A PACKED frame that has FOLLOWS set as well … fails the stream with `PROTOCOL_ERROR` (stream error). The receiver MUST check the whole frame before it delivers any of its messages, so a bad frame delivers none.',
    needs: ['echo'],
    run: rejectsFrame('PROTOCOL_ERROR', (conn, id) => {
      conn.packedRaw(id, packRecords([ok, go]), DataFlags.FOLLOWS);
    }),
  },
  {
    id: 'FW-PACK-4/packed-inside-message',
    requirements: ['FW-PACK-4', 'FW-CONN-3'],
    section: S,
    level: 'MUST',
    title: 'DATA "abc" with FOLLOWS set, then a PACKED frame (records "ok", "go") → ERROR PROTOCOL_ERROR on the stream; nothing echoed',
    quote: 'A PACKED frame … that arrives while a message of its direction is unfinished (the previous DATA had FOLLOWS set) … fails the stream with `PROTOCOL_ERROR` (stream error).',
    needs: ['echo'],
    run: rejectsFrame('PROTOCOL_ERROR', (conn, id) => {
      conn.dataRaw(id, Buffer.from('abc'), true);
      conn.packedRaw(id, packRecords([ok, go]));
    }),
  },
  {
    id: 'FW-PACK-4/packed-empty',
    requirements: ['FW-PACK-4', 'FW-CONN-3'],
    section: S,
    level: 'MUST',
    title: 'DATA with PACKED set and an empty payload → ERROR PROTOCOL_ERROR on the stream',
    quote: 'A PACKED frame … whose payload is empty … fails the stream with `PROTOCOL_ERROR` (stream error).',
    needs: ['echo'],
    run: rejectsFrame('PROTOCOL_ERROR', (conn, id) => {
      conn.packedRaw(id, new Uint8Array(0));
    }),
  },
  {
    id: 'FW-PACK-4/bytes-left-over',
    requirements: ['FW-PACK-4', 'FW-CONN-3'],
    section: S,
    level: 'MUST',
    title: 'three streams, each a PACKED frame whose records ("ok", "go") leave 1, 2 and 3 bytes over → ERROR PROTOCOL_ERROR on each; nothing echoed',
    quote: 'A PACKED frame … whose records do not fill the payload exactly (fewer than 4 bytes left for a length …) fails the stream with `PROTOCOL_ERROR` (stream error). The receiver MUST check the whole frame before it delivers any of its messages.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake({ packed: true });
      requirePacking(conn);
      const outcomes: string[] = [];
      for (const extra of [1, 2, 3]) {
        const id = conn.openEcho();
        conn.packedRaw(id, Buffer.concat([packRecords([ok, go]), Buffer.alloc(extra)]));
        const o = await judgeRejected(conn, id, 'PROTOCOL_ERROR');
        if (o.verdict !== 'pass') return { ...o, detail: `${extra} byte(s) left over: ${o.detail}` };
        outcomes.push(`${extra}: ${o.detail}`);
      }
      return outcome.pass(outcomes.join('; '));
    },
  },
  {
    id: 'FW-PACK-4/length-overruns-payload',
    requirements: ['FW-PACK-4', 'FW-CONN-3'],
    section: S,
    level: 'MUST',
    title: 'a PACKED frame with the record "ok", then a length of 100 followed by 3 bytes → ERROR PROTOCOL_ERROR on the stream; nothing echoed',
    quote: 'A PACKED frame … whose records do not fill the payload exactly (… or fewer bytes left than a length says) fails the stream with `PROTOCOL_ERROR` (stream error).',
    needs: ['echo'],
    run: rejectsFrame('PROTOCOL_ERROR', (conn, id) => {
      const overrun = Buffer.alloc(RECORD_LENGTH_SIZE + 3, 0x7a);
      overrun.writeUInt32BE(100, 0);
      conn.packedRaw(id, Buffer.concat([packRecords([ok]), overrun]));
    }),
  },
  {
    id: 'FW-PACK-5/record-too-large',
    requirements: ['FW-PACK-5', 'FW-STREAM-14', 'FW-CONN-3'],
    section: S,
    level: 'MUST',
    title: 'a PACKED frame with the record "ok", then a record of max_message_size + 1 bytes → ERROR MESSAGE_TOO_LARGE on the stream; "ok" not echoed',
    quote: 'Each record is a message for FW-STREAM-14: a record longer than the receiver\'s non-zero `max_message_size` fails the stream with `MESSAGE_TOO_LARGE` (stream error), and none of the frame\'s messages is delivered.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake({ packed: true });
      requirePacking(conn);
      const max = conn.target.maxMessageSize;
      if (max === 0) return outcome.unsupported('the target declares max_message_size 0 (no limit)');
      const size = 2 * RECORD_LENGTH_SIZE + ok.length + max + 1;
      const room = Math.min(conn.target.maxFramePayload, conn.target.initialStreamCredit, conn.target.initialConnectionCredit);
      if (size > room) {
        return outcome.unsupported(`a record of max_message_size + 1 = ${max + 1} bytes does not fit in one frame within the target's max_frame_payload and initial credit (${room} bytes)`);
      }
      const id = conn.openEcho();
      conn.packedRaw(id, packRecords([ok, pattern(max + 1)]));
      return judgeRejected(conn, id, 'MESSAGE_TOO_LARGE');
    },
  },
  {
    id: 'FW-PACK-1/undeclared-receiver-rejects',
    requirements: ['FW-PACK-1', 'FW-FRAME-11'],
    section: S,
    level: 'MUST',
    title: 'to a target that declared packed_messages = 0, a PACKED frame (records "ok", "go") on an echo stream → PROTOCOL_ERROR (connection error); nothing echoed',
    quote: 'A receiver that did not declare it and receives such a frame fails with `PROTOCOL_ERROR` (connection error).',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      if (conn.target.packedMessages === 1) return outcome.unsupported('the target declares packed_messages = 1 (it accepts PACKED frames; the other FW-PACK cases cover it)');
      const id = conn.openEcho();
      conn.packedRaw(id, packRecords([ok, go]));
      const o = await expectConnectionError(conn.peer, 'PROTOCOL_ERROR', { timeoutMs: ctx.timeoutMs });
      const echoed = conn.streamState(id).messages.length;
      if (echoed > 0) return outcome.fail(`the target delivered the PACKED frame as ${echoed} message(s)`, 'PROTOCOL_ERROR, nothing delivered', `${echoed} echoed; ${o.actual ?? o.detail}`);
      return o;
    },
  },
  {
    id: 'FW-FLOW-2/packed-length-fields-count',
    requirements: ['FW-FLOW-2', 'FW-FLOW-1', 'FW-PACK-2'],
    section: S,
    level: 'MUST',
    title: 'on a sink stream, one PACKED frame of initial_stream_credit + 1 bytes whose records hold fewer bytes than the credit → FLOW_CONTROL',
    quote: 'Flow control counts the whole payload, length fields included (FW-FLOW-1, as for any DATA).',
    needs: ['sink'],
    async run(ctx) {
      const conn = await ctx.handshake();
      requirePacking(conn);
      const total = conn.target.initialStreamCredit + 1;
      if (total < 2 * RECORD_LENGTH_SIZE) return outcome.unsupported(`initial_stream_credit ${total - 1} leaves no room for records`);
      if (total > conn.target.maxFramePayload) return outcome.unsupported(`initial_stream_credit + 1 = ${total} does not fit in one frame (max_frame_payload ${conn.target.maxFramePayload})`);
      const records = recordsFilling(total, Math.min(1024, conn.target.maxMessageSize === 0 ? 1024 : conn.target.maxMessageSize));
      const id = conn.openSink();
      conn.packedRaw(id, packRecords(records));
      return expectConnectionError(conn.peer, 'FLOW_CONTROL', { timeoutMs: ctx.timeoutMs });
    },
  },
];
