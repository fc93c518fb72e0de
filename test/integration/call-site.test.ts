/**
 * Issue 12, items 2 and 14 over TCP, as they were found: bad arguments used to blow up later in the
 * pump ("uncaughtException: Unrecognized object: [object Function]"), and a server echoed a DONE
 * trailer larger than the client's declared max_frame_payload, so a conforming client failed the
 * connection with FRAME_SIZE.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { conformanceService } from '../../src/conformance/index.ts';
import { echoHandler, Harness, readAll, settle, within } from './helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

describe('call-site checks over TCP', () => {
  it('open() with a function in meta and end() with one in the trailer fail where they are called; the connection goes on', async () => {
    const { port } = await h.server({ onStream: echoHandler() });
    const client = await h.client({ port });
    expect(() => client.open({ kind: 'echo', meta: { f: () => 1 } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const s = client.open({ kind: 'echo' });
    await s.write(Buffer.from('hi'));
    await expect(s.end({ f: () => 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const reading = readAll(s);
    await s.end();
    expect((await within(reading, 5000, 'echo')).map((m) => Buffer.from(m).toString())).toEqual(['hi']);
    expect((await s.outcome).status).toBe('completed');
    expect(client.session.isOpen).toBe(true);
  });

  it("a handler whose DONE trailer exceeds the client's max_frame_payload: end() rejects with MESSAGE_TOO_LARGE, the client gets that code, the connection lives", async () => {
    const { server, port } = await h.server({
      onStream: async (stream) => {
        for await (const _ of stream) {
          // Drain the request.
        }
        // 1000 bytes fit towards the server (64 KiB), but not towards this client (1024 in all).
        await stream.end({ pad: 'x'.repeat(1000), more: 'y'.repeat(100) });
      },
    });
    const client = await h.client({ port, settings: { maxFramePayload: 1024 } });
    const s = client.open({ kind: 'big-trailer' });
    void s.end();
    const outcome = await within(s.outcome, 5000, 'outcome');
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'MESSAGE_TOO_LARGE', remote: true } });
    await settle(readAll(s));
    expect(client.session.isOpen).toBe(true);
    expect(client.session.stats.errors.size).toBe(0);
    expect([...server.connections][0]!.session.stats.internalErrors).toBe(0);
  });

  it("conformance.echo leaves out a client trailer that would not fit the client's max_frame_payload; the connection lives", async () => {
    const { port } = await h.server({ services: [conformanceService()] });
    const client = await h.client({ port, settings: { maxFramePayload: 1024 } });
    const s = client.open({ kind: 'conformance.echo' });
    void s.end({ pad: 'x'.repeat(1000) });
    expect(await within(s.outcome, 5000, 'echo outcome')).toMatchObject({ status: 'completed', trailer: { client_trailer_omitted: true } });
    expect(client.session.isOpen).toBe(true);
    expect(client.session.stats.errors.size).toBe(0);
  });
});
