/**
 * Scaffolding for the event-stream tests: a TCP fault proxy (cut every connection, blackhole,
 * retarget to a restarted server), subscription helpers and a log capture. Every wait is bounded.
 */

import * as net from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { subscribe, type DeliveredEvent, type EventSubscribeOptions, type Subscription } from '../../src/index.ts';
import { within } from '../integration/helpers.ts';

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
    this.#server = net.createServer((client) => {
      this.accepted++;
      client.on('error', () => undefined);
      const pair: { a: net.Socket; b: net.Socket | undefined } = { a: client, b: undefined };
      this.#pairs.add(pair);
      client.on('close', () => {
        pair.b?.destroy();
        this.#pairs.delete(pair);
      });
      if (this.blackhole) {
        client.on('data', () => undefined);
        return;
      }
      const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort });
      pair.b = upstream;
      upstream.on('error', () => undefined);
      upstream.on('close', () => client.destroy());
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

/** Subscribes over loopback with test-friendly defaults (fast reconnects, bounded handshakes). */
export function sub(port: number, name: string, options: Partial<EventSubscribeOptions> = {}): Subscription {
  return subscribe(name, {
    port,
    connectTimeoutMs: 2000,
    limits: { handshakeTimeoutMs: 2000 },
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
