/**
 * A TCP proxy that paces the client-to-server direction at `bytesPerSecond` (0: no pacing), so a
 * test can interrupt a transfer part-way whatever the machine's speed; pacing can be lifted later.
 */

import * as net from 'node:net';

export class ThrottleProxy {
  bytesPerSecond: number;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  private constructor(target: number, bytesPerSecond: number) {
    this.bytesPerSecond = bytesPerSecond;
    this.#server = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: target });
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('error', () => undefined).on('close', () => {
          this.#sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      upstream.pipe(client);
      client.on('data', (data: Buffer) => {
        upstream.write(data);
        if (this.bytesPerSecond <= 0) return;
        client.pause();
        setTimeout(() => client.resume(), (data.length / this.bytesPerSecond) * 1000);
      });
    });
  }

  static async start(targetPort: number, bytesPerSecond: number): Promise<ThrottleProxy> {
    const proxy = new ThrottleProxy(targetPort, bytesPerSecond);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => { resolve(); }));
  }
}
