/**
 * The server's stream behaviours (sink, msgs, echo, stall) for the byte-stream protocols (raw TCP,
 * node:http2, yamux), written once against `ServerPipe`. framewire has its own version in
 * framewire.ts because it is measured through its own API (message iterator, chunks()).
 */

import { idle, parseStallKind, RecordCounter, sampleRss, type Reply, type StallReport } from './common.ts';

/** One server-side stream of a byte-stream protocol. */
export interface ServerPipe {
  onData(cb: (chunk: Uint8Array) => void): void;
  onEnd(cb: () => void): void;
  pause(): void;
  resume(): void;
  write(chunk: Uint8Array): void;
  end(): void;
  /** Bytes the protocol layer holds for this stream while paused, if it can tell. */
  held(): number | undefined;
}

export function serveStream(pipe: ServerPipe, kind: string): void {
  const reply = (r: Reply): void => {
    pipe.write(Buffer.from(JSON.stringify(r)));
    pipe.end();
  };
  if (kind === 'echo') {
    pipe.onData((c) => {
      pipe.write(c);
    });
    pipe.onEnd(() => {
      pipe.end();
    });
    return;
  }
  if (kind === 'msgs') {
    const counter = new RecordCounter();
    let bytes = 0;
    pipe.onData((c) => {
      bytes += c.length;
      counter.push(c);
    });
    pipe.onEnd(() => {
      reply({ bytes, messages: counter.count });
    });
    return;
  }
  const stall = parseStallKind(kind);
  if (stall !== undefined) {
    serveStall(pipe, stall.prefix, stall.stallMs, reply);
    return;
  }
  if (kind !== 'sink') throw new Error(`unknown stream kind ${kind}`);
  let bytes = 0;
  pipe.onData((c) => {
    bytes += c.length;
  });
  pipe.onEnd(() => {
    reply({ bytes });
  });
}

function serveStall(pipe: ServerPipe, prefix: number, stallMs: number, reply: (r: Reply) => void): void {
  let bytes = 0;
  let phase: 'before' | 'stalled' | 'after' = 'before';
  let bytesAtStall = 0;
  let report: StallReport | undefined;
  let ended = false;
  pipe.onData((c) => {
    bytes += c.length;
    if (phase !== 'before' || bytes < prefix) return;
    phase = 'stalled';
    bytesAtStall = bytes;
    const rssAtStallStart = process.memoryUsage.rss();
    const sampler = sampleRss();
    pipe.pause();
    setTimeout(() => {
      const held = pipe.held();
      const rssPeak = sampler.stop();
      report = {
        rssAtStallStart,
        rssPeak,
        rssIdle: idle.rss,
        bytesDuringStall: bytes - bytesAtStall + (held ?? 0),
        heldBytes: held,
        grantedBytes: undefined,
      };
      phase = 'after';
      pipe.resume();
      if (ended) reply({ bytes, stall: report });
    }, stallMs);
  });
  pipe.onEnd(() => {
    ended = true;
    if (phase !== 'stalled') reply(report === undefined ? { bytes } : { bytes, stall: report });
  });
}
