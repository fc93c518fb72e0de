/** The raw peer over TCP: one socket, one byte stream, written as given. */

import * as net from 'node:net';
import type { LinkSink, PeerLink } from './link.ts';

export class TcpLink implements PeerLink {
  readonly quic = undefined;
  readonly #socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
  }

  static connect(options: { host: string; port: number; connectTimeoutMs: number }): Promise<TcpLink> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: options.host, port: options.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`could not connect to ${options.host}:${options.port} within ${options.connectTimeoutMs} ms`));
      }, options.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new TcpLink(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  start(sink: LinkSink): void {
    const socket = this.#socket;
    socket.on('data', (chunk: Buffer) => {
      sink.received(socket, chunk);
    });
    socket.on('end', () => {
      sink.ended('eof');
    });
    socket.on('error', (error) => {
      sink.ended('reset', error.message);
    });
    socket.on('close', () => {
      sink.ended('reset');
    });
  }

  send(bytes: Uint8Array): void {
    if (!this.#socket.destroyed && this.#socket.writable) this.#socket.write(bytes);
  }

  endOutput(): void {
    if (!this.#socket.destroyed) this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
