/**
 * FW-EV-30: the instance is gone from the moment the server processes the subscriber's DONE. A
 * resume read in the same chunk as that DONE used to attach to it (the drop ran a microtask later,
 * from the stream's outcome promise) and got the end again instead of NOT_FOUND.
 */

import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { EventService } from '../../src/events/index.ts';
import { FrameType } from '../../src/wire/index.ts';
import { codeOf, connectedServer, flush, ofType } from '../session/helpers.ts';

describe('FW-EV-30: the confirmed end', () => {
  it('a resume processed right after the subscriber\'s DONE, in the same read, fails with NOT_FOUND {reason: unknown_key}', async () => {
    const events = new EventService();
    events.handle('tokens', async function* () {
      for (const data of [1, 2]) yield await Promise.resolve({ type: 'token', data });
      return { tokens: 2 };
    });
    const h = await connectedServer({}, {}, {
      onStream: (stream, session) => {
        events.handle(stream, session);
      },
    });
    h.peer.open(1, { kind: 'events.subscribe', target: 'tokens', meta: { key: 'k1' } });
    await flush();
    await flush();
    expect(ofType(h.transport.frames, FrameType.DONE, 1)).toHaveLength(1);
    const messages = ofType(h.transport.frames, FrameType.DATA, 1).map((f) => decode(f.payload) as { t: string });
    expect(messages.map((m) => m.t)).toEqual(['start', 'ev', 'ev']);
    // Our DONE and the resume, back to back, before any microtask runs.
    h.peer.done(1);
    h.peer.open(3, { kind: 'events.subscribe', target: 'tokens', meta: { key: 'k1', after: 2 } });
    await flush();
    const errors = ofType(h.transport.frames, FrameType.ERROR, 3);
    expect(errors.map(codeOf)).toEqual(['NOT_FOUND']);
    expect(errors[0]?.payload.details).toStrictEqual({ name: 'tokens', key: 'k1', reason: 'unknown_key' });
    expect(ofType(h.transport.frames, FrameType.DATA, 3)).toEqual([]);
    expect(events.size).toBe(0);
    // The key is free again: an attach without `after` starts a new instance (FW-EV-4).
    h.peer.open(5, { kind: 'events.subscribe', target: 'tokens', meta: { key: 'k1' } });
    await flush();
    const start = ofType(h.transport.frames, FrameType.DATA, 5).map((f) => decode(f.payload) as { t: string; next?: number })[0];
    expect(start).toMatchObject({ t: 'start', next: 1 });
  });
});
