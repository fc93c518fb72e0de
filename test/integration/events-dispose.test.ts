/**
 * node:net / node:http2 habits over real loopback sockets: a Connection emits 'close' once (with
 * the error, or nothing for a clean end) and 'error' only when listened for; the server emits
 * 'connection', 'error' and 'close'; both end with `await using`. Transport failures keep the
 * system error as `cause`: a refused port (ECONNREFUSED) and a reset connection (ECONNRESET).
 */

import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Connection, type FramewireError, type FramewireServer } from '../../src/index.ts';
import { upload } from '../../src/api/upload.ts';
import { echoHandler, expectFwError, Harness, settle, waitFor, within } from './helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

/** Records a connection's 'error' and 'close' events. */
function recorder(connection: Connection): { errors: FramewireError[]; closes: (FramewireError | undefined)[] } {
  const seen = { errors: [] as FramewireError[], closes: [] as (FramewireError | undefined)[] };
  connection.on('error', (error) => seen.errors.push(error));
  connection.on('close', (error) => seen.closes.push(error));
  return seen;
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => { resolve(); }));
  return port;
}

describe('Connection and server events, disposal, and system errors as causes', () => {
  it('a connection reset by the peer: CONNECTION_LOST named after the ECONNRESET, which is its cause; \'error\' then \'close\' once, with that error', async () => {
    const { server, port } = await h.server({ onStream: echoHandler() });
    const client = await h.client({ port });
    const seen = recorder(client);
    const stream = client.open({ kind: 'echo' });
    await stream.write(Buffer.from('hi'));
    await waitFor(() => server.connections.size === 1, 5000, 'the server side');
    const serverSide = [...server.connections][0]!;
    // An RST, not a FIN: the client's socket fails with ECONNRESET.
    (serverSide.socket as net.Socket).resetAndDestroy();
    const end = await within(client.closed, 5000, 'client closed');
    const error = expectFwError(end.error, 'CONNECTION_LOST');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    // The message names the system code, so a log line says what happened without the cause.
    expect(error.message).toMatch(/^connection lost: .*ECONNRESET/);
    const outcome = await stream.outcome;
    expect(outcome.status === 'failed' ? (outcome.error.cause as NodeJS.ErrnoException).code : outcome.status).toBe('ECONNRESET');
    await waitFor(() => seen.closes.length === 1, 2000, "'close'");
    expect(seen.errors).toEqual([end.error]);
    expect(seen.closes).toEqual([end.error]);
  });

  it('a clean close emits \'close\' with nothing and no \'error\'; a lost connection without an \'error\' listener does not crash the process', async () => {
    const { server, port } = await h.server({ onStream: echoHandler() });
    const clean = await h.client({ port });
    const seen = recorder(clean);
    clean.close();
    await within(clean.closed, 2000, 'clean close');
    await waitFor(() => seen.closes.length === 1, 2000, "'close'");
    expect(seen).toEqual({ errors: [], closes: [undefined] });

    const unwatched = await h.client({ port });
    const closes: unknown[] = [];
    unwatched.on('close', (error) => closes.push(error));
    await waitFor(() => server.connections.size === 1, 5000, 'the server side');
    for (const c of server.connections) c.destroy();
    const end = await within(unwatched.closed, 5000, 'lost connection');
    expectFwError(end.error, 'CONNECTION_LOST');
    await waitFor(() => closes.length === 1, 2000, "'close'");
    expect(unwatched.listenerCount('error')).toBe(0);
    // The test setup fails the test on any uncaught exception: reaching here means none was thrown.
  });

  it('a refused port: CONNECTION_REFUSED with the ECONNREFUSED as cause, from connect() and from upload()', async () => {
    const port = await closedPort();
    for (const attempt of [connect({ port }) as Promise<unknown>, upload(new Uint8Array(16), { port })]) {
      const r = await within(settle(attempt), 5000, 'refused');
      const error = expectFwError(r.ok ? undefined : r.error, 'CONNECTION_REFUSED');
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    }
  });

  it('the server emits \'connection\' with each Connection it holds, \'close\' once after close(), \'error\' for a port in use (listen() rejects too)', async () => {
    const server = createServer({ onStream: echoHandler() });
    const accepted: Connection[] = [];
    let closes = 0;
    server.on('connection', (c) => accepted.push(c));
    server.on('close', () => closes++);
    const { port } = await server.listen(0);
    const client = await h.client({ port });
    await waitFor(() => accepted.length === 1, 5000, "'connection'");
    expect([...server.connections]).toEqual(accepted);
    await accepted[0]!.ready;
    await server.close();
    await server.close();
    expect(closes).toBe(1);
    expect(await within(client.closed, 2000, 'client closed by GOAWAY')).toEqual({ error: undefined });

    const { port: taken } = await h.server({});
    const other = createServer({});
    const errors: Error[] = [];
    other.on('error', (error) => errors.push(error));
    const busy = await settle(other.listen(taken));
    expect(busy.ok ? 'listening' : (busy.error as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['EADDRINUSE']);
    await other.close();
    // Without an 'error' listener the rejection alone reports it.
    const quiet = createServer({});
    const again = await settle(quiet.listen(taken));
    expect(again.ok ? 'listening' : (again.error as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    await quiet.close();
  });

  it('await using: a connection ends with GOAWAY and a server closes when their scope ends', async () => {
    let kept: Connection | undefined;
    let keptServer: FramewireServer | undefined;
    {
      await using server = createServer({ onStream: echoHandler() });
      keptServer = server;
      const { port } = await server.listen(0);
      {
        await using connection = await connect({ port });
        kept = connection;
        const stream = connection.open({ kind: 'echo' });
        await stream.write(Buffer.from('x'));
        await stream.end();
        for await (const message of stream) expect(Buffer.from(message).toString()).toBe('x');
        expect(connection.isOpen).toBe(true);
      }
      expect(kept.isOpen).toBe(false);
      expect(await kept.closed).toEqual({ error: undefined });
    }
    expect(keptServer.address).toBeUndefined();
  });
});
