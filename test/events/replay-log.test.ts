/** The in-memory replay log and the message schemas (spec/EVENTS.md §12.3, §12.6). */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryReplayLog } from '../../src/events/index.ts';
import { decodeClientMessage, decodeServerMessage, encodeAck, encodeEvent, encodeStart, HEARTBEAT_MESSAGE, parseSubscribe } from '../../src/events/protocol.ts';
import { isFramewireError } from '../../src/errors.ts';

const ev = (id: number, size = 10, at = 0) => ({ id, type: 't', bytes: new Uint8Array(size), at });

describe('MemoryReplayLog', () => {
  it('FW-EV-20 FW-EV-21: count and byte limits drop only acknowledged events; without acks the producer must wait', () => {
    const log = new MemoryReplayLog({ maxEvents: 3, maxBytes: 100, maxAgeMs: 0 });
    for (let i = 1; i <= 3; i++) {
      expect(log.hasRoom(10, 0)).toBe(true);
      log.append(ev(i));
    }
    expect(log.hasRoom(10, 0)).toBe(false);
    log.acknowledge(1);
    expect(log.hasRoom(10, 0)).toBe(true);
    log.append(ev(4));
    expect([log.firstId, log.lastId, log.count]).toEqual([2, 4, 3]);
    expect(log.read(1, 10).map((e) => e.id)).toEqual([2, 3, 4]);
    expect(log.read(3, 10).map((e) => e.id)).toEqual([4]);
    // Bytes: 90 would exceed 100 unless acknowledged events make way.
    log.acknowledge(3);
    expect(log.hasRoom(90, 0)).toBe(true);
    log.append({ ...ev(5, 90) });
    expect([log.firstId, log.bytes]).toEqual([4, 100]);
    expect(() => log.hasRoom(101, 0)).toThrow(/maxBytes/);
  });

  it('FW-EV-22: acknowledged events older than maxAgeMs are dropped; unacknowledged ones are kept', () => {
    const log = new MemoryReplayLog({ maxEvents: 100, maxBytes: 10_000, maxAgeMs: 1000 });
    log.append(ev(1, 10, 0));
    log.append(ev(2, 10, 500));
    log.acknowledge(2);
    log.append(ev(3, 10, 600));
    log.trim(1200);
    expect(log.firstId).toBe(2);
    log.trim(5000);
    expect([log.firstId, log.count]).toEqual([3, 1]);
    log.acknowledge(99);
    expect(log.ackedId).toBe(3);
  });

  it('property: ids stay contiguous, limits hold, and nothing above the ack is ever dropped', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 64, max: 400 }),
        fc.array(fc.oneof(fc.record({ op: fc.constant('append' as const), size: fc.integer({ min: 1, max: 64 }) }), fc.record({ op: fc.constant('ack' as const), by: fc.integer({ min: 0, max: 5 }) })), { maxLength: 200 }),
        (maxEvents, maxBytes, ops) => {
          const log = new MemoryReplayLog({ maxEvents, maxBytes, maxAgeMs: 0 });
          for (const o of ops) {
            if (o.op === 'ack') log.acknowledge(log.ackedId + o.by);
            else if (log.hasRoom(o.size, 0)) log.append(ev(log.lastId + 1, o.size));
            expect(log.count).toBeLessThanOrEqual(maxEvents);
            expect(log.bytes).toBeLessThanOrEqual(maxBytes);
            expect(log.firstId).toBeLessThanOrEqual(log.ackedId + 1);
            const all = log.read(0, 1000).map((e) => e.id);
            expect(all).toEqual(Array.from({ length: log.count }, (_, i) => log.firstId + i));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  /** An event whose bytes say which event they are: byte k of event id is (id * 31 + k) & 0xff. */
  const marked = (id: number, size: number, at = 0) => ({ id, type: `t${id % 3}`, bytes: Uint8Array.from({ length: size }, (_, k) => (id * 31 + k) & 0xff), at });
  const intact = (e: { id: number; bytes: Uint8Array }, size: number): boolean => e.bytes.length === size && e.bytes.every((b, k) => b === ((e.id * 31 + k) & 0xff));

  it('property: read returns each retained event byte for byte, and a view read earlier is never overwritten by later appends', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(
          fc.oneof(
            { weight: 6, arbitrary: fc.record({ op: fc.constant('append' as const), size: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1000, max: 20_000 })) }) },
            { weight: 3, arbitrary: fc.record({ op: fc.constant('ack' as const), by: fc.integer({ min: 0, max: 40 }) }) },
            { weight: 1, arbitrary: fc.record({ op: fc.constant('trim' as const), now: fc.integer({ min: 0, max: 2000 }) }) },
            { weight: 1, arbitrary: fc.record({ op: fc.constant('drop' as const) }) },
          ),
          { maxLength: 300 },
        ),
        (maxEvents, ops) => {
          const log = new MemoryReplayLog({ maxEvents, maxBytes: 256 * 1024, maxAgeMs: 1000 });
          const sizes = new Map<number, number>();
          const views: { id: number; bytes: Uint8Array }[] = [];
          let clock = 0;
          for (const o of ops) {
            clock += 10;
            if (o.op === 'ack') log.acknowledge(log.ackedId + o.by);
            else if (o.op === 'trim') log.trim(clock + o.now);
            else if (o.op === 'drop') log.dropAcknowledged();
            else if (log.hasRoom(o.size, clock)) {
              log.append(marked(log.lastId + 1, o.size, clock));
              sizes.set(log.lastId, o.size);
            }
            const all = log.read(0, 10_000);
            expect(all.map((e) => e.id)).toEqual(Array.from({ length: log.count }, (_, i) => log.firstId + i));
            for (const e of all) {
              expect(intact(e, sizes.get(e.id) ?? -1)).toBe(true);
              expect(e.type).toBe(`t${e.id % 3}`);
            }
            if (all.length > 0) views.push(all[all.length - 1]!);
            expect(log.bytes).toBe(all.reduce((n, e) => n + e.bytes.length, 0));
          }
          for (const v of views) expect(intact(v, sizes.get(v.id) ?? -1)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('the memory a log holds stays within its retained bytes and the bounded slack of two segments (64 KiB each at most)', () => {
    const log = new MemoryReplayLog({ maxEvents: 4096, maxBytes: 4 * 1024 * 1024, maxAgeMs: 0 });
    let worst = 0;
    for (let id = 1; id <= 200_000; id++) {
      const size = id % 1000 === 0 ? 9000 : 60 + (id % 90);
      expect(log.hasRoom(size, 0)).toBe(true);
      log.append({ id, type: 't', bytes: new Uint8Array(size), at: 0 });
      log.acknowledge(id - 1);
      worst = Math.max(worst, log.heldBytes - log.bytes);
    }
    expect(worst).toBeLessThanOrEqual(2 * 64 * 1024);
    // A steady window of small events holds under a quarter more than its bytes.
    expect(log.heldBytes).toBeLessThan(1.25 * log.bytes + 2 * 1024);
    expect(log.count).toBe(4096);
    // A quiet log holds little: one small event, one 1 KiB segment.
    const quiet = new MemoryReplayLog();
    quiet.append(marked(1, 100));
    expect(quiet.heldBytes).toBe(1024);
    // Everything acknowledged and dropped: nothing held; the ids go on.
    log.acknowledge(log.lastId);
    log.dropAcknowledged();
    expect([log.count, log.heldBytes, log.firstId]).toEqual([0, 0, 200_001]);
    log.append({ id: 200_001, type: 't', bytes: new Uint8Array(10), at: 0 });
    expect([log.count, log.heldBytes, log.read(0, 10)[0]?.id]).toEqual([1, 1024, 200_001]);
    log.dispose();
    expect(log.heldBytes).toBe(0);
  });
});

describe('event-stream messages', () => {
  it('FW-EV-10 FW-EV-11 FW-EV-31: round trips of start, ev, hb and ack', () => {
    expect(decodeServerMessage(encodeEvent(7, 'token', new Uint8Array([1, 2])))).toEqual({ t: 'ev', id: 7, type: 'token', data: new Uint8Array([1, 2]) });
    expect(decodeServerMessage(HEARTBEAT_MESSAGE)).toEqual({ t: 'hb' });
    expect(decodeServerMessage(encodeStart({ key: 'k1', resumable: true, next: 5, hbMs: 15000, graceMs: 30000, ackEvery: 1024, ackMs: 50 }))).toEqual({
      t: 'start', key: 'k1', resumable: true, next: 5, hbMs: 15000, graceMs: 30000, ackEvery: 1024, ackMs: 50,
    });
    expect(decodeClientMessage(encodeAck(42))).toEqual({ t: 'ack', id: 42 });
  });

  it('FW-EV-3 FW-EV-11: schema violations are MALFORMED_PAYLOAD, never a crash', () => {
    const bad = [encodeEvent(0, 'x', 1), encodeEvent(1, '', 1), Uint8Array.from([0xc1]), Uint8Array.from([0x91, 0x01])];
    for (const b of bad) {
      let error: unknown;
      try {
        decodeServerMessage(b);
      } catch (e) {
        error = e;
      }
      expect(isFramewireError(error) && error.code === 'MALFORMED_PAYLOAD').toBe(true);
    }
    expect(() => parseSubscribe('n', { after: 3 })).toThrow(/needs meta.key/);
    expect(() => parseSubscribe('n', { key: 'a b' })).toThrow(/key/);
    expect(() => parseSubscribe(undefined, {})).toThrow(/name/);
    expect(parseSubscribe('n', { key: 'k', after: 0, params: { a: 1 } })).toEqual({ name: 'n', key: 'k', after: 0, params: { a: 1 } });
  });
});
