/**
 * A loopback TCP proxy that flips one bit of one frame's length field on its way from client to
 * server, as a transmission error the CRC cannot save (the receiver acts on the length before the
 * CRC can be checked): with bit 27 set, a DATA frame of 8 bytes claims 134,217,736, and the server
 * fails the connection with FRAME_SIZE. Client → server frames are decoded and re-encoded (CRC
 * recomputed); server → client bytes pass unchanged.
 */

import * as net from 'node:net';
import { crc32 } from 'node:zlib';
import { FrameDecoder, FrameType, type RawFrame } from '../../src/wire/index.ts';

export interface FlipPlan {
  /** Flip the length of the n-th (0-based) client → server DATA frame of this connection. */
  readonly dataFrame: number;
  /** The length bit to flip (default 27: 8 → 134,217,736). */
  readonly bit?: number;
}

export class FlipProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #planFor: (connection: number) => FlipPlan | undefined;
  #accepted = 0;
  /** Frames whose length was flipped so far. */
  flipped = 0;

  constructor(targetPort: number, planFor: (connection: number) => FlipPlan | undefined) {
    this.#planFor = planFor;
    this.#server = net.createServer((client) => {
      this.#pipe(client, targetPort, this.#planFor(this.#accepted++));
    });
  }

  get accepted(): number {
    return this.#accepted;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as net.AddressInfo).port;
  }

  #pipe(client: net.Socket, targetPort: number, plan: FlipPlan | undefined): void {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.on('data', (b: Buffer) => client.write(b));
    if (plan === undefined) {
      client.on('data', (b: Buffer) => upstream.write(b));
      return;
    }
    let data = 0;
    const decoder = new FrameDecoder({ maxPayload: 16 * 1024 * 1024 }, (raw: RawFrame) => {
      const bytes = encodeRaw(raw);
      if (raw.type === FrameType.DATA && data++ === plan.dataFrame) {
        bytes.writeUInt32BE((raw.payload.length ^ (1 << (plan.bit ?? 27))) >>> 0, 0);
        this.flipped++;
      }
      upstream.write(bytes);
    });
    client.on('data', (b: Buffer) => {
      decoder.push(b);
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => { resolve(); }));
  }
}

/** A frame's bytes with a freshly computed CRC. */
function encodeRaw(f: RawFrame): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt32BE(f.payload.length, 0);
  header[4] = f.type;
  header[5] = f.flags;
  header.writeUInt32BE(f.stream, 8);
  header.writeUInt32BE(f.seq, 12);
  header.writeUInt32BE(crc32(f.payload, crc32(header.subarray(0, 16))), 16);
  return Buffer.concat([header, f.payload]);
}
