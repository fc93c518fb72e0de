/**
 * Connection captures for `framewire inspect`: a tap below the session on a TCP connection's byte
 * stream that writes each direction to its own file in a directory,
 * `<time>-<pid>-<connection>-<peer>.<c2s|s2c>.fwcap`. A file is a 32-byte header then the raw bytes
 * of that direction exactly as they crossed the socket (see {@link CAPTURE_MAGIC}).
 *
 * Bounded and harmless to the connection: writes are asynchronous and never awaited by the
 * connection; a direction stops at `maxBytesPerDirection`, the whole sink at `maxTotalBytes`; a disk
 * slower than the connection fills at most `maxPendingBytes` per direction, and then that direction
 * stops (bytes after a gap could not be decoded anyway) and counts what it missed. A write error is
 * logged and ends that capture, never the connection. The header, rewritten when the connection
 * closes, says how the capture ended and how many bytes it missed.
 */

import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

/** First 7 bytes of a capture file; byte 7 is the {@link CaptureEnd}. Not hex text and not a framewire header. */
export const CAPTURE_MAGIC = 'FWCAP1\n';
export const CAPTURE_HEADER_SIZE = 32;

/** How one direction's capture ended (byte 7 of the header). */
export const CaptureEnd = {
  /** Still being written, or the process ended before the connection did. */
  open: 0,
  complete: 1,
  /** Reached maxBytesPerDirection (--capture-max-bytes). */
  directionLimit: 2,
  /** Reached the sink's maxTotalBytes (--capture-max-total). */
  totalLimit: 3,
  /** The disk fell behind by more than maxPendingBytes. */
  slowDisk: 4,
  writeError: 5,
} as const;
export type CaptureEnd = (typeof CaptureEnd)[keyof typeof CaptureEnd];

/** Where captures go and their bounds ({@link captureDefaults}). */
export interface CaptureOptions {
  /** The directory; created if missing. */
  readonly dir: string;
  /** Bytes kept per connection direction (default 64 MiB). */
  readonly maxBytesPerDirection?: number;
  /** Bytes kept over all captures of this sink, i.e. of this process (default 1 GiB). */
  readonly maxTotalBytes?: number;
  /** Bytes a direction may have waiting for the disk (default 8 MiB). */
  readonly maxPendingBytes?: number;
  /** Where a failed capture write is reported (warn). */
  readonly logger?: Logger;
}

/** The bounds a {@link CaptureSink} has unless its options say otherwise. */
export const captureDefaults = { maxBytesPerDirection: 64 * 1024 * 1024, maxTotalBytes: 1024 * 1024 * 1024, maxPendingBytes: 8 * 1024 * 1024 };

/** The two directions of one captured connection, as the transport sees them. */
export interface ConnectionTap {
  /** Bytes read from the socket, as they arrived. */
  received(chunk: Uint8Array): void;
  /** Bytes handed to the socket, before it writes them (copied: the caller may reuse the buffer). */
  sent(chunk: Uint8Array): void;
  /** The connection closed: the files get their final header. */
  close(): void;
}

/** Where captures go: a checked, writable directory and the budget all its captures share. */
export class CaptureSink {
  readonly dir: string;
  readonly maxBytesPerDirection: number;
  readonly maxTotalBytes: number;
  readonly maxPendingBytes: number;
  readonly #log: Logger | undefined;
  readonly #writers = new Set<DirectionWriter>();
  #totalBytes = 0;

  private constructor(options: CaptureOptions) {
    this.dir = options.dir;
    this.maxBytesPerDirection = options.maxBytesPerDirection ?? captureDefaults.maxBytesPerDirection;
    this.maxTotalBytes = options.maxTotalBytes ?? captureDefaults.maxTotalBytes;
    this.maxPendingBytes = options.maxPendingBytes ?? captureDefaults.maxPendingBytes;
    this.#log = options.logger;
  }

  /** Creates the directory and proves it writable (a probe file written and removed); rejects with the reason otherwise. */
  static async create(options: CaptureOptions): Promise<CaptureSink> {
    await mkdir(options.dir, { recursive: true });
    const probe = join(options.dir, `.probe-${process.pid}`);
    const handle = await open(probe, 'w');
    try {
      await handle.write(Buffer.from(CAPTURE_MAGIC));
    } finally {
      await handle.close();
      await rm(probe, { force: true });
    }
    return new CaptureSink(options);
  }

  /** Starts capturing one connection; `role` says which direction is which (the client sends c2s). */
  open(connection: { id: string; peer: string; role: 'client' | 'server' }): ConnectionTap {
    const time = new Date().toISOString().replace(/[-:]/g, '').replace('.', '');
    const base = join(this.dir, `${time}-${process.pid}-${connection.id}-${connection.peer.replace(/[^\w.-]/g, '_')}`);
    const c2s = new DirectionWriter(`${base}.c2s.fwcap`, this);
    const s2c = new DirectionWriter(`${base}.s2c.fwcap`, this);
    for (const writer of [c2s, s2c]) {
      this.#writers.add(writer);
      void writer.settled.then(() => this.#writers.delete(writer));
    }
    const [outbound, inbound] = connection.role === 'client' ? [c2s, s2c] : [s2c, c2s];
    return {
      received: (chunk) => { inbound.push(chunk); },
      sent: (chunk) => { outbound.push(chunk); },
      close: () => {
        inbound.close();
        outbound.close();
      },
    };
  }

  /**
   * Ends every capture still open (as if its connection closed) and resolves once every file has
   * its final header: for a process about to exit, whose connections may not have closed yet.
   */
  async close(): Promise<void> {
    const writers = [...this.#writers];
    for (const writer of writers) writer.close();
    await Promise.all(writers.map((writer) => writer.settled));
  }

  /**
   * Takes up to `bytes` from the shared budget; returns what was granted.
   * @internal
   */
  reserve(bytes: number): number {
    const granted = Math.min(bytes, this.maxTotalBytes - this.#totalBytes);
    this.#totalBytes += granted;
    return granted;
  }

  /**
   * Reports a failed capture write.
   * @internal
   */
  warn(error: unknown, file: string, message: string): void {
    this.#log?.warn({ err: error, file }, message);
  }
}

/** One direction's file: a queue drained by one writer, positions explicit so the header can be rewritten. */
class DirectionWriter {
  readonly #file: string;
  readonly #sink: CaptureSink;
  readonly #queue: Buffer[] = [];
  #handle: Promise<FileHandle> | undefined;
  #pendingBytes = 0;
  #capturedBytes = 0;
  #missedBytes = 0;
  #end: CaptureEnd = CaptureEnd.open;
  #draining = false;
  #closing = false;
  #finished = false;
  #settle: () => void = () => undefined;
  /** Resolves when the file is closed with its final header (or the capture failed). */
  readonly settled = new Promise<void>((resolve) => {
    this.#settle = resolve;
  });

  constructor(file: string, sink: CaptureSink) {
    this.#file = file;
    this.#sink = sink;
  }

  push(chunk: Uint8Array): void {
    if (this.#end !== CaptureEnd.open || this.#closing) {
      this.#missedBytes += chunk.length;
      return;
    }
    if (this.#pendingBytes + chunk.length > this.#sink.maxPendingBytes) {
      this.#stop(CaptureEnd.slowDisk, chunk.length);
      return;
    }
    const room = Math.min(chunk.length, this.#sink.maxBytesPerDirection - this.#capturedBytes);
    const granted = this.#sink.reserve(room);
    if (granted > 0) {
      // A copy: the transport reuses its write buffers once the socket is done with them.
      this.#queue.push(Buffer.from(chunk.subarray(0, granted)));
      this.#pendingBytes += granted;
      this.#capturedBytes += granted;
      this.#drain();
    }
    if (granted < chunk.length) this.#stop(granted < room ? CaptureEnd.totalLimit : CaptureEnd.directionLimit, chunk.length - granted);
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#end === CaptureEnd.open) this.#end = CaptureEnd.complete;
    this.#drain();
  }

  #stop(end: CaptureEnd, missed: number): void {
    this.#end = end;
    this.#missedBytes += missed;
  }

  #drain(): void {
    if (this.#draining || this.#finished) return;
    this.#draining = true;
    void this.#writeAll().finally(() => {
      this.#draining = false;
      // Something arrived (or the close did) after the loop looked.
      if (!this.#finished && (this.#queue.length > 0 || this.#closing)) this.#drain();
    });
  }

  async #writeAll(): Promise<void> {
    try {
      const handle = await (this.#handle ??= this.#openFile());
      for (let chunk = this.#queue.shift(); chunk !== undefined; chunk = this.#queue.shift()) {
        const position = CAPTURE_HEADER_SIZE + this.#capturedBytes - this.#pendingBytes;
        await handle.write(chunk, 0, chunk.length, position);
        this.#pendingBytes -= chunk.length;
      }
      if (this.#closing) {
        this.#finished = true;
        await handle.write(this.#header(), 0, CAPTURE_HEADER_SIZE, 0);
        await handle.close();
        this.#settle();
      }
    } catch (error) {
      this.#finished = true;
      this.#sink.warn(error, this.#file, 'capture write failed: this capture stops, the connection goes on');
      this.#stop(CaptureEnd.writeError, this.#pendingBytes);
      this.#capturedBytes -= this.#pendingBytes;
      this.#queue.length = 0;
      this.#pendingBytes = 0;
      await this.#handle?.then((h) => h.close()).catch(() => undefined);
      this.#settle();
    }
  }

  async #openFile(): Promise<FileHandle> {
    const handle = await open(this.#file, 'w');
    await handle.write(this.#header(), 0, CAPTURE_HEADER_SIZE, 0);
    return handle;
  }

  #header(): Buffer {
    const header = Buffer.alloc(CAPTURE_HEADER_SIZE);
    header.write(CAPTURE_MAGIC, 0, 'latin1');
    header[7] = this.#end;
    header.writeBigUInt64BE(BigInt(this.#capturedBytes), 8);
    header.writeBigUInt64BE(BigInt(this.#missedBytes), 16);
    return header;
  }
}
