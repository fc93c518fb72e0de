/**
 * Upload metadata in Redis, shared by every server node (issue 19): the UploadMetaStore of
 * backends.ts. Keys, under a prefix (default `fw:`):
 *
 *   <p>up:<id>          hash: rec (the record as JSON), ver (its version), ik (its idempotency index key)
 *   <p>up:<id>:chunks   hash: chunk index → SHA-256 (hex)
 *   <p>key:<index key>  string: the upload id an idempotency key names (the key is a digest, FW-UP-50)
 *   <p>ids              set: every upload id, for the sweeper and recovery
 *
 * Three reads, each one round trip: `get` (the record's fields and HGETALL of the chunk hash, in one
 * MULTI..EXEC) for whole-upload operations, `getChunk` (the fields and HGET of one index, in one
 * MULTI..EXEC) for every chunk write and `getRecord` (the fields) for a chunk's authorisation, so
 * that a chunk costs the same whether it is the first or the ten-thousandth; the script that
 * records a chunk (HSETNX, PEXPIRE) touches one entry too.
 *
 * Each check-and-set is one Lua script: Redis runs a script atomically, in one round trip, and the
 * condition (the version, a free index, a free key) is checked where the data is. MULTI/WATCH would
 * need a connection of its own per transaction (WATCH belongs to the connection, and this one is
 * shared by every operation of the node), at least three round trips, and retries under contention.
 *
 * Expiry: every key carries a Redis TTL — the upload's deadline (its expiry, or its end once
 * finished) plus the retention, plus a margin — as a backstop that forgets what no sweeper reached.
 * The sweeper still decides expiry and deletes chunk data (FW-UP-43); the TTL is computed from the
 * store's clock as a duration, so an injected clock never expires keys early.
 *
 * Redis failures (unreachable, restarting) reach the state machine as FramewireError INTERNAL,
 * which is retryable: the client backs off and resumes; nothing was changed half-way, because each
 * change is one script. Redis restarted without persistence has lost the sessions: they read as
 * unknown (UPLOAD_NOT_FOUND), never as a different upload (ids are random, 128 bits).
 */

import { Redis } from 'ioredis';
import { FramewireError, isFramewireError } from '../errors.ts';
import type { AddChunkResult, StoredUpload, UploadChunkView, UploadMetaStore, UploadRecord, VersionedUpload } from './backends.ts';
import { isUploadId, SHA256_HEX_PATTERN } from './protocol.ts';
import { STORE_UNAVAILABLE } from './records.ts';

/** How long Redis keeps a key past the upload's deadline and retention: the sweeper's slack. */
const TTL_MARGIN_MS = 3600 * 1000;

const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local named = KEYS[3] ~= '' and redis.call('GET', KEYS[3])
if named and redis.call('EXISTS', ARGV[4] .. 'up:' .. named) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'rec', ARGV[2], 'ver', 1, 'ik', KEYS[3])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[3]) end
redis.call('SADD', KEYS[4], ARGV[1])
return 1`;

const UPDATE = `
local ver = redis.call('HGET', KEYS[1], 'ver')
if not ver or ver ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'rec', ARGV[2], 'ver', tonumber(ver) + 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local ik = redis.call('HGET', KEYS[1], 'ik')
if ik and ik ~= '' and redis.call('GET', ik) == ARGV[4] then redis.call('PEXPIRE', ik, ARGV[3]) end
return 1`;

const ADD_CHUNK = `
local ver = redis.call('HGET', KEYS[1], 'ver')
if not ver or ver ~= ARGV[1] then return 'stale' end
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 0 then return 'present' end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 'added'`;

const DELETE = `
local ik = redis.call('HGET', KEYS[1], 'ik')
if ik and ik ~= '' and redis.call('GET', ik) == ARGV[1] then redis.call('DEL', ik) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return 1`;

export interface RedisMetaStoreOptions {
  /** Prefix of every key; several framewire clusters may share one Redis under different prefixes. */
  readonly keyPrefix: string;
  /** How long finished uploads are remembered (the store's retainMs): part of each key's TTL. */
  readonly retainMs: number;
  /** The store's clock (Unix ms). */
  readonly now: () => number;
}

export class RedisMetaStore implements UploadMetaStore {
  readonly #redis: Redis;
  readonly #p: string;
  readonly #retainMs: number;
  readonly #now: () => number;

  constructor(redis: Redis, options: RedisMetaStoreOptions) {
    this.#redis = redis;
    this.#p = options.keyPrefix;
    this.#retainMs = options.retainMs;
    this.#now = options.now;
  }

  async get(id: string): Promise<StoredUpload | undefined> {
    if (!isUploadId(id)) return undefined;
    const replies = await this.#call(() => this.#redis.multi().hmget(this.#rec(id), 'rec', 'ver').hgetall(this.#chunks(id)).exec());
    const [[recErr, fields] = [], [chunksErr, stored] = []] = replies ?? [];
    if (recErr || chunksErr) throw unavailable(recErr ?? chunksErr);
    const [json, ver] = fields as [string | null, string | null];
    if (json === null || ver === null) return undefined;
    const chunks = new Map<number, string>();
    for (const [index, sha] of Object.entries(stored as Record<string, string>)) {
      if (!/^(0|[1-9][0-9]{0,9})$/.test(index) || !SHA256_HEX_PATTERN.test(sha)) throw corrupt(id, `chunk entry ${index}`);
      chunks.set(Number(index), sha);
    }
    return { record: parseRecord(id, json), version: Number(ver), chunks };
  }

  /** The record's fields alone: one HMGET. */
  async getRecord(id: string): Promise<VersionedUpload | undefined> {
    if (!isUploadId(id)) return undefined;
    const [json, ver] = await this.#call(() => this.#redis.hmget(this.#rec(id), 'rec', 'ver'));
    if (json === null || ver === null || json === undefined || ver === undefined) return undefined;
    return { record: parseRecord(id, json), version: Number(ver) };
  }

  /** The record's fields and the one chunk entry (HGET, never HGETALL): one MULTI..EXEC round trip. */
  async getChunk(id: string, index: number): Promise<UploadChunkView | undefined> {
    if (!isUploadId(id)) return undefined;
    const replies = await this.#call(() => this.#redis.multi().hmget(this.#rec(id), 'rec', 'ver').hget(this.#chunks(id), String(index)).exec());
    const [[recErr, fields] = [], [chunkErr, entry] = []] = replies ?? [];
    if (recErr || chunkErr) throw unavailable(recErr ?? chunkErr);
    const [json, ver] = fields as [string | null, string | null];
    if (json === null || ver === null) return undefined;
    const sha = entry as string | null;
    if (sha !== null && !SHA256_HEX_PATTERN.test(sha)) throw corrupt(id, `chunk entry ${index}`);
    return { record: parseRecord(id, json), version: Number(ver), stored: sha ?? undefined };
  }

  async create(record: UploadRecord): Promise<boolean> {
    const keys = [this.#rec(record.id), this.#chunks(record.id), record.indexKey === undefined ? '' : this.#key(record.indexKey), this.#ids()];
    const made = await this.#call(() => this.#redis.eval(CREATE, keys.length, ...keys, record.id, JSON.stringify(record), this.#ttl(record), this.#p));
    return made === 1;
  }

  async update(id: string, version: number, next: UploadRecord): Promise<boolean> {
    const done = await this.#call(() => this.#redis.eval(UPDATE, 2, this.#rec(id), this.#chunks(id), String(version), JSON.stringify(next), this.#ttl(next), id));
    return done === 1;
  }

  async addChunk(id: string, version: number, index: number, sha256: string): Promise<AddChunkResult> {
    const answer = await this.#call(() => this.#redis.eval(ADD_CHUNK, 2, this.#rec(id), this.#chunks(id), String(version), String(index), sha256));
    if (answer === 'added' || answer === 'present' || answer === 'stale') return answer;
    throw new FramewireError('INTERNAL', `unexpected answer from Redis to a chunk add: ${String(answer)}`);
  }

  async clearChunks(id: string): Promise<void> {
    await this.#call(() => this.#redis.del(this.#chunks(id)));
  }

  async delete(id: string): Promise<void> {
    await this.#call(() => this.#redis.eval(DELETE, 3, this.#rec(id), this.#chunks(id), this.#ids(), id));
  }

  async findKey(indexKey: string): Promise<string | undefined> {
    return (await this.#call(() => this.#redis.get(this.#key(indexKey)))) ?? undefined;
  }

  async ids(): Promise<string[]> {
    const members = (await this.#call(() => this.#redis.smembers(this.#ids()))).filter(isUploadId);
    if (members.length === 0) return [];
    // Records that their TTL removed leave their id in the set: forget those ids now.
    const exists = await this.#call(() => Promise.all(members.map((id) => this.#redis.exists(this.#rec(id)))));
    const gone = members.filter((_, i) => exists[i] === 0);
    if (gone.length > 0) await this.#call(() => this.#redis.srem(this.#ids(), ...gone));
    return members.filter((_, i) => exists[i] === 1);
  }

  /** The key's lifetime from now: the upload's deadline plus retention plus margin, as a duration (ms). */
  #ttl(r: UploadRecord): number {
    const deadline = r.finishedAt ?? r.expiresAt;
    return Math.max(deadline - this.#now(), 0) + this.#retainMs + TTL_MARGIN_MS;
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw isFramewireError(error) ? error : unavailable(error);
    }
  }

  #rec(id: string): string {
    return `${this.#p}up:${id}`;
  }

  #chunks(id: string): string {
    return `${this.#p}up:${id}:chunks`;
  }

  #key(indexKey: string): string {
    return `${this.#p}key:${indexKey}`;
  }

  #ids(): string {
    return `${this.#p}ids`;
  }
}

function parseRecord(id: string, json: string): UploadRecord {
  let record: unknown;
  try {
    record = JSON.parse(json);
  } catch {
    throw corrupt(id, 'record');
  }
  if (typeof record !== 'object' || record === null || (record as { id?: unknown }).id !== id) throw corrupt(id, 'record');
  return record as UploadRecord;
}

function corrupt(id: string, what: string): FramewireError {
  return new FramewireError('INTERNAL', `upload ${id}: unreadable ${what} in Redis`);
}

/**
 * Redis unreachable, restarting or refusing: INTERNAL, which is retryable, with the reason
 * `store_unavailable` (spec/UPLOAD.md §11.9): a commit that meets it tries no further change.
 */
export function unavailable(cause: unknown): FramewireError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new FramewireError('INTERNAL', `the shared upload store (Redis) is unavailable: ${message}`, { details: { reason: STORE_UNAVAILABLE } });
}
