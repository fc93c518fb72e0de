/**
 * A TCP proxy that can cut every connection through it on command: the demo's (and the tests')
 * way to inject the network failure framewire exists to survive, without touching either peer.
 */

import * as net from 'node:net';

export class FaultProxy {
  readonly #server: net.Server;
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  #target: { host: string; port: number };
  /** Connections cut so far. */
  cuts = 0;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = net.createServer((client) => {
      const upstream = net.connect(this.#target);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.#pairs.add(pair);
      const drop = (): void => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  static async start(target: { host: string; port: number }, host = '127.0.0.1'): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(0, host, resolve);
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  get open(): number {
    return this.#pairs.size;
  }

  /** Destroys every connection now, as a network failure would (no FIN handshake for the peers' data in flight). */
  cut(): number {
    const n = this.#pairs.size;
    for (const [a, b] of [...this.#pairs]) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.#pairs.clear();
    this.cuts += n;
    return n;
  }

  retarget(target: { host: string; port: number }): void {
    this.#target = target;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => { resolve(); }));
  }
}
