/**
 * The event streams `framewire serve` offers out of the box, so a person can try `framewire tail`
 * at once: a clock, a synthetic token generator (an LLM stand-in) and, when asked, a live tail of
 * a file. Each one honours its AbortSignal, so a cancelled subscription really stops it. Their
 * params, events and ends are specified in spec/PROTOCOL.md §13.3: interop tests rely on them.
 */

import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FramewireError } from '../errors.ts';
import type { EventService, ProducerContext } from '../events/index.ts';
import type { ControlMap } from '../wire/index.ts';

const WORDS = 'the quick brown fox jumps over the lazy dog while framewire streams every token exactly once'.split(' ');

/** The integer params a built-in stream takes: name → [default, min, max] (spec §13.3). */
type IntegerParams = Readonly<Record<string, readonly [number, number, number]>>;

/**
 * Refuses params a stream does not take (FW-REF-6): an unknown key, a value that is not an
 * integer, or one outside its range is MALFORMED_PAYLOAD before the instance starts, never a
 * silently different stream.
 */
function integerParamsCheck(name: string, spec: IntegerParams): (params: ControlMap) => void {
  return (params) => {
    for (const [key, value] of Object.entries(params)) {
      const range = spec[key];
      if (range === undefined) {
        const known = Object.keys(spec);
        throw new FramewireError('MALFORMED_PAYLOAD', `"${name}" takes no param "${key}" (${known.length === 0 ? 'it takes no params' : `its params: ${known.join(', ')}`})`, { details: { param: key } });
      }
      const [, min, max] = range;
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
        throw new FramewireError('MALFORMED_PAYLOAD', `"${name}" param "${key}" must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`, { details: { param: key, min, max } });
      }
    }
  };
}

/** A param the check accepted, or its default. */
function integerParam(ctx: ProducerContext, spec: IntegerParams, key: string): number {
  const v = ctx.params[key];
  return typeof v === 'number' ? v : (spec[key]?.[0] ?? 0);
}

const CLOCK_PARAMS: IntegerParams = { interval_ms: [1000, 10, 3_600_000] };
const TOKENS_PARAMS: IntegerParams = { count: [200, 0, 10_000_000], interval_ms: [10, 0, 60_000] };

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
    const every = integerParam(ctx, CLOCK_PARAMS, 'interval_ms');
    try {
      for (let n = 1; !ctx.signal.aborted; n++) {
        yield { type: 'tick', data: { n, now: new Date().toISOString() } };
        await sleep(every, undefined, { signal: ctx.signal }).catch(() => undefined);
      }
    } finally {
      stopped(ctx);
    }
  }, { checkParams: integerParamsCheck('clock', CLOCK_PARAMS) });
  // tokens: params.count tokens (default 200), one per params.interval_ms (default 10), then a summary.
  events.handle('tokens', async function* (ctx) {
    const count = integerParam(ctx, TOKENS_PARAMS, 'count');
    const every = integerParam(ctx, TOKENS_PARAMS, 'interval_ms');
    try {
      for (let i = 0; i < count; i++) {
        yield { type: 'token', data: { i, text: WORDS[i % WORDS.length] } };
        if (every > 0) await sleep(every, undefined, { signal: ctx.signal });
      }
      return { tokens: count };
    } finally {
      stopped(ctx);
    }
  }, { checkParams: integerParamsCheck('tokens', TOKENS_PARAMS) });
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
    }, { checkParams: integerParamsCheck('logtail', {}) });
  }
  return names;
}
