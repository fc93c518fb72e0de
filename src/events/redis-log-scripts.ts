/**
 * The Redis side of the shared replay log (spec/EVENTS.md §12.13): key names and the Lua scripts
 * that change them. Keys, under a prefix (default `fw:`), per instance h = a digest of
 * (principal, name, key):
 *
 *   <p>ev:<h>          hash: node (the producer's node), last, first, ended, name, key
 *   <p>ev:<h>:log      stream: event n is entry `n-0` (fields t, b = the encoded `ev` message, at);
 *                      the producer's end is entry `<last>-1` (field end), after the last event
 *   <p>ev:<h>:tail     pub/sub channel: after an append, `b` and then, for each event the script
 *                      appended, `<id>:<at>:<type length>:<b length>:<type><b>` (the events
 *                      themselves, so a serving node sends them without reading the stream;
 *                      redis-tail.ts); `e<last>` after the end
 *   <p>node:<n>:alive  string with a TTL that node n renews while it lives
 *   <p>node:<n>        pub/sub channel of node n: what subscribers served elsewhere tell its producers
 *
 * Every change is one script: Redis runs a script atomically, so the check (this node still owns
 * the instance, the new id follows the last one, the log was not lost in a restart) and the change
 * (XADD with the trim, the hash, the notification) happen together, in one round trip, and no
 * reader ever sees the one without the other. MULTI/EXEC cannot branch on what it reads, and
 * WATCH would need a connection per transaction and retries; nothing here contends, so a script
 * never waits either.
 */

import { createHash } from 'node:crypto';
import { decode, encode } from '@msgpack/msgpack';
import type { Redis } from 'ioredis';
import { errorCodeName, FramewireError } from '../errors.ts';
import type { ControlMap } from '../wire/index.ts';
import type { ProducerEnd } from './producer-pump.ts';

export interface InstanceKeys {
  readonly hash: string;
  readonly meta: string;
  readonly log: string;
  readonly tail: string;
}

export function instanceKeys(prefix: string, principal: string, name: string, key: string): InstanceKeys {
  const hash = createHash('sha256').update(`${principal}\u0000${name}\u0000${key}`).digest('hex').slice(0, 32);
  const meta = `${prefix}ev:${hash}`;
  return { hash, meta, log: `${meta}:log`, tail: `${meta}:tail` };
}

export const nodeChannel = (prefix: string, node: string): string => `${prefix}node:${node}`;
export const aliveKey = (prefix: string, node: string): string => `${prefix}node:${node}:alive`;

/**
 * Claim (KEYS meta, log; ARGV node, name, key, ttl, prefix, mode): who runs the instance: this node
 * ('self': the caller looks in its own memory), another one, or nobody. An
 * instance whose node is alive, or that ended (its end is in the log), is served from the log; one
 * whose node died before it ended is lost (a resume learns so) or replaced (a new subscription
 * takes the key, FW-EV-4); an absent one is created for this node (or unknown to a resume).
 */
export const CLAIM = `
local m = redis.call('HMGET', KEYS[1], 'node', 'last', 'first', 'ended')
local owner = m[1]
if owner == ARGV[1] then return {'self'} end
if owner then
  local alive = redis.call('EXISTS', ARGV[5] .. 'node:' .. owner .. ':alive') == 1
  if alive or m[4] == '1' then return {'remote', owner, m[2], m[3], m[4]} end
  if ARGV[6] == 'resume' then return {'lost', owner, m[2], m[3], m[4]} end
  redis.call('DEL', KEYS[1], KEYS[2])
elseif ARGV[6] == 'resume' then
  return {'unknown'}
end
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'last', 0, 'first', 1, 'ended', 0, 'name', ARGV[2], 'key', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {'created'}`;

/**
 * Append (KEYS meta, log; ARGV node, ttl, tail, first, events): the events appended on the
 * producer's node in one turn of its event loop, in one call, as one argument already in the
 * layout of the tail channel (redis-tail.ts: `b`, then `<id>:<at>:<type length>:<b length>:<type><b>`
 * per event), which the script reads its XADDs from and publishes as is. Their ids must follow
 * `last` one by one; after the XADDs the stream is trimmed to `first` (what the producer's node
 * retains now), the hash updated, and the one message on the tail channel carries every event. A
 * batch is appended whole or not at all: every check, the reading of the whole argument included,
 * comes before the first write, and the one refusal Redis makes on its own, OOM, comes at a
 * script's first write (Redis decides it when the script starts); readers see the events and the
 * trim together.
 * 1 = appended, 0 = another node owns the instance, -1 = the log is gone (Redis restarted without
 * persistence, or the keys expired), -2 = the first id is not the next one (an earlier append
 * failed), -3 = the events argument is not in the layout (no event, a field cut short, an id or a
 * length that is not decimal digits): nothing is appended.
 */
export const APPEND = `
local m = redis.call('HMGET', KEYS[1], 'node', 'last')
if not m[1] then return -1 end
if m[1] ~= ARGV[1] then return 0 end
local batch = ARGV[5]
local size = string.len(batch)
if size < 2 or string.sub(batch, 1, 1) ~= 'b' then return -3 end
local ids, ats, types, bodies = {}, {}, {}, {}
local at = 2
while at <= size do
  local f = {}
  for i = 1, 4 do
    local colon = string.find(batch, ':', at, true)
    if not colon then return -3 end
    f[i] = string.sub(batch, at, colon - 1)
    at = colon + 1
  end
  if not (string.find(f[1], '^[1-9]%d*$') and string.find(f[3], '^%d+$') and string.find(f[4], '^%d+$')) then return -3 end
  local typeEnd = at + tonumber(f[3])
  local bodyEnd = typeEnd + tonumber(f[4])
  if bodyEnd - 1 > size then return -3 end
  local n = #ids + 1
  ids[n], ats[n] = f[1], f[2]
  types[n] = string.sub(batch, at, typeEnd - 1)
  bodies[n] = string.sub(batch, typeEnd, bodyEnd - 1)
  at = bodyEnd
end
for n = 1, #ids do
  if tonumber(ids[n]) ~= tonumber(m[2]) + n then return -2 end
end
for n = 1, #ids do
  redis.call('XADD', KEYS[2], ids[n] .. '-0', 't', types[n], 'b', bodies[n], 'at', ats[n])
end
redis.call('XTRIM', KEYS[2], 'MINID', ARGV[4] .. '-0')
redis.call('HSET', KEYS[1], 'last', ids[#ids], 'first', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], batch)
return 1`;

/** End (KEYS meta, log; ARGV node, last, end, ttl, tail): the producer's end as entry `<last>-1`. */
export const END = `
local m = redis.call('HMGET', KEYS[1], 'node', 'last', 'ended')
if m[1] ~= ARGV[1] or m[2] ~= ARGV[2] or m[3] == '1' then return 0 end
redis.call('XADD', KEYS[2], ARGV[2] .. '-1', 'end', ARGV[3])
redis.call('HSET', KEYS[1], 'ended', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[5], 'e' .. ARGV[2])
return 1`;

/** Trim (KEYS meta, log; ARGV node, first): what the producer's node dropped without an append (age, budget). */
export const TRIM = `
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
redis.call('XTRIM', KEYS[2], 'MINID', ARGV[2] .. '-0')
redis.call('HSET', KEYS[1], 'first', ARGV[2])
return 1`;

/** Drop (KEYS meta, log; ARGV node): the instance is gone; only its own node deletes it. */
export const DROP = `
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1], KEYS[2])`;

/** Renew (KEYS meta, log; ARGV node, ttl): the keys of a live instance outlast a producer that is quiet. */
export const RENEW = `
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`;

/** Poll (KEYS meta; ARGV prefix): the state a serving node checks: {node, last, first, ended, owner alive}. */
export const POLL = `
local m = redis.call('HMGET', KEYS[1], 'node', 'last', 'first', 'ended')
if not m[1] then return {} end
return {m[1], m[2], m[3], m[4], redis.call('EXISTS', ARGV[1] .. 'node:' .. m[1] .. ':alive')}`;

/**
 * A script of the log, sent whole with every call (EVAL; Redis compiles a body once and keeps it).
 * Not EVALSHA with a fallback: after NOSCRIPT (a fresh or restarted Redis) the call is sent again,
 * and a later call of the same log sent in between — EVALSHA, now known — would run first, out of
 * order (an append then refuses: not the next id). The body costs about 1.4 KB per call, one call
 * per burst of appends; it is kept encoded, so a call copies its bytes instead of building a string
 * of the command around it first.
 */
export class LuaScript {
  readonly #lua: Buffer;

  constructor(lua: string) {
    this.#lua = Buffer.from(lua, 'utf8');
  }

  run(redis: Redis, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    return redis.eval(this.#lua, keys.length, ...keys, ...args);
  }
}

export const scripts = {
  claim: new LuaScript(CLAIM),
  append: new LuaScript(APPEND),
  end: new LuaScript(END),
  trim: new LuaScript(TRIM),
  drop: new LuaScript(DROP),
  renew: new LuaScript(RENEW),
  poll: new LuaScript(POLL),
};

/** The producer's end as the log keeps it (MessagePack), so every node ends the subscriber the same way. */
export function encodeEnd(end: ProducerEnd): Buffer {
  switch (end.kind) {
    case 'done':
      return Buffer.from(encode({ k: 'done', s: end.summary ?? null }));
    case 'cancelled':
      return Buffer.from(encode({ k: 'cancelled', m: end.reason }));
    case 'error': {
      const e = end.error;
      return Buffer.from(encode({ k: 'error', c: e.wireCode, m: e.message, d: e.details ?? null, r: e.retryAfterMs ?? null, y: e.retryable }));
    }
  }
}

export function decodeEnd(bytes: Uint8Array): ProducerEnd {
  const m = decode(bytes) as Record<string, unknown>;
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  const map = (v: unknown): ControlMap | undefined => (typeof v === 'object' && v !== null ? (v as ControlMap) : undefined);
  switch (m['k']) {
    case 'done':
      return { kind: 'done', summary: map(m['s']) };
    case 'cancelled':
      return { kind: 'cancelled', reason: text(m['m']) };
    default: {
      const code = typeof m['c'] === 'number' ? errorCodeName(m['c']) : undefined;
      const details = map(m['d']);
      const retryAfterMs = typeof m['r'] === 'number' ? m['r'] : undefined;
      const error = new FramewireError(code ?? 'PRODUCER_FAILED', text(m['m']), {
        retryable: m['y'] === true,
        ...(details === undefined ? {} : { details }),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
      return { kind: 'error', error };
    }
  }
}
