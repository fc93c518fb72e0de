/**
 * The event streams `framewire serve` offers out of the box, so a person can try `framewire tail`
 * at once: a clock, a synthetic token generator (an LLM stand-in) and, when asked, a live tail of
 * a file. Each one honours its AbortSignal, so a cancelled subscription really stops it. Their
 * params, events and ends are specified in spec/PROTOCOL.md §13.3: interop tests rely on them.
 */

import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventService, ProducerContext } from '../events/index.ts';

const WORDS = 'the quick brown fox jumps over the lazy dog while framewire streams every token exactly once'.split(' ');

/** An integer param clamped to [min, max]; absent or not an integer: the default (spec §13.3). */
function numberParam(ctx: ProducerContext, key: string, fallback: number, min: number, max: number): number {
  const v = ctx.params[key];
  return typeof v === 'number' && Number.isInteger(v) ? Math.min(max, Math.max(min, v)) : fallback;
}

export interface BuiltinStreamOptions {
  /** A file whose appended lines the `logtail` stream emits. */
  readonly tailFile?: string;
  /** Called when a producer has really stopped (its `finally` ran): the demo uses it to prove cancellation. */
  readonly onProducerStop?: (info: { readonly name: string; readonly key: string; readonly aborted: boolean }) => void;
}

export function registerBuiltinStreams(events: EventService, options: BuiltinStreamOptions = {}): string[] {
  const names = ['clock', 'tokens'];
  const stopped = (ctx: ProducerContext): void => {
    options.onProducerStop?.({ name: ctx.name, key: ctx.key, aborted: ctx.signal.aborted });
  };
  // clock: one "tick" per interval (params.interval_ms, default 1000), until cancelled.
  events.handle('clock', async function* (ctx) {
    const every = numberParam(ctx, 'interval_ms', 1000, 10, 3_600_000);
    try {
      for (let n = 1; !ctx.signal.aborted; n++) {
        yield { type: 'tick', data: { n, now: new Date().toISOString() } };
        await sleep(every, undefined, { signal: ctx.signal }).catch(() => undefined);
      }
    } finally {
      stopped(ctx);
    }
  });
  // tokens: params.count tokens (default 200), one per params.interval_ms (default 10), then a summary.
  events.handle('tokens', async function* (ctx) {
    const count = numberParam(ctx, 'count', 200, 0, 10_000_000);
    const every = numberParam(ctx, 'interval_ms', 10, 0, 60_000);
    try {
      for (let i = 0; i < count; i++) {
        yield { type: 'token', data: { i, text: WORDS[i % WORDS.length] } };
        if (every > 0) await sleep(every, undefined, { signal: ctx.signal });
      }
      return { tokens: count };
    } finally {
      stopped(ctx);
    }
  });
  const tailFile = options.tailFile;
  if (tailFile !== undefined) {
    names.push('logtail');
    // logtail: lines appended to the file from now on (polling: works on every file system).
    events.handle('logtail', async function* (ctx) {
      let offset = (await stat(tailFile)).size;
      let partial = '';
      while (!ctx.signal.aborted) {
        const size = (await stat(tailFile)).size;
        if (size < offset) offset = 0; // truncated or rotated
        if (size > offset) {
          const fh = await open(tailFile, 'r');
          try {
            const buf = Buffer.alloc(Math.min(size - offset, 1024 * 1024));
            const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
            offset += bytesRead;
            const lines = (partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
            partial = lines.pop() ?? '';
            for (const line of lines) yield { type: 'line', data: line };
          } finally {
            await fh.close();
          }
          continue;
        }
        await sleep(200, undefined, { signal: ctx.signal }).catch(() => undefined);
      }
    });
  }
  return names;
}
