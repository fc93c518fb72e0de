/**
 * Issue 12, item 4: every connection limit is a `serve` flag. Parsing is checked on its own; one
 * spawned server shows that the flags reach the server (a second connection from one address is
 * refused with LIMIT_EXCEEDED, a silent one is closed at the handshake deadline).
 */

import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionLimitsFrom } from '../../src/cli/connection-limits.ts';
import { CliError } from '../../src/cli/cli-error.ts';
import { connect } from '../../src/index.ts';
import { expectFwError, settle, within } from '../integration/helpers.ts';
import { ServeProcess } from './serve-process.ts';

const servers: ServeProcess[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

describe('serve connection-limit flags', () => {
  it('parse into server and session limits; bad values are usage errors', () => {
    expect(connectionLimitsFrom({ maxConnections: '10', maxHandshaking: '4', maxPerAddress: '2', handshakeTimeout: '2s', frameTimeout: '0', unusedTimeout: '1m' })).toEqual({
      serverLimits: { maxConnections: 10, maxHandshakingConnections: 4, maxConnectionsPerAddress: 2 },
      sessionLimits: { handshakeTimeoutMs: 2000, frameTimeoutMs: 0, unusedConnectionTimeoutMs: 60_000 },
    });
    expect(connectionLimitsFrom({})).toEqual({ serverLimits: {}, sessionLimits: {} });
    for (const bad of [{ maxConnections: '0' }, { maxPerAddress: 'many' }, { handshakeTimeout: '0' }, { maxConnections: '4', maxHandshaking: '8' }, { frameTimeout: 'soon' }]) {
      expect(() => connectionLimitsFrom(bad), JSON.stringify(bad)).toThrow(CliError);
    }
  });

  it('reach the server: --max-per-address 1 refuses a second connection from one address; --handshake-timeout closes a silent one', async () => {
    const serve = new ServeProcess();
    servers.push(serve);
    const port = await serve.start(['--max-per-address', '1', '--handshake-timeout', '500ms']);
    const first = await connect({ port });
    const second = await within(settle(connect({ port })), 5000, 'second connect');
    expect(second.ok).toBe(false);
    if (!second.ok) expect(expectFwError(second.error, 'LIMIT_EXCEEDED').retryAfterMs).toBeGreaterThan(0);
    // From another address (the first connection still holds 127.0.0.1's one slot).
    const silent = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    silent.on('error', () => undefined);
    silent.resume();
    const started = performance.now();
    await within(new Promise<void>((resolve) => silent.once('close', () => { resolve(); })), 5000, 'silent connection closed');
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(3000);
    expect(serve.exit).toBeUndefined();
    first.close();
  });
});
