/**
 * The conformance runner's vocabulary: cases, verdicts, results and the report.
 *
 * Verdicts follow the Autobahn test suite: `pass`; `non-strict` (acceptable, but not what the
 * spec asks for exactly: another error code, a bare close where a coded ERROR was required);
 * `fail`; `unsupported` (the target lacks something the case needs, e.g. the echo service);
 * `informational` (observed behaviour the spec leaves open, or a limit too long to wait for);
 * `not-applicable` (the case checks something the target's transport does not have: a TCP byte
 * stream rule over QUIC, a QUIC mapping rule over TCP; a cluster case without a second node, or one
 * needing a fault the runner cannot cause), always with the reason.
 * Under --strict every `non-strict` verdict counts as a failure: a bare TCP close is then a
 * failure, not a pass (h2spec's weakness).
 */

import type { Transport } from './link.ts';

/** Every verdict, in report order. */
export const verdicts = ['pass', 'non-strict', 'fail', 'unsupported', 'informational', 'not-applicable'] as const;
/** The verdict of one case. */
export type Verdict = (typeof verdicts)[number];

/** What a case decided, with enough detail to act on a failure. */
export interface Outcome {
  readonly verdict: Verdict;
  readonly detail: string;
  readonly expected?: string;
  readonly actual?: string;
}

/** The requirement keyword the case checks: MUST cases always run, SHOULD cases only under --strict. */
export type Level = 'MUST' | 'SHOULD';

/** What a case needs from the target beyond the core protocol (spec/CONFORMANCE.md, "conformance target"). */
export type Feature = 'echo' | 'sink' | 'upload' | 'events' | 'objects';

/** How a feature is named in reports: the stream kinds (and streams) a target offers for it. */
export function featureLabel(f: Feature): string {
  switch (f) {
    case 'echo':
      return 'conformance.echo';
    case 'sink':
      return 'conformance.sink';
    case 'upload':
      return 'the upload profile (upload.*)';
    case 'events':
      return 'the event-stream profile (events.subscribe: tokens, clock)';
    case 'objects':
      return 'the object read profile (objects.*)';
  }
}

export interface CaseContextLike {
  readonly strict: boolean;
}

/** One conformance case: the requirement it checks, quoted from the spec, and how to check it. */
export interface ConformanceCase<Ctx = unknown> {
  /** Unique and stable: `<requirement id>/<slug>`, e.g. `FW-FRAME-2/bad-crc-ping`. */
  readonly id: string;
  /** The requirement ids the case checks; the first is the primary one. */
  readonly requirements: readonly string[];
  /** Spec section the case belongs to, e.g. "3.2 CRC-32". */
  readonly section: string;
  readonly level: Level;
  /** One line: what is sent and what is expected. */
  readonly title: string;
  /** The requirement, quoted from the spec. */
  readonly quote: string;
  readonly needs?: readonly Feature[];
  /** Transports the case does not apply to, each with the reason the report prints (default: it applies to both). */
  readonly notOver?: Partial<Readonly<Record<Transport, string>>>;
  /** Waits for a timer of the target (handshake deadline, idle timeout): run concurrently with the rest. */
  readonly slow?: boolean;
  /** Needs a second node of the target's cluster (`--peer-target`, spec/EVENTS.md §12.13): without one the case is not applicable. */
  readonly cluster?: boolean;
  /**
   * Set when no black-box run can check the requirement (it needs a fault the runner cannot cause,
   * e.g. a node killed): the case is always not applicable, with this reason, and spec/CONFORMANCE.md
   * lists its requirement as not covered.
   */
  readonly notCheckable?: string;
  /** Runs the case against the target. */
  run(ctx: Ctx): Promise<Outcome>;
}

/** The result of one case. */
export interface CaseResult {
  readonly id: string;
  readonly requirements: readonly string[];
  readonly section: string;
  readonly level: Level;
  readonly title: string;
  readonly quote: string;
  readonly verdict: Verdict;
  readonly detail: string;
  readonly expected?: string;
  readonly actual?: string;
  readonly durationMs: number;
}

/** A conformance run: the target, every result and the totals. */
export interface Report {
  readonly target: { readonly host: string; readonly port: number; readonly transport: Transport };
  /** The second node of the target's cluster, when the run was given one (`--peer-target`). */
  readonly peerTarget?: { readonly host: string; readonly port: number; readonly transport: Transport };
  readonly strict: boolean;
  readonly startedAt: string;
  readonly durationMs: number;
  /** What the target's HELLO declared, and which optional services it offers. */
  readonly targetInfo: { readonly agent?: string; readonly settings?: Readonly<Record<string, number>>; readonly features: readonly Feature[] };
  readonly totals: Readonly<Record<Verdict, number>>;
  readonly results: readonly CaseResult[];
  /** True when no case failed (under --strict, no case was non-strict either). */
  readonly ok: boolean;
}

export const outcome = {
  pass(detail: string): Outcome {
    return { verdict: 'pass', detail };
  },
  fail(detail: string, expected?: string, actual?: string): Outcome {
    return { verdict: 'fail', detail, ...(expected === undefined ? {} : { expected }), ...(actual === undefined ? {} : { actual }) };
  },
  nonStrict(detail: string, expected?: string, actual?: string): Outcome {
    return { verdict: 'non-strict', detail, ...(expected === undefined ? {} : { expected }), ...(actual === undefined ? {} : { actual }) };
  },
  unsupported(detail: string): Outcome {
    return { verdict: 'unsupported', detail };
  },
  info(detail: string): Outcome {
    return { verdict: 'informational', detail };
  },
  notApplicable(detail: string): Outcome {
    return { verdict: 'not-applicable', detail };
  },
};

/** Thrown inside a case to end it at once with an outcome (a failed handshake, a missing feature). */
export class CaseAbort extends Error {
  readonly outcome: Outcome;
  constructor(o: Outcome) {
    super(o.detail);
    this.name = 'CaseAbort';
    this.outcome = o;
  }
}
