/**
 * Delivery and resume over TCP and QUIC loopback (connections cut by destroying them on the
 * server), and over real TCP with a fault proxy (spec/EVENTS.md §12.5, §12.9): connections cut at
 * random event positions, resumed with no duplicate and no gap; resume beyond retention; server
 * restart; a non-resumable stream.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { EventService, type ProducerContext } from '../../src/api/events.ts';
import { FlipProxy } from '../integration/flip-proxy.ts';
import { abortableSleep, closeProxies, collect, ExpiringClock, expectFwError, Harness, prng, proxyTo, sub, transports, waitFor, within } from './helpers.ts';

const h = new Harness();
const proxies: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await closeProxies();
  await h.cleanup();
});

/** Emits `count` events whose data is derived from the id, pausing now and then so cuts land mid-stream. */
function counter(count: number) {
  return async function* ({ signal, params }: ProducerContext) {
    const pauseEvery = typeof params['pauseEvery'] === 'number' ? params['pauseEvery'] : 25;
    for (let i = 1; i <= count; i++) {
      yield { type: i % 7 === 0 ? 'tick7' : 'tick', data: { n: i, pad: 'x'.repeat(i % 50) } };
      if (i % pauseEvery === 0) await abortableSleep(1, signal);
    }
    return { count };
  };
}

describe('events: resume', () => {
  it('FW-EV-90 FW-ERR-4: a flipped bit in the length of the subscriber\'s ack fails the connection with FRAME_SIZE at the server; the subscriber resumes, no gap, no duplicate', async () => {
    const events = new EventService();
    events.handle('count', async function* ({ signal }: ProducerContext) {
      for (let i = 1; i <= 100; i++) {
        yield { type: 'tick', data: i };
        // Slow enough that acks (ack_ms 50) go out while events still flow.
        await abortableSleep(2, signal);
      }
    });
    const { port } = await h.server({ services: [events] });
    const proxy = new FlipProxy(port, (n) => (n === 0 ? { dataFrame: 0 } : undefined));
    proxies.push(proxy);
    const s = sub(await proxy.listen(), 'count');
    const got = await within(collect(s), 10_000, 'collect');
    expect(proxy.flipped).toBe(1);
    expect(got.map((e) => e.id)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(s.stats.reconnects).toBe(1);
    expect((await s.outcome).status).toBe('done');
  });

  it('FW-EV-12 FW-EV-24 FW-EV-30 FW-EV-31 FW-EV-90: 20 seeds, connections cut at random event positions, resume with no duplicate and no gap', async () => {
    const N = 300;
    // The grace period outlasts a reconnect on a loaded machine (a cut subscriber comes back within
    // it); the instances it keeps waiting are expired by hand at the end.
    const graceMs = 30_000;
    const clock = new ExpiringClock();
    const events = new EventService({ replay: { maxEvents: 64 }, graceMs, clock });
    events.handle('count', counter(N));
    const { port: serverPort } = await h.server({ services: [events] });
    const started = performance.now();
    const results = await within(
      Promise.all(
        Array.from({ length: 20 }, async (_, seed) => {
          const rnd = prng(0xc0ffee + seed);
          const { proxy, port } = await proxyTo(serverPort);
          const cuts = new Set(Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => 1 + Math.floor(rnd() * (N - 1))));
          const s = sub(port, 'count', { params: { pauseEvery: 5 + Math.floor(rnd() * 40) } });
          const got = await collect(s, (e) => {
            if (cuts.has(e.id)) proxy.cut();
          });
          return { seed, key: s.key, got, outcome: await s.outcome, stats: s.stats, accepted: proxy.accepted };
        }),
      ),
      30_000,
      'cut and resume',
    );
    for (const r of results) {
      expect(r.outcome, `seed ${r.seed}`).toEqual({ status: 'done', summary: { count: N } });
      // No duplicate, no gap: exactly 1..N, each with its own data.
      expect(r.got.map((e) => e.id), `seed ${r.seed}`).toEqual(Array.from({ length: N }, (_, i) => i + 1));
      expect(r.got.every((e) => (e.data as { n: number }).n === e.id)).toBe(true);
      expect(r.stats.duplicates).toBe(0);
    }
    // A cut can be harmless (everything up to DONE was already read when the socket died), so
    // resumes are counted over all seeds rather than demanded per seed.
    const reconnects = results.reduce((n, r) => n + r.stats.reconnects, 0);
    expect(reconnects).toBeGreaterThanOrEqual(10);
    expect(results.reduce((n, r) => n + r.accepted, 0)).toBeGreaterThanOrEqual(20 + 10);
    // The application reads the last events after the subscription saw the server's DONE and sent
    // its own: a cut there can take that DONE with it. Such an instance is not confirmed, so it
    // waits out its grace period for a resume (FW-EV-30); every other one is dropped at once.
    await waitFor(() => results.every((r) => events.instance('count', r.key)?.attached !== true), 5000, 'every subscriber confirmed its end or is gone');
    const unconfirmed = events.size;
    expect(clock.expire(graceMs)).toBe(unconfirmed);
    expect(events.size).toBe(0);
    console.log(`[events] 20 seeds x ${N} events, ${reconnects} resumes, ${events.counters.replayed} events replayed, ${unconfirmed} ends unconfirmed (cut after the DONE), in ${Math.round(performance.now() - started)} ms`);
  });

  it('FW-EV-23 FW-EV-24: resuming beyond retention fails with RESUME_GAP naming the earliest retained id; a resume inside it replays exactly the rest', async () => {
    const events = new EventService({ replay: { maxEvents: 20 } });
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    events.handle('hundred', async ({ emit }) => {
      for (let i = 1; i <= 100; i++) await emit('n', i);
      await hold;
      return { done: true };
    });
    const { port } = await h.server({ services: [events] });
    const first = sub(port, 'hundred');
    const seen: number[] = [];
    const reading = collect(first, (e) => {
      seen.push(e.id);
    });
    await within(waitFor(() => seen.length === 100 && events.instance('hundred', first.key)?.retained.ackedId === 100, 5000, 'all acked'), 6000, 'first');
    const retained = events.instance('hundred', first.key)!.retained;
    expect(retained).toMatchObject({ events: 20, firstId: 81, lastId: 100 });

    const gap = sub(port, 'hundred', { from: { key: first.key, after: 50 } });
    const gapOutcome = await within(gap.outcome, 5000, 'gap outcome');
    expect(gapOutcome.status).toBe('failed');
    const e = expectFwError(gapOutcome.status === 'failed' ? gapOutcome.error : undefined, 'RESUME_GAP');
    expect(e.remote).toBe(true);
    expect(e.details).toMatchObject({ key: first.key, earliest: 81, last: 100 });

    // The client decides: accept the gap and resume from the earliest retained id.
    const resumed = sub(port, 'hundred', { from: { key: first.key, after: 80 } });
    const rest: number[] = [];
    const resumedReading = collect(resumed, (ev) => {
      rest.push(ev.id);
      if (ev.id === 100) release();
    });
    await within(resumedReading, 5000, 'resumed');
    expect(rest).toEqual(Array.from({ length: 20 }, (_, i) => 81 + i));
    expect(await resumed.outcome).toEqual({ status: 'done', summary: { done: true } });
    // The first subscriber was superseded by the resume (last attach wins, FW-EV-27).
    await within(reading, 5000, 'first ends');
    expect((await first.outcome).status).toBe('cancelled');
  });

  it('FW-EV-26: server restart — the new server does not know the key: NOT_FOUND (reason unknown_key), not a hang', async () => {
    const make = () => {
      const events = new EventService();
      events.handle('forever', async function* ({ signal }) {
        for (let i = 0; ; i++) {
          yield { type: 'n', data: i };
          await abortableSleep(2, signal);
        }
      });
      return events;
    };
    const a = await h.server({ services: [make()] });
    const { proxy, port } = await proxyTo(a.port);
    const s = sub(port, 'forever');
    const got = collect(s, async (ev) => {
      if (ev.id === 10) {
        // Crash: connections die, the process's state is gone; a new server takes the address.
        for (const c of a.server.connections) c.destroy();
        await a.server.close({ deadlineMs: 10 });
        const b = await h.server({ services: [make()] });
        proxy.moveTo(b.port);
      }
    });
    const outcome = await within(s.outcome, 10_000, 'outcome after restart');
    expect((await got).length).toBeGreaterThanOrEqual(10);
    expect(outcome.status).toBe('failed');
    const e = expectFwError(outcome.status === 'failed' ? outcome.error : undefined, 'NOT_FOUND');
    expect(e.details).toMatchObject({ key: s.key, reason: 'unknown_key' });
  });

  it('FW-EV-25: a non-resumable stream refuses a resume with NOT_RESUMABLE; losing its subscriber stops the producer at once', async () => {
    const events = new EventService({ graceMs: 60_000 });
    let stopped = false;
    events.handle(
      'live',
      async function* ({ signal }) {
        try {
          for (let i = 0; ; i++) {
            yield { type: 'n', data: i };
            await abortableSleep(5, signal);
          }
        } finally {
          stopped = true;
        }
      },
      { resumable: false },
    );
    const { port: serverPort } = await h.server({ services: [events] });
    const { proxy, port } = await proxyTo(serverPort);
    const s = sub(port, 'live');
    const got = collect(s, (ev) => {
      if (ev.id === 3) proxy.cut();
    });
    const outcome = await within(s.outcome, 5000, 'outcome');
    await got;
    expect(outcome.status).toBe('failed');
    expect(outcome.status === 'failed' ? outcome.error.details : undefined).toMatchObject({ resumable: false });
    await waitFor(() => stopped && events.size === 0, 5000, 'producer stopped without waiting for the grace period');

    const again = sub(serverPort, 'live', { key: 'fixed-key' });
    const seen: number[] = [];
    const reading = collect(again, (ev) => {
      seen.push(ev.id);
    });
    await waitFor(() => seen.length >= 2, 5000, 'second subscription runs');
    const resume = sub(serverPort, 'live', { from: { key: 'fixed-key', after: 1 } });
    const r = await within(resume.outcome, 5000, 'resume outcome');
    expectFwError(r.status === 'failed' ? r.error : undefined, 'NOT_RESUMABLE');
    again.cancel();
    await reading;
  });
});

describe.each(transports)('events over %s', (transport) => {
  const ht = new Harness(transport);
  afterEach(() => ht.cleanup());

  it('FW-EV-10 FW-EV-11 FW-EV-30: a subscription delivers ids 1..N in order with their data, ends done with the summary, and the instance is dropped on confirmation', async () => {
    const events = new EventService();
    events.handle('count', counter(200));
    const { port } = await ht.server({ services: [events] });
    const s = sub(port, 'count', ht.via());
    const got = await within(collect(s), 10_000, 'collect');
    expect(got.map((e) => e.id)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(got.every((e) => (e.data as { n: number }).n === e.id)).toBe(true);
    expect(got[6]!.type).toBe('tick7');
    expect(await s.outcome).toEqual({ status: 'done', summary: { count: 200 } });
    await waitFor(() => events.size === 0, 5000, 'instance dropped after the confirmed end');
    expect(events.counters.delivered).toBe(200);
    expect(events.counters.replayed).toBe(0);
  });

  it('FW-EV-12 FW-EV-24 FW-EV-31: 6 subscriptions, every connection cut 3 times at event positions, resume with no duplicate and no gap', async () => {
    const N = 200;
    const events = new EventService({ replay: { maxEvents: 64 } });
    events.handle('count', counter(N));
    const { port } = await ht.server({ services: [events] });
    const cuts = new Set([40, 90, 150]);
    const subs = Array.from({ length: 6 }, (_, i) => sub(port, 'count', { ...ht.via(), params: { pauseEvery: 5 + i } }));
    const results = await within(
      Promise.all(
        subs.map((s, i) =>
          collect(s, (e) => {
            // The first subscription drives the cuts; they hit every subscription's connection.
            if (i === 0 && cuts.delete(e.id)) ht.cutAll();
          }),
        ),
      ),
      20_000,
      'cut and resume',
    );
    for (const [i, got] of results.entries()) {
      expect(await subs[i]!.outcome, `subscription ${i}`).toEqual({ status: 'done', summary: { count: N } });
      expect(got.map((e) => e.id), `subscription ${i}`).toEqual(Array.from({ length: N }, (_, k) => k + 1));
      expect(subs[i]!.stats.duplicates).toBe(0);
    }
    expect(subs[0]!.stats.reconnects).toBe(3);
  });

  it('FW-EV-14: a client cancel stops the producer (its finally runs) and the outcome is cancelled', async () => {
    const events = new EventService();
    let finallyRan = false;
    let reason: unknown;
    events.handle('ticks', async function* ({ signal }: ProducerContext) {
      try {
        for (let i = 1; ; i++) {
          yield { type: 'tick', data: i };
          await abortableSleep(2, signal);
        }
      } finally {
        finallyRan = true;
        reason = signal.reason;
      }
    });
    const { port } = await ht.server({ services: [events] });
    const s = sub(port, 'ticks', ht.via());
    await within(
      collect(s, (e) => {
        if (e.id === 20) s.cancel('user closed the tab');
      }),
      10_000,
      'collect until cancel',
    );
    await waitFor(() => finallyRan, 5000, 'producer finally');
    expect((await s.outcome).status).toBe('cancelled');
    expect(expectFwError(reason, 'CANCELLED').remote).toBe(true);
    await waitFor(() => events.size === 0, 5000, 'instance dropped');
  });
});
