/**
 * The read profile's server side (spec/OBJECTS.md) over loopback with the memory and FS stores:
 * ownership, stat with unit digests, list paging, read ranges and positions, delete, the reads
 * bound. Objects are committed straight through the store; the client operations of
 * src/objects/ops.ts ask. Cost: about 1 s.
 */

import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteObject, describeObject, listObjects, ObjectKind, openRead, parseReadTrailer, positionOf, POSITION_BYTES, statObject } from '../../src/objects/index.ts';
import { byToken, commitObject, expectFwError, Harness, KiB, MiB, objectServer, probing, randomBytesOf, removeTempDirs, settle, waitFor, type ReadProbe } from './helpers.ts';

const h = new Harness();
afterEach(async () => {
  await h.cleanup();
  await removeTempDirs();
});

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const ALICE = 'id:alice';
const alice = { token: 'alice' };
const bob = { token: 'bob' };

describe.each([['memory', true], ['fs', false]] as const)('ObjectService (%s store)', (_name, memory) => {
  it('FW-OBJ-4 FW-OBJ-12: another principal gets NOT_FOUND exactly as for a missing id or no id at all; its list is empty; its delete touches nothing', async () => {
    const s = await objectServer(h, { memory, authenticate: byToken });
    const bytes = randomBytesOf(3000);
    const id = await commitObject(s.store, ALICE, bytes, 1000, { name: 'a.bin' });
    const asBob = await h.client({ port: s.port, auth: bob });
    const answers: string[] = [];
    for (const target of [id, 'f'.repeat(32), 'not-an-id']) {
      const ops: (() => Promise<unknown>)[] = [() => statObject(asBob, target), () => readAll(asBob, target, 0)];
      for (const op of ops) {
        const r = await settle(op());
        const e = expectFwError(r.ok ? undefined : r.error, 'NOT_FOUND');
        answers.push(`${e.message}|${JSON.stringify(e.details ?? null)}`);
      }
    }
    expect(new Set(answers).size).toBe(1);
    expect((await listObjects(asBob)).objects).toEqual([]);
    expect(await deleteObject(asBob, id)).toBe(false);
    const asAlice = await h.client({ port: s.port, auth: alice });
    expect((await statObject(asAlice, id)).sha256).toBe(sha(bytes));
    expect((await listObjects(asAlice)).objects.map((o) => [o.objectId, o.metadata?.['name']])).toEqual([[id, 'a.bin']]);
  });

  it('FW-OBJ-5 FW-OBJ-6: stat gives size, the commit SHA-256, time, metadata and the unit digests, in pages; units_from past the end is BAD_RANGE', async () => {
    const s = await objectServer(h, { memory });
    const bytes = randomBytesOf(10 * 100 + 37);
    const id = await commitObject(s.store, 'anonymous', bytes, 100, { name: 'x', type: 'application/octet-stream' });
    const committed = (await s.store.get(id))!.object!;
    const conn = await h.client({ port: s.port });
    const first = await statObject(conn, id, { unitsMax: 4 });
    expect(first).toMatchObject({ objectId: id, size: bytes.length, sha256: sha(bytes), committedAt: committed.committedAt, metadata: { name: 'x', type: 'application/octet-stream' }, unitSize: 100, unitCount: 11, unitsFrom: 0 });
    const unit = (i: number): Buffer => createHash('sha256').update(bytes.subarray(i * 100, (i + 1) * 100)).digest();
    expect(Buffer.from(first.unitDigests)).toEqual(Buffer.concat([0, 1, 2, 3].map(unit)));
    const last = await statObject(conn, id, { unitsFrom: 9, unitsMax: 4 });
    expect(Buffer.from(last.unitDigests)).toEqual(Buffer.concat([unit(9), unit(10)]));
    expect((await statObject(conn, id, { unitsFrom: 11 })).unitDigests.length).toBe(0);
    expectFwError(await failure(statObject(conn, id, { unitsFrom: 12 })), 'BAD_RANGE');
    expect(Buffer.from((await describeObject(conn, id)).unitDigests)).toEqual(Buffer.concat(Array.from({ length: 11 }, (_, i) => unit(i))));
    const r = await settle(statObject(conn, id, { unitsMax: 1025 }));
    expectFwError(r.ok ? undefined : r.error, 'MALFORMED_PAYLOAD');
  });

  it('FW-OBJ-7: list pages through the principal\'s objects with a cursor, each once, in id order; a cursor it never gave is MALFORMED_PAYLOAD', async () => {
    const s = await objectServer(h, { memory, authenticate: byToken });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await commitObject(s.store, ALICE, randomBytesOf(10 + i), 8));
    await commitObject(s.store, 'id:bob', randomBytesOf(5), 8);
    const conn = await h.client({ port: s.port, auth: alice });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await listObjects(conn, { limit: 3, ...(cursor === undefined ? {} : { cursor }) });
      seen.push(...page.objects.map((o) => o.objectId));
      expect(page.objects.length).toBeLessThanOrEqual(3);
      cursor = page.cursor;
      if (cursor === undefined) break;
    }
    expect(seen).toEqual([...ids].sort());
    const r = await settle(listObjects(conn, { cursor: '../../etc' }));
    expectFwError(r.ok ? undefined : r.error, 'MALFORMED_PAYLOAD');
    const zero = await settle(listObjects(conn, { limit: 0 }));
    expectFwError(zero.ok ? undefined : zero.error, 'MALFORMED_PAYLOAD');
  });

  it('FW-OBJ-8 FW-OBJ-9 FW-OBJ-10: a read sends exactly its range as positioned messages within one frame each, then the object\'s SHA-256; past the end is BAD_RANGE with the size', async () => {
    const s = await objectServer(h, { memory });
    const bytes = randomBytesOf(200 * KiB + 5);
    const id = await commitObject(s.store, 'anonymous', bytes, 64 * KiB);
    const conn = await h.client({ port: s.port });
    for (const [offset, length] of [[0, undefined], [1000, 70_000], [bytes.length, undefined], [bytes.length - 1, 1]] as const) {
      const stream = openRead(conn, id, { offset, ...(length === undefined ? {} : { length }) });
      let expected = offset;
      const parts: Uint8Array[] = [];
      for await (const message of stream) {
        expect(positionOf(message)).toBe(expected);
        // The client declared the default max_frame_payload (64 KiB): each message fits one frame.
        expect(message.length).toBeLessThanOrEqual(64 * KiB);
        parts.push(message.subarray(POSITION_BYTES));
        expected += message.length - POSITION_BYTES;
      }
      const end = length === undefined ? bytes.length : offset + length;
      // Compared as digests: a deep equality of large buffers is slow in the test runner.
      expect(sha(Buffer.concat(parts))).toBe(sha(bytes.subarray(offset, end)));
      expect(parseReadTrailer(stream.trailer)).toEqual({ sha256: sha(bytes), size: bytes.length, offset, length: end - offset });
    }
    for (const [offset, length] of [[bytes.length + 1, undefined], [10, bytes.length]] as const) {
      const r = await settle(readAll(conn, id, offset, length));
      const e = expectFwError(r.ok ? undefined : r.error, 'BAD_RANGE');
      expect(e.details).toEqual({ size: bytes.length });
    }
  });

  it('FW-OBJ-12: delete is idempotent and final: deleted true once, then false; stat, read and list no longer know the object', async () => {
    const s = await objectServer(h, { memory });
    const id = await commitObject(s.store, 'anonymous', randomBytesOf(100), 50);
    const conn = await h.client({ port: s.port });
    expect(await deleteObject(conn, id)).toBe(true);
    expect(await deleteObject(conn, id)).toBe(false);
    expectFwError(await failure(statObject(conn, id)), 'NOT_FOUND');
    const r = await settle(readAll(conn, id, 0));
    expectFwError(r.ok ? undefined : r.error, 'NOT_FOUND');
    expect((await listObjects(conn)).objects).toEqual([]);
  });
});

describe('ObjectService: the request direction, unknown kinds, the reads bound', () => {
  it('FW-OBJ-1 FW-OBJ-2: an unknown objects.* kind is NOT_FOUND; DATA from the client is PROTOCOL_ERROR', async () => {
    const s = await objectServer(h, { memory: true });
    const id = await commitObject(s.store, 'anonymous', randomBytesOf(100), 50);
    const conn = await h.client({ port: s.port });
    const unknown = conn.open({ kind: 'objects.rename', target: id });
    await unknown.end();
    const u = await unknown.outcome;
    expectFwError(u.status === 'completed' ? undefined : u.error, 'NOT_FOUND');
    for (const kind of [ObjectKind.stat, ObjectKind.read]) {
      const stream = conn.open({ kind, target: id });
      await stream.write(Buffer.from('hello')).catch(() => undefined);
      const outcome = await stream.outcome;
      expectFwError(outcome.status === 'completed' ? undefined : outcome.error, 'PROTOCOL_ERROR');
    }
  });

  it('FW-OBJ-13 FW-OBJ-11: reads in flight per connection are bounded (LIMIT_EXCEEDED + retry_after_ms); a cancelled read releases its object and its place', async () => {
    const probe: ReadProbe = { readvCalls: 0, bytesRead: 0, opened: 0, closed: 0, gate: undefined };
    let open!: () => void;
    probe.gate = new Promise<void>((resolve) => { open = resolve; });
    const s = await objectServer(h, { memory: true, limits: { maxReadsPerConnection: 1, readBatchMessages: 1 }, objects: probing(probe) });
    const bytes = randomBytesOf(4 * MiB);
    const id = await commitObject(s.store, 'anonymous', bytes, 256 * KiB);
    const conn = await h.client({ port: s.port });
    const first = openRead(conn, id, { offset: 0 });
    expect((await first.read())?.length).toBeGreaterThan(POSITION_BYTES);
    const second = await settle(readAll(conn, id, 0));
    const refused = expectFwError(second.ok ? undefined : second.error, 'LIMIT_EXCEEDED');
    expect(refused.retryAfterMs).toBe(200);
    first.cancel('enough');
    open();
    await waitFor(() => probe.closed === 1, 5000, 'the cancelled read closes its object');
    // Until the CANCEL arrived it could read ahead only as far as the credit and its send buffer allow.
    expect(probe.bytesRead).toBeLessThan(2 * MiB);
    // Its place is free again.
    expect(sha(Buffer.concat(await readAll(conn, id, 0)))).toBe(sha(bytes));
  });
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  const r = await settle(promise);
  return r.ok ? undefined : r.error;
}

async function readAll(conn: Parameters<typeof openRead>[0], id: string, offset: number, length?: number): Promise<Uint8Array[]> {
  const stream = openRead(conn, id, { offset, ...(length === undefined ? {} : { length }) });
  const parts: Uint8Array[] = [];
  for await (const message of stream) parts.push(message.subarray(POSITION_BYTES));
  return parts;
}
