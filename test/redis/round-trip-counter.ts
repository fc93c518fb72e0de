/**
 * Counts the round trips clients make to a redis-server, as the server sees them (MONITOR), for the
 * round-trip test and bench:upload. INFO commandstats cannot: it also counts every command a Lua
 * script runs, so a script that does four things would count as four round trips.
 *
 * A round trip is a command a client sent, except the commands queued inside a MULTI (the EXEC
 * counts: the store's transactions, its reads, are each sent as one pipeline) and the clients'
 * connection checks (INFO). Commands run by scripts arrive with source `lua` and are not counted.
 * Which commands are queued is followed per client (MONITOR names each command's connection), so
 * whatever a transaction holds counts once, and the same command outside one counts.
 */

import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';

/** Commands that are not the store's, or open a transaction (its EXEC is the round trip). */
const NOT_ROUND_TRIPS = new Set(['multi', 'info', 'monitor', 'ping']);

type Monitor = Awaited<ReturnType<Redis['monitor']>>;

export class RoundTripCounter {
  readonly #client: Redis;
  readonly #source: Redis;
  readonly #monitor: Monitor;
  #count = 0;
  readonly #markers = new Map<string, () => void>();
  /** Connections (MONITOR's source address) between their MULTI and its EXEC or DISCARD. */
  readonly #inTransaction = new Set<string>();

  private constructor(client: Redis, source: Redis, monitor: Monitor) {
    this.#client = client;
    this.#source = source;
    this.#monitor = monitor;
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === 'lua') return;
      const name = (args[0] ?? '').toLowerCase();
      if (name === 'ping') this.#markers.get(args[1] ?? '')?.();
      if (name === 'multi') this.#inTransaction.add(source);
      else if (name === 'exec' || name === 'discard') this.#inTransaction.delete(source);
      else if (this.#inTransaction.has(source)) return;
      if (!NOT_ROUND_TRIPS.has(name)) this.#count++;
    });
  }

  static async start(url: string): Promise<RoundTripCounter> {
    // monitor() opens a connection of its own: the one it came from is closed with it.
    const [client, source] = [new Redis(url), new Redis(url)];
    for (const c of [client, source]) c.on('error', () => undefined);
    return new RoundTripCounter(client, source, await source.monitor());
  }

  /** Round trips counted so far, once every command sent before this call has been seen. */
  async count(): Promise<number> {
    const marker = randomBytes(8).toString('hex');
    const seen = new Promise<void>((resolve) => this.#markers.set(marker, resolve));
    // The server feeds MONITOR in the order it runs commands: once the marker is seen, so is all before it.
    await this.#client.ping(marker);
    await seen;
    this.#markers.delete(marker);
    return this.#count;
  }

  close(): void {
    this.#monitor.disconnect();
    this.#source.disconnect();
    this.#client.disconnect();
  }
}
