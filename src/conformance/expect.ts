/**
 * The judgements most cases end with: "the target must fail the connection with code X",
 * "the target must fail stream N with code X and go on", "the target must ignore this".
 * Each turns what was observed on the wire into a verdict with expected vs actual.
 */

import { ErrorCodes, type ErrorCodeName } from '../errors.ts';
import { FrameType, PingFlags } from '../wire/index.ts';
import type { Conn } from './context.ts';
import { describeCode, type RawPeer } from './raw-peer.ts';
import { outcome, type Outcome } from './types.ts';

export interface ConnectionErrorOptions {
  /** Further codes that count as a pass (the spec allows either). */
  readonly alsoPass?: readonly ErrorCodeName[];
  readonly timeoutMs: number;
}

/**
 * The target must send ERROR `code` on stream 0, then close, sending nothing after the ERROR
 * (FW-CONN-1). A different code is non-strict; a bare close is non-strict (a failure under
 * --strict); silence is a failure.
 */
export async function expectConnectionError(peer: RawPeer, code: ErrorCodeName, options: ConnectionErrorOptions): Promise<Outcome> {
  const expected = `ERROR ${describeCode(ErrorCodes[code].code)} on stream 0, then close`;
  const passing = new Set<number>([ErrorCodes[code].code, ...(options.alsoPass ?? []).map((c) => ErrorCodes[c].code)]);
  const deadline = Date.now() + options.timeoutMs;
  const streamErrors: string[] = [];
  for (;;) {
    const event = await peer.next(Math.max(0, deadline - Date.now()));
    if (event === undefined) {
      if (streamErrors.length > 0) return outcome.fail('a stream error instead of a connection error', expected, streamErrors.join('; '));
      return outcome.fail(`no ERROR and no close within ${options.timeoutMs} ms`, expected, peer.decodeError ?? 'nothing');
    }
    if (event.kind === 'end') {
      const how = event.ending.how === 'eof' ? 'a bare close (FIN)' : 'a bare reset';
      return outcome.nonStrict(`the target closed the connection without a coded ERROR (${how})`, expected, how);
    }
    const f = event.received.frame;
    if (f?.type !== FrameType.ERROR) continue;
    if (event.received.raw.stream !== 0) {
      streamErrors.push(`ERROR ${describeCode(f.payload.code)} on stream ${event.received.raw.stream}`);
      continue;
    }
    const actual = `ERROR ${describeCode(f.payload.code)} "${f.payload.message}"`;
    const after = await closedAfterError(peer, options.timeoutMs);
    if (after !== undefined) return outcome.fail(after, expected, actual);
    if (passing.has(f.payload.code)) return outcome.pass(actual);
    return outcome.nonStrict('a connection error with another code', expected, actual);
  }
}

/** After an ERROR on stream 0 the target sends nothing and closes (FW-CONN-1). Returns a problem, or undefined. */
async function closedAfterError(peer: RawPeer, timeoutMs: number): Promise<string | undefined> {
  const ending = await peer.waitEnd(timeoutMs);
  const errorIndex = peer.frames.findIndex((r) => r.raw.stream === 0 && r.frame?.type === FrameType.ERROR);
  // Over QUIC, frames of other streams written before the ERROR may be read after it (§14.2): only the control stream's order is the target's.
  const after = peer.frames.slice(errorIndex + 1).filter((r) => peer.quic === undefined || r.raw.stream === 0);
  if (after.length > 0) return `the target sent ${after.length} frame(s) after its ERROR on stream 0 (FW-CONN-1)`;
  if (ending === undefined) return `the target sent ERROR on stream 0 but did not close the connection within ${timeoutMs} ms (FW-CONN-1)`;
  return undefined;
}

/**
 * The target must fail stream `stream` with ERROR `code` on that stream, and the connection
 * must go on (FW-CONN-3), which a PING round trip proves.
 */
export async function expectStreamError(conn: Conn, stream: number, code: ErrorCodeName, options: { alsoPass?: readonly ErrorCodeName[] } = {}): Promise<Outcome> {
  const peer = conn.peer;
  const timeoutMs = conn.ctx.timeoutMs;
  const expected = `ERROR ${describeCode(ErrorCodes[code].code)} on stream ${stream}, connection open`;
  const passing = new Set<number>([ErrorCodes[code].code, ...(options.alsoPass ?? []).map((c) => ErrorCodes[c].code)]);
  const found = await peer.until(() => {
    for (const r of peer.frames) {
      if (r.frame?.type === FrameType.ERROR && (r.raw.stream === stream || r.raw.stream === 0)) return r;
    }
    return peer.ending === undefined ? undefined : peer.ending;
  }, timeoutMs);
  if (found === undefined) return outcome.fail(`no ERROR within ${timeoutMs} ms (stream ${stream}: ${conn.describeStreamEnd(stream)})`, expected, 'nothing');
  if ('how' in found) return outcome.nonStrict('the target closed the whole connection without a coded ERROR', expected, `bare close (${found.how})`);
  const f = found.frame;
  if (f?.type !== FrameType.ERROR) return outcome.fail('unexpected frame', expected, 'other');
  const actual = `ERROR ${describeCode(f.payload.code)} "${f.payload.message}" on stream ${found.raw.stream}`;
  if (found.raw.stream === 0) {
    return passing.has(f.payload.code) ? outcome.nonStrict('a connection error where a stream error was required', expected, actual) : outcome.fail('a connection error with another code', expected, actual);
  }
  if (!(await conn.alive())) return outcome.fail('the stream error ended the connection (FW-CONN-3)', expected, `${actual}; then no PING answer`);
  if (passing.has(f.payload.code)) return outcome.pass(actual);
  return outcome.nonStrict('a stream error with another code', expected, actual);
}

/**
 * The target must accept what was just sent without any error: no ERROR on stream 0 within the
 * quiet period, and a PING is still answered.
 */
export async function expectAccepted(conn: Conn, what: string): Promise<Outcome> {
  const peer = conn.peer;
  await peer.arrival(conn.ctx.quietMs);
  const alive = await conn.alive();
  const err = conn.connectionError();
  if (err !== undefined) return outcome.fail(`the target rejected ${what}`, 'no error, connection open', `ERROR ${describeCode(err.code)} "${err.message}"`);
  if (!alive) return outcome.fail(`the target stopped answering after ${what}`, 'PING answered', peer.ending === undefined ? 'no PING answer' : `connection closed (${peer.ending.how})`);
  return outcome.pass(`${what}: accepted, connection alive`);
}

/** True if the target answered a PING with these bytes. */
export function pingAnswered(peer: RawPeer, payload: Uint8Array): boolean {
  return peer.frames.some((r) => r.frame?.type === FrameType.PING && (r.frame.flags & PingFlags.ACK) !== 0 && Buffer.from(r.frame.payload).equals(Buffer.from(payload)));
}

/** Violations of one requirement the raw peer recorded, as text. */
export function violationsOf(peer: RawPeer, requirement: string): string[] {
  return peer.violations.filter((v) => v.requirement === requirement).map((v) => v.message);
}
