/**
 * Issue 12, item 1: a subscriber that receives the server's DONE and never sends its own. The
 * instance's heartbeat used to write to the closed send side, and `write()` threw synchronously
 * inside the interval: the process died ("write after end()"). Now the heartbeat skips a stream
 * whose send side is closed, and write() only ever rejects.
 */

import { describe, expect, it } from 'vitest';
import { EventService } from '../../src/api/events.ts';
import { decodeServerMessage, SUBSCRIBE_KIND } from '../../src/events/protocol.ts';
import { ManualClock } from '../../src/session/index.ts';
import { echoHandler, within } from '../integration/helpers.ts';
import { advance } from '../integration/memory-network.ts';
import { memoryNetworks } from './helpers.ts';

const network = memoryNetworks();

describe('events: a subscriber that stays silent after the server DONE', () => {
  it('costs nothing but its own stream: no heartbeat is written to the ended send side, the server goes on', async () => {
    const clock = new ManualClock();
    const events = new EventService({ heartbeatMs: 10, graceMs: 60_000, clock });
    events.handle('two', async function* () {
      await Promise.resolve();
      yield { type: 'e', data: 1 };
      yield { type: 'e', data: 2 };
      return { n: 2 };
    });
    const net = network({ clock, services: [events, { kinds: ['echo'], handle: echoHandler() }] });
    const silent = await net.connect();
    const stream = silent.open({ kind: SUBSCRIBE_KIND, target: 'two', meta: { key: 'silent-1' } });
    const types: string[] = [];
    for await (const m of stream) types.push(decodeServerMessage(m).t);
    // The server's DONE arrived; we never send ours, never cancel, never close.
    expect(types.filter((t) => t === 'ev')).toHaveLength(2);
    expect(stream.trailer).toEqual({ n: 2 });
    const serverSide = net.servers[0]!;
    // Many heartbeat intervals: each used to throw "write after end()" out of a timer.
    await advance(clock, 300, 5);
    expect(serverSide.session.stats.internalErrors).toBe(0);
    expect(serverSide.session.isOpen).toBe(true);
    expect(stream.ended).toBe(false);
    // Everyone else is served as before.
    const other = await net.connect();
    const echo = other.open({ kind: 'echo' });
    await echo.write(Buffer.from('still here'));
    await echo.end();
    const got: string[] = [];
    for await (const m of echo) got.push(Buffer.from(m).toString());
    expect(got).toEqual(['still here']);
    // Our late DONE still completes the stream (FW-EV-30).
    await stream.end();
    expect((await within(stream.outcome, 2000, 'outcome')).status).toBe('completed');
  });
});
