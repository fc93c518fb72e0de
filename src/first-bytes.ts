/**
 * L5: tells a framewire server from something else on the client's first connection (spec
 * FW-HS-10). A framewire server's first frame has a length within the pre-handshake limit (16 KiB,
 * FW-HS-4) and zero reserved bytes: its first two bytes are 0x00 0x00. An HTTP server's
 * "HTTP/1.1 400", an SSH banner or a TLS alert cannot begin such a frame, so the client can say at
 * once what it met, quoting it, instead of reporting FRAME_SIZE and retrying.
 */

import type { Duplex } from 'node:stream';
import { HANDSHAKE_MAX_PAYLOAD } from './wire/index.ts';

/** Bytes kept to judge and to quote. */
const KEEP = 48;
/** Header bytes that decide: length (0..3), type (4), flags (5), reserved (6, 7). */
const DECIDING = 8;

export interface ForeignPeer {
  readonly code: 'NOT_FRAMEWIRE';
  readonly message: string;
  readonly details: { readonly prefix: string };
}

export class FirstBytes {
  readonly #socket: Duplex;
  #seen = Buffer.alloc(0);
  readonly #onData = (chunk: Buffer): void => {
    this.#seen = Buffer.concat([this.#seen, chunk]).subarray(0, KEEP);
    if (this.#seen.length >= KEEP) this.stop();
  };

  constructor(socket: Duplex) {
    this.#socket = socket;
    socket.on('data', this.#onData);
  }

  /** Nothing arrived from the peer yet. */
  get silent(): boolean {
    return this.#seen.length === 0;
  }

  stop(): void {
    this.#socket.off('data', this.#onData);
  }

  /** What the peer is, if its first bytes show it is not a framewire endpoint. */
  foreign(where: string): ForeignPeer | undefined {
    const b = this.#seen;
    if (b.length === 0) return undefined;
    const header = b.subarray(0, DECIDING);
    const lengthFits = header.length < 4 ? header.every((byte, i) => i > 1 || byte === 0) : header.readUInt32BE(0) <= HANDSHAKE_MAX_PAYLOAD;
    const reservedZero = header.subarray(6, 8).every((byte) => byte === 0);
    if (lengthFits && reservedZero) return undefined;
    const prefix = printable(b);
    return { code: 'NOT_FRAMEWIRE', message: `${where} is not a framewire server: it sent "${prefix}"`, details: { prefix } };
  }
}

/** The bytes as text a terminal shows safely: printable ASCII as is, the rest escaped. */
export function printable(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0x0d) out += '\\r';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x5c) out += '\\\\';
    else if (b === 0x22) out += '\\"';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}
