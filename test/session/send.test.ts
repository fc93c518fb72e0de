/**
 * send() and drained(): node's write()/'drain' contract on a stream, so a producer of many small
 * messages needs no promise per message; paced by streamWriteBuffer exactly as write() is.
 */

import { describe, expect, it } from 'vitest';
import { bytes, pair, readAll, settle, text } from './helpers.ts';

const KiB = 1024;

describe('send() and drained()', () => {
  it('send() reports room until streamWriteBuffer is full; drained() resolves once frames went out; all arrive in order', async () => {
    let got: Promise<Uint8Array[]> | undefined;
    // The peer grants 16 KiB of stream credit: most of what is queued must wait for CREDIT.
    const p = await pair({
      client: { limits: { streamWriteBuffer: 4 * KiB } },
      server: { settings: { initialStreamCredit: 16 * KiB } },
      onServerStream: (s) => void (got = readAll(s)),
    });
    const s = p.client.open({ kind: 'send' });
    const sent: string[] = [];
    let falses = 0;
    for (let i = 0; i < 2000; i++) {
      const m = `message ${i} `.padEnd(100, '.');
      sent.push(m);
      if (!s.send(bytes(m))) {
        falses++;
        // Each message costs 100 + 20 bytes: the buffer (4 KiB) is full after ~35 of them.
        expect(s.queuedBytes).toBeGreaterThan(3 * KiB);
        await s.drained();
      }
    }
    await s.end();
    await settle();
    expect((await got!).map(text)).toEqual(sent);
    expect(falses).toBeGreaterThan(2000 / 40);
  });

  it('drained() is settled at once while there is room', async () => {
    const p = await pair();
    const s = p.client.open({ kind: 'send' });
    expect(s.send(bytes('x'))).toBe(true);
    const before = s.drained();
    // The same settled promise write() returns when it need not wait.
    expect(before).toBe(s.write(bytes('y')));
    await before;
  });

  it('drained() rejects when the peer cancels the stream; send() after end() throws STREAM_CLOSED', async () => {
    const p = await pair({ client: { limits: { streamWriteBuffer: 1 * KiB } }, server: { settings: { initialStreamCredit: 0 } } });
    const s = p.client.open({ kind: 'send' });
    while (s.send(new Uint8Array(100))) {
      // fill the buffer: the peer granted no credit, nothing leaves
    }
    const waiting = s.drained();
    await settle();
    p.accepted[0]!.cancel('no thanks');
    await expect(waiting).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(s.drained()).rejects.toMatchObject({ code: 'CANCELLED' });

    const t = p.client.open({ kind: 'send2' });
    void t.end();
    expect(() => t.send(bytes('late'))).toThrow(expect.objectContaining({ code: 'STREAM_CLOSED' }));
  });
});
