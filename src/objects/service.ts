/**
 * The server side of the object read profile (spec/OBJECTS.md): a StreamService claiming
 * `objects.*`. It reads the objects an upload store committed (UploadStateMachine.objects), checks
 * that the connection's principal owns them — to anyone else an object does not exist (FW-OBJ-4) —
 * and answers stat, list and delete with a DONE trailer, and read with positioned DATA messages
 * paced by the client's credit, then DONE with the object's SHA-256. It keeps no state of its own
 * beyond the reads in flight per connection.
 */

import type { Logger } from 'pino';
import { checkIntegers } from '../arguments.ts';
import { FramewireError, invalidArgument, isFramewireError } from '../errors.ts';
import { defaultPrincipalId, type PrincipalId, type Session, type Stream, type StreamService } from '../session/index.ts';
import { compact, isUploadId, type CommittedObjectStore, type ObjectReader, type ObjectRecord } from '../upload/index.ts';
import { encodeDonePayload, type ControlMap } from '../wire/index.ts';
import {
  DIGEST_BYTES,
  encodeDeleteTrailer,
  encodeListEntry,
  encodeListTrailer,
  encodeReadTrailer,
  encodeStatTrailer,
  ObjectKind,
  parseListMeta,
  parseReadMeta,
  parseStatMeta,
  POSITION_BYTES,
  writePosition,
} from './protocol.ts';

/** The read service's limits (spec/OBJECTS.md §15.5); each is named, defaulted and enforced. */
export interface ObjectLimits {
  /** Reads in flight on one connection (FW-OBJ-13). Default 16. */
  readonly maxReadsPerConnection: number;
  /** The retry_after_ms hint sent with LIMIT_EXCEEDED. Default 200. */
  readonly retryAfterMs: number;
  /** The largest read message, position included; also bounded by the client's max_frame_payload. Default 256 KiB. */
  readonly maxReadMessageBytes: number;
  /** Messages read from storage at once (one scattered read). Default 16. */
  readonly readBatchMessages: number;
}

/** The defaults of {@link ObjectLimits}: 16 reads per connection, retry after 200 ms, messages of at most 256 KiB, 16 per storage read. */
export const defaultObjectLimits: ObjectLimits = {
  maxReadsPerConnection: 16,
  retryAfterMs: 200,
  maxReadMessageBytes: 256 * 1024,
  readBatchMessages: 16,
};

/** What an {@link ObjectService} serves and how it identifies principals. */
export interface ObjectServiceOptions {
  /** The committed objects: `store.objects` of an upload store. */
  readonly objects: CommittedObjectStore;
  readonly limits?: Partial<ObjectLimits>;
  /** Maps `session.principal` to the id objects belong to (as the upload service does). Default `defaultPrincipalId`. */
  readonly principalId?: PrincipalId;
  readonly logger?: Logger;
}

/** The one answer for an object the principal may not know of (FW-OBJ-4): no id, no details. */
const notFound = (): FramewireError => new FramewireError('NOT_FOUND', 'no such object');

/** What a list trailer may hold besides its entries: the keys, the array header, the cursor. */
const LIST_OVERHEAD = 512;

export class ObjectService implements StreamService {
  readonly kinds = ['objects.'] as const;
  readonly limits: ObjectLimits;
  readonly #objects: CommittedObjectStore;
  readonly #principalId: PrincipalId;
  readonly #reads = new WeakMap<Session, number>();

  constructor(options: ObjectServiceOptions) {
    this.#objects = options.objects;
    this.limits = { ...defaultObjectLimits, ...options.limits };
    checkIntegers('object limit', this.limits);
    if (this.limits.maxReadMessageBytes <= POSITION_BYTES || this.limits.readBatchMessages < 1) throw invalidArgument('maxReadMessageBytes must exceed 8 and readBatchMessages be at least 1');
    this.#principalId = options.principalId ?? defaultPrincipalId;
  }

  handle(stream: Stream, session: Session): Promise<void> {
    const log = session.log.child(compact({ object: stream.target, kind: stream.kind, stream: stream.id }));
    let work: Promise<void>;
    switch (stream.kind) {
      case ObjectKind.stat:
        work = this.#control(stream, () => this.#stat(stream, session));
        break;
      case ObjectKind.list:
        work = this.#control(stream, () => this.#list(stream, session));
        break;
      case ObjectKind.delete:
        work = this.#control(stream, () => this.#delete(stream, session));
        break;
      case ObjectKind.read:
        work = this.#read(stream, session);
        break;
      default:
        stream.fail('NOT_FOUND', `unknown objects operation "${stream.kind}"`);
        return Promise.resolve();
    }
    return work.catch((error: unknown) => {
      this.#fail(stream, error, log);
    });
  }

  /** stat, list and delete carry no DATA: wait for the request's DONE, then answer (FW-OBJ-2). */
  async #control(stream: Stream, work: () => Promise<ControlMap>): Promise<void> {
    await requestEnded(stream);
    await stream.end(await work());
  }

  async #stat(stream: Stream, session: Session): Promise<ControlMap> {
    const { unitsFrom, unitsMax } = parseStatMeta(stream.meta);
    const record = await this.#owned(stream, session);
    const unitCount = record.unitDigests.length / DIGEST_BYTES;
    if (unitsFrom > unitCount) throw new FramewireError('BAD_RANGE', `units_from ${unitsFrom} is past the object's ${unitCount} units`, { details: { unit_count: unitCount } });
    const until = Math.min(unitCount, unitsFrom + unitsMax);
    return encodeStatTrailer({
      ...summaryOf(record),
      unitSize: record.unitSize,
      unitCount,
      unitsFrom,
      unitDigests: record.unitDigests.subarray(unitsFrom * DIGEST_BYTES, until * DIGEST_BYTES),
    });
  }

  async #list(stream: Stream, session: Session): Promise<ControlMap> {
    const { cursor, limit } = parseListMeta(stream.meta);
    // The reference cursor is the last object id of the previous page.
    if (cursor !== undefined && !isUploadId(cursor)) throw new FramewireError('MALFORMED_PAYLOAD', 'objects.list: "cursor" is not one this server gave');
    const owner = this.#identify(session);
    const page = await this.#objects.listObjects(owner, cursor, limit);
    // The answer must fit one frame of the client's (FW-OBJ-7): a shorter page, with a cursor.
    let budget = this.#frameLimit(session) - LIST_OVERHEAD;
    const entries: ControlMap[] = [];
    for (const record of page.objects) {
      const entry = encodeListEntry(summaryOf(record));
      budget -= encodeDonePayload({ trailer: entry }).length;
      if (budget < 0 && entries.length > 0) break;
      entries.push(entry);
    }
    const more = page.more || entries.length < page.objects.length;
    return encodeListTrailer(entries, more ? page.objects[entries.length - 1]?.objectId : undefined);
  }

  async #delete(stream: Stream, session: Session): Promise<ControlMap> {
    const owner = this.#identify(session);
    const id = stream.target ?? '';
    const record = await this.#objects.describeObject(id);
    // Another principal's object is left alone and answered like a missing one (FW-OBJ-12).
    if (record?.owner !== owner) return encodeDeleteTrailer(false);
    const deleted = await this.#objects.deleteObject(id);
    session.log.debug({ object: id, deleted }, 'object deleted');
    return encodeDeleteTrailer(deleted);
  }

  async #read(stream: Stream, session: Session): Promise<void> {
    const request = parseReadMeta(stream.meta);
    const record = await this.#owned(stream, session);
    const release = this.#admit(session);
    try {
      const length = request.length ?? Math.max(0, record.size - request.offset);
      if (request.offset > record.size || request.offset + length > record.size) {
        throw new FramewireError('BAD_RANGE', `the range [${request.offset}, ${request.offset + length}) is past the object's end (${record.size} bytes)`, { details: { size: record.size } });
      }
      // The client sends nothing but DONE; DATA fails the stream, which stops the read (FW-OBJ-2).
      requestEnded(stream).catch((error: unknown) => {
        if (isFramewireError(error) && error.code === 'PROTOCOL_ERROR') stream.fail('PROTOCOL_ERROR', error.message);
      });
      const reader = await this.#objects.openObjectReader(record.objectId);
      if (reader === undefined) throw notFound();
      try {
        await this.#send(stream, session, reader, request.offset, request.offset + length);
      } finally {
        // Cancelled, failed or done: the object is released at once (FW-OBJ-11).
        await reader.close();
      }
      await stream.end(encodeReadTrailer({ sha256: record.sha256, size: record.size, offset: request.offset, length }));
    } finally {
      release();
    }
  }

  /** Sends [from, to) as positioned messages that each fit one of the client's frames (FW-OBJ-9). */
  async #send(stream: Stream, session: Session, reader: ObjectReader, from: number, to: number): Promise<void> {
    const piece = Math.min(this.limits.maxReadMessageBytes, this.#frameLimit(session)) - POSITION_BYTES;
    for (let position = from; position < to; ) {
      stream.signal.throwIfAborted();
      const count = Math.min(this.limits.readBatchMessages, Math.ceil((to - position) / piece));
      const batch = Buffer.allocUnsafe(count * (POSITION_BYTES + piece));
      const views: Buffer[] = [];
      for (let i = 0, at = position; i < count; i++, at += piece) {
        const start = i * (POSITION_BYTES + piece);
        views.push(batch.subarray(start + POSITION_BYTES, start + POSITION_BYTES + Math.min(piece, to - at)));
      }
      const wanted = views.reduce((n, v) => n + v.length, 0);
      const got = await reader.readv(views, position);
      if (got !== wanted) throw new FramewireError('INTERNAL', `object ${reader.size} bytes long ended after ${position + got}`);
      for (const [i, view] of views.entries()) {
        const start = i * (POSITION_BYTES + piece);
        writePosition(batch.subarray(start), position);
        position += view.length;
        // Resolves once the send buffer has room: paced by the client's credit (FW-OBJ-9).
        await stream.write(batch.subarray(start, start + POSITION_BYTES + view.length));
      }
    }
  }

  #frameLimit(session: Session): number {
    return session.peerSettings?.maxFramePayload ?? 16 * 1024;
  }

  #identify(session: Session): string {
    const id = this.#principalId(session.principal);
    if (id === undefined) throw new FramewireError('FORBIDDEN', 'the connection has no principal id objects can belong to');
    return id;
  }

  /** The object named by the stream's target, if the principal owns it; NOT_FOUND otherwise, whatever the reason (FW-OBJ-4). */
  async #owned(stream: Stream, session: Session): Promise<ObjectRecord> {
    const owner = this.#identify(session);
    const record = await this.#objects.describeObject(stream.target ?? '');
    if (record?.owner !== owner) throw notFound();
    return record;
  }

  /** Counts a read against the connection's bound, or fails with LIMIT_EXCEEDED + retry_after_ms (FW-OBJ-13). */
  #admit(session: Session): () => void {
    const reads = this.#reads.get(session) ?? 0;
    const l = this.limits;
    if (reads >= l.maxReadsPerConnection) {
      throw new FramewireError('LIMIT_EXCEEDED', `${l.maxReadsPerConnection} reads in flight on this connection; retry after ${l.retryAfterMs} ms`, { retryAfterMs: l.retryAfterMs });
    }
    this.#reads.set(session, reads + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#reads.set(session, (this.#reads.get(session) ?? 1) - 1);
    };
  }

  #fail(stream: Stream, error: unknown, log: Logger): void {
    if (stream.ended) return;
    if (isFramewireError(error)) {
      log.debug({ code: error.code, msg: error.message }, 'objects operation refused');
      stream.fail(error.code, error.message, compact({ retryAfterMs: error.retryAfterMs, details: error.details }));
      return;
    }
    // The stream was cancelled or failed while we read: nothing to answer.
    if (stream.signal.aborted) return;
    log.error({ err: error }, 'objects operation failed');
    stream.fail('INTERNAL', 'internal error in the object store');
  }
}

/** Resolves at the client's DONE; PROTOCOL_ERROR when it sends DATA (FW-OBJ-2). */
async function requestEnded(stream: Stream): Promise<void> {
  for await (const piece of stream.chunks()) {
    if (piece.length > 0) throw new FramewireError('PROTOCOL_ERROR', `${stream.kind} carries no DATA from the client (FW-OBJ-2)`);
  }
}

function summaryOf(r: ObjectRecord): { objectId: string; size: number; sha256: string; committedAt: number; metadata?: Readonly<Record<string, string>> } {
  return compact({ objectId: r.objectId, size: r.size, sha256: r.sha256, committedAt: r.committedAt, metadata: r.metadata });
}
