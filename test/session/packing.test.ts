/**
 * Packed messages (spec §8.2.6, FW-PACK-1..5): the session as sender and receiver against a
 * scripted peer, and two real sessions end to end. PACKED payloads are built and decoded by hand
 * here, not with src/wire/packed.ts, so the codec is checked against the spec's layout.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../src/session/index.ts';
import { resolveSessionOptions } from '../../src/session/options.ts';
import { DataFlags, FrameType, type Frame, type Settings } from '../../src/wire/index.ts';
import {
  bytes,
  connectedClient,
  connectedServer,
  dataBytes,
  dataFrames,
  errorCodes,
  expectConnectionError,
  expectStillOpen,
  flush,
  invalidArgument,
  ofType,
  pair,
  readAll,
  settle,
  startServer,
  text,
  trace,
  type Harness,
} from './helpers.ts';

const F = DataFlags.FOLLOWS;
const P = DataFlags.PACKED;

/** A PACKED payload of `records`, each behind a u32 big-endian length (FW-PACK-2). */
function packed(...records: (string | number | Uint8Array)[]): Uint8Array {
  const parts = records.map(bytes);
  const out = new Uint8Array(parts.reduce((n, r) => n + 4 + r.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const r of parts) {
    view.setUint32(at, r.length);
    out.set(r, at + 4);
    at += 4 + r.length;
  }
  return out;
}

/** The records of a PACKED payload; throws unless they fill it exactly. */
function unpack(payload: Uint8Array): Uint8Array[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < payload.length; ) {
    if (payload.length - at < 4) throw new Error(`${payload.length - at} stray bytes`);
    const n = view.getUint32(at);
    if (at + 4 + n > payload.length) throw new Error(`record of ${n} overruns the payload`);
    out.push(payload.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

/** The messages our DATA frames on `stream` carry, reassembled as a receiver would (FW-STREAM-13, FW-PACK-3). */
function sentMessages(frames: readonly Frame[], stream: number): string[] {
  const out: string[] = [];
  let open: string | undefined;
  for (const f of dataFrames(frames, stream)) {
    if ((f.flags & P) !== 0) {
      expect(f.flags & F, 'PACKED never has FOLLOWS').toBe(0);
      expect(open, 'PACKED never continues a FOLLOWS message').toBeUndefined();
      out.push(...unpack(f.payload).map(text));
      continue;
    }
    open = (open ?? '') + text(f.payload);
    if ((f.flags & F) === 0) {
      out.push(open);
      open = undefined;
    }
  }
  return out;
}

const isPacked = (f: { flags: number }): boolean => (f.flags & P) !== 0;
const packedCounts = (frames: readonly Frame[], stream: number): number[] => dataFrames(frames, stream).map((f) => (isPacked(f) ? unpack(f.payload).length : 0));
const creditOffsets = (frames: readonly Frame[], stream: number): number[] => ofType(frames, FrameType.CREDIT, stream).map((f) => f.payload);
/** Distinct printable messages of the given lengths, so order is visible. */
const msgs = (...lengths: number[]): string[] => lengths.map((n, i) => String.fromCharCode(0x41 + (i % 26)).repeat(n));

async function sendAll(h: Harness, messages: readonly string[], end = true): Promise<Stream> {
  const s = h.session.open({ kind: 'pack' });
  for (const m of messages) void s.write(bytes(m));
  if (end) void s.end();
  await flush();
  return s;
}

describe('packing: sending', () => {
  it('FW-PACK-2/FW-PACK-3: small messages queued in one tick go out as one PACKED frame, in order, before DONE', async () => {
    const h = await connectedClient({}, { packedMessages: 1 });
    const s = await sendAll(h, ['hi', '', 'abc', 'defg']);
    const frames = h.transport.frames.filter((f) => f.stream === s.id);
    expect(trace(frames)).toEqual([`OPEN ${s.id}`, `DATA ${s.id}`, `DONE ${s.id}`]);
    const [d] = dataFrames(frames);
    expect(d!.flags).toBe(P);
    expect(unpack(d!.payload).map(text)).toEqual(['hi', '', 'abc', 'defg']);
    expect(d!.payload.length).toBe(4 * 4 + 9);
    expect(h.session.stats).toMatchObject({ packedFramesOut: 1, packedMessagesOut: 4, dataBytesOut: 25 });
  });

  it('FW-PACK-2: a message queued alone goes in a plain frame', async () => {
    const h = await connectedClient({}, { packedMessages: 1 });
    const s = await sendAll(h, ['one'], false);
    void s.write(bytes('two'));
    await flush();
    expect(dataFrames(h.transport.frames, s.id).map((f) => [f.flags, text(f.payload)])).toEqual([
      [0, 'one'],
      [0, 'two'],
    ]);
    expect(h.session.stats.packedFramesOut).toBe(0);
  });

  it('FW-PACK-2: messages over packMaxMessage go plain and keep their order among packed ones', async () => {
    const h = await connectedClient({}, { packedMessages: 1 });
    const m = msgs(10, 10, 1025, 10, 1024, 10, 2000, 10, 3000);
    const s = await sendAll(h, m);
    expect(sentMessages(h.transport.frames, s.id)).toEqual(m);
    // [10, 10] packed, 1025 plain, [10, 1024, 10] packed, 2000 plain, 10 alone plain, 3000 plain.
    expect(packedCounts(h.transport.frames, s.id)).toEqual([2, 0, 3, 0, 0, 0]);

    const small = await connectedClient({ limits: { packMaxMessage: 16 } }, { packedMessages: 1 });
    const m2 = msgs(16, 16, 17, 3, 3);
    const s2 = await sendAll(small, m2);
    expect(sentMessages(small.transport.frames, s2.id)).toEqual(m2);
    expect(packedCounts(small.transport.frames, s2.id)).toEqual([2, 0, 2]);
  });

  it('FW-PACK-4: pieces written with endOfMessage:false are never packed, nor is the rest of their message', async () => {
    const h = await connectedClient({}, { packedMessages: 1 });
    const s = h.session.open({ kind: 'pack' });
    void s.write(bytes('x1'));
    void s.write(bytes('x2'));
    void s.write(bytes('ab'), { endOfMessage: false });
    void s.write(bytes('cd'), { endOfMessage: false });
    void s.write(bytes('ef'));
    void s.write(bytes('y1'));
    void s.write(bytes('y2'));
    void s.end();
    await flush();
    const frames = dataFrames(h.transport.frames, s.id);
    expect(sentMessages(h.transport.frames, s.id)).toEqual(['x1', 'x2', 'abcdef', 'y1', 'y2']);
    expect(frames.filter((f) => (f.flags & F) !== 0).map((f) => text(f.payload))).toEqual(['ab', 'cd']);
    for (const f of frames.filter(isPacked)) expect(unpack(f.payload).map(text)).not.toContain('ef');
  });

  it('FW-PACK-2: PACKED frames stay within packMaxFrame', async () => {
    const h = await connectedClient({ limits: { packMaxFrame: 64 } }, { packedMessages: 1 });
    const m = Array.from({ length: 20 }, (_, i) => `m${String(i).padStart(10, '0')}`); // 11 bytes: 15 packed
    const s = await sendAll(h, m);
    expect(sentMessages(h.transport.frames, s.id)).toEqual(m);
    const sizes = dataFrames(h.transport.frames, s.id).map((f) => f.payload.length);
    expect(sizes).toEqual([60, 60, 60, 60, 60]);
  });

  it("FW-FRAME-3: PACKED frames stay within the peer's max_frame_payload", async () => {
    const h = await connectedClient({}, { packedMessages: 1, maxFramePayload: 1024 });
    const m = Array.from({ length: 60 }, (_, i) => String(i).padStart(100, '.'));
    const s = await sendAll(h, m);
    expect(sentMessages(h.transport.frames, s.id)).toEqual(m);
    const frames = dataFrames(h.transport.frames, s.id);
    expect(frames.every(isPacked)).toBe(true);
    expect(Math.max(...frames.map((f) => f.payload.length))).toBe(9 * 104);
  });

  it('FW-FLOW-1: PACKED frames (length fields included) stay within the stream credit', async () => {
    const h = await connectedClient({}, { packedMessages: 1, initialStreamCredit: 50 });
    const m = Array.from({ length: 30 }, (_, i) => `msg${String(i).padStart(3, '0')}`); // 6 bytes: 10 packed
    const s = await sendAll(h, m);
    let limit = 50;
    const check = (): void => {
      expect(dataBytes(h.transport.frames, s.id)).toBeLessThanOrEqual(limit);
      for (const f of dataFrames(h.transport.frames, s.id)) expect(f.payload.length).toBeLessThanOrEqual(50);
    };
    check();
    expect(dataBytes(h.transport.frames, s.id)).toBe(50);
    expect(packedCounts(h.transport.frames, s.id)).toEqual([5]);
    // 14 more: only one message would fit packed, so plain frames: 6, 6, and 2 of the next (FOLLOWS).
    limit += 14;
    h.peer.credit(s.id, limit);
    await flush();
    check();
    expect(dataFrames(h.transport.frames, s.id).map((f) => [f.flags, f.payload.length])).toEqual([
      [P, 50],
      [0, 6],
      [0, 6],
      [F, 2],
    ]);
    for (let i = 0; i < 10 && sentMessages(h.transport.frames, s.id).length < m.length; i++) {
      limit += 50;
      h.peer.credit(s.id, limit);
      await flush();
      check();
    }
    expect(sentMessages(h.transport.frames, s.id)).toEqual(m);
    expect(trace(h.transport.frames.filter((f) => f.stream === s.id)).at(-1)).toBe(`DONE ${s.id}`);
  });

  it('FW-FLOW-1: PACKED frames (length fields included) stay within the connection credit', async () => {
    const h = await connectedClient({}, { packedMessages: 1, initialConnectionCredit: 45 });
    const [a, b] = [h.session.open({ kind: 'a' }), h.session.open({ kind: 'b' })];
    for (let i = 0; i < 10; i++) {
      void a.write(bytes('aaaaaa'));
      void b.write(bytes('bbbbbb'));
    }
    await flush();
    expect(dataBytes(h.transport.frames)).toBeLessThanOrEqual(45);
    expect(dataBytes(h.transport.frames)).toBeGreaterThan(35);
    expect(h.session.stats.packedFramesOut).toBeGreaterThan(0);
    h.peer.credit(0, 1000);
    await flush();
    expect(sentMessages(h.transport.frames, a.id)).toEqual(Array(10).fill('aaaaaa'));
    expect(sentMessages(h.transport.frames, b.id)).toEqual(Array(10).fill('bbbbbb'));
    // Every byte on the wire is a message byte or a length.
    expect(dataBytes(h.transport.frames)).toBe(2 * 10 * 6 + 4 * h.session.stats.packedMessagesOut);
  });

  it('FW-PACK-1: a peer that did not declare packed_messages never gets PACKED', async () => {
    const h = await connectedClient({}, {});
    const m = msgs(...Array<number>(20).fill(5));
    const s = await sendAll(h, m);
    expect(dataFrames(h.transport.frames, s.id).map((f) => f.flags)).toEqual(Array(20).fill(0));
    expect(sentMessages(h.transport.frames, s.id)).toEqual(m);
  });

  it('FW-PACK-1: limits.packMessages false (or packMaxMessage 0) never sends PACKED, even to a peer that declared it', async () => {
    for (const limits of [{ packMessages: false }, { packMaxMessage: 0 }]) {
      const h = await connectedClient({ limits }, { packedMessages: 1 });
      const s = await sendAll(h, msgs(...Array<number>(20).fill(5)));
      expect(dataFrames(h.transport.frames, s.id).filter(isPacked)).toEqual([]);
      expect(h.session.stats.packedFramesOut).toBe(0);
    }
  });
});

describe('packing: receiving', () => {
  /** A server whose peer opened stream 1; `s` is the accepted stream. */
  async function opened(settings: Partial<Settings> = {}): Promise<{ h: Harness; s: Stream }> {
    const h = await connectedServer({ settings });
    h.peer.open(1);
    await flush();
    return { h, s: h.accepted[0]! };
  }

  it('FW-PACK-2/FW-PACK-3: the §7.3 example ("hi", "", "abc") is read as three messages', async () => {
    const { h, s } = await opened();
    h.peer.data(1, 'first');
    h.peer.data(1, packed('hi', '', 'abc'), P);
    h.peer.data(1, 'last');
    h.peer.done(1);
    expect((await readAll(s)).map(text)).toEqual(['first', 'hi', '', 'abc', 'last']);
    expect(h.session.stats.packedFramesIn).toBe(1);
    expect(h.session.stats.dataBytesIn).toBe(5 + 17 + 4);
    expectStillOpen(h);
  });

  it('FW-PACK-3: chunks() yields each record as a chunk of its own', async () => {
    const { h, s } = await opened();
    h.peer.data(1, packed('hi', '', 'abc'), P);
    h.peer.done(1);
    const chunks: string[] = [];
    for await (const c of s.chunks()) chunks.push(text(c));
    expect(chunks).toEqual(['hi', '', 'abc']);
  });

  it('FW-PACK-3: a PACKED payload that straddled socket reads (RawFrame.parts) is read the same', async () => {
    const { h, s } = await opened();
    const payload = packed('hello', 'packed', 'world');
    // Split inside the second length field and inside the last record.
    const parts = [payload.subarray(0, 11), payload.subarray(11, 20), payload.subarray(20)];
    h.session.receive({ type: FrameType.DATA, flags: P, stream: 1, seq: h.peer.nextSeq(1), payload, parts, payloadLength: payload.length });
    h.peer.done(1);
    expect((await readAll(s)).map(text)).toEqual(['hello', 'packed', 'world']);
  });

  it('FW-FLOW-4: the length fields count as consumed at unpack, the records when read', async () => {
    const { h, s } = await opened({ initialStreamCredit: 64, initialConnectionCredit: 64 });
    h.peer.data(1, packed(12, 12), P); // 32 bytes: half the window only with the lengths
    await flush();
    expect(s.bufferedBytes).toBe(24);
    expect(h.session.bufferedBytes).toBe(24);
    expect(ofType(h.transport.frames, FrameType.CREDIT)).toEqual([]);
    expect((await s.read())?.length).toBe(12);
    await flush();
    expect(ofType(h.transport.frames, FrameType.CREDIT)).toEqual([]);
    expect((await s.read())?.length).toBe(12);
    await flush();
    expect(creditOffsets(h.transport.frames, 1)).toEqual([32 + 64]);
    expect(creditOffsets(h.transport.frames, 0)).toEqual([32 + 64]);
    expect([s.bufferedBytes, h.session.bufferedBytes]).toEqual([0, 0]);
    // The peer may now fill the new limit exactly, with a PACKED frame that costs its lengths too.
    h.peer.data(1, packed(28, 28), P);
    await flush();
    expectStillOpen(h);
    expect(s.bufferedBytes).toBe(56);
  });

  it('FW-FLOW-2: the length fields count against the window', async () => {
    const { h } = await opened({ initialStreamCredit: 64 });
    h.peer.data(1, packed(28, 29), P); // 57 bytes of messages, 65 on the wire
    await expectConnectionError(h, 'FLOW_CONTROL');
  });

  const u32 = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
  /** [what is wrong, the frame's flags, its payload, a FOLLOWS piece sent before it] */
  const bad: [string, number, Uint8Array, string?][] = [
    ['with FOLLOWS set as well', P | F, packed(600, 'x')],
    ['inside an unfinished FOLLOWS message', P, packed(600, 'x'), 'part'],
    ['with an empty payload', P, new Uint8Array(0)],
    ...[1, 2, 3].map((k): [string, number, Uint8Array] => [`with ${k} stray byte(s) after the last record`, P, cat(packed(600, 'x'), new Uint8Array(k))]),
    ['with a length that overruns the payload', P, cat(packed('x'), u32(601), new Uint8Array(600))],
    ['with a zero-length record, then an overrun', P, cat(packed('', 600), u32(1))],
  ];

  it.each(bad)('FW-PACK-4: PACKED DATA %s fails the stream with PROTOCOL_ERROR and delivers none of it', async (_, flags, payload, piece) => {
    const { h, s } = await opened({ initialStreamCredit: 1000, initialConnectionCredit: 1000 });
    h.peer.data(1, 'before');
    expect(text((await s.read())!)).toBe('before');
    if (piece !== undefined) h.peer.data(1, piece, F);
    h.peer.data(1, payload, flags);
    await flush();
    expect(errorCodes(h.transport.frames, 1)).toEqual(['PROTOCOL_ERROR']);
    await expect(s.read()).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    expect(await s.outcome).toMatchObject({ status: 'failed', error: { code: 'PROTOCOL_ERROR' } });
    expectStillOpen(h);
    // FW-FLOW-7: the frame's bytes went back to the connection window (with a CREDIT once half of it is due).
    expect(h.session.bufferedBytes).toBe(0);
    const received = h.session.stats.dataBytesIn;
    const credits = creditOffsets(h.transport.frames, 0);
    // Without the bad frame's bytes, less than half the window would have been consumed.
    expect(credits.length).toBe(received >= 600 ? 1 : 0);
    if (received >= 600) expect(credits[0]).toBeGreaterThanOrEqual(1000 + 600);
    const limit = credits.at(-1) ?? 1000;
    // The connection carries on: another stream may use all the connection window left.
    h.peer.open(3);
    h.peer.data(3, limit - received);
    await flush();
    expectStillOpen(h);
    expect(h.accepted[1]!.bufferedBytes).toBe(limit - received);
  });

  it('FW-PACK-5: a record over max_message_size is MESSAGE_TOO_LARGE and none of the frame is delivered', async () => {
    const { h, s } = await opened({ maxMessageSize: 100 });
    h.peer.data(1, packed('ok', 100), P);
    expect((await s.read())?.length).toBe(2);
    expect((await s.read())?.length).toBe(100);
    h.peer.data(1, packed('ok', 101, 'x'), P);
    await flush();
    expect(errorCodes(h.transport.frames, 1)).toEqual(['MESSAGE_TOO_LARGE']);
    await expect(s.read()).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    expectStillOpen(h);
    expect(h.session.bufferedBytes).toBe(0);
  });

  it('FW-PACK-1: we declare packed_messages = 1 unless configured otherwise', () => {
    for (const [settings, declared] of [[{}, 1], [{ packedMessages: 0 }, 0]] as const) {
      const h = startServer({ settings });
      h.peer.hello();
      const [hello] = ofType(h.transport.frames, FrameType.HELLO);
      expect(hello!.payload.settings.packedMessages).toBe(declared);
    }
  });

  it('FW-PACK-1: PACKED DATA to a session that declared packed_messages = 0 is a PROTOCOL_ERROR connection error', async () => {
    const { h } = await opened({ packedMessages: 0 });
    h.peer.data(1, packed('hi', 'there'), P);
    await expectConnectionError(h, 'PROTOCOL_ERROR');
  });
});

describe('packing: options', () => {
  it('limits.packMessages must be a boolean, packMaxMessage/packMaxFrame non-negative numbers', () => {
    expect(() => resolveSessionOptions({ role: 'client', limits: { packMessages: 'yes' as never } })).toThrow(invalidArgument);
    expect(() => resolveSessionOptions({ role: 'client', limits: { packMaxFrame: -1 } })).toThrow(invalidArgument);
    expect(() => resolveSessionOptions({ role: 'client', limits: { packMaxMessage: Number.NaN } })).toThrow(invalidArgument);
    expect(() => resolveSessionOptions({ role: 'client', settings: { packedMessages: 2 } })).toThrow(invalidArgument);
    const o = resolveSessionOptions({ role: 'client' });
    expect(o.settings.packedMessages).toBe(1);
    expect(o.limits).toMatchObject({ packMessages: true, packMaxMessage: 1024, packMaxFrame: 16384 });
  });
});

describe('packing: two real sessions', () => {
  /** One message of `size` bytes, written in pieces ending at `cuts` (endOfMessage:false), then the rest; awaited or not. */
  type Write = { size: number; cuts: number[]; wait: boolean };
  // Mostly small, unsplit, not awaited: the runs that get packed, with splits and waits among them.
  const write: fc.Arbitrary<Write> = fc
    .record({
      size: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 40 }), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 3000 }), weight: 1 }),
      cuts: fc.oneof({ arbitrary: fc.constant<number[]>([]), weight: 3 }, { arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), weight: 1 }),
      wait: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    })
    .map((w) => ({ ...w, cuts: w.cuts.map((c) => c % (w.size + 1)).sort((a, b) => a - b) }));

  /** A write not awaited: its failure shows in what arrives, not as an unhandled rejection. */
  const quiet = (p: Promise<void>): void => void p.catch(() => undefined);

  /** Message i: its bytes depend on i, so a reordering or a mix-up shows. */
  const body = (i: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, k) => (i * 7 + k) & 0xff);

  async function roundTrip(writes: readonly Write[], packMessages: boolean): Promise<{ got: Uint8Array[]; want: Uint8Array[]; packed: number }> {
    let got: Promise<unknown> | undefined;
    const p = await pair({ client: { limits: { packMessages } }, onServerStream: (s) => void (got = readAll(s).catch((e: unknown) => e)) });
    const s = p.client.open({ kind: 'prop' });
    const want: Uint8Array[] = [];
    for (const [i, w] of writes.entries()) {
      const m = body(i, w.size);
      want.push(m);
      let at = 0;
      for (const cut of w.cuts) {
        quiet(s.write(m.subarray(at, cut), { endOfMessage: false }));
        at = cut;
      }
      const last = s.write(m.subarray(at));
      if (w.wait) await last;
      else quiet(last);
    }
    await s.end();
    await settle();
    expect(got).toBeDefined();
    return { got: (await got!) as Uint8Array[], want, packed: p.client.stats.packedFramesOut };
  }

  for (const packMessages of [true, false]) {
    it(`FW-PACK-3/FW-STREAM-13: random messages and FOLLOWS splits arrive intact and in order (packing ${packMessages ? 'on' : 'off'})`, async () => {
      let packedRuns = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(write, { maxLength: 40, size: 'max' }), async (writes) => {
          const r = await roundTrip(writes, packMessages);
          expect(Array.isArray(r.got), String(r.got)).toBe(true);
          expect(r.got.map((m) => Buffer.from(m).toString('hex'))).toEqual(r.want.map((m) => Buffer.from(m).toString('hex')));
          if (!packMessages) expect(r.packed).toBe(0);
          if (r.packed > 0) packedRuns++;
        }),
        { numRuns: 50 },
      );
      // The generator is biased so that most runs do pack: the property is about packing.
      if (packMessages) expect(packedRuns).toBeGreaterThan(10);
    });
  }

  it('FW-PACK-3: a run of small messages is packed, and the receiver counts the PACKED frames', async () => {
    let got: Promise<Uint8Array[]> | undefined;
    const p = await pair({ onServerStream: (s) => void (got = readAll(s)) });
    const s = p.client.open({ kind: 'many' });
    const want = Array.from({ length: 500 }, (_, i) => `message ${i}`);
    for (const m of want) void s.write(bytes(m));
    await s.end();
    await settle();
    expect((await got!).map(text)).toEqual(want);
    expect(p.client.stats.packedFramesOut).toBeGreaterThan(0);
    expect(p.client.stats.packedMessagesOut).toBeGreaterThan(want.length / 2);
    expect(p.server.stats.packedFramesIn).toBe(p.client.stats.packedFramesOut);
    expect(ofType(p.clientTransport.sent, FrameType.DATA).length).toBeLessThan(want.length / 10);
  });

  it('streamWriteBuffer: an awaited loop of empty messages is paced (each write costs 20 bytes) and all arrive', async () => {
    let count: Promise<number> | undefined;
    const p = await pair({
      client: { limits: { streamWriteBuffer: 64 * 1024 } },
      onServerStream: (s) =>
        void (count = (async () => {
          let n = 0;
          for await (const m of s) if (m.length === 0) n++;
          return n;
        })()),
    });
    const s = p.client.open({ kind: 'empty' });
    const empty = new Uint8Array(0);
    // A write that need not wait returns one shared settled promise; any other promise means the writer waited.
    const noWait = s.write(empty);
    let waited = 0;
    // Before, a write of 0 bytes never waited: the loop starved the pump (a nextTick) and queued without bound.
    for (let i = 1; i < 20_000; i++) {
      const w = s.write(empty);
      if (w !== noWait) waited++;
      await w;
    }
    await s.end();
    await settle();
    expect(await count!).toBe(20_000);
    // 64 KiB / 20 B per queued write: the writer had to wait every ~3,300 messages.
    expect(waited).toBeGreaterThanOrEqual(5);
  });
});
