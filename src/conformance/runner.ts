/**
 * `runConformance()`: probes the target for the optional conformance services, runs the selected
 * cases one at a time (cases that wait for a target timer run alongside), and returns a report.
 * Every case gets its own connection(s), closed when it ends, and an overall deadline.
 */

import { decode } from '@msgpack/msgpack';
import { ErrorCodes, invalidArgument } from '../errors.ts';
import { allCases, type Case } from './cases/index.ts';
import { CaseContext, connectOptions, NEEDS_PEER, type NodeRole, type RunSettings } from './context.ts';
import type { Transport } from './link.ts';
import { RawPeer } from './raw-peer.ts';
import { CaseAbort, featureLabel, outcome, verdicts, type CaseResult, type ConformanceCase, type Feature, type Outcome, type Report, type Verdict } from './types.ts';

/** Options of a conformance run: the target, which cases, strictness, timeouts and credentials. */
export interface ConformanceOptions {
  /** The target; `transport` 'quic' speaks the QUIC mapping of spec §14 (pinning `peerId` when given). Default 'tcp'. */
  readonly target: { readonly host: string; readonly port: number; readonly transport?: Transport; readonly peerId?: string };
  /**
   * A second node of the target's cluster (same shared store, spec/EVENTS.md §12.13), for the
   * cluster cases: without it they are reported not applicable, never skipped or failed.
   */
  readonly peerTarget?: { readonly host: string; readonly port: number; readonly transport?: Transport; readonly peerId?: string };
  /** Comma-separated globs over case ids and requirement ids (`FW-FLOW-*,vectors/*`); `!glob` excludes. Default: all. */
  readonly cases?: string;
  /** Run SHOULD cases too, and count every non-strict verdict as a failure. */
  readonly strict?: boolean;
  /** Wait for an expected reply (default 2000 ms). */
  readonly timeoutMs?: number;
  /** How long "nothing happens" must last (default 250 ms). */
  readonly quietMs?: number;
  /** Cap on waiting for the target's own timers: handshake deadline, idle timeout (default 35000 ms). */
  readonly longWaitMs?: number;
  /** Credentials for every HELLO, when the target authenticates. */
  readonly auth?: unknown;
  /** Called after each case, e.g. for progress output. */
  readonly onResult?: (result: CaseResult) => void;
  /** @internal Replace the built-in case list (tests). */
  readonly caseList?: readonly Case[];
}

/** Turns a comma-separated glob list into a predicate over a case. */
export function caseFilter(globs: string | undefined): (c: Pick<ConformanceCase, 'id' | 'requirements'>) => boolean {
  if (globs === undefined || globs.trim() === '') return () => true;
  const parts = globs.split(',').map((g) => g.trim()).filter((g) => g !== '');
  const toRe = (g: string): RegExp => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/gu, '\\$&').replace(/\*/gu, '.*').replace(/\?/gu, '.')}$`, 'u');
  const include = parts.filter((p) => !p.startsWith('!')).map(toRe);
  const exclude = parts.filter((p) => p.startsWith('!')).map((p) => toRe(p.slice(1)));
  const matches = (re: RegExp, c: Pick<ConformanceCase, 'id' | 'requirements'>): boolean => re.test(c.id) || c.requirements.some((r) => re.test(r));
  return (c) => (include.length === 0 || include.some((re) => matches(re, c))) && !exclude.some((re) => matches(re, c));
}

function isStartMessage(message: Uint8Array | undefined): boolean {
  if (message === undefined) return false;
  try {
    const m = decode(message) as { t?: unknown } | null;
    return typeof m === 'object' && m !== null && m.t === 'start';
  } catch {
    return false;
  }
}

async function probe(run: RunSettings): Promise<{ features: Set<Feature>; info: Report['targetInfo'] }> {
  const features = new Set<Feature>();
  const ctx = new CaseContext(run, new Set(['echo', 'sink']));
  try {
    const conn = await ctx.handshake();
    const echo = conn.openEcho();
    conn.dataRaw(echo, Buffer.from('probe'));
    const sink = conn.openSink();
    // The profiles: upload.status of an id nobody has → UPLOAD_NOT_FOUND; a subscription to the
    // "tokens" stream with no tokens → a `start` message (a target without them says NOT_FOUND).
    const upload = conn.open('upload.status', { target: '0'.repeat(32) });
    conn.peer.done(upload);
    const events = conn.open('events.subscribe', { target: 'tokens', meta: { params: { count: 0 } } });
    // The read profile: objects.list answers a page (an array `objects`); a target without it says NOT_FOUND.
    const objects = conn.open('objects.list', { meta: { limit: 1 } });
    conn.peer.done(objects);
    const [view, uploadEnd, eventsView, objectsEnd] = await Promise.all([conn.messages(echo, 1), conn.ended(upload), conn.messages(events, 1), conn.ended(objects)]);
    if (view.messages[0]?.toString() === 'probe') features.add('echo');
    if ((await conn.alive()) && conn.streamState(sink).error === undefined) features.add('sink');
    if (uploadEnd.error === ErrorCodes.UPLOAD_NOT_FOUND.code) features.add('upload');
    if (objectsEnd.done && Array.isArray(objectsEnd.trailer?.['objects'])) features.add('objects');
    if (isStartMessage(eventsView.messages[0])) {
      features.add('events');
      // Confirm the end (FW-EV-30), so the target can drop the instance at once.
      if ((await conn.ended(events)).done) conn.peer.done(events);
      await conn.alive();
    }
    return { features, info: { ...(conn.hello.agent === undefined ? {} : { agent: conn.hello.agent }), settings: conn.targetSettingsWire(), features: [...features] } };
  } catch {
    return { features, info: { features: [] } };
  } finally {
    ctx.cleanup();
  }
}

async function runOne(c: Case, run: RunSettings, features: ReadonlySet<Feature>): Promise<CaseResult> {
  const started = Date.now();
  let o: Outcome;
  const missing = (c.needs ?? []).filter((f) => !features.has(f));
  const notHere = c.notOver?.[run.transport];
  if (notHere !== undefined) {
    o = outcome.notApplicable(`not over ${run.transport.toUpperCase()}: ${notHere}`);
  } else if (missing.length > 0) {
    o = outcome.unsupported(`the target lacks ${missing.map(featureLabel).join(', ')}`);
  } else if (c.cluster === true && run.peer === undefined) {
    o = outcome.notApplicable(NEEDS_PEER);
  } else {
    const ctx = new CaseContext(run, features);
    const budget = c.slow === true ? run.longWaitMs + run.timeoutMs * 4 : Math.max(run.timeoutMs * 10, 20_000);
    let timer: NodeJS.Timeout | undefined;
    try {
      o = await Promise.race([
        c.run(ctx),
        new Promise<Outcome>((resolve) => {
          timer = setTimeout(() => {
            resolve(outcome.fail(`the case did not finish within ${budget} ms`));
          }, budget);
        }),
      ]);
    } catch (error) {
      o = error instanceof CaseAbort ? error.outcome : outcome.fail(`runner error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    } finally {
      clearTimeout(timer);
      await ctx.runDeferred();
      ctx.cleanup();
    }
    if (ctx.notes.length > 0) o = { ...o, detail: `${o.detail} (${ctx.notes.join('; ')})` };
  }
  if (run.strict && o.verdict === 'non-strict') o = { ...o, verdict: 'fail', detail: `[strict] ${o.detail}` };
  return {
    id: c.id,
    requirements: c.requirements,
    section: c.section,
    level: c.level,
    title: c.title,
    quote: c.quote,
    verdict: o.verdict,
    detail: o.detail,
    ...(o.expected === undefined ? {} : { expected: o.expected }),
    ...(o.actual === undefined ? {} : { actual: o.actual }),
    durationMs: Date.now() - started,
  };
}

/** Orders "2.1 TCP" < "3 Framing" < "3.2 CRC-32" < "10 …" < "Appendix B …". */
export function compareSections(a: string, b: string): number {
  const key = (s: string): number[] => {
    const m = /^(\d+(?:\.\d+)*)/u.exec(s);
    return m?.[1] === undefined ? [1000] : m[1].split('.').map(Number);
  };
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
    const d = (ka[i] ?? -1) - (kb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Runs the conformance cases against a target (a framewire server at host:port) and resolves with the
 * report; a case that cannot run is reported as unsupported, not failed.
 */
/** The target accepts no connection: no case can say anything, so the run is not made (one error, not a failed case each). */
export class TargetUnreachable extends Error {
  constructor(where: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot connect to the target ${where}: ${reason}`, options);
    this.name = 'TargetUnreachable';
  }
}

/** host:port, or quic://host:port for a QUIC target. */
function targetName(run: { host: string; port: number; transport: Transport }): string {
  const host = run.host.includes(':') ? `[${run.host}]` : run.host;
  return run.transport === 'quic' ? `quic://${host}:${run.port}` : `${host}:${run.port}`;
}

/** A peer target that is the target itself would pass every cluster case without a cluster. */
export const SAME_NODE = '--peer-target names the target itself: give a second node of its cluster';

/** The same address (a second name for the same node cannot be told from the wire). */
export function sameNode(a: { host: string; port: number; transport: Transport }, b: { host: string; port: number; transport: Transport }): boolean {
  return a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port && a.transport === b.transport;
}

/** One connect to the target (or its cluster's second node); a TargetUnreachable when it fails. */
async function reachable(run: RunSettings, node: NodeRole): Promise<void> {
  const where = connectOptions(run, node);
  try {
    const peer = await RawPeer.connect(where);
    peer.destroy();
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new TargetUnreachable(`${node === 'peer' ? '(--peer-target) ' : ''}${targetName(where)}`, reason, { cause: error });
  }
}

/** Runs the selected cases against the target; rejects with TargetUnreachable when it accepts no connection. */
export async function runConformance(options: ConformanceOptions): Promise<Report> {
  const started = Date.now();
  const run: RunSettings = {
    host: options.target.host,
    port: options.target.port,
    transport: options.target.transport ?? 'tcp',
    peerId: options.target.peerId,
    strict: options.strict ?? false,
    timeoutMs: options.timeoutMs ?? 2000,
    quietMs: options.quietMs ?? 250,
    longWaitMs: options.longWaitMs ?? 35_000,
    auth: options.auth,
    peer: options.peerTarget === undefined ? undefined : { host: options.peerTarget.host, port: options.peerTarget.port, transport: options.peerTarget.transport ?? 'tcp', peerId: options.peerTarget.peerId },
  };
  if (run.peer !== undefined && sameNode(run, run.peer)) throw invalidArgument(SAME_NODE);
  const filter = caseFilter(options.cases);
  const selected = (options.caseList ?? allCases).filter((c) => filter(c) && (run.strict || c.level === 'MUST'));
  await reachable(run, 'target');
  if (run.peer !== undefined) await reachable(run, 'peer');
  const { features, info } = await probe(run);
  const results = new Map<string, CaseResult>();
  const record = (r: CaseResult): void => {
    results.set(r.id, r);
    options.onResult?.(r);
  };
  // Cases that wait for a target timer run alongside the others: they only sit on their own connection.
  const slow = Promise.all(selected.filter((c) => c.slow === true).map(async (c) => { record(await runOne(c, run, features)); }));
  for (const c of selected) if (c.slow !== true) record(await runOne(c, run, features));
  await slow;
  const ordered = selected
    .map((c) => results.get(c.id))
    .filter((r): r is CaseResult => r !== undefined)
    .map((r, i) => ({ r, i }))
    .sort((a, b) => compareSections(a.r.section, b.r.section) || a.i - b.i)
    .map(({ r }) => r);
  const totals = Object.fromEntries(verdicts.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const r of ordered) totals[r.verdict]++;
  return {
    target: { host: run.host, port: run.port, transport: run.transport },
    ...(run.peer === undefined ? {} : { peerTarget: { host: run.peer.host, port: run.peer.port, transport: run.peer.transport } }),
    strict: run.strict,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    targetInfo: info,
    totals,
    results: ordered,
    ok: totals.fail === 0,
  };
}
