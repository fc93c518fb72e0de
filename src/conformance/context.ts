/**
 * What a case works with: a context that opens raw connections to the target, and `Conn`, a
 * handshaken raw connection that knows the target's settings, allocates stream ids, sends DATA
 * within the target's credit when asked to behave, and grants credit back for what it reads.
 * None of this is a session: every rule is applied only where a case asks for it.
 */

import { randomBytes } from 'node:crypto';
import {
  DataFlags,
  defaultSettings,
  FrameType,
  PingFlags,
  settingBounds,
  settingKeys,
  type HelloPayload,
  type Settings,
} from '../wire/index.ts';
import { packRecords, unpackRecords } from './packed-records.ts';
import { describeCode, isEnding, isReceived, RawPeer, type Received } from './raw-peer.ts';
import type { Transport } from './link.ts';
import { CaseAbort, outcome, type Feature } from './types.ts';

/** Where a node listens: the target, or the second node of its cluster. */
export interface NodeAddress {
  readonly host: string;
  readonly port: number;
  readonly transport: Transport;
  /** QUIC: the node's peer id to pin. */
  readonly peerId: string | undefined;
}

/** Which node a case connects to: the target, or the second node of its cluster (`--peer-target`). */
export type NodeRole = 'target' | 'peer';

export interface RunSettings {
  readonly host: string;
  readonly port: number;
  readonly transport: Transport;
  /** QUIC: the target's peer id to pin. */
  readonly peerId: string | undefined;
  readonly strict: boolean;
  /** How long to wait for an expected reply. */
  readonly timeoutMs: number;
  /** How long "nothing happens" must last to count as nothing. */
  readonly quietMs: number;
  /** Cap on waits for the target's own timers (handshake deadline, idle timeout). */
  readonly longWaitMs: number;
  /** Credentials sent in every HELLO, for targets with an authentication hook. */
  readonly auth: unknown;
  /** A second node of the target's cluster, for the cluster cases (spec/EVENTS.md §12.13). */
  readonly peer: NodeAddress | undefined;
}

/** Where and how the raw peer connects for a run: to the target, or to the second node of its cluster. */
export function connectOptions(run: RunSettings, node: NodeRole = 'target'): { host: string; port: number; transport: Transport; peerId?: string; connectTimeoutMs: number } {
  const at: NodeAddress | undefined = node === 'peer' ? run.peer : run;
  if (at === undefined) throw new CaseAbort(outcome.notApplicable(NEEDS_PEER));
  return { host: at.host, port: at.port, transport: at.transport, ...(at.peerId === undefined ? {} : { peerId: at.peerId }), connectTimeoutMs: run.timeoutMs };
}

/** Why a cluster case is not applicable without a second node. */
export const NEEDS_PEER = 'needs a second node of the same cluster: --peer-target';

export class CaseContext {
  readonly run: RunSettings;
  readonly features: ReadonlySet<Feature>;
  readonly #peers: RawPeer[] = [];
  readonly #deferred: (() => Promise<void>)[] = [];
  readonly notes: string[] = [];

  constructor(run: RunSettings, features: ReadonlySet<Feature>) {
    this.run = run;
    this.features = features;
  }

  get strict(): boolean {
    return this.run.strict;
  }

  get transport(): Transport {
    return this.run.transport;
  }

  get timeoutMs(): number {
    return this.run.timeoutMs;
  }

  get quietMs(): number {
    return this.run.quietMs;
  }

  /** A raw connection (TCP or QUIC) to the target (or its cluster's second node), nothing sent yet. Closed when the case ends. */
  async connect(options: { autoPong?: boolean; node?: NodeRole } = {}): Promise<RawPeer> {
    const { node = 'target', ...rest } = options;
    const where = connectOptions(this.run, node);
    let peer: RawPeer;
    try {
      peer = await RawPeer.connect({ ...where, ...rest });
    } catch (error) {
      throw new CaseAbort(outcome.fail(`cannot connect to the ${node === 'peer' ? 'peer target' : 'target'}: ${error instanceof Error ? error.message : String(error)}`));
    }
    this.#peers.push(peer);
    return peer;
  }

  /**
   * Connects and completes the handshake, or ends the case with `fail`. `packed: true` declares
   * packed_messages = 1 (the target may then send PACKED DATA, §8.2.6); by default the runner
   * declares nothing, i.e. the protocol default 0. `node: 'peer'` handshakes with the second node
   * of the target's cluster instead (`--peer-target`).
   */
  async handshake(
    hello: { settings?: Partial<Settings>; packed?: boolean; versions?: number[]; autoPong?: boolean; extra?: Partial<HelloPayload>; before?: (peer: RawPeer) => void; node?: NodeRole } = {},
  ): Promise<Conn> {
    const peer = await this.connect({ ...(hello.autoPong === undefined ? {} : { autoPong: hello.autoPong }), ...(hello.node === undefined ? {} : { node: hello.node }) });
    hello.before?.(peer);
    const declared: Partial<Settings> = { ...hello.settings, ...(hello.packed === true ? { packedMessages: 1 } : {}) };
    const ours: Settings = { ...defaultSettings, ...declared };
    peer.hello({
      versions: hello.versions ?? [1],
      settings: declared,
      agent: 'framewire-conformance/1',
      ...(this.run.auth === undefined ? {} : { auth: this.run.auth }),
      ...hello.extra,
    });
    const first = await peer.waitFor(() => true, this.run.timeoutMs);
    if (!isReceived(first)) {
      throw new CaseAbort(outcome.fail('handshake failed: the target did not answer HELLO', 'the server HELLO', first === undefined ? 'nothing' : `connection closed (${first.how})`));
    }
    const f = first.frame;
    if (f?.type !== FrameType.HELLO) {
      const actual = f?.type === FrameType.ERROR ? `ERROR ${describeCode(f.payload.code)}: ${f.payload.message}` : `frame type 0x${first.raw.type.toString(16)}`;
      throw new CaseAbort(outcome.fail('handshake failed', 'the server HELLO as the first frame', actual));
    }
    return new Conn(this, peer, f.payload, ours);
  }

  /**
   * Work to run when the case has ended, before its connections close: undoing what the case left
   * on the target (uploads it did not finish), so that repeated runs do not fill the target's
   * per-principal budgets (UPLOAD.md FW-UP-37). Never fails the case.
   */
  defer(work: () => Promise<void>): void {
    this.#deferred.push(work);
  }

  /** Runs the deferred work, each item bounded by the reply timeout. */
  async runDeferred(): Promise<void> {
    for (const work of this.#deferred.splice(0)) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        work().catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.run.timeoutMs * 2);
        }),
      ]);
      clearTimeout(timer);
    }
  }

  /** Closes every connection the case opened. */
  cleanup(): void {
    for (const peer of this.#peers) peer.destroy();
  }

  note(text: string): void {
    this.notes.push(text);
  }
}

/** Per-stream flow-control bookkeeping on our side. */
interface StreamBook {
  sent: number;
  received: number;
  granted: number;
}

/** A connection after a successful handshake. */
export class Conn {
  readonly ctx: CaseContext;
  readonly peer: RawPeer;
  /** The target's HELLO. */
  readonly hello: HelloPayload;
  /** The target's settings, absent keys at their defaults (FW-SET-1). */
  readonly target: Settings;
  /** The settings we declared. */
  readonly ours: Settings;
  #nextId = 1;
  readonly #books = new Map<number, StreamBook>();
  #connSent = 0;
  #connReceived = 0;
  #connGranted: number;
  /** Grant credit back for DATA we receive, as a reading application would (default on). */
  autoCredit = true;

  constructor(ctx: CaseContext, peer: RawPeer, hello: HelloPayload, ours: Settings) {
    this.ctx = ctx;
    this.peer = peer;
    this.hello = hello;
    this.target = { ...defaultSettings, ...hello.settings };
    this.ours = ours;
    this.#connGranted = ours.initialConnectionCredit;
    peer.onFrame = (r) => {
      this.#onFrame(r);
    };
  }

  /** The target's settings as wire keys, for reports. */
  targetSettingsWire(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const key of settingKeys) out[settingBounds[key].wire] = this.target[key];
    return out;
  }

  /** A fresh client stream id (odd, increasing; FW-STREAM-1, FW-STREAM-2). */
  newStreamId(): number {
    const id = this.#nextId;
    this.#nextId += 2;
    return id;
  }

  /** Skips ids, e.g. to open a high one. */
  set nextStreamId(id: number) {
    this.#nextId = id;
  }

  get nextStreamId(): number {
    return this.#nextId;
  }

  #book(stream: number): StreamBook {
    let b = this.#books.get(stream);
    if (b === undefined) {
      b = { sent: 0, received: 0, granted: this.ours.initialStreamCredit };
      this.#books.set(stream, b);
    }
    return b;
  }

  /** Opens a stream of `kind`; returns its id. */
  open(kind: string, extra: { target?: string; meta?: Record<string, unknown>; urgency?: number } = {}): number {
    const id = this.newStreamId();
    this.#book(id);
    this.peer.open(id, kind, extra);
    return id;
  }

  openEcho(meta?: Record<string, unknown>): number {
    if (!this.ctx.features.has('echo')) throw new CaseAbort(outcome.unsupported('the target offers no conformance.echo service'));
    return this.open('conformance.echo', meta === undefined ? {} : { meta });
  }

  openSink(): number {
    if (!this.ctx.features.has('sink')) throw new CaseAbort(outcome.unsupported('the target offers no conformance.sink service'));
    return this.open('conformance.sink');
  }

  /** The highest credit offset the target granted for a stream (0 = connection), from its CREDIT frames. */
  grantedByTarget(stream: number): number {
    let limit = stream === 0 ? this.target.initialConnectionCredit : this.target.initialStreamCredit;
    for (const r of this.peer.frames) {
      if (r.raw.stream === stream && r.frame?.type === FrameType.CREDIT && r.frame.payload > limit) limit = r.frame.payload;
    }
    return limit;
  }

  /** DATA payload bytes we sent on a stream (0 = all streams). */
  sentOn(stream: number): number {
    return stream === 0 ? this.#connSent : this.#book(stream).sent;
  }

  /** Sends DATA with no regard for credit (counts it, so later well-behaved sends stay right). */
  dataRaw(stream: number, payload: Uint8Array, follows = false): void {
    this.#book(stream).sent += payload.length;
    this.#connSent += payload.length;
    this.peer.data(stream, payload, follows);
  }

  /**
   * Sends one DATA frame with PACKED set (plus `extraFlags`) and `payload` as it is, with no regard
   * for credit; the whole payload, length fields included, counts against credit (§8.2.6).
   */
  packedRaw(stream: number, payload: Uint8Array, extraFlags = 0): void {
    this.#book(stream).sent += payload.length;
    this.#connSent += payload.length;
    this.peer.frame({ type: FrameType.DATA, flags: DataFlags.PACKED | extraFlags, stream, payload });
  }

  /**
   * Sends `records` as whole messages in one PACKED frame as a well-behaved peer: waits until the
   * target's stream and connection credit cover the whole payload. The caller keeps the frame
   * within the target's max_frame_payload. Throws CaseAbort(fail) if credit never comes.
   */
  async sendPacked(stream: number, records: readonly Uint8Array[]): Promise<void> {
    const payload = packRecords(records);
    await this.#room(stream, payload.length);
    this.packedRaw(stream, payload);
  }

  /** Waits until at least `need` bytes (min 1) of stream and connection credit are free; returns them, or ends the case. */
  async #room(stream: number, need: number): Promise<number> {
    const book = this.#book(stream);
    const room = await this.peer.until(() => {
      const r = Math.min(this.grantedByTarget(stream) - book.sent, this.grantedByTarget(0) - this.#connSent);
      return r >= Math.max(1, need) ? r : undefined;
    }, this.ctx.timeoutMs);
    if (room !== undefined) return room;
    if (this.peer.targetEnded.get(stream) === 'error') {
      throw new CaseAbort(outcome.fail(`the target failed stream ${stream} while we were sending: ${this.describeStreamEnd(stream)}`));
    }
    throw new CaseAbort(
      outcome.fail(`no credit from the target to send on stream ${stream} (sent ${book.sent} bytes, connection ${this.#connSent})`, 'CREDIT frames as data is consumed (FW-FLOW-4)', 'none within the timeout'),
    );
  }

  /**
   * Sends one message as a well-behaved peer: frames no larger than the target's max_frame_payload,
   * never beyond its stream and connection credit (waiting for CREDIT). `endMessage` false leaves
   * FOLLOWS set on the last frame. Throws CaseAbort(fail) if credit never comes.
   */
  async send(stream: number, message: Uint8Array, endMessage = true): Promise<void> {
    let at = 0;
    if (message.length === 0) {
      this.peer.data(stream, message, !endMessage);
      return;
    }
    while (at < message.length) {
      const room = await this.#room(stream, 1);
      const n = Math.min(room, this.target.maxFramePayload, message.length - at);
      const last = at + n === message.length;
      this.dataRaw(stream, message.subarray(at, at + n), !(last && endMessage));
      at += n;
    }
  }

  #onFrame(r: Received): void {
    if (r.frame?.type !== FrameType.DATA || !this.autoCredit) return;
    const n = r.frame.payload.length;
    if (n === 0) return;
    const book = this.#book(r.raw.stream);
    book.received += n;
    this.#connReceived += n;
    // Grant back what we "consumed" once half a window is unadvertised (FW-FLOW-4), as a reading application would.
    const sw = this.ours.initialStreamCredit;
    if (book.received + sw - book.granted >= sw / 2 && this.peer.targetEnded.get(r.raw.stream) !== 'error' && this.peer.targetEnded.get(r.raw.stream) !== 'cancel') {
      book.granted = book.received + sw;
      this.peer.credit(r.raw.stream, book.granted);
    }
    const cw = this.ours.initialConnectionCredit;
    if (this.#connReceived + cw - this.#connGranted >= cw / 2) {
      this.#connGranted = this.#connReceived + cw;
      this.peer.credit(0, this.#connGranted);
    }
  }

  /**
   * What the target sent on a stream: messages (reassembled by FOLLOWS, and unpacked from PACKED
   * frames, each record one message, §8.2.6), its DONE, its ERROR/CANCEL.
   */
  streamState(stream: number): StreamView {
    const view: StreamView = { messages: [], partial: undefined, done: false, trailer: undefined, error: undefined, cancel: undefined, frames: 0, packedFrames: 0, badPacked: 0 };
    let parts: Buffer[] | undefined;
    for (const r of this.peer.frames) {
      if (r.raw.stream !== stream || r.frame === undefined) continue;
      view.frames++;
      const f = r.frame;
      if (f.type === FrameType.DATA && (f.flags & DataFlags.PACKED) !== 0) {
        // A bad PACKED frame (FOLLOWS set, inside a message, not tiled: FW-PACK-2, recorded by the
        // raw peer) delivers none of its records, as a receiver must treat it (FW-PACK-4).
        view.packedFrames++;
        const unpacked = unpackRecords(f.payload);
        if (unpacked.ok && (f.flags & DataFlags.FOLLOWS) === 0 && parts === undefined) view.messages.push(...unpacked.records);
        else view.badPacked++;
      } else if (f.type === FrameType.DATA) {
        parts ??= [];
        parts.push(Buffer.from(f.payload));
        if ((f.flags & DataFlags.FOLLOWS) === 0) {
          view.messages.push(Buffer.concat(parts));
          parts = undefined;
        }
      } else if (f.type === FrameType.DONE) {
        view.done = true;
        view.trailer = f.payload.trailer;
      } else if (f.type === FrameType.ERROR) {
        view.error = f.payload.code;
        view.errorMessage = f.payload.message;
        if (f.payload.details !== undefined) view.errorDetails = f.payload.details;
        if (f.payload.retryAfterMs !== undefined) view.retryAfterMs = f.payload.retryAfterMs;
      } else if (f.type === FrameType.CANCEL) {
        view.cancel = f.payload.code ?? 0x0f;
      }
    }
    view.partial = parts === undefined ? undefined : Buffer.concat(parts);
    return view;
  }

  /** Waits until the target sent `count` whole messages on a stream (or DONE/ERROR, or the timeout). */
  async messages(stream: number, count: number, timeoutMs = this.ctx.timeoutMs): Promise<StreamView> {
    const view = await this.peer.until(() => {
      const v = this.streamState(stream);
      return v.messages.length >= count || v.done || v.error !== undefined || v.cancel !== undefined ? v : undefined;
    }, timeoutMs);
    return view ?? this.streamState(stream);
  }

  /** Waits for the target's DONE (or ERROR/CANCEL) on a stream. */
  async ended(stream: number, timeoutMs = this.ctx.timeoutMs): Promise<StreamView> {
    const view = await this.peer.until(() => {
      const v = this.streamState(stream);
      return v.done || v.error !== undefined || v.cancel !== undefined ? v : undefined;
    }, timeoutMs);
    return view ?? this.streamState(stream);
  }

  describeStreamEnd(stream: number): string {
    const v = this.streamState(stream);
    if (v.error !== undefined) return `ERROR ${describeCode(v.error)}${v.errorMessage === undefined ? '' : ` "${v.errorMessage}"`}`;
    if (v.cancel !== undefined) return `CANCEL ${describeCode(v.cancel)}`;
    if (v.done) return 'DONE';
    const c = this.connectionError();
    if (c !== undefined) return `connection ERROR ${describeCode(c.code)} "${c.message}"`;
    if (this.peer.ending !== undefined) return `connection closed (${this.peer.ending.how})`;
    return `${v.messages.length} message(s)${v.badPacked > 0 ? ` and ${v.badPacked} malformed PACKED frame(s)` : ''}, no end`;
  }

  /** The target's ERROR on stream 0, if it sent one. */
  connectionError(): { code: number; message: string } | undefined {
    for (const r of this.peer.frames) {
      if (r.raw.stream === 0 && r.frame?.type === FrameType.ERROR) return { code: r.frame.payload.code, message: r.frame.payload.message };
    }
    return undefined;
  }

  /**
   * Over QUIC, frames on different QUIC streams may be read in any order (§14.2): waits until the
   * target finished its half of the stream's QUIC stream, which it does once the stream is over for
   * it (FW-QUIC-6), so that what the case sends next on another QUIC stream comes after. Over TCP
   * the wire keeps the order: returns at once. True when the target showed it (or over TCP).
   */
  async streamOverForTarget(stream: number, timeoutMs = this.ctx.timeoutMs): Promise<boolean> {
    const quic = this.peer.quic;
    if (quic === undefined) return true;
    return (await this.peer.until(() => (quic.targetEnd(stream) === undefined ? undefined : true), timeoutMs)) === true;
  }

  /** Sends a PING and waits for its ACK; true when the connection is alive and answering. */
  async alive(timeoutMs = this.ctx.timeoutMs): Promise<boolean> {
    if (this.peer.ending !== undefined) return false;
    const payload = randomBytes(8);
    this.peer.ping(payload);
    const r = await this.peer.until(() => {
      if (this.peer.ending !== undefined) return false;
      return this.peer.frames.some((f) => f.frame?.type === FrameType.PING && (f.frame.flags & PingFlags.ACK) !== 0 && Buffer.from(f.frame.payload).equals(payload)) ? true : undefined;
    }, timeoutMs);
    return r === true;
  }
}

export interface StreamView {
  messages: Buffer[];
  partial: Buffer | undefined;
  done: boolean;
  trailer: Readonly<Record<string, unknown>> | undefined;
  error: number | undefined;
  errorMessage?: string;
  /** The `details` map of the target's ERROR on the stream (profiles put ids and counts there). */
  errorDetails?: Readonly<Record<string, unknown>>;
  /** The `retry_after_ms` hint of that ERROR. */
  retryAfterMs?: number;
  cancel: number | undefined;
  frames: number;
  /** DATA frames with PACKED set among them. */
  packedFrames: number;
  /** PACKED frames that could not be unpacked (FW-PACK-2); none of their records is in `messages`. */
  badPacked: number;
}

export { isEnding, isReceived };
