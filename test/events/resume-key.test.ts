/**
 * A subscription's cursor and resume key (spec/EVENTS.md §12.9): `lastEventId` as EventSource has
 * it, `resumeKey` only while the stream can be resumed, and `detach()` leaving the instance to a
 * second client that continues with no gap and no duplicate.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { EventService, parseResumeKey } from '../../src/api/events.ts';
import { collect, expectFwError, Harness, sub, within } from './helpers.ts';

const h = new Harness();
afterEach(async () => {
  await h.cleanup();
});

function numbers(events: EventService, name: string, total: number, resumable = true): void {
  events.handle(name, async ({ emit }) => {
    for (let i = 1; i <= total; i++) await emit('n', i);
    return { total };
  }, { resumable });
}

describe('subscription cursor and resume key', () => {
  it('detach() after 5 events: outcome detached with key@5; a second client resumes from that key with events 6..N, no gap, no duplicate', async () => {
    const events = new EventService();
    numbers(events, 'n', 40);
    const { port } = await h.server({ services: [events] });
    const first = sub(port, 'n');
    expect(first.lastEventId).toBe(0);
    const seen: number[] = [];
    for await (const e of first) {
      seen.push(e.id);
      expect(first.lastEventId).toBe(e.id);
      if (seen.length === 5) first.detach();
    }
    const o = await within(first.outcome, 5000, 'detached');
    expect(o).toEqual({ status: 'detached', resumeKey: `${first.key}@5` });
    expect(first.resumeKey).toBe(`${first.key}@5`);
    const second = sub(port, 'n', { from: parseResumeKey(o.status === 'detached' ? o.resumeKey : '') });
    const rest = await within(collect(second), 10_000, 'second');
    expect([...seen, ...rest.map((e) => e.id)]).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect((await second.outcome).status).toBe('done');
    // Done: nothing left to resume.
    expect(second.resumeKey).toBeUndefined();
  });

  it('no resume key after a cancel or for a non-resumable stream (where detach() cancels instead)', async () => {
    const events = new EventService();
    numbers(events, 'n', 1_000_000);
    numbers(events, 'once', 1_000_000, false);
    const { port } = await h.server({ services: [events] });
    const a = sub(port, 'n');
    for await (const e of a) if (e.id === 3) break;
    expect((await a.outcome).status).toBe('cancelled');
    expect(a.resumeKey).toBeUndefined();
    const b = sub(port, 'once');
    await collect(b, (e) => {
      expect(b.resumeKey).toBeUndefined();
      if (e.id === 3) b.detach();
    });
    expect((await b.outcome).status).toBe('cancelled');
  });

  it('parseResumeKey takes <key>@<id> and refuses anything else with INVALID_ARGUMENT', () => {
    expect(parseResumeKey('abc-1:2@17')).toEqual({ key: 'abc-1:2', after: 17 });
    for (const bad of ['abc', '@3', 'abc@', 'abc@-1', 'abc@1.5', 'has space@3']) expect(() => parseResumeKey(bad), bad).toThrow(/resume key/u);
    try {
      parseResumeKey('x');
    } catch (error) {
      expectFwError(error, 'INVALID_ARGUMENT');
    }
  });
});
