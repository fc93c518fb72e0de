/**
 * Issue 12, item 3: every timer, listener and continuation of a connection runs behind one guard.
 * An exception there is a bug: it is reported (error log with the connection and stream ids, the
 * counters, the observers), and it costs one stream or one connection (INTERNAL on the wire),
 * never the process.
 */

import { describe, expect, it } from 'vitest';
import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import { Guard, internalErrorCount, ManualClock, Session, type Stream } from '../../src/session/index.ts';
import { FrameType } from '../../src/wire/index.ts';
import { expectInternalErrors } from '../internal-errors.ts';
import { codeOf, connectedServer, flush, ofType, Peer, RecordingTransport, settle } from './helpers.ts';

/** A transport with a bug: its first write of a frame of `type` throws. */
class FaultyTransport extends RecordingTransport {
  constructor(readonly failType: number) {
    super();
  }
  #failed = false;
  override write(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): void {
    if (type === this.failType && !this.#failed) {
      this.#failed = true;
      throw new TypeError(`broken write of frame type ${type}`);
    }
    super.write(type, flags, stream, seq, payload);
  }
}

function logCapture(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'error' }, dest), lines };
}

describe('the guard', () => {
  it('wraps timers of a clock: an exception is reported and recovered from, and advance() goes on', () => {
    const reports = expectInternalErrors();
    const clock = new ManualClock();
    const recovered: string[] = [];
    const guard = new Guard(undefined, (_e, where) => recovered.push(where), 'c-test');
    const guarded = guard.clock(clock, 'test timer');
    let later = 0;
    guarded.setTimeout(() => {
      throw new Error('timer bug');
    }, 10);
    guarded.setTimeout(() => later++, 20);
    const before = internalErrorCount();
    expect(() => { clock.advance(30); }).not.toThrow();
    expect(later).toBe(1);
    expect(recovered).toEqual(['test timer']);
    expect(internalErrorCount()).toBe(before + 1);
    expect(reports).toMatchObject([{ where: 'test timer', connection: 'c-test', error: { message: 'timer bug' } }]);
  });

  it('a recovery that throws is reported too, and swallowed', () => {
    const reports = expectInternalErrors();
    const guard = new Guard(undefined, () => {
      throw new Error('recovery bug');
    });
    expect(() => { guard.run('work', () => { throw new Error('work bug'); }); }).not.toThrow();
    expect(reports.map((r) => r.where)).toEqual(['work', 'recovering from an error in work']);
  });
});

describe('a session behind its guard', () => {
  it('an exception in a session timer (the handshake deadline) closes that connection with INTERNAL, logged at error level with its id', async () => {
    const reports = expectInternalErrors();
    const { logger, lines } = logCapture();
    const transport = new FaultyTransport(FrameType.ERROR);
    const clock = new ManualClock();
    const session = new Session({ role: 'server', clock, logger, connectionId: 'conn-under-test', limits: { handshakeTimeoutMs: 100 } }, transport);
    session.start();
    expect(() => { clock.advance(150); }).not.toThrow();
    const end = await session.closed;
    expect(end.error?.code).toBe('INTERNAL');
    expect(ofType(transport.frames, FrameType.ERROR, 0).map(codeOf)).toEqual(['INTERNAL']);
    expect(transport.closed).toBe(true);
    expect(session.stats.internalErrors).toBe(1);
    expect(reports).toMatchObject([{ where: 'session timer', connection: 'conn-under-test', error: { message: 'broken write of frame type 7' } }]);
    expect(lines.filter((l) => l['level'] === 50)).toMatchObject([{ msg: 'internal error', conn: 'conn-under-test', where: 'session timer' }]);
  });

  it('an exception while sending (the pump) closes that connection with INTERNAL; the process goes on', async () => {
    const reports = expectInternalErrors();
    const transport = new FaultyTransport(FrameType.CREDIT);
    const clock = new ManualClock();
    const accepted: Stream[] = [];
    const session = new Session({ role: 'server', clock, settings: { initialStreamCredit: 1024 } }, transport, (s) => {
      accepted.push(s);
    });
    session.start();
    const peer = new Peer(session);
    peer.hello();
    peer.open(1);
    peer.data(1, 1024);
    await flush();
    // Reading returns credit: the CREDIT write throws inside the pump.
    await accepted[0]!.read();
    await settle();
    const end = await session.closed;
    expect(end.error?.code).toBe('INTERNAL');
    expect(reports).toMatchObject([{ where: 'sending', error: { message: 'broken write of frame type 4' } }]);
  });

  it('a handler that throws synchronously costs its stream only (INTERNAL, reported with the stream id)', async () => {
    const reports = expectInternalErrors();
    const h = await connectedServer({}, {}, {
      onStream: (stream) => {
        if (stream.kind === 'bad') throw new RangeError('handler bug');
      },
    });
    h.peer.open(1, { kind: 'bad' });
    h.peer.open(3, { kind: 'good' });
    await flush();
    expect(ofType(h.transport.frames, FrameType.ERROR, 1).map(codeOf)).toEqual(['INTERNAL']);
    expect(ofType(h.transport.frames, FrameType.ERROR, 1)[0]!.payload.message).toBe('internal error');
    expect(ofType(h.transport.frames, FrameType.ERROR, 3)).toEqual([]);
    expect(h.session.isOpen).toBe(true);
    expect(reports).toMatchObject([{ stream: 1, error: { message: 'handler bug' } }]);
    expect(h.session.stats.internalErrors).toBe(1);
  });
});
