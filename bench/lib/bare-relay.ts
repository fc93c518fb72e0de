/**
 * The floor under the Redis rows of bench:events: the same paced bursts (10 events of 64 B every
 * ~2 ms, each stamped with performance.now()) moved without framewire, once over a bare TCP
 * socket and once through Redis the way the shared replay log moves them to another node — one
 * EVAL per burst that XADDs each event, trims the stream and PUBLISHes the burst, and a subscriber
 * connection that writes each message to a TCP socket. What the Redis hop costs on this machine
 * is (relay − TCP); what framewire adds on top of it is the rest of the other-node row's gap.
 */

import net from 'node:net';
import type { Histogram } from 'hdr-histogram-js';
import { Redis } from 'ioredis';

const EVENT_BYTES = 64;
const PER_TICK = 10;

const RELAY = `
for i = 1, #ARGV do redis.call('XADD', KEYS[1], '*', 'b', ARGV[i]) end
redis.call('XTRIM', KEYS[1], 'MAXLEN', 4096)
redis.call('PUBLISH', KEYS[2], table.concat(ARGV))
return 1`;

export interface BareRelay {
  /** Paced bursts written straight to a TCP socket; latency into `h` (µs). */
  tcp(ticks: number, h: Histogram): Promise<number>;
  /** Paced bursts through Redis (EVAL: XADD each, XTRIM, PUBLISH) and a subscriber forwarding over TCP. */
  redis(ticks: number, h: Histogram): Promise<number>;
  close(): Promise<void>;
}

export async function bareRelay(redisUrl: string): Promise<BareRelay> {
  const pub = new Redis(redisUrl);
  const sub = new Redis(redisUrl);
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const out = await accepted;
  out.setNoDelay(true);
  client.setNoDelay(true);
  let record: Histogram | undefined;
  let received = 0;
  let pending: Buffer = Buffer.alloc(0);
  client.on('data', (d: Buffer) => {
    const now = performance.now();
    const buf = pending.length === 0 ? d : Buffer.concat([pending, d]);
    let at = 0;
    for (; at + EVENT_BYTES <= buf.length; at += EVENT_BYTES) {
      record?.recordValue(Math.max(1, Math.round((now - buf.readDoubleBE(at)) * 1000)));
      received++;
    }
    pending = buf.subarray(at);
  });
  const channel = 'bench:relay';
  await sub.subscribe(channel);
  sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
    out.write(message);
  });

  const burst = (): Buffer[] =>
    Array.from({ length: PER_TICK }, () => {
      const b = Buffer.alloc(EVENT_BYTES);
      b.writeDoubleBE(performance.now());
      return b;
    });

  async function paced(ticks: number, h: Histogram, send: (events: Buffer[]) => void): Promise<number> {
    record = h;
    received = 0;
    for (let t = 0; t < ticks; t++) {
      send(burst());
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const expected = ticks * PER_TICK;
    for (let wait = 0; received < expected && wait < 200; wait++) await new Promise((resolve) => setTimeout(resolve, 5));
    record = undefined;
    if (received !== expected) throw new Error(`bare relay: ${received} of ${expected} events arrived`);
    return received;
  }

  return {
    tcp: (ticks, h) => paced(ticks, h, (events) => out.write(Buffer.concat(events))),
    redis: (ticks, h) =>
      paced(ticks, h, (events) => {
        void pub.eval(RELAY, 2, 'bench:relay:log', channel, ...events);
      }),
    async close() {
      client.destroy();
      out.destroy();
      await new Promise((resolve) => server.close(resolve));
      pub.disconnect();
      sub.disconnect();
    },
  };
}
