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
