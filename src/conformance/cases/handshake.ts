/** §8.1 Handshake, §7.1 HELLO, §6 Settings: version choice, frames before HELLO, limits, the server's HELLO. */

import { encode } from '@msgpack/msgpack';
import { ErrorCodes } from '../../errors.ts';
import { encodeHelloPayload, FrameType, HANDSHAKE_MAX_PAYLOAD } from '../../wire/index.ts';
import { buildFrame, headerOnly } from '../bytes.ts';
import { isReceived } from '../context.ts';
import { expectAccepted, expectConnectionError, violationsOf } from '../expect.ts';
import { describeCode } from '../raw-peer.ts';
import { outcome } from '../types.ts';
import { connectionErrorBefore, pattern, type Case, handshakeDeadlineOutcome } from './helpers.ts';

const S = '8.1 Handshake';

export const cases: Case[] = [
  {
    id: 'FW-HS-7/server-waits-for-hello',
    requirements: ['FW-HS-7', 'FW-HS-1'],
    section: S,
    level: 'MUST',
    title: 'the server sends nothing before the client HELLO',
    quote: 'A peer MUST NOT send any frame other than HELLO before it has received the peer\'s HELLO (… the server: its first frame is its HELLO or an ERROR on stream 0).',
    async run(ctx) {
      const peer = await ctx.connect();
      await peer.arrival(ctx.quietMs);
      if (peer.bytesReceived > 0) return outcome.fail('the server spoke first', 'nothing until the client HELLO', `${peer.bytesReceived} bytes`);
      return outcome.pass(`silent for ${ctx.quietMs} ms`);
    },
  },
  {
    id: 'FW-HS-3/server-hello',
    requirements: ['FW-HS-3', 'FW-HELLO-2', 'FW-HELLO-1', 'FW-SET-2'],
    section: S,
    level: 'MUST',
    title: 'HELLO {versions:[1]} is answered by a HELLO listing exactly version 1, without auth, with valid settings',
    quote: 'To accept, the server MUST answer with its own HELLO whose `versions` contains exactly the chosen version; … A server MUST NOT send `auth` in its HELLO.',
    async run(ctx) {
      const conn = await ctx.handshake();
      const v = conn.hello.versions;
      if (v.length !== 1 || v[0] !== 1) return outcome.fail('the server HELLO does not list exactly the chosen version', 'versions [1]', `versions ${JSON.stringify(v)}`);
      const bad = [...violationsOf(conn.peer, 'FW-HELLO-2'), ...violationsOf(conn.peer, 'FW-CTRL-1')];
      if (bad.length > 0) return outcome.fail(bad.join('; '));
      return outcome.pass(`versions [1], agent ${JSON.stringify(conn.hello.agent ?? '')}, settings ${JSON.stringify(conn.targetSettingsWire())}`);
    },
  },
  {
    id: 'FW-HS-2/highest-common-version',
    requirements: ['FW-HS-2', 'FW-HELLO-1'],
    section: S,
    level: 'MUST',
    title: 'versions [60000, 1, 1, 60001] (unordered, duplicated) → the server picks 1 and lists only it',
    quote: 'The server MUST choose the highest version that appears in both its own list and the client\'s `versions` … Duplicate or unordered entries in `versions` are allowed.',
    async run(ctx) {
      const conn = await ctx.handshake({ versions: [60000, 1, 1, 60001] });
      const v = conn.hello.versions;
      if (v.length === 1 && v[0] === 1) return outcome.pass('chose version 1');
      if (v.length === 1 && (v[0] === 60000 || v[0] === 60001)) return outcome.info(`the target claims to speak version ${v[0]}`);
      return outcome.fail('bad version choice', 'versions [1]', JSON.stringify(v));
    },
  },
  {
    id: 'FW-HS-2/no-common-version',
    requirements: ['FW-HS-2', 'FW-CONN-1'],
    section: S,
    level: 'MUST',
    title: 'versions [60000, 60001] → ERROR UNSUPPORTED_VERSION on stream 0, close',
    quote: 'if there is none it fails with `UNSUPPORTED_VERSION` (connection error: ERROR on stream 0, close)',
    run: connectionErrorBefore('UNSUPPORTED_VERSION', (peer) => {
      peer.hello({ versions: [60000, 60001] });
    }),
  },
  {
    id: 'FW-HS-7/open-before-hello',
    requirements: ['FW-HS-7'],
    section: S,
    level: 'MUST',
    title: 'OPEN as the first frame → HANDSHAKE',
    quote: 'A receiver that gets any frame of a known type other than HELLO before the peer\'s HELLO … fails with `HANDSHAKE` (connection error).',
    run: connectionErrorBefore('HANDSHAKE', (peer) => {
      peer.open(1, 'conformance.echo');
    }),
  },
  {
    id: 'FW-HS-7/ping-before-hello',
    requirements: ['FW-HS-7'],
    section: S,
    level: 'MUST',
    title: 'PING as the first frame → HANDSHAKE',
    quote: 'A receiver that gets any frame of a known type other than HELLO before the peer\'s HELLO … fails with `HANDSHAKE` (connection error).',
    run: connectionErrorBefore('HANDSHAKE', (peer) => {
      peer.ping(pattern(8));
    }),
  },
  {
    id: 'FW-HS-7/second-hello',
    requirements: ['FW-HS-7'],
    section: S,
    level: 'MUST',
    title: 'a second HELLO after the handshake → HANDSHAKE',
    quote: 'A receiver that gets … a second HELLO at any time, fails with `HANDSHAKE` (connection error).',
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.peer.hello();
      return expectConnectionError(conn.peer, 'HANDSHAKE', { timeoutMs: ctx.timeoutMs });
    },
  },
  {
    id: 'FW-HS-7/unknown-type-before-hello',
    requirements: ['FW-HS-7', 'FW-FRAME-7'],
    section: S,
    level: 'MUST',
    title: 'a frame of unknown type 0x7f before HELLO is ignored; the handshake then succeeds',
    quote: 'Frames of unknown type are ignored (FW-FRAME-7), also here.',
    async run(ctx) {
      const conn = await ctx.handshake({
        before: (peer) => {
          peer.sendBytes(buildFrame({ type: 0x7f, stream: 0, seq: 0, payload: pattern(6) }));
        },
      });
      return expectAccepted(conn, 'an unknown frame type before HELLO');
    },
  },
  {
    id: 'FW-HS-4/oversize-hello',
    requirements: ['FW-HS-4', 'FW-FRAME-3'],
    section: S,
    level: 'MUST',
    title: 'a HELLO header announcing 16385 payload bytes → FRAME_SIZE on the header alone',
    quote: 'Until a peer has received the other peer\'s HELLO, its current payload limit is 16384 bytes (`HANDSHAKE_MAX_PAYLOAD`) … a HELLO MUST fit in it.',
    run: connectionErrorBefore('FRAME_SIZE', (peer) => {
      peer.sendBytes(headerOnly(FrameType.HELLO, 0, 0, HANDSHAKE_MAX_PAYLOAD + 1));
    }),
  },
  {
    id: 'FW-HS-4/hello-at-limit',
    requirements: ['FW-HS-4', 'FW-CTRL-4'],
    section: S,
    level: 'MUST',
    title: 'a HELLO of exactly 16384 payload bytes (padded with an unknown key) is accepted',
    quote: 'Until a peer has received the other peer\'s HELLO, its current payload limit is 16384 bytes … a HELLO MUST fit in it.',
    async run(ctx) {
      const base = encodeHelloPayload({ versions: [1], settings: {} }).length;
      // {versions, settings, x_pad: <str>}: fixmap header changes 0x82 → 0x83, plus key "x_pad" (6 bytes) and a str16/str32 header.
      let padLength = HANDSHAKE_MAX_PAYLOAD - base - 6 - 3;
      let payload = Buffer.from(encode({ versions: [1], settings: {}, x_pad: 'p'.repeat(padLength), ...(ctx.run.auth === undefined ? {} : { auth: ctx.run.auth }) }));
      padLength -= payload.length - HANDSHAKE_MAX_PAYLOAD;
      payload = Buffer.from(encode({ versions: [1], settings: {}, x_pad: 'p'.repeat(padLength), ...(ctx.run.auth === undefined ? {} : { auth: ctx.run.auth }) }));
      if (payload.length !== HANDSHAKE_MAX_PAYLOAD) return outcome.fail(`internal: could not build a ${HANDSHAKE_MAX_PAYLOAD}-byte HELLO (got ${payload.length})`);
      const peer = await ctx.connect();
      peer.rawFrame({ type: FrameType.HELLO, stream: 0, payload });
      const first = await peer.waitFor(() => true, ctx.timeoutMs);
      if (isReceived(first) && first.frame?.type === FrameType.HELLO) return outcome.pass('accepted');
      const actual = isReceived(first) && first.frame?.type === FrameType.ERROR ? `ERROR ${describeCode(first.frame.payload.code)}` : first === undefined ? 'nothing' : 'close';
      return outcome.fail('a HELLO at the handshake limit was refused', 'the server HELLO', actual);
    },
  },
  {
    id: 'FW-HS-4/large-frame-after-handshake',
    requirements: ['FW-HS-4', 'FW-FRAME-3', 'FW-FRAME-7'],
    section: S,
    level: 'MUST',
    title: 'after the handshake the limit is the target\'s max_frame_payload: a 20000-byte frame (unknown type) is accepted',
    quote: 'From the frame after the peer\'s HELLO on, the limit is the receiver\'s own `max_frame_payload` (§3.3).',
    async run(ctx) {
      const conn = await ctx.handshake();
      const size = Math.min(20_000, conn.target.maxFramePayload);
      if (size <= HANDSHAKE_MAX_PAYLOAD) return outcome.unsupported(`the target's max_frame_payload (${conn.target.maxFramePayload}) is not above the handshake limit`);
      conn.peer.sendBytes(buildFrame({ type: 0x7e, stream: 0, seq: 0, payload: pattern(size) }));
      return expectAccepted(conn, `a ${size}-byte frame`);
    },
  },
  {
    id: 'FW-HS-5/handshake-deadline',
    requirements: ['FW-HS-5', 'FW-CONN-1'],
    section: S,
    level: 'MUST',
    slow: true,
    notOver: { quic: 'until the client writes on its control stream, the server has no stream to send ERROR HANDSHAKE on (§14.2): FW-QUIC-2/handshake-deadline-on-control checks the deadline with the control stream open' },
    title: 'connect and send nothing → ERROR HANDSHAKE on stream 0 at the deadline (default 5 s), close',
    quote: 'The server MUST wait for the client\'s HELLO for at most the handshake timeout (a local setting; default 5 seconds, §8.8) and, when it expires, fails with `HANDSHAKE` (ERROR on stream 0, close).',
    async run(ctx) {
      const peer = await ctx.connect();
      return handshakeDeadlineOutcome(ctx, peer);
    },
  },
  {
    id: 'FW-HS-6/authentication',
    requirements: ['FW-HS-6'],
    section: S,
    level: 'MUST',
    title: 'HELLO with auth "conformance-invalid-credentials": AUTH_FAILED, or accepted by a server without an authentication hook (informational)',
    quote: 'the server MUST pass the client\'s `auth` value … to its authentication hook before answering; if the hook refuses, the server fails with `AUTH_FAILED` (ERROR on stream 0, close).',
    async run(ctx) {
      const peer = await ctx.connect();
      peer.hello({ auth: 'conformance-invalid-credentials' });
      const first = await peer.waitFor(() => true, ctx.timeoutMs);
      if (isReceived(first) && first.frame?.type === FrameType.HELLO) return outcome.info('the target accepted made-up credentials: it has no authentication hook, or accepts everyone');
      if (isReceived(first) && first.frame?.type === FrameType.ERROR && first.frame.payload.code === ErrorCodes.AUTH_FAILED.code) {
        peer.drain();
        const ending = await peer.waitEnd(ctx.timeoutMs);
        return ending === undefined ? outcome.fail('AUTH_FAILED sent but the connection stayed open (FW-CONN-1)') : outcome.pass('made-up credentials refused with AUTH_FAILED, then close');
      }
      peer.drain();
      return outcome.info(`the target answered made-up credentials with ${first === undefined ? 'nothing' : isReceived(first) ? `frame 0x${first.raw.type.toString(16)}` : 'a close'}`);
    },
  },
  {
    id: 'FW-HS-9/refusals-are-auth-failed',
    requirements: ['FW-HS-9', 'FW-HS-6', 'FW-REF-5'],
    section: S,
    level: 'MUST',
    title: 'against a target that refuses made-up credentials: HELLO with auth 42, {"token": 7}, {} and without auth → AUTH_FAILED each time, never MALFORMED_PAYLOAD (informational when the target accepts everyone)',
    quote: 'Whatever a server\'s hook does not accept — wrong credentials, `auth` of a type or shape the hook does not expect, or no `auth` at all — it refuses with `AUTH_FAILED`, never with `MALFORMED_PAYLOAD`.',
    async run(ctx) {
      const probe = await ctx.connect();
      probe.hello({ auth: 'conformance-invalid-credentials' });
      const first = await probe.waitFor(() => true, ctx.timeoutMs);
      probe.destroy();
      if (isReceived(first) && first.frame?.type === FrameType.HELLO) return outcome.info('the target accepts made-up credentials: it has no authentication to refuse with');
      const variants: [string, Record<string, unknown>][] = [
        ['auth 42', { auth: 42 }],
        ['auth {"token": 7}', { auth: { token: 7 } }],
        ['auth {}', { auth: {} }],
        ['no auth', {}],
      ];
      for (const [what, extra] of variants) {
        const peer = await ctx.connect();
        peer.hello(extra);
        const o = await expectConnectionError(peer, 'AUTH_FAILED', { timeoutMs: ctx.timeoutMs });
        if (o.verdict !== 'pass') return { ...o, detail: `${what}: ${o.detail}` };
      }
      return outcome.pass(`${variants.map(([w]) => w).join(', ')}: AUTH_FAILED each`);
    },
  },
  {
    id: 'FW-HELLO-1/agent-too-long',
    requirements: ['FW-HELLO-1', 'FW-CTRL-8'],
    section: '7.1 HELLO',
    level: 'MUST',
    title: 'HELLO whose agent has 257 characters → MALFORMED_PAYLOAD',
    quote: 'A receiver MUST check … `agent` (a string of at most 256 characters), and fails with `MALFORMED_PAYLOAD` (connection error) otherwise.',
    run: connectionErrorBefore('MALFORMED_PAYLOAD', (peer) => {
      peer.hello({ agent: 'a'.repeat(257) });
    }),
  },
  {
    id: 'FW-CTRL-8/nil-agent',
    requirements: ['FW-CTRL-8', 'FW-CTRL-9'],
    section: '5.3 Types, absent keys and nil',
    level: 'MUST',
    title: 'HELLO with agent = nil → MALFORMED_PAYLOAD (nil is not "absent")',
    quote: 'A known key present with a value of the wrong type, or outside its bounds, fails with `MALFORMED_PAYLOAD` … `nil` is not "absent".',
    run: connectionErrorBefore('MALFORMED_PAYLOAD', (peer) => {
      peer.rawFrame({ type: FrameType.HELLO, stream: 0, payload: encode({ versions: [1], agent: null }) });
    }),
  },
  {
    id: 'FW-SET-3/unknown-keys-ignored',
    requirements: ['FW-SET-3', 'FW-CTRL-4', 'FW-SET-1'],
    section: '6 Settings',
    level: 'MUST',
    title: 'HELLO with an unknown top-level key, an unknown setting (also nil-valued) and flags 0xff is accepted',
    quote: 'A receiver MUST ignore unknown keys in `settings`. … A receiver MUST ignore keys it does not know, at the top level of every control payload.',
    async run(ctx) {
      const peer = await ctx.connect();
      const payload = encode({ versions: [1], settings: { x_future_setting: 7, x_nil: null }, x_future_key: { a: [1, 2] }, ...(ctx.run.auth === undefined ? {} : { auth: ctx.run.auth }) });
      peer.rawFrame({ type: FrameType.HELLO, flags: 0xff, stream: 0, payload });
      const first = await peer.waitFor(() => true, ctx.timeoutMs);
      if (isReceived(first) && first.frame?.type === FrameType.HELLO) return outcome.pass('accepted');
      const actual = isReceived(first) && first.frame?.type === FrameType.ERROR ? `ERROR ${describeCode(first.frame.payload.code)} "${first.frame.payload.message}"` : first === undefined ? 'nothing' : 'close';
      return outcome.fail('unknown keys or undefined flag bits were not ignored', 'the server HELLO', actual);
    },
  },
];
