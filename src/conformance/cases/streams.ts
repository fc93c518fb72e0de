/** §8.2 Streams (ids, opening, ending, late frames, messages) and the stream frames of §7 (OPEN, DONE, CANCEL). */

import { encode } from '@msgpack/msgpack';
import { FrameType } from '../../wire/index.ts';
import { expectAccepted, expectConnectionError, expectStreamError, violationsOf } from '../expect.ts';
import { outcome } from '../types.ts';
import { connectionErrorAfter, pattern, sleep, type Case } from './helpers.ts';

const S = '8.2 Streams';

export const cases: Case[] = [
  {
    id: 'FW-STREAM-3/echo-basic',
    requirements: ['FW-STREAM-3', 'FW-STREAM-4', 'FW-STREAM-13', 'FW-SCHED-4', 'FW-STREAM-9', 'FW-DONE-1'],
    section: S,
    level: 'MUST',
    title: 'OPEN, DATA and DONE in one write: the echo returns the messages, then DONE, and nothing after it',
    quote: 'There is no accept frame: the opener MAY send DATA right after OPEN, within the receiver\'s `initial_stream_credit`. The receiver MUST treat the stream as open from the OPEN on.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.newStreamId();
      const a = pattern(100, 1);
      const b = pattern(5, 2);
      conn.peer.sendBytes(Buffer.concat([conn.peer.open(id, 'conformance.echo', {}, false), conn.peer.data(id, a, false, false), conn.peer.data(id, b, false, false), conn.peer.done(id, undefined, false)]));
      const view = await conn.ended(id);
      await conn.alive();
      if (!view.done) return outcome.fail('no DONE from the echo', 'two messages, then DONE', conn.describeStreamEnd(id));
      if (view.messages.length !== 2 || view.messages[0]?.equals(a) !== true || view.messages[1]?.equals(b) !== true) return outcome.fail('wrong echo', 'the 2 messages unchanged', `${view.messages.length} messages`);
      const bad = [...violationsOf(conn.peer, 'FW-STREAM-4'), ...violationsOf(conn.peer, 'FW-STREAM-5')];
      if (bad.length > 0) return outcome.fail(bad.join('; '));
      const acks = conn.peer.framesOn(id).filter((r) => r.frame?.type === FrameType.ACK);
      for (const r of acks) if (r.frame?.type === FrameType.ACK && r.frame.payload > 3) return outcome.fail(`ACK of seq ${r.frame.payload}, which was never sent (FW-STREAM-9)`);
      return outcome.pass(`echoed, then DONE with trailer ${JSON.stringify(view.trailer ?? null)}`);
    },
  },
  {
    id: 'FW-STREAM-13/message-boundaries',
    requirements: ['FW-STREAM-13'],
    section: '8.2.4 Messages',
    level: 'MUST',
    title: 'a message in 3 FOLLOWS frames, an empty message and a one-frame message come back as exactly those 3 messages',
    quote: 'A peer MUST deliver messages to the application with their boundaries … A zero-length DATA frame with FOLLOWS clear and no preceding FOLLOWS frame is an empty message.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.openEcho();
      const m1 = pattern(3000, 3);
      conn.dataRaw(id, m1.subarray(0, 1), true);
      conn.dataRaw(id, m1.subarray(1, 2000), true);
      conn.dataRaw(id, m1.subarray(2000), false);
      conn.dataRaw(id, new Uint8Array(0), false);
      const m3 = pattern(7, 4);
      conn.dataRaw(id, m3, false);
      conn.peer.done(id);
      const view = await conn.ended(id);
      const got = view.messages.map((m) => m.length);
      if (view.messages.length === 3 && view.messages[0]?.equals(m1) === true && view.messages[1]?.length === 0 && view.messages[2]?.equals(m3) === true) return outcome.pass('3 messages, boundaries kept');
      return outcome.fail('message boundaries not kept', 'messages of 3000, 0 and 7 bytes', `messages of ${JSON.stringify(got)} bytes; ${conn.describeStreamEnd(id)}`);
    },
  },
  {
    id: 'FW-STREAM-1/even-id-from-client',
    requirements: ['FW-STREAM-1', 'FW-STREAM-2'],
    section: '8.2.1 Stream ids',
    level: 'MUST',
    title: 'OPEN of stream 2 (the server\'s parity) by the client → STREAM_ID',
    notOver: { quic: 'an OPEN with the server\'s parity on a new QUIC stream is a PROTOCOL_ERROR of the mapping, found before the session\'s STREAM_ID (FW-QUIC-3); FW-QUIC-3/wrong-parity-open checks that' },
    quote: 'The client MUST open streams with odd ids and the server with even ids. … A receiver that gets an OPEN whose id has the wrong parity for the peer … fails with `STREAM_ID` (connection error).',
    run: connectionErrorAfter('STREAM_ID', (conn) => {
      conn.peer.open(2, 'conformance.echo');
    }),
  },
  {
    id: 'FW-STREAM-2/decreasing-id',
    requirements: ['FW-STREAM-2'],
    section: '8.2.1 Stream ids',
    level: 'MUST',
    title: 'OPEN 5, then OPEN 3 → STREAM_ID',
    quote: 'Each peer\'s new stream ids MUST strictly increase … or an id not above the highest id the peer has opened before, fails with `STREAM_ID` (connection error).',
    needs: ['echo'],
    run: connectionErrorAfter('STREAM_ID', (conn) => {
      conn.peer.open(5, 'conformance.echo');
      conn.peer.open(3, 'conformance.echo');
    }),
  },
  {
    id: 'FW-STREAM-2/reuse-open-id',
    requirements: ['FW-STREAM-2'],
    section: '8.2.1 Stream ids',
    level: 'MUST',
    title: 'OPEN 1 twice (both seq 0) → STREAM_ID',
    quote: 'Each peer\'s new stream ids MUST strictly increase (not necessarily by 2) and are never reused within a connection.',
    needs: ['echo'],
    run: connectionErrorAfter('STREAM_ID', (conn) => {
      conn.peer.open(1, 'conformance.echo');
      conn.peer.frame({ type: FrameType.OPEN, flags: 0, stream: 1, seq: 0, payload: { kind: 'conformance.echo' } });
    }),
  },
  {
    id: 'FW-STREAM-2/reuse-closed-id',
    requirements: ['FW-STREAM-2'],
    section: '8.2.1 Stream ids',
    level: 'MUST',
    title: 'a completed echo stream 1, then OPEN 1 again → STREAM_ID',
    quote: 'Each peer\'s new stream ids MUST strictly increase (not necessarily by 2) and are never reused within a connection.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.openEcho();
      conn.peer.done(id);
      await conn.ended(id);
      conn.peer.frame({ type: FrameType.OPEN, flags: 0, stream: id, seq: 0, payload: { kind: 'conformance.echo' } });
      return expectConnectionError(conn.peer, 'STREAM_ID', { timeoutMs: ctx.timeoutMs });
    },
  },
  {
    id: 'FW-STREAM-2/refused-id-counts',
    requirements: ['FW-STREAM-2', 'FW-STREAM-8'],
    section: '8.2.1 Stream ids',
    level: 'MUST',
    title: 'stream 1 refused (unknown kind), then OPEN 1 again → STREAM_ID',
    quote: 'An id refused with REFUSED_STREAM (below) still counts as opened.',
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.open('conformance.no-such-kind');
      await conn.ended(1);
      conn.peer.frame({ type: FrameType.OPEN, flags: 0, stream: 1, seq: 0, payload: { kind: 'conformance.echo' } });
      return expectConnectionError(conn.peer, 'STREAM_ID', { timeoutMs: ctx.timeoutMs });
    },
  },
  {
    id: 'FW-STREAM-2/gaps-allowed',
    requirements: ['FW-STREAM-2'],
    section: '8.2.1 Stream ids',
    level: 'MUST',
    title: 'OPEN 1, then OPEN 1001 (ids need not increase by 2) → both work',
    quote: 'Each peer\'s new stream ids MUST strictly increase (not necessarily by 2).',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.openEcho();
      conn.nextStreamId = 1001;
      const id = conn.openEcho();
      conn.dataRaw(id, pattern(3));
      const view = await conn.messages(id, 1);
      if (view.messages.length !== 1) return outcome.fail('stream 1001 did not work', 'echo on stream 1001', conn.describeStreamEnd(id));
      return expectAccepted(conn, 'a gap in stream ids');
    },
  },
  {
    id: 'FW-STREAM-8/unknown-kind',
    requirements: ['FW-STREAM-8', 'FW-CONN-3'],
    section: '8.2.2 Opening, refusing, ending',
    level: 'MUST',
    title: 'OPEN of kind "conformance.no-such-kind" → ERROR NOT_FOUND on that stream; the connection goes on',
    quote: 'it MUST use `REFUSED_STREAM` when the refusal is because of a limit … and `NOT_FOUND` when it does not know the `kind` (or the `target`).',
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.open('conformance.no-such-kind');
      return expectStreamError(conn, id, 'NOT_FOUND');
    },
  },
  {
    id: 'FW-STREAM-5/cancel-stops-pending-done',
    requirements: ['FW-STREAM-5', 'FW-CANCEL-1'],
    section: '8.2.2 Opening, refusing, ending',
    level: 'MUST',
    title: 'echo with done_delay_ms 400: DONE, then an empty CANCEL → the delayed DONE is never sent',
    quote: 'ERROR (on the stream) and CANCEL end both directions at once … After sending or receiving either, a peer MUST NOT send any further frame on that stream.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.openEcho({ done_delay_ms: 400 });
      conn.dataRaw(id, pattern(10));
      await conn.messages(id, 1);
      conn.peer.done(id);
      conn.peer.cancel(id);
      await sleep(400 + ctx.quietMs);
      const bad = violationsOf(conn.peer, 'FW-STREAM-5');
      const after = conn.streamState(id);
      if (after.done) return outcome.fail('the target sent DONE after receiving CANCEL', 'nothing more on the stream', 'DONE');
      if (bad.length > 0) return outcome.fail(bad.join('; '));
      return expectAccepted(conn, 'CANCEL of a stream with a pending DONE');
    },
  },
  {
    id: 'FW-STREAM-5/cancel-drops-queued-data',
    requirements: ['FW-STREAM-5', 'FW-CANCEL-1'],
    section: '8.2.2 Opening, refusing, ending',
    level: 'MUST',
    title: 'echo blocked on our connection credit (1024 bytes), CANCEL {reason}, then a large connection CREDIT → no more DATA on the stream',
    quote: 'After sending or receiving either, a peer MUST NOT send any further frame on that stream, MUST drop the DATA it still had queued for it.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake({ settings: { initialConnectionCredit: 1024, maxFramePayload: 1024 } });
      conn.autoCredit = false;
      const id = conn.openEcho();
      await conn.send(id, pattern(8000));
      await conn.peer.until(() => (conn.streamState(id).frames > 0 ? true : undefined), ctx.timeoutMs);
      await sleep(ctx.quietMs / 2);
      const before = conn.peer.framesOn(id).length;
      conn.peer.cancel(id, { reason: 'conformance' });
      // Over QUIC the CANCEL (on the stream's QUIC stream) and the CREDIT (on the control stream)
      // may be read in either order (§14.2): the CREDIT goes once the target showed it saw the CANCEL.
      await conn.streamOverForTarget(id);
      conn.peer.credit(0, 1 << 20);
      await conn.alive();
      await sleep(ctx.quietMs);
      const late = conn.peer.framesOn(id).length - before;
      if (late > 0) return outcome.fail(`the target sent ${late} frame(s) on the stream after its CANCEL`, 'queued DATA dropped', `${late} frames`);
      return expectAccepted(conn, 'CANCEL with queued data');
    },
  },
  {
    id: 'FW-STREAM-7/data-after-done',
    requirements: ['FW-STREAM-7', 'FW-CONN-3'],
    section: '8.2.3 States',
    level: 'MUST',
    title: 'DONE, then DATA while the echo delays its own DONE (half-closed remote) → ERROR STREAM_CLOSED on the stream',
    quote: 'DATA received on a stream whose peer direction has ended with DONE, while the stream is still half-closed (remote), fails with `STREAM_CLOSED` as a stream error (ERROR on that stream).',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.openEcho({ done_delay_ms: 5000 });
      conn.peer.done(id);
      conn.dataRaw(id, pattern(16));
      return expectStreamError(conn, id, 'STREAM_CLOSED');
    },
  },
  {
    id: 'FW-STREAM-10/frames-after-refusal-discarded',
    requirements: ['FW-STREAM-10', 'FW-FLOW-7'],
    section: '8.2.3 States',
    level: 'MUST',
    title: 'OPEN of an unknown kind with DATA and DONE in the same write: refused, the rest discarded, connection alive',
    quote: 'After a peer has **sent** CANCEL or ERROR on a stream, frames for that stream still arriving … MUST be discarded silently.',
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.newStreamId();
      conn.peer.sendBytes(Buffer.concat([conn.peer.open(id, 'conformance.no-such-kind', {}, false), conn.peer.data(id, pattern(500), false, false), conn.peer.done(id, undefined, false)]));
      await conn.ended(id);
      return expectAccepted(conn, 'frames after a refusal');
    },
  },
  {
    id: 'FW-STREAM-11/data-on-idle-stream',
    requirements: ['FW-STREAM-11'],
    section: '8.2.3 States',
    level: 'MUST',
    title: 'DATA on stream 9, never opened → PROTOCOL_ERROR',
    quote: 'A frame other than OPEN on a stream id that has not been opened yet … fails with `PROTOCOL_ERROR` (connection error).',
    run: connectionErrorAfter('PROTOCOL_ERROR', (conn) => {
      conn.peer.data(9, pattern(4));
    }),
  },
  {
    id: 'FW-STREAM-11/credit-on-server-parity',
    requirements: ['FW-STREAM-11'],
    section: '8.2.3 States',
    level: 'MUST',
    title: 'CREDIT on stream 2 (the server\'s parity, never opened by it) → PROTOCOL_ERROR',
    quote: '… or an id of the receiver\'s own parity above the highest it has opened) fails with `PROTOCOL_ERROR` (connection error).',
    run: connectionErrorAfter('PROTOCOL_ERROR', (conn) => {
      conn.peer.credit(2, 1 << 20);
    }),
  },
  {
    id: 'FW-STREAM-12/frames-on-closed-stream-ignored',
    requirements: ['FW-STREAM-12', 'FW-FLOW-3'],
    section: '8.2.3 States',
    level: 'MUST',
    title: 'after an echo stream completed, CREDIT and ACK on it are ignored',
    quote: 'A frame on a stream that has fully closed (outcome known) and is not covered by FW-STREAM-10 MUST be ignored.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.openEcho();
      conn.peer.done(id);
      const view = await conn.ended(id);
      if (!view.done) return outcome.fail('the echo did not complete', 'DONE', conn.describeStreamEnd(id));
      conn.peer.credit(id, 1 << 22);
      conn.peer.rawFrame({ type: FrameType.ACK, stream: id, payload: Buffer.from([0, 0, 0, 0]) });
      return expectAccepted(conn, 'CREDIT and ACK on a closed stream');
    },
  },
  {
    id: 'FW-STREAM-14/message-too-large',
    requirements: ['FW-STREAM-14', 'FW-CONN-3'],
    section: '8.2.4 Messages',
    level: 'MUST',
    title: 'a message one byte over the target\'s max_message_size (FOLLOWS never cleared) → ERROR MESSAGE_TOO_LARGE on the stream',
    quote: 'the receiver fails the stream with `MESSAGE_TOO_LARGE` (stream error), as soon as the running sum exceeds the limit, without waiting for the message to end.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const max = conn.target.maxMessageSize;
      if (max === 0) return outcome.unsupported('the target declares max_message_size 0 (no limit)');
      if (max > 64 * 1024 * 1024) return outcome.unsupported(`max_message_size ${max} is too large to test quickly`);
      const id = conn.openEcho();
      await conn.send(id, pattern(max + 1), false);
      return expectStreamError(conn, id, 'MESSAGE_TOO_LARGE');
    },
  },
  {
    id: 'FW-STREAM-15/done-inside-message',
    requirements: ['FW-STREAM-15', 'FW-CONN-3'],
    section: '8.2.4 Messages',
    level: 'MUST',
    title: 'DATA with FOLLOWS set, then DONE → ERROR PROTOCOL_ERROR on the stream',
    quote: 'A DONE received while a message of that direction is unfinished (the last DATA had FOLLOWS set) fails the stream with `PROTOCOL_ERROR` (stream error).',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.openEcho();
      conn.dataRaw(id, pattern(10), true);
      conn.peer.done(id);
      return expectStreamError(conn, id, 'PROTOCOL_ERROR');
    },
  },
  {
    id: 'FW-DONE-1/trailer-forms',
    requirements: ['FW-DONE-1', 'FW-CTRL-4'],
    section: '7.6 DONE',
    level: 'MUST',
    title: 'DONE with a trailer {"x":1}, with an empty map (80) and with no payload each end the direction; the echo reports the trailer it saw',
    quote: 'A receiver MUST end the sender\'s direction on DONE whether or not it carries a trailer, and MUST report an empty map (`80`) to the application as an empty trailer, distinct from an empty payload (no trailer).',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const a = conn.openEcho();
      conn.peer.done(a, { x: 1 });
      const b = conn.openEcho();
      conn.peer.done(b, {});
      const c = conn.openEcho();
      conn.peer.done(c);
      const views = [await conn.ended(a), await conn.ended(b), await conn.ended(c)];
      if (!views.every((v) => v.done)) return outcome.fail('a DONE did not end the direction', 'three DONEs back', [a, b, c].map((s) => conn.describeStreamEnd(s)).join('; '));
      const seen = views.map((v) => JSON.stringify(v.trailer?.['client_trailer'] ?? null));
      if (seen[0] === '{"x":1}' && seen[1] === '{}' && seen[2] === 'null') return outcome.pass('trailer, empty trailer and no trailer told apart');
      if (views.every((v) => v.trailer === undefined || !('client_trailer' in v.trailer)) && seen[2] === 'null') return outcome.pass('all three ended the direction (the echo does not report client_trailer)');
      return outcome.fail('the trailers were not told apart', 'client_trailer {"x":1}, {}, absent', seen.join(', '));
    },
  },
  {
    id: 'FW-REF-1/echo-trailer',
    requirements: ['FW-REF-1', 'FW-CTRL-3', 'FW-FRAME-3'],
    section: '13.2 Conformance kinds',
    level: 'MUST',
    title: 'we declare max_frame_payload 1024; echo streams ended with the trailers {"x":1}, a 990-character string, and maps nested 32 deep → DONE {messages, bytes} with client_trailer {"x":1}, then client_trailer_omitted twice; every frame valid for us',
    quote: '`"client_trailer"`: the client\'s DONE trailer, when the client sent one and the resulting DONE is still a valid control payload for the client … when it would not be, `"client_trailer_omitted": true` instead.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake({ settings: { maxFramePayload: 1024 } });
      let nested: Record<string, unknown> = {};
      for (let level = 1; level < 32; level++) nested = { n: nested };
      const a = conn.openEcho();
      conn.dataRaw(a, pattern(3));
      conn.dataRaw(a, pattern(4));
      conn.peer.done(a, { x: 1 });
      const b = conn.openEcho();
      conn.peer.done(b, { pad: 'p'.repeat(990) });
      const c = conn.openEcho();
      conn.peer.done(c, nested);
      const views = [await conn.ended(a), await conn.ended(b), await conn.ended(c)];
      const bad = [...violationsOf(conn.peer, 'FW-CTRL-1'), ...conn.peer.frames.filter((r) => r.raw.payload.length > 1024).map((r) => `a ${r.raw.payload.length}-byte frame on stream ${r.raw.stream}`)];
      if (bad.length > 0) return outcome.fail('the echo sent a frame that is not valid for us', 'frames within 1024 bytes and §5', bad.join('; '));
      if (!views.every((v) => v.done)) return outcome.fail('an echo did not end with DONE', 'three DONEs', [a, b, c].map((s) => conn.describeStreamEnd(s)).join('; '));
      const got = views.map((v) => JSON.stringify(v.trailer ?? null));
      const want = ['{"messages":2,"bytes":7,"client_trailer":{"x":1}}', '{"messages":0,"bytes":0,"client_trailer_omitted":true}', '{"messages":0,"bytes":0,"client_trailer_omitted":true}'];
      const wrong = got.map((g, i) => (g === want[i] ? undefined : `stream ${[a, b, c][i] ?? '?'}: ${g}`)).filter((x) => x !== undefined);
      if (wrong.length > 0) return outcome.fail('the echo\'s DONE trailer is not the one §13.2 describes', want.join(' / '), wrong.join('; '));
      return outcome.pass('client_trailer echoed when it fits, omitted (and said so) when it would break our limits');
    },
  },
  {
    id: 'FW-OPEN-1/target-too-long',
    requirements: ['FW-OPEN-1', 'FW-CTRL-8'],
    section: '7.2 OPEN',
    level: 'MUST',
    title: 'OPEN whose target has 4097 characters → MALFORMED_PAYLOAD (connection error)',
    quote: 'A receiver MUST check the keys above (types and bounds) and fails with `MALFORMED_PAYLOAD` (connection error, FW-FRAME-11) otherwise.',
    run: connectionErrorAfter('MALFORMED_PAYLOAD', (conn) => {
      conn.peer.open(conn.newStreamId(), 'conformance.echo', { target: 't'.repeat(4097) });
    }),
  },
  {
    id: 'FW-CTRL-8/nil-target',
    requirements: ['FW-CTRL-8', 'FW-CTRL-9'],
    section: '5.3 Types, absent keys and nil',
    level: 'MUST',
    title: 'OPEN with target = nil → MALFORMED_PAYLOAD',
    quote: '`nil` is not "absent". A known key whose value is `nil` is a known key with a value of the wrong type and fails with `MALFORMED_PAYLOAD` (FW-CTRL-8).',
    run: connectionErrorAfter('MALFORMED_PAYLOAD', (conn) => {
      conn.peer.rawFrame({ type: FrameType.OPEN, stream: conn.newStreamId(), payload: encode({ kind: 'conformance.echo', target: null }) });
    }),
  },
  {
    id: 'FW-CTRL-4/open-unknown-keys',
    requirements: ['FW-CTRL-4', 'FW-OPEN-2'],
    section: '5.1 Keys and unknown keys',
    level: 'MUST',
    title: 'OPEN with unknown keys (one nil-valued) and no urgency opens the echo normally',
    quote: 'A receiver MUST ignore keys it does not know, at the top level of every control payload … An unknown key with a `nil` value is ignored like any unknown key.',
    needs: ['echo'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const id = conn.newStreamId();
      conn.peer.rawFrame({ type: FrameType.OPEN, stream: id, payload: encode({ kind: 'conformance.echo', x_future: [1, 'a'], x_nil: null }) });
      conn.dataRaw(id, pattern(5));
      const view = await conn.messages(id, 1);
      if (view.messages.length !== 1) return outcome.fail('the OPEN with unknown keys did not open an echo stream', 'echo', conn.describeStreamEnd(id));
      return expectAccepted(conn, 'unknown OPEN keys');
    },
  },
  {
    id: 'FW-CTRL-3/limits-in-unknown-keys',
    requirements: ['FW-CTRL-3'],
    section: '5.2 Limits',
    level: 'MUST',
    title: 'OPEN whose unknown key holds an array of 1025 elements → MALFORMED_PAYLOAD (limits apply at any depth)',
    quote: 'A receiver MUST reject, with `MALFORMED_PAYLOAD`, a control payload that contains anywhere (at any nesting depth) … an array [of] more than 1024 elements.',
    run: connectionErrorAfter('MALFORMED_PAYLOAD', (conn) => {
      conn.peer.rawFrame({ type: FrameType.OPEN, stream: conn.newStreamId(), payload: encode({ kind: 'conformance.echo', x: new Array<number>(1025).fill(0) }) });
    }),
  },
  {
    id: 'FW-CTRL-3/map-too-large',
    requirements: ['FW-CTRL-3'],
    section: '5.2 Limits',
    level: 'MUST',
    title: 'OPEN whose meta has 257 entries → MALFORMED_PAYLOAD',
    quote: 'A receiver MUST reject, with `MALFORMED_PAYLOAD`, a control payload that contains anywhere … a map [of] more than 256 entries.',
    run: connectionErrorAfter('MALFORMED_PAYLOAD', (conn) => {
      const meta: Record<string, number> = {};
      for (let i = 0; i < 257; i++) meta[`k${i}`] = i;
      conn.peer.open(conn.newStreamId(), 'conformance.echo', { meta });
    }),
  },
  {
    id: 'FW-CTRL-3/ext-value',
    requirements: ['FW-CTRL-3'],
    section: '5.2 Limits',
    level: 'MUST',
    title: 'OPEN whose meta holds a fixext1 value → MALFORMED_PAYLOAD',
    quote: 'A receiver MUST reject, with `MALFORMED_PAYLOAD`, a control payload that contains anywhere … an extension (`fixext*`, `ext*`): any data.',
    run: connectionErrorAfter('MALFORMED_PAYLOAD', (conn) => {
      // {kind: "conformance.echo", meta: {e: fixext1(type 1, 0x2a)}} written by hand.
      const head = Buffer.from(encode({ kind: 'conformance.echo' }));
      head[0] = 0x82;
      const meta = Buffer.concat([Buffer.from([0xa4]), Buffer.from('meta'), Buffer.from([0x81, 0xa1, 0x65, 0xd4, 0x01, 0x2a])]);
      conn.peer.rawFrame({ type: FrameType.OPEN, stream: conn.newStreamId(), payload: Buffer.concat([head, meta]) });
    }),
  },
];
