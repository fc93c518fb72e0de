/**
 * Issue 12 item 8: one small frame whose trailer nests maps 100 deep used to kill the server,
 * because the decoder accepted any depth and conformance.echo put the trailer into its own DONE,
 * which the encoder (nesting limit 100) refused inside the send loop. Now the decoder stops at 32
 * levels (spec §5.2, FW-CTRL-3) and the echo never sends on a value that would break the peer's
 * limits. Over real TCP, against the server `framewire serve` builds its echo from.
 */

import { encode } from '@msgpack/msgpack';
import { afterEach, describe, expect, it } from 'vitest';
import { CaseContext } from '../../src/conformance/context.ts';
import { conformanceService } from '../../src/conformance/echo-service.ts';
import { expectConnectionError } from '../../src/conformance/expect.ts';
import { ControlLimits, FrameType } from '../../src/wire/index.ts';
import { createServer, type FramewireServer } from '../../src/server.ts';

const servers: FramewireServer[] = [];
const contexts: CaseContext[] = [];
afterEach(async () => {
  for (const c of contexts.splice(0)) c.cleanup();
  await Promise.all(servers.splice(0).map((s) => s.close({ deadlineMs: 100 })));
});

function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) v = { n: v };
  return v;
}

async function target(): Promise<CaseContext> {
  const server = createServer({ services: [conformanceService()] });
  servers.push(server);
  const { port } = await server.listen(0, '127.0.0.1');
  const ctx = new CaseContext({ host: '127.0.0.1', port, transport: 'tcp', peerId: undefined, strict: true, timeoutMs: 3000, quietMs: 200, longWaitMs: 5000, auth: undefined, peer: undefined }, new Set(['echo', 'sink']));
  contexts.push(ctx);
  return ctx;
}

describe('nesting depth of control payloads (FW-CTRL-3)', () => {
  it('a DONE trailer nested 100 deep on an echo stream costs its sender the connection (MALFORMED_PAYLOAD), and the server goes on', async () => {
    const ctx = await target();
    const conn = await ctx.handshake();
    const id = conn.openEcho();
    // Built by hand (99 maps {"n": …} around an empty one): our own encoder refuses such a value, a hostile peer does not.
    const payload = Buffer.concat([...Array.from({ length: 99 }, () => Buffer.concat([Buffer.of(0x81), Buffer.from(encode('n'))])), Buffer.of(0x80)]);
    conn.peer.rawFrame({ type: FrameType.DONE, stream: id, payload });
    const o = await expectConnectionError(conn.peer, 'MALFORMED_PAYLOAD', { timeoutMs: 3000 });
    expect(`${o.verdict}: ${o.detail}`).toMatch(/^pass: .*nest deeper than 32/u);
    const again = await ctx.handshake();
    expect(await again.alive()).toBe(true);
  });

  it(`a trailer at the limit (${ControlLimits.maxDepth} levels) is accepted, and the echo, which would add a level, leaves it out and says so`, async () => {
    const ctx = await target();
    const conn = await ctx.handshake();
    const id = conn.openEcho();
    conn.peer.done(id, nested(ControlLimits.maxDepth));
    const view = await conn.ended(id);
    expect(view.done).toBe(true);
    expect(view.trailer).toStrictEqual({ messages: 0, bytes: 0, client_trailer_omitted: true });
    expect(conn.peer.violations).toEqual([]);
    expect(await conn.alive()).toBe(true);
  });
});
