/**
 * Appendix B, sent live: every entry of spec/vectors/invalid.json and ignored.json goes to the
 * target inside a real connection. A vector whose error comes from payload parsing (step 5 of
 * §3.3) gets the stream id and seq that make it valid for the session, so that its own defect
 * is the only one; framing defects (steps 1–4) go out verbatim. Vectors whose error depends on a
 * particular receiver limit (`maxPayload`) are left to the FW-FRAME-3 cases.
 */

import { readFileSync } from 'node:fs';
import { ErrorCodes, type ErrorCodeName } from '../../errors.ts';
import { FrameType, HEADER_SIZE } from '../../wire/index.ts';
import { fromHex, resign } from '../bytes.ts';
import type { CaseContext, Conn } from '../context.ts';
import { expectAccepted, expectConnectionError, violationsOf } from '../expect.ts';
import { outcome, type Outcome } from '../types.ts';
import type { Case } from './helpers.ts';

interface InvalidVector {
  readonly name: string;
  readonly description: string;
  readonly hex: string;
  readonly error: string;
  readonly maxPayload?: number;
}

interface IgnoredVector {
  readonly name: string;
  readonly description: string;
  readonly hex: string;
  readonly ignoredFrames: number;
}

function load(file: string): unknown {
  try {
    return JSON.parse(readFileSync(new URL(`../../../spec/vectors/${file}`, import.meta.url), 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function requirementsFor(v: InvalidVector): string[] {
  const r: string[] = [];
  switch (v.error) {
    case 'BAD_CRC':
      r.push('FW-FRAME-2');
      break;
    case 'FRAME_SIZE':
      r.push(v.name.startsWith('length') ? 'FW-FRAME-3' : 'FW-FRAME-8');
      break;
    case 'RESERVED_BITS':
      r.push('FW-FRAME-5');
      break;
    case 'WRONG_STREAM_KIND':
      r.push('FW-FRAME-6');
      break;
    case 'TRUNCATED':
      r.push('FW-FRAME-10');
      break;
    case 'FLOW_CONTROL':
      r.push('FW-FLOW-6');
      break;
    case 'MALFORMED_PAYLOAD': {
      if (v.name.startsWith('open-')) r.push('FW-OPEN-1');
      else if (v.name.startsWith('hello-setting')) r.push('FW-SET-2');
      else if (v.name.startsWith('hello-')) r.push('FW-HELLO-1');
      else if (v.name.startsWith('error-')) r.push('FW-ERROR-1');
      else if (v.name.startsWith('goaway-')) r.push('FW-GOAWAY-1');
      else if (v.name.includes('proto') || v.name.includes('-key')) r.push('FW-CTRL-2');
      else if (v.name.includes('ext') || v.name.includes('depth')) r.push('FW-CTRL-3');
      else if (v.name.includes('utf8')) r.push('FW-CTRL-7');
      else r.push('FW-CTRL-1');
      const keyRule = v.name.includes('-key');
      if (v.name.includes('float-integral') && !keyRule) r.push('FW-CTRL-6');
      if (v.name.includes('missing')) r.push('FW-CTRL-9');
      if (!keyRule && /not-string|not-bool|not-map|negative|float|over|too-long|urgency-8|version-0|wrong-type/u.test(v.name)) r.push('FW-CTRL-8');
      break;
    }
    default:
      break;
  }
  if (v.name.includes('before')) r.push('FW-FRAME-4');
  if (v.error !== 'TRUNCATED') r.push('FW-FRAME-11');
  return r;
}

/** The step of §3.3 that reports the vector: framing (verbatim) or payload (adapted to the session). */
function isFramingDefect(v: InvalidVector, bytes: Buffer): boolean {
  if (v.error === 'BAD_CRC' || v.error === 'RESERVED_BITS' || v.error === 'WRONG_STREAM_KIND') return true;
  // A header announcing more than it carries: a length check on the header alone.
  return v.error === 'FRAME_SIZE' && bytes.length === HEADER_SIZE && bytes.readUInt32BE(0) > 0;
}

/** Gives a payload-defect vector a stream id and seq the live session expects. */
async function adapt(conn: Conn, bytes: Buffer): Promise<Buffer> {
  const stream = bytes.readUInt32BE(8);
  const type = bytes.readUInt8(4);
  if (stream === 0) return resign(bytes, { seq: conn.peer.takeSeq(0) });
  if (type === FrameType.OPEN) {
    const id = conn.newStreamId();
    return resign(bytes, { stream: id, seq: conn.peer.takeSeq(id) });
  }
  const id = conn.openEcho();
  await conn.peer.arrival(5);
  return resign(bytes, { stream: id, seq: conn.peer.takeSeq(id) });
}

function invalidCase(v: InvalidVector): Case {
  const bytes = fromHex(v.hex);
  const type = bytes.length > 4 ? bytes.readUInt8(4) : -1;
  const needsEcho = !isFramingDefect(v, bytes) && v.error !== 'TRUNCATED' && type !== FrameType.OPEN && type !== FrameType.HELLO && bytes.length >= HEADER_SIZE && bytes.readUInt32BE(8) !== 0;
  return {
    id: `vectors/invalid/${v.name}`,
    requirements: requirementsFor(v),
    section: 'Appendix B. Test vectors',
    level: 'MUST',
    title: `${v.description} → ${v.error === 'TRUNCATED' ? 'close, no TRUNCATED sent' : v.error}`,
    quote: `spec/vectors/invalid.json "${v.name}": a receiver reports ${v.error} (§3.3, steps 1–5).`,
    ...(needsEcho ? { needs: ['echo'] as const } : {}),
    run: (ctx: CaseContext): Promise<Outcome> => runInvalid(ctx, v, bytes),
  };
}

async function runInvalid(ctx: CaseContext, v: InvalidVector, bytes: Buffer): Promise<Outcome> {
  const code = v.error as ErrorCodeName;
  if (v.error === 'TRUNCATED') {
    const conn = await ctx.handshake();
    // Complete frames inside the vector (a PING before the cut) get the live seq of stream 0.
    let out = bytes;
    if (bytes.length >= HEADER_SIZE && HEADER_SIZE + bytes.readUInt32BE(0) < bytes.length && bytes.readUInt32BE(8) === 0) {
      const whole = HEADER_SIZE + bytes.readUInt32BE(0);
      out = Buffer.concat([resign(bytes.subarray(0, whole), { seq: conn.peer.takeSeq(0) }), bytes.subarray(whole)]);
    }
    conn.peer.sendBytes(out);
    conn.peer.endOutput();
    const ending = await conn.peer.waitEnd(ctx.timeoutMs);
    const sent = violationsOf(conn.peer, 'FW-ERR-2');
    if (sent.length > 0) return outcome.fail(sent.join('; '), 'close, nothing coded TRUNCATED', 'TRUNCATED sent');
    if (ending === undefined) return outcome.fail('the target did not close after EOF inside a frame', 'close', 'still open');
    return outcome.pass(`closed (${ending.how})`);
  }
  if (!(code in ErrorCodes)) return outcome.fail(`internal: unknown error name ${v.error} in the vector`);
  if (bytes[4] === FrameType.HELLO && bytes.readUInt32BE(8) === 0 && !isFramingDefect(v, bytes)) {
    // A HELLO defect: sent as the first frame, where a HELLO belongs.
    const peer = await ctx.connect();
    peer.sendBytes(bytes);
    return expectConnectionError(peer, code, { timeoutMs: ctx.timeoutMs });
  }
  const conn = await ctx.handshake();
  conn.peer.sendBytes(isFramingDefect(v, bytes) ? bytes : await adapt(conn, bytes));
  return expectConnectionError(conn.peer, code, { timeoutMs: ctx.timeoutMs });
}

function ignoredCase(v: IgnoredVector): Case {
  return {
    id: `vectors/ignored/${v.name}`,
    requirements: ['FW-FRAME-7', 'FW-SEQ-3'],
    section: 'Appendix B. Test vectors',
    level: 'MUST',
    title: `${v.description} → ignored, connection alive`,
    quote: 'A receiver MUST verify a frame of unknown type like any other (steps 1–3 of §3.3: length limit, CRC, reserved bytes) and then ignore it, whatever its stream id, flags and payload.',
    async run(ctx) {
      const conn = await ctx.handshake();
      conn.peer.sendBytes(fromHex(v.hex));
      return expectAccepted(conn, `${v.ignoredFrames} unknown frame(s)`);
    },
  };
}

function build(): Case[] {
  const invalid = load('invalid.json') as { vectors: InvalidVector[] } | undefined;
  const ignored = load('ignored.json') as { vectors: IgnoredVector[] } | undefined;
  if (invalid === undefined || ignored === undefined) {
    return [
      {
        id: 'vectors/missing',
        requirements: ['FW-FRAME-4'],
        section: 'Appendix B. Test vectors',
        level: 'MUST',
        title: 'spec/vectors/*.json could not be read next to the runner',
        quote: 'Test vectors live in `spec/vectors/`.',
        run: () => Promise.resolve(outcome.unsupported('spec/vectors not found: run the runner from a framewire checkout')),
      },
    ];
  }
  return [...invalid.vectors.filter((v) => v.maxPayload === undefined).map(invalidCase), ...ignored.vectors.map(ignoredCase)];
}

export const cases: Case[] = build();
