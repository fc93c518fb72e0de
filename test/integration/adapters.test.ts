/**
 * Node and Web stream views of a framewire stream over real TCP: pipeline() carries a file through
 * and back, Web streams round-trip, and tearing the view down cancels the framewire stream (the
 * peer sees 'cancelled', never a silent success).
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { toDuplex, toReadableStream, toWritableStream, type Stream, type StreamOutcome } from '../../src/index.ts';
import { echoHandler, Harness, KiB, MiB, readAll, settle, sha256, waitFor, within } from './helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

const dir = mkdtempSync(join(tmpdir(), 'framewire-adapters-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Echoes the byte-stream view, chunk for chunk. */
async function chunkEcho(stream: Stream): Promise<void> {
  for await (const c of stream.chunks()) await stream.write(c);
  await stream.end();
}

/** A server whose handler records each stream's outcome and then echoes (or just waits). */
async function recordingServer(mode: 'echo' | 'hold'): Promise<{ port: number; outcomes: Promise<StreamOutcome>[] }> {
  const outcomes: Promise<StreamOutcome>[] = [];
  const { port } = await h.server({
    onStream: async (stream) => {
      outcomes.push(stream.outcome);
      if (mode === 'echo') await chunkEcho(stream);
      else await settle(readAll(stream));
    },
  });
  return { port, outcomes };
}

describe('adapters over TCP', () => {
  it('toDuplex + stream.pipeline: a 5 MiB file goes out and comes back byte-identical', async () => {
    const { port } = await h.server({ onStream: chunkEcho });
    const client = await h.client({ port });
    const source = join(dir, 'source.bin');
    const target = join(dir, 'target.bin');
    const data = randomBytes(5 * MiB + 123);
    writeFileSync(source, data);
    const stream = client.open({ kind: 'echo', target: 'source.bin' });
    const duplex = toDuplex(stream);
    await within(pipeline(createReadStream(source, { highWaterMark: 100 * KiB }), duplex, createWriteStream(target)), 15_000, 'file pipeline');
    const back = readFileSync(target);
    expect(back.length).toBe(data.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect((await within(stream.outcome, 5000, 'outcome')).status).toBe('completed');
  });

  it('toDuplex on both ends: the server pipes through a Node Duplex as well', async () => {
    const { port } = await h.server({
      onStream: async (stream) => {
        const d = toDuplex(stream);
        const parts: Buffer[] = [];
        // Not `for await (const c of d)`: a Readable's iterator destroys the stream when it ends,
        // which for a Duplex would cancel the framewire stream before we answer.
        for await (const c of d.iterator({ destroyOnReturn: false })) parts.push(c as Buffer);
        d.end(Buffer.from(createHash('sha256').update(Buffer.concat(parts)).digest('hex')));
        await new Promise<void>((resolve, reject) => d.once('finish', resolve).once('error', reject));
      },
    });
    const client = await h.client({ port });
    const stream = client.open({ kind: 'digest' });
    const data = randomBytes(2 * MiB);
    const d = toDuplex(stream);
    const answer: Buffer[] = [];
    d.on('data', (c: Buffer) => answer.push(c));
    const ended = new Promise<void>((resolve, reject) => d.once('end', resolve).once('error', reject));
    d.end(data);
    await within(ended, 10_000, 'digest answer');
    expect(Buffer.concat(answer).toString()).toBe(createHash('sha256').update(data).digest('hex'));
    expect((await within(stream.outcome, 5000, 'outcome')).status).toBe('completed');
  });

  it('toWritableStream / toReadableStream round trip keeps messages and completes', async () => {
    const { port } = await h.server({ onStream: echoHandler() });
    const client = await h.client({ port });
    const stream = client.open({ kind: 'echo' });
    const readable = toReadableStream(stream);
    const writable = toWritableStream(stream);
    const messages = Array.from({ length: 200 }, (_, i) => randomBytes((i * 997) % (40 * KiB)));
    const reading = (async () => {
      const out: Uint8Array[] = [];
      const reader = readable.getReader();
      for (;;) {
        const r = await reader.read();
        if (r.done) return out;
        out.push(r.value);
      }
    })();
    const writer = writable.getWriter();
    for (const m of messages) await writer.write(m);
    await writer.close();
    const out = await within(reading, 10_000, 'web read');
    expect(sha256(out)).toBe(sha256(messages));
    expect((await within(stream.outcome, 5000, 'outcome')).status).toBe('completed');
  });

  it('FW-STREAM-5: destroying the Duplex mid-transfer cancels the framewire stream; the peer sees cancelled', async () => {
    const { port, outcomes } = await recordingServer('hold');
    const client = await h.client({ port });
    const stream = client.open({ kind: 'upload' });
    const duplex = toDuplex(stream);
    duplex.on('error', () => undefined);
    for (let i = 0; i < 8; i++) duplex.write(randomBytes(64 * KiB));
    await waitFor(() => outcomes.length === 1, 5000, 'server saw the stream');
    duplex.destroy();
    const local = await within(stream.outcome, 5000, 'local outcome');
    expect(local.status).toBe('cancelled');
    const [remote] = await within(Promise.all(outcomes), 5000, 'remote outcome');
    expect(remote!.status).toBe('cancelled');
    if (remote!.status === 'cancelled') {
      expect(remote!.error.code).toBe('CANCELLED');
      expect(remote!.error.remote).toBe(true);
    }
    // The connection itself is unharmed.
    expect(client.session.isOpen).toBe(true);
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
  });

  it('FW-STREAM-5: destroying the Duplex with an error cancels too, and the reason reaches the peer', async () => {
    const { port, outcomes } = await recordingServer('hold');
    const client = await h.client({ port });
    const stream = client.open({ kind: 'upload' });
    const duplex = toDuplex(stream);
    const errored = new Promise((resolve) => duplex.once('error', resolve));
    duplex.write(Buffer.from('x'));
    await waitFor(() => outcomes.length === 1, 5000, 'server saw the stream');
    duplex.destroy(new Error('disk full'));
    await within(errored, 2000, 'duplex error');
    const [remote] = await within(Promise.all(outcomes), 5000, 'remote outcome');
    expect(remote!.status).toBe('cancelled');
    if (remote!.status === 'cancelled') expect(remote!.error.message).toBe('disk full');
  });

  it('FW-STREAM-5: cancelling a ReadableStream / aborting a WritableStream cancels the framewire stream', async () => {
    const { port, outcomes } = await recordingServer('hold');
    const client = await h.client({ port });
    const a = client.open({ kind: 'a' });
    await a.write(Buffer.from('a'));
    const b = client.open({ kind: 'b' });
    await b.write(Buffer.from('b'));
    await waitFor(() => outcomes.length === 2, 5000, 'server saw both streams');
    await toReadableStream(a).cancel(new Error('not interested'));
    await toWritableStream(b).abort(new Error('aborted'));
    for (const o of await within(Promise.all(outcomes), 5000, 'remote outcomes')) expect(o.status).toBe('cancelled');
    expect((await a.outcome).status).toBe('cancelled');
    expect((await b.outcome).status).toBe('cancelled');
  });

  it('a Duplex reading from a stream the peer fails emits an error instead of ending cleanly', async () => {
    const { port } = await h.server({
      onStream: async (stream) => {
        await stream.write(Buffer.from('partial'));
        stream.fail('INTERNAL', 'producer crashed');
      },
    });
    const client = await h.client({ port });
    const stream = client.open({ kind: 'x' });
    const duplex = toDuplex(stream);
    const r = await within(
      settle(
        (async () => {
          for await (const _ of duplex) {
            // drain
          }
        })(),
      ),
      5000,
      'duplex read',
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect((r.error as Error).message).toBe('producer crashed');
    expect((await stream.outcome).status).toBe('failed');
  });

  it('README "Using it": a Blob piped into toWritableStream, the answer read through toReadableStream as a fetch Response', async () => {
    const { port } = await h.server({ onStream: chunkEcho });
    const client = await h.client({ port });
    const upstream = client.open({ kind: 'my.echo' });
    const answer = new Response(toReadableStream(upstream));
    await within(new Blob(['hello']).stream().pipeTo(toWritableStream(upstream)), 5000, 'pipeTo');
    expect(await within(answer.text(), 5000, 'the answer')).toBe('hello');
    expect((await upstream.outcome).status).toBe('completed');
  });
});
