/**
 * Scaffolding for the event-stream tests: a TCP fault proxy (cut every connection, blackhole,
 * retarget to a restarted server), subscription helpers and a log capture. Every wait is bounded.
 */

import * as net from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { subscribe, type DeliveredEvent, type EventSubscribeOptions, type Subscription } from '../../src/api/events.ts';
import { systemClock, type Clock, type ManualClock, type TimerHandle } from '../../src/session/clock.ts';
import { within } from '../integration/helpers.ts';
import { afterEach } from 'vitest';
import { advance, MemoryNetwork, type MemoryNetworkOptions } from '../integration/memory-network.ts';

export { Harness, within, waitFor, sleep, prng, expectFwError, transports } from '../integration/helpers.ts';

/**
 * A loopback TCP proxy between client and server. `cut()` destroys every live pair (both sides see
 * the connection die, as with a network failure); `blackhole` accepts and forwards nothing.
 */
export class FaultProxy {
  targetPort: number;
  blackhole = false;
  accepted = 0;
  readonly #pairs = new Set<{ a: net.Socket; b: net.Socket | undefined }>();
  readonly #server: net.Server;

  constructor(targetPort: number) {
    this.targetPort = targetPort;
    // Half-open like a real TCP path: an orderly close (FIN) is forwarded after the bytes before it.
    // Destroying the other side instead would reset it, and a reset may discard bytes the peer has
    // received but not read yet: a subscriber's final DONE, under load (FW-EV-30).
    this.#server = net.createServer({ allowHalfOpen: true }, (client) => {
      this.accepted++;
      client.on('error', () => undefined);
      const pair: { a: net.Socket; b: net.Socket | undefined } = { a: client, b: undefined };
      this.#pairs.add(pair);
      client.on('close', () => {
        this.#pairs.delete(pair);
      });
      if (this.blackhole) {
        client.on('data', () => undefined);
        client.on('end', () => client.end());
        return;
      }
      const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort, allowHalfOpen: true });
      pair.b = upstream;
      upstream.on('error', () => undefined);
      // An error on either side is a failure: the other side fails too.
      client.on('close', (hadError) => {
        if (hadError) upstream.destroy();
      });
      upstream.on('close', (hadError) => {
        if (hadError) client.destroy();
      });
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
      client.on('data', (d) => {
        if (!this.blackhole) upstream.write(d);
      });
      upstream.on('data', (d) => {
        if (!this.blackhole) client.write(d);
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Sends the client to another server: later connections go to `port`, and the live ones are cut, so the client reconnects there. */
  moveTo(port: number): void {
    this.targetPort = port;
    this.cut();
  }

  /** Destroys every live connection through the proxy. */
  cut(): void {
    for (const p of this.#pairs) {
      p.a.destroy();
      p.b?.destroy();
    }
    this.#pairs.clear();
  }

  get live(): number {
    return this.#pairs.size;
  }

  async close(): Promise<void> {
    this.cut();
    await within(new Promise<void>((resolve) => this.#server.close(() => { resolve(); })), 5000, 'proxy close');
  }
}

const openProxies: FaultProxy[] = [];

/** A listening FaultProxy in front of `port`; closeProxies() closes it after the test. */
export async function proxyTo(port: number): Promise<{ proxy: FaultProxy; port: number }> {
  const proxy = new FaultProxy(port);
  openProxies.push(proxy);
  return { proxy, port: await proxy.listen() };
}

/** Closes every proxy proxyTo() opened (a test file's afterEach). */
export async function closeProxies(): Promise<void> {
  for (const p of openProxies.splice(0)) await p.close();
}

/** Subscribes over loopback with test-friendly defaults (fast reconnects, bounded handshakes). */
export function sub(port: number, name: string, options: Partial<EventSubscribeOptions> = {}): Subscription {
  return subscribe(name, {
    port,
    // A command's first handshake is not retried when it times out (a silent peer may not be a
    // framewire server, FW-ERR-6): under a loaded CI machine 2 s was within reach of a real stall.
    connectTimeoutMs: 5000,
    limits: { handshakeTimeoutMs: 5000 },
    reconnect: { initialDelayMs: 10, maxDelayMs: 100, maxAttempts: 20 },
    ...options,
  });
}

/** Reads every event until the subscription ends; errors are left in `outcome`. */
export async function collect(s: Subscription, onEvent?: (e: DeliveredEvent, index: number) => void | Promise<void>): Promise<DeliveredEvent[]> {
  const out: DeliveredEvent[] = [];
  try {
    for await (const e of s) {
      out.push(e);
      await onEvent?.(e, out.length);
    }
  } catch {
    // The outcome says why.
  }
  return out;
}

/** A pino logger whose lines are kept in memory, parsed. */
export function captureLogs(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, dest), lines };
}

/** Resolves after `ms`, or rejects with the signal's reason. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The system clock, except that `expire(minMs)` runs at once every pending timeout set for at least
 * `minMs`. A test can give instances a grace period long enough for reconnects on a loaded machine,
 * and still check that the ones left waiting for a resume are dropped when it ends.
 */
export class ExpiringClock implements Clock {
  readonly #pending = new Set<{ readonly ms: number; readonly fire: () => void; readonly handle: TimerHandle }>();

  now(): number {
    return systemClock.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const entry = {
      ms,
      fire: () => {
        this.#pending.delete(entry);
        fn();
      },
      handle: systemClock.setTimeout(() => {
        entry.fire();
      }, ms),
    };
    this.#pending.add(entry);
    return {
      cancel: () => {
        entry.handle.cancel();
        this.#pending.delete(entry);
      },
    };
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return systemClock.setInterval(fn, ms);
  }

  /** Fires the pending timeouts set for `minMs` or more; returns how many. */
  expire(minMs: number): number {
    const due = [...this.#pending].filter((e) => e.ms >= minMs);
    for (const e of due) {
      e.handle.cancel();
      e.fire();
    }
    return due.length;
  }
}

/**
 * Awaits `promise` while `clock` runs in 10 ms steps, frames crossing between the steps (acks,
 * backoffs and the producers' waits move on the clock): for client and server on a MemoryNetwork.
 * Fails after `maxMs` of the clock.
 */
export async function onClock<T>(clock: ManualClock, promise: Promise<T>, label: string, maxMs = 10_000): Promise<T> {
  const state = { settled: false };
  const watched = promise.finally(() => {
    state.settled = true;
  });
  // Rejections reach the caller through the return, not as unhandled while the clock runs.
  watched.catch(() => undefined);
  for (let ms = 0; ms < maxMs && !state.settled; ms += 10) await advance(clock, 10, 10);
  if (!state.settled) throw new Error(`${label}: not settled within ${maxMs} ms of the clock`);
  return watched;
}

/** For a test file: a factory of MemoryNetworks, each closed after the test that made it. */
export function memoryNetworks(): (options: MemoryNetworkOptions) => MemoryNetwork {
  const live: MemoryNetwork[] = [];
  afterEach(() => {
    for (const n of live.splice(0)) n.close();
  });
  return (options) => {
    const n = new MemoryNetwork(options);
    live.push(n);
    return n;
  };
}
