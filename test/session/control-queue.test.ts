/** The control queue on its own: bounded, CREDIT coalesced per stream and for the connection, drained in order. */

import { describe, expect, it } from 'vitest';
import { ControlQueue, type ControlSink } from '../../src/session/control-queue.ts';
import type { StreamCore } from '../../src/session/stream-core.ts';
import { FrameType, parseFrame } from '../../src/wire/index.ts';

/** Just what the queue reads of a stream. */
const fakeStream = (id: number, limit: number): StreamCore =>
  ({ id, ended: false, receiveEnded: false, opened: true, flow: { receiveLimit: limit }, signal: new AbortController().signal }) as unknown as StreamCore;

function recordingSink(connectionLimit: () => number): { sink: ControlSink; written: string[] } {
  const written: string[] = [];
  const show = (type: number, stream: number, payload: Uint8Array): string => {
    const f = parseFrame({ type, flags: 0, stream, seq: 0, payload });
    return `${f.type === FrameType.CREDIT ? 'CREDIT' : f.type === FrameType.ACK ? 'ACK' : String(f.type)} ${stream} ${JSON.stringify(f.payload)}`;
  };
  return {
    written,
    sink: {
      streamFrame: (s, type, _flags, payload) => written.push(show(type, s.id, payload)),
      connectionFrame: (type, _flags, payload) => written.push(show(type, 0, payload)),
      frame: (type, _flags, stream, _seq, payload) => written.push(show(type, stream, payload)),
      opened: () => undefined,
      connectionLimit,
    },
  };
}

describe('ControlQueue', () => {
  it('coalesces CREDIT per stream and for the connection until written, with the limit current at writing', () => {
    const q = new ControlQueue(100);
    const s = fakeStream(1, 1000);
    let connLimit = 5000;
    const { sink, written } = recordingSink(() => connLimit);
    expect(q.pushCredit(s)).toBe(true);
    expect(q.pushCredit(s)).toBe(true);
    expect(q.pushCredit(undefined)).toBe(true);
    expect(q.pushCredit(undefined)).toBe(true);
    expect(q.push({ kind: 'ack', stream: s, seq: 3 })).toBe(true);
    (s.flow as { receiveLimit: number }).receiveLimit = 2000;
    connLimit = 9000;
    q.drain(sink, () => false);
    expect(written).toEqual(['CREDIT 1 2000', 'CREDIT 0 9000', 'ACK 1 3']);
    expect(q.pending).toBe(false);
    // Written: the next CREDIT queues again.
    q.pushCredit(s);
    q.drain(sink, () => false);
    expect(written.at(-1)).toBe('CREDIT 1 2000');
  });

  it('refuses entries beyond its bound, and a drain stops when the connection closed meanwhile', () => {
    const q = new ControlQueue(2);
    const s = fakeStream(3, 10);
    expect(q.push({ kind: 'ack', stream: s, seq: 0 })).toBe(true);
    expect(q.push({ kind: 'ack', stream: s, seq: 1 })).toBe(true);
    expect(q.push({ kind: 'ack', stream: s, seq: 2 })).toBe(false);
    const { sink, written } = recordingSink(() => 0);
    q.drain(sink, () => written.length === 1);
    expect(written).toEqual(['ACK 3 0']);
    expect(q.pending).toBe(true);
  });
});
