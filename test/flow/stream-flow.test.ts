/** The per-stream flow object (src/flow/stream-flow.ts): one call updates the stream's and the connection's windows. */

import { describe, expect, it } from 'vitest';
import { isFramewireError } from '../../src/errors.ts';
import { CONSUME_BATCH, ConnectionFlow, StreamFlow } from '../../src/flow/index.ts';

function setup(o: { connection?: number; stream?: number } = {}): { conn: ConnectionFlow; flow: StreamFlow; credits: () => number } {
  let credits = 0;
  const conn = new ConnectionFlow({
    receiveWindow: o.connection ?? 1000,
    maxReceiveWindow: o.connection ?? 1000,
    now: () => 0,
    rttMs: () => 0,
    onCredit: () => {
      credits++;
    },
  });
  const flow = new StreamFlow(conn, { sendCredit: 0, receiveWindow: o.stream ?? 400, maxReceiveWindow: o.stream ?? 400, label: 'stream 1' });
  return { conn, flow, credits: () => credits };
}

describe('StreamFlow: sending', () => {
  it('may send the smaller of its own credit and the connection credit, and a send counts against both', () => {
    const { conn, flow } = setup();
    expect(flow.sendAvailable).toBe(0);
    flow.raiseSend(300);
    expect(flow.sendAvailable).toBe(0);
    conn.raiseSend(200);
    expect(flow.sendAvailable).toBe(200);
    flow.sent(150);
    expect(flow.sendAvailable).toBe(50);
    expect(conn.sendAvailable).toBe(50);
    expect(flow.streamCreditExhausted).toBe(false);
    conn.raiseSend(1000);
    expect(flow.sendAvailable).toBe(150);
    flow.sent(150);
    expect(flow.streamCreditExhausted).toBe(true);
    expect(flow.state).toMatchObject({ sent: 300, sendLimit: 300 });
  });

  it('FW-FLOW-3: a lower CREDIT is ignored', () => {
    const { flow } = setup();
    expect(flow.raiseSend(300)).toBe(true);
    expect(flow.raiseSend(200)).toBe(false);
    expect(flow.state.sendLimit).toBe(300);
  });
});

describe('StreamFlow: receiving', () => {
  it('FW-FLOW-2: DATA beyond the connection window is FLOW_CONTROL on the connection, beyond the stream window on the stream', () => {
    const a = setup({ connection: 100, stream: 400 });
    let error: unknown;
    try {
      a.flow.received(101);
    } catch (e) {
      error = e;
    }
    expect(isFramewireError(error) && error.code === 'FLOW_CONTROL' && error.message.startsWith('connection')).toBe(true);
    const b = setup({ connection: 1000, stream: 400 });
    b.flow.received(400);
    expect(() => {
      b.flow.received(1);
    }).toThrow(/stream 1/);
  });

  it('FW-FLOW-4: reads return credit in batches of 1/16 window, or when the queue runs dry', () => {
    const { flow, conn } = setup({ connection: 1600, stream: 1600 });
    flow.received(1600);
    // The batch is min(CONSUME_BATCH, 1600 / 16) = 100 bytes.
    expect(CONSUME_BATCH).toBeGreaterThan(100);
    expect(flow.read(99, false)).toBe(false);
    expect(flow.state.consumed).toBe(0);
    expect(flow.buffered).toBe(1600 - 99);
    expect(flow.read(1, false)).toBe(false);
    expect(flow.state.consumed).toBe(100);
    expect(conn.buffered).toBe(1500);
    flow.read(5, true);
    expect(flow.state.consumed).toBe(105);
    // Half a window consumed: a stream CREDIT is due, and the connection's callback fires.
    expect(flow.read(800, true)).toBe(true);
    expect(flow.receiveLimit).toBe(905 + 1600);
  });

  it('one read returns both the stream and the connection credit', () => {
    const { flow, conn, credits } = setup({ connection: 1000, stream: 1000 });
    flow.received(600);
    expect(flow.consumed(600)).toBe(true);
    expect(credits()).toBe(1);
    expect(conn.receiveLimit).toBe(1600);
    expect(flow.receiveLimit).toBe(1600);
  });

  it('FW-FLOW-7: abandoned bytes return connection credit only; a released stream returns its unread and unreported bytes', () => {
    const { flow, conn } = setup({ connection: 1000, stream: 1000 });
    flow.received(700);
    flow.abandoned(600);
    expect(conn.buffered).toBe(100);
    expect(flow.state.consumed).toBe(0);
    flow.read(10, false);
    flow.released(90);
    expect(conn.buffered).toBe(0);
  });

  it('after the peer ended its direction, reads return connection credit only', () => {
    const { flow, conn } = setup({ connection: 1000, stream: 1000 });
    flow.received(800);
    flow.endReceive();
    expect(flow.consumed(800)).toBe(false);
    expect(flow.state.consumed).toBe(0);
    expect(conn.buffered).toBe(0);
  });

  it('a closed connection returns no credit', () => {
    const { flow, conn, credits } = setup({ connection: 1000, stream: 1000 });
    flow.received(800);
    conn.close();
    flow.consumed(800);
    expect(credits()).toBe(0);
    expect(conn.buffered).toBe(800);
  });

  it('DATA for a stream that no longer exists counts against the connection window and comes back at once', () => {
    const { conn } = setup({ connection: 100 });
    conn.discard(100);
    expect(conn.buffered).toBe(0);
    expect(() => {
      conn.discard(101);
    }).toThrow(/connection/);
  });
});
