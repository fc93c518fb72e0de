/**
 * Client and server Connections joined in memory (createMemoryPair), every session on one injected
 * clock, with a relay between them that a test can cut (both ends see the connection die, as with
 * a network failure) or silence (every byte swallowed, both ends open, as after a flipped length
 * field). For tests of the resuming clients on a manual clock: no kernel, no port, no sleep.
 * `connect` is a Connector; `until` waits by event-loop turns, never by wall-clock time.
 */

import type { Duplex } from 'node:stream';
import { Connection, FramewireError, type SessionOptions, type StreamHandler, type StreamService } from '../../src/index.ts';
import { routeKind } from '../../src/session/index.ts';
import type { Clock } from '../../src/session/index.ts';
import { createMemoryPair } from '../../src/transport/index.ts';

type EndOptions = Omit<SessionOptions, 'role' | 'clock' | 'connectionId'>;

export interface MemoryNetworkOptions {
  readonly clock: Clock;
  readonly services: readonly StreamService[];
  readonly server?: EndOptions;
  readonly client?: EndOptions;
}

/** One event-loop turn: lets the memory pairs deliver what was written. */
export const turn = (): Promise<void> =>
  new Promise((resolve) => {
    setImmediate(resolve);
  });

/** Event-loop turns until `condition` holds; fails after `maxTurns` (time does not move meanwhile). */
export async function until(condition: () => boolean, label: string, maxTurns = 2000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (condition()) return;
    await turn();
  }
  throw new Error(`${label}: not reached within ${maxTurns} event-loop turns`);
}

/** Advances `clock` by `ms` in steps of `stepMs`, letting frames cross between the steps. */
export async function advance(clock: { advance(ms: number): void }, ms: number, stepMs = 10): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    clock.advance(Math.min(stepMs, ms - done));
    for (let i = 0; i < 5; i++) await turn();
  }
}

export class MemoryNetwork {
  /** Swallow every byte, both ways, on live links and new ones (see also silence()). */
  silent = false;
  /** Bytes the silenced links swallowed so far, both ways. */
  swallowed = 0;
  /** Connect attempts so far, refused ones included. */
  attempts = 0;
  /** The clock's time at each connect attempt. */
  readonly attemptsAt: number[] = [];
  readonly clients: Connection[] = [];
  readonly servers: Connection[] = [];
  readonly #o: MemoryNetworkOptions;
  readonly #route: StreamHandler;
  readonly #relays = new Map<Duplex, { silent: boolean }>();
  readonly #refusals: FramewireError[] = [];

  constructor(options: MemoryNetworkOptions) {
    this.#o = options;
    this.#route = (stream, session) => {
      const service = routeKind(options.services, stream.kind);
      if (service !== undefined) return service.handle(stream, session);
      stream.fail('NOT_FOUND', `no service for stream kind "${stream.kind}"`);
      return undefined;
    };
  }

  /** The next connect attempts fail with these errors, in order (an unreachable server). */
  refuse(...errors: FramewireError[]): void {
    this.#refusals.push(...errors);
  }

  /** A Connector: a new client connection, handshake done; `signal` aborts it (and closes it later). */
  readonly connect = (signal?: AbortSignal): Promise<Connection> => this.connectWith(this.#o.client ?? {}, signal);

  /** A new client connection with its own options (credentials, settings), as `connect`. */
  readonly connectWith = async (options: EndOptions, signal?: AbortSignal): Promise<Connection> => {
    this.attempts++;
    this.attemptsAt.push(this.#o.clock.now());
    if (signal?.aborted === true) throw new FramewireError('CANCELLED', 'connect aborted', { cause: signal.reason });
    const refusal = this.#refusals.shift();
    if (refusal !== undefined) throw refusal;
    const [clientEnd, towardClient] = createMemoryPair();
    const [towardServer, serverEnd] = createMemoryPair();
    this.#relay(towardClient, towardServer);
    const { clock } = this.#o;
    const server = new Connection(serverEnd, { ...this.#o.server, role: 'server', clock, connectionId: `m${this.attempts}` }, this.#route);
    const client = new Connection(clientEnd, { ...options, role: 'client', clock });
    this.servers.push(server);
    this.clients.push(client);
    signal?.addEventListener('abort', () => {
      client.close(new FramewireError('CANCELLED', 'aborted by the application'));
    }, { once: true });
    await client.ready;
    return client;
  };

  /** Every live link dies, both ends see it. */
  cut(): void {
    for (const r of this.#relays.keys()) r.destroy();
    this.#relays.clear();
  }

  /** The live links swallow every byte from now on (new links are not affected). */
  silence(): void {
    for (const link of this.#relays.values()) link.silent = true;
  }

  close(): void {
    for (const c of [...this.clients, ...this.servers]) c.destroy();
    this.cut();
  }

  #relay(a: Duplex, b: Duplex): void {
    const link = { silent: false };
    for (const [from, to] of [[a, b], [b, a]] as const) {
      this.#relays.set(from, link);
      from.on('error', () => undefined);
      from.on('data', (bytes: Buffer) => {
        if (this.silent || link.silent) this.swallowed += bytes.length;
        else if (!to.destroyed) to.write(bytes);
      });
      from.on('close', () => {
        this.#relays.delete(from);
        to.destroy();
      });
    }
  }
}
