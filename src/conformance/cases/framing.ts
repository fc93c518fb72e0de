/** §2 Transport mapping, §3 Framing, §3.4 Sequence numbers, §4 Frame types and flags (cases beyond the vectors). */

import { FrameType, PingFlags, MAX_PAYLOAD_CEILING, encodeCreditPayload } from '../../wire/index.ts';
import { buildFrame, headerOnly } from '../bytes.ts';
import { expectAccepted, expectConnectionError, pingAnswered, violationsOf } from '../expect.ts';
import { outcome } from '../types.ts';
import { connectionErrorAfter, connectionErrorBefore, pattern, pingBytes, sleep, type Case } from './helpers.ts';

const F = '3 Framing';
const Q = '3.4 Sequence numbers';

export const cases: Case[] = [
  {
    id: 'FW-TRANS-1/split-and-coalesced',
    requirements: ['FW-TRANS-1', 'FW-FRAME-1', 'FW-FRAME-12'],
    section: '2.1 TCP',
    level: 'MUST',
    title: 'OPEN+DATA+DONE+PING in one write, then a PING one byte per write: all processed',
    quote: 'All frames of all streams, and the connection frames of stream 0, travel back to back in the one ordered byte stream, with no padding or delimiters between them.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.newStreamId();
      const msg = pattern(300);
      const burst = Buffer.concat([conn.peer.open(id, 'conformance.echo', {}, false), conn.peer.data(id, msg, false, false), conn.peer.done(id, undefined, false), conn.peer.ping(pingBytes(1), false, false)]);
      conn.peer.sendBytes(burst);
      const ping = conn.peer.ping(pingBytes(2), false, false);
      for (const byte of ping) {
        conn.peer.sendBytes(Uint8Array.of(byte));
        await sleep(2);
      }
      const view = await conn.ended(id);
      await conn.peer.until(() => (pingAnswered(conn.peer, pingBytes(2)) ? true : undefined), ctx.timeoutMs);
      if (!pingAnswered(conn.peer, pingBytes(1)) || !pingAnswered(conn.peer, pingBytes(2))) return outcome.fail('PINGs not answered', 'both PINGs answered', 'missing answer');
      if (!view.done || view.messages.length !== 1 || view.messages[0]?.equals(msg) !== true) return outcome.fail('echo incomplete', '1 message echoed, then DONE', conn.describeStreamEnd(id));
      return outcome.pass('coalesced frames and a byte-by-byte frame processed');
    },
  },
  {
    id: 'FW-FRAME-1/target-frames-valid',
    requirements: ['FW-FRAME-1', 'FW-FRAME-2', 'FW-FRAME-5', 'FW-FRAME-9', 'FW-SEQ-1', 'FW-ERR-2'],
    section: F,
    level: 'MUST',
    title: 'everything the target sends during an echo exchange decodes: CRC, reserved bytes, flags, seq numbering',
    quote: 'A sender MUST compute the CRC of every frame it sends as defined above. … A sender MUST set the reserved bytes 6..7 to zero. … the first frame a peer sends on that stream has `seq` 0 and each further frame … the previous `seq` plus one.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake({ settings: { initialStreamCredit: 4096, maxFramePayload: 1024 } });
      const id = conn.openEcho();
      for (let i = 0; i < 5; i++) await conn.send(id, pattern(3000, i));
      conn.peer.done(id);
      await conn.ended(id);
      await conn.alive();
      const problems = conn.peer.violations.map((v) => `${v.requirement}: ${v.message}`);
      if (problems.length > 0) return outcome.fail(problems.slice(0, 3).join('; '));
      return outcome.pass(`${conn.peer.frames.length} frames from the target, all valid`);
    },
  },
  {
    id: 'FW-FRAME-2/bad-crc-first-hello',
    requirements: ['FW-FRAME-2', 'FW-FRAME-11'],
    section: '3.2 CRC-32',
    level: 'MUST',
    title: 'a HELLO whose CRC field has one bit flipped → BAD_CRC (not a handshake)',
    quote: 'A receiver MUST verify the CRC of every frame, including frames of unknown type, and fails with `BAD_CRC` (connection error) on a mismatch.',
    run: connectionErrorBefore('BAD_CRC', (peer) => {
      const hello = peer.hello({}, false);
      hello.writeUInt32BE(hello.readUInt32BE(16) ^ 0x0100_0000, 16);
      peer.sendBytes(hello);
    }),
  },
  {
    id: 'FW-FRAME-2/bad-crc-ping',
    requirements: ['FW-FRAME-2', 'FW-FRAME-11'],
    section: '3.2 CRC-32',
    level: 'MUST',
    title: 'after the handshake, a PING with a wrong CRC → BAD_CRC, and the PING is not answered',
    quote: 'A receiver MUST verify the CRC of every frame … and fails with `BAD_CRC` (connection error) on a mismatch.',
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.peer.rawFrame({ type: FrameType.PING, stream: 0, payload: pingBytes(3), badCrc: true });
      const o = await expectConnectionError(conn.peer, 'BAD_CRC', { timeoutMs: ctx.timeoutMs });
      if (pingAnswered(conn.peer, pingBytes(3))) return outcome.fail('the target answered a PING whose CRC was wrong', 'BAD_CRC, no answer', 'PING answered');
      return o;
    },
  },
  {
    id: 'FW-FRAME-2/bad-crc-data',
    requirements: ['FW-FRAME-2', 'FW-FRAME-12'],
    section: '3.2 CRC-32',
    level: 'MUST',
    title: 'DATA on an echo stream with one payload bit flipped → BAD_CRC, and nothing of it is echoed',
    quote: 'A receiver MUST verify the CRC of every frame … A frame MUST be fully verified (steps 1–4) before any part of it is acted on.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.openEcho();
      const frame = conn.peer.data(id, pattern(64), false, false);
      frame.writeUInt8(frame.readUInt8(30) ^ 0x20, 30);
      conn.peer.sendBytes(frame);
      const o = await expectConnectionError(conn.peer, 'BAD_CRC', { timeoutMs: ctx.timeoutMs });
      if (conn.streamState(id).messages.length > 0) return outcome.fail('the corrupted DATA was echoed', 'BAD_CRC and no echo', 'echoed');
      return o;
    },
  },
  {
    id: 'FW-FRAME-11/nothing-after-bad-frame',
    requirements: ['FW-FRAME-11', 'FW-FRAME-2'],
    section: F,
    level: 'MUST',
    title: 'a bad-CRC frame followed, in the same write, by a valid PING → BAD_CRC and the PING is never answered',
    quote: 'The receiver MUST NOT process any byte that follows the failing frame: once framing is in doubt, nothing after it can be trusted.',
    async run(ctx) {
      const conn = await ctx.handshake();
      const bad = conn.peer.rawFrame({ type: FrameType.PING, stream: 0, payload: pingBytes(4), badCrc: true }, false);
      const good = buildFrame({ type: FrameType.PING, stream: 0, seq: conn.peer.takeSeq(0), payload: pingBytes(5) });
      conn.peer.sendBytes(Buffer.concat([bad, good]));
      const o = await expectConnectionError(conn.peer, 'BAD_CRC', { timeoutMs: ctx.timeoutMs });
      if (pingAnswered(conn.peer, pingBytes(5))) return outcome.fail('the PING after the bad frame was answered', 'no answer', 'answered');
      return o;
    },
  },
  {
    id: 'FW-FRAME-12/partial-frame-not-acted-on',
    requirements: ['FW-FRAME-12'],
    section: F,
    level: 'MUST',
    title: 'a PING missing its last byte is not answered until that byte arrives',
    quote: 'A frame MUST be fully verified (steps 1–4) before any part of it is acted on; … it acts on it only when all of it has arrived and passed.',
    async run(ctx) {
      const conn = await ctx.handshake();
      const ping = conn.peer.ping(pingBytes(6), false, false);
      conn.peer.sendBytes(ping.subarray(0, ping.length - 1));
      await conn.peer.arrival(ctx.quietMs);
      await sleep(ctx.quietMs);
      if (pingAnswered(conn.peer, pingBytes(6))) return outcome.fail('answered before the frame was complete');
      conn.peer.sendBytes(ping.subarray(ping.length - 1));
      const ok = await conn.peer.until(() => (pingAnswered(conn.peer, pingBytes(6)) ? true : undefined), ctx.timeoutMs);
      return ok === true ? outcome.pass('answered only once complete') : outcome.fail('never answered once complete', 'PING ACK', 'nothing');
    },
  },
  {
    id: 'FW-FRAME-3/over-max-frame-payload',
    requirements: ['FW-FRAME-3', 'FW-FRAME-4'],
    section: '3.3 Receiving frames',
    level: 'MUST',
    title: 'after the handshake, a header announcing max_frame_payload + 1 bytes → FRAME_SIZE before any payload is sent',
    quote: 'a receiver MUST compare `length` with its current payload limit as soon as the 20 header bytes are available, before it buffers or allocates anything for the payload; a `length` above the limit fails with `FRAME_SIZE` (connection error).',
    async run(ctx) {
      const conn = await ctx.handshake();
      const limit = conn.target.maxFramePayload;
      if (limit >= MAX_PAYLOAD_CEILING) return outcome.unsupported('the target accepts the protocol ceiling; covered by the length-over-ceiling vector');
      conn.peer.sendBytes(headerOnly(FrameType.DATA, 1, 0, limit + 1));
      return expectConnectionError(conn.peer, 'FRAME_SIZE', { timeoutMs: ctx.timeoutMs });
    },
  },
  {
    id: 'FW-FRAME-4/payload-before-session',
    requirements: ['FW-FRAME-4'],
    section: '3.3 Receiving frames',
    level: 'MUST',
    title: 'a PING with a 7-byte payload AND a wrong seq → FRAME_SIZE (step 5 before the seq check of step 6)',
    quote: 'A receiver MUST apply the following checks in this order, and report the first one that fails: … 5 payload parses … 6 session rules (§8): handshake state, then `seq`.',
    run: connectionErrorAfter('FRAME_SIZE', (conn) => {
      conn.peer.rawFrame({ type: FrameType.PING, stream: 0, seq: 1000, payload: pattern(7) });
    }),
  },
  {
    id: 'FW-FRAME-4/credit-range-before-stream-state',
    requirements: ['FW-FRAME-4', 'FW-FLOW-6'],
    section: '3.3 Receiving frames',
    level: 'MUST',
    title: 'CREDIT 2^53 on a never-opened stream → FLOW_CONTROL (step 5), not PROTOCOL_ERROR (step 6)',
    notOver: { quic: 'a frame of a never-opened stream starts a new QUIC stream, whose first frame must be an OPEN: PROTOCOL_ERROR before the payload is parsed (FW-QUIC-3, §14.2); FW-QUIC-3/first-frame-not-open checks that' },
    quote: '5 … CREDIT offsets are <= 2^53-1 (FW-FLOW-6) … 6 session rules (§8)',
    run: connectionErrorAfter('FLOW_CONTROL', (conn) => {
      const payload = Buffer.alloc(8);
      payload.writeUInt32BE(0x0020_0000, 0);
      conn.peer.rawFrame({ type: FrameType.CREDIT, stream: 99, seq: 0, payload });
    }),
  },
  {
    id: 'FW-FRAME-9/undefined-flags-ignored',
    requirements: ['FW-FRAME-9'],
    section: '4.2 Flags',
    level: 'MUST',
    title: 'PING with flags 0xfe (ACK clear) is answered; DATA with flags 0xfc (FOLLOWS and PACKED clear) ends its message',
    quote: 'a receiver MUST ignore such bits',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.peer.rawFrame({ type: FrameType.PING, flags: 0xfe, stream: 0, payload: pingBytes(7) });
      const id = conn.openEcho();
      const msg = pattern(10);
      conn.peer.rawFrame({ type: FrameType.DATA, flags: 0xfc, stream: id, payload: msg });
      const view = await conn.messages(id, 1);
      await conn.peer.until(() => (pingAnswered(conn.peer, pingBytes(7)) ? true : undefined), ctx.timeoutMs);
      if (!pingAnswered(conn.peer, pingBytes(7))) return outcome.fail('PING with undefined flag bits not answered', 'PING ACK', conn.describeStreamEnd(0));
      if (view.messages.length !== 1) return outcome.fail('DATA with undefined flag bits did not end its message', '1 message echoed', conn.describeStreamEnd(id));
      return outcome.pass('undefined bits ignored');
    },
  },
  {
    id: 'FW-FRAME-10/truncated-then-close',
    requirements: ['FW-FRAME-10', 'FW-ERR-2'],
    section: F,
    level: 'MUST',
    title: 'half a frame, then FIN → the target closes and never sends TRUNCATED or CONNECTION_LOST',
    quote: 'If the byte stream ends (transport EOF) inside a frame … the receiver MUST treat this as the local connection failure `TRUNCATED`. `TRUNCATED` is never sent on the wire.',
    async run(ctx) {
      const conn = await ctx.handshake();
      const ping = conn.peer.ping(pingBytes(8), false, false);
      conn.peer.sendBytes(ping.subarray(0, 13));
      conn.peer.endOutput();
      const ending = await conn.peer.waitEnd(ctx.timeoutMs);
      const sent = violationsOf(conn.peer, 'FW-ERR-2');
      if (sent.length > 0) return outcome.fail(sent.join('; '), 'close without TRUNCATED', 'TRUNCATED/CONNECTION_LOST sent');
      if (ending === undefined) return outcome.fail('the target did not close after EOF inside a frame', 'close', 'still open');
      return outcome.pass(`closed (${ending.how}) without sending a local-only code`);
    },
  },
  {
    id: 'FW-SEQ-2/gap-on-stream-0',
    requirements: ['FW-SEQ-2'],
    section: Q,
    level: 'MUST',
    title: 'PING with seq 2 where 1 is expected → SEQ_ERROR',
    quote: 'A receiver MUST check the `seq` of every frame of a known type on stream 0 and on every stream that is open or half-closed, and any value other than the expected one (a gap or a repeat) fails with `SEQ_ERROR` (connection error).',
    run: connectionErrorAfter('SEQ_ERROR', (conn) => {
      conn.peer.takeSeq(0);
      conn.peer.ping(pingBytes(9));
    }),
  },
  {
    id: 'FW-SEQ-2/repeat-on-stream-0',
    requirements: ['FW-SEQ-2'],
    section: Q,
    level: 'MUST',
    title: 'PING with seq 0, repeating the HELLO\'s → SEQ_ERROR',
    quote: 'any value other than the expected one (a gap or a repeat) fails with `SEQ_ERROR` (connection error).',
    run: connectionErrorAfter('SEQ_ERROR', (conn) => {
      conn.peer.rawFrame({ type: FrameType.PING, stream: 0, seq: 0, payload: pingBytes(10) });
    }),
  },
  {
    id: 'FW-SEQ-2/gap-on-stream',
    requirements: ['FW-SEQ-2'],
    section: Q,
    level: 'MUST',
    title: 'on an open stream, DATA with seq 2 after OPEN (seq 0) → SEQ_ERROR',
    quote: 'any value other than the expected one (a gap or a repeat) fails with `SEQ_ERROR` (connection error).',
    needs: ['echo'],
    run: connectionErrorAfter('SEQ_ERROR', (conn) => {
      const id = conn.openEcho();
      conn.peer.rawFrame({ type: FrameType.DATA, stream: id, seq: 2, payload: pattern(4) });
    }),
  },
  {
    id: 'FW-SEQ-2/repeat-on-stream',
    requirements: ['FW-SEQ-2'],
    section: Q,
    level: 'MUST',
    title: 'on an open stream, two DATA frames with seq 1 → SEQ_ERROR',
    quote: 'any value other than the expected one (a gap or a repeat) fails with `SEQ_ERROR` (connection error).',
    needs: ['echo'],
    run: connectionErrorAfter('SEQ_ERROR', (conn) => {
      const id = conn.openEcho();
      conn.peer.rawFrame({ type: FrameType.DATA, stream: id, seq: 1, payload: pattern(4) });
      conn.peer.rawFrame({ type: FrameType.DATA, stream: id, seq: 1, payload: pattern(4) });
    }),
  },
  {
    id: 'FW-SEQ-3/unknown-types-not-numbered',
    requirements: ['FW-SEQ-3', 'FW-FRAME-7'],
    section: Q,
    level: 'MUST',
    title: 'unknown-type frames (with arbitrary seqs) between PINGs do not shift the expected seq',
    quote: 'Frames of unknown type take no part in the numbering: the receiver neither checks nor counts their `seq`.',
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.peer.sendBytes(buildFrame({ type: 0x42, stream: 0, seq: 77, payload: pattern(3) }));
      conn.peer.ping(pingBytes(11));
      conn.peer.sendBytes(buildFrame({ type: 0xf0, stream: 5, seq: 1, payload: pattern(0) }));
      conn.peer.ping(pingBytes(12));
      const ok = await conn.peer.until(() => (pingAnswered(conn.peer, pingBytes(12)) ? true : conn.connectionError() !== undefined ? false : undefined), ctx.timeoutMs);
      if (ok !== true) return outcome.fail('unknown frames disturbed the sequence', 'both PINGs answered', conn.describeStreamEnd(0));
      return expectAccepted(conn, 'unknown frames between PINGs');
    },
  },
  {
    id: 'FW-FRAME-8/credit-wrong-size-on-stream',
    requirements: ['FW-FRAME-8'],
    section: '4.1 Frame-type registry',
    level: 'MUST',
    title: 'CREDIT with a 12-byte payload on an open stream → FRAME_SIZE',
    quote: 'CREDIT, ACK and PING have fixed-size payloads of 8, 4 and 8 bytes; a receiver that gets one of them with any other `length` fails with `FRAME_SIZE` (connection error).',
    needs: ['echo'],
    run: connectionErrorAfter('FRAME_SIZE', (conn) => {
      const id = conn.openEcho();
      conn.peer.rawFrame({ type: FrameType.CREDIT, stream: id, payload: Buffer.concat([encodeCreditPayload(1 << 20), Buffer.alloc(4)]) });
    }),
  },
  {
    id: 'FW-HB-2/ping-flags-ack-bit-only',
    requirements: ['FW-HB-2', 'FW-FRAME-9'],
    section: '8.5 Heartbeat and idle timeout',
    level: 'MUST',
    title: 'the PING answer has the ACK flag and no other bit set',
    quote: 'A peer that receives a PING without the ACK flag MUST answer it promptly with a PING that has the ACK flag set and the same 8 payload bytes.',
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.peer.ping(pingBytes(13));
      const r = await conn.peer.until(() => conn.peer.frames.find((f) => f.frame?.type === FrameType.PING && Buffer.from(f.frame.payload).equals(Buffer.from(pingBytes(13)))), ctx.timeoutMs);
      if (r === undefined) return outcome.fail('no answer', 'PING with ACK', 'nothing');
      return r.raw.flags === PingFlags.ACK ? outcome.pass('flags 0x01') : outcome.fail('wrong flags on the answer', 'flags 0x01', `flags 0x${r.raw.flags.toString(16)}`);
    },
  },
];
