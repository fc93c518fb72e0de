/** Shared pieces of the case files: the case type bound to our context, and the common shapes of a case. */

import type { ErrorCodeName } from '../../errors.ts';
import type { CaseContext, Conn } from '../context.ts';
import { expectConnectionError } from '../expect.ts';
import type { RawPeer } from '../raw-peer.ts';
import { outcome, type ConformanceCase, type Outcome } from '../types.ts';

export type Case = ConformanceCase<CaseContext>;

/** Handshake, do `act`, then the target must fail the connection with `code`. */
export function connectionErrorAfter(code: ErrorCodeName, act: (conn: Conn) => void | Promise<void>, alsoPass: readonly ErrorCodeName[] = []): (ctx: CaseContext) => Promise<Outcome> {
  return async (ctx) => {
    const conn = await ctx.handshake();
    await act(conn);
    return expectConnectionError(conn.peer, code, { timeoutMs: ctx.timeoutMs, alsoPass });
  };
}

/** Connect, do `act` before any HELLO of ours (or instead of it), then the target must fail the connection with `code`. */
export function connectionErrorBefore(code: ErrorCodeName, act: (peer: RawPeer) => void | Promise<void>): (ctx: CaseContext) => Promise<Outcome> {
  return async (ctx) => {
    const peer = await ctx.connect();
    await act(peer);
    return expectConnectionError(peer, code, { timeoutMs: ctx.timeoutMs });
  };
}

/** Eight recognisable bytes for PING payloads. */
export function pingBytes(tag: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.write('fwcf', 0, 'latin1');
  b.writeUInt32BE(tag >>> 0, 4);
  return b;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** n bytes of a recognisable pattern. */
export function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Waits for the target's handshake deadline on a peer that never completes its HELLO: ERROR HANDSHAKE and close (FW-HS-5, FW-QUIC-2), or informational when no deadline shows within the long wait. */
export async function handshakeDeadlineOutcome(ctx: CaseContext, peer: RawPeer): Promise<Outcome> {
  const started = Date.now();
  const ending = await peer.waitEnd(ctx.run.longWaitMs);
  const elapsed = Date.now() - started;
  if (ending === undefined && peer.frames.length === 0) return outcome.info(`no handshake deadline observed within ${ctx.run.longWaitMs} ms (the deadline is a local setting)`);
  const o = await expectConnectionError(peer, 'HANDSHAKE', { timeoutMs: ctx.timeoutMs });
  return { ...o, detail: `${o.detail} after ${elapsed} ms` };
}
