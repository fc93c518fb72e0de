/**
 * Prints spec/CONFORMANCE.md: what a conformance target provides, how verdicts are given, and the
 * requirement → case table built from the case registry and Appendix A of spec/PROTOCOL.md.
 *   npx tsx src/conformance/coverage.ts > spec/CONFORMANCE.md
 */

import { readFileSync } from 'node:fs';
import { allCases } from './cases/index.ts';

/** Why a requirement has no case yet. */
const notCovered: Readonly<Record<string, string>> = {
  'FW-TRANS-2': 'an internal property (no reliance on cross-stream order); over TCP the order is fixed, so nothing is observable',
  'FW-HS-1': 'a client requirement: the runner is the client',
  'FW-CTRL-5': 'a SHOULD on the target as sender; the target sends no per-key strings near their limits in any case',
  'FW-OPEN-2': 'the default urgency is only observable through scheduling order (FW-SCHED-3, a SHOULD)',
  'FW-ERROR-2': 'how the target\'s application treats `retryable` is not visible on the wire',
  'FW-STREAM-6': 'the outcome is reported to the target\'s application, not on the wire',
  'FW-FLOW-5': 'auto-tuning is internal; its only visible effect, larger CREDIT offsets, is legal at any time',
  'FW-SCHED-6': 'the sender\'s own backlog cannot be told apart on the wire from what the operating system and the network hold; test/session/scheduler.test.ts covers the reference implementation',
  'FW-SCHED-2': 'a SHOULD needing two bulk echo streams and a statistical verdict (not yet written)',
  'FW-SCHED-3': 'a SHOULD needing echo streams of different urgency (not yet written)',
  'FW-CONN-4': 'local reporting of CONNECTION_LOST to the target\'s application, not on the wire',
  'FW-CONN-5': 'local reporting: a close never completes a stream; not on the wire',
  'FW-ERR-4': 'a client requirement (what a resuming client does after a failure): the runner is the client',
  'FW-LIMIT-5': 'covered only through its named instances (frame size, control payload limits, credit, streams, flood limits)',
  'FW-LIMIT-6': 'a SHOULD whose deadline is the target\'s configuration (10 s by default); test/integration/admission.test.ts covers the reference server',
  'FW-LIMIT-7': 'a SHOULD whose timeout is the target\'s configuration (60 s by default); test/session/deadlines.test.ts covers the reference server',
  'FW-LIMIT-8': 'needs as many connections as the target\'s configured budgets, from several addresses; test/integration/admission.test.ts and exhaustion.test.ts cover the reference server',
  'FW-ERR-5': 'needs a failure inside the target (a bug); test/session/guard.test.ts and the chaos test cover the reference server',
  'FW-HS-10': 'a client requirement (recognising a peer that is not framewire): the runner is the client (test/cli/fail-fast.test.ts covers the reference client)',
  'FW-ERR-6': 'a client requirement (no retry of a failed first connection): the runner is the client (test/cli/fail-fast.test.ts covers the reference client)',
  'FW-SEC-1': 'a deployment rule (TLS on untrusted networks)',
  'FW-SEC-2': 'the content of the target\'s error messages cannot be judged mechanically',
  // The QUIC mapping (spec §14): what a peer cannot observe through the runner's QUIC link.
  'FW-QUIC-1': 'the ALPN is negotiated inside the QUIC library, which the runner shares with the reference (a known deviation, §14.1)',
  'FW-QUIC-5': 'QUIC flow control lives in the QUIC stacks; the framewire credit on top is what the FW-FLOW-* cases check over QUIC',
  'FW-QUIC-8': 'the order of ends across QUIC streams at close is not observable apart from loss timing; test/transport/quic.test.ts covers the reference',
  'FW-QUIC-9': 'needs a failure of the target\'s QUIC library; test/transport/quic.test.ts injects them into the reference',
  'FW-QUIC-10': 'stream limits are QUIC transport parameters, set and enforced inside the QUIC library',
  'FW-QUIC-11': 'the runner pins the target\'s peer id when given one (`?peer=`); what the target does with its clients\' identities is not on the wire',
  // Benchmark kinds (spec/PROTOCOL.md §13.5): optional and off by default, so no conformance target is asked for them.
  'FW-PERF-1': 'a deployment rule of the target (the kinds are off unless enabled); test/perf/service.test.ts checks the reference server',
  'FW-PERF-2': 'optional kinds, off by default; `framewire perf` checks the trailer against what it moved on every run, and test/perf/ tests the reference server',
  'FW-PERF-3': 'optional kinds, off by default; `framewire perf -R` checks the trailer against what it received, and test/perf/ tests the reference server',
  'FW-PERF-4': 'optional kinds, off by default; `framewire perf` checks every probe comes back, and test/perf/ tests the reference server',
  'FW-PERF-5': 'the limits are the target\'s configuration; test/perf/service.test.ts tests each at the limit on the reference server',
  // Upload profile (spec/UPLOAD.md).
  'FW-UP-5': 'a SHOULD on the client (urgency of control operations): the runner is the client',
  'FW-UP-22': 'a client requirement (no automatic re-acquire after LEASE_CONFLICT): the runner is the client',
  'FW-UP-30': 'needs two principals; the runner sends one set of credentials (`--auth`)',
  'FW-UP-31': 'needs the target killed (SIGKILL) and restarted on the same storage, which a black-box runner cannot do (test/upload/faults.test.ts covers the reference server)',
  'FW-UP-32': 'a client requirement (progress reporting): the runner is the client',
  'FW-UP-33': 'a client requirement (automatic resume with backoff): the runner is the client',
  'FW-UP-34': 'a client requirement (what is re-sent after a failure): the runner is the client',
  'FW-UP-36': 'credit pacing by the store and the memory held per chunk are internal; on the wire they look like ordinary flow control',
  'FW-UP-38': 'a client requirement (stall detection): the runner is the client',
  'FW-UP-43': 'the sweeper deletes data on the target\'s storage, not on the wire; forgetting finished uploads takes the retention (24 h by default)',
  'FW-UP-51': 'needs a crash of the target and a look at its storage',
  'FW-UP-62': 'a client requirement (the local record of unfinished uploads): the runner is the client',
  'FW-UP-63': 'the start-up of the target and its storage, not the wire (test/cli/serve-data-dir.test.ts covers the reference server)',
  // Event-stream profile (spec/EVENTS.md).
  'FW-EV-5': 'needs two principals; the runner sends one set of credentials (`--auth`)',
  'FW-EV-12': 'a subscriber requirement: the runner is the subscriber (it applies the same checks to the target\'s messages)',
  'FW-EV-13': 'needs a producer that fails; the conformance streams (`tokens`, `clock`) never do',
  'FW-EV-20': 'the log limits are the target\'s configuration; their effects are covered by FW-EV-21, FW-EV-22 and FW-EV-23; an event larger than `maxBytes` is refused to the producer, not on the wire',
  'FW-EV-25': 'needs a producer registered with `resumable: false`; the conformance streams are resumable',
  'FW-EV-41': 'a subscriber requirement (heartbeat timeout): the runner is the subscriber',
  'FW-EV-60': 'coalescing is a producer option; the conformance streams do not coalesce',
  'FW-EV-61': 'coalescing is a producer option; the conformance streams do not coalesce',
  'FW-EV-62': 'a counter of the target (`droppedByCoalescing`), not on the wire',
  'FW-EV-70': 'the configuration API of an implementation, not wire behaviour',
  'FW-EV-71': 'needs zero-credit subscriptions until the target\'s aggregate limits are reached, which a black-box run cannot bound in time or memory (test/events/limits.test.ts and exhaustion.test.ts cover the reference server)',
  'FW-EV-80': 'log lines are not on the wire',
  'FW-EV-90': 'a subscriber requirement (automatic resume policy): the runner is the subscriber',
  // Object read profile (spec/OBJECTS.md).
  'FW-OBJ-11': 'that the target stopped reading its storage is not on the wire (test/objects/service.test.ts and download.test.ts cover the reference server)',
  'FW-OBJ-13': 'needs more reads in flight than the target\'s configured bound, held open without credit (test/objects/service.test.ts covers the reference server)',
  'FW-OBJ-14': 'needs the target killed (SIGKILL) during a commit or a delete (test/upload/crash.test.ts covers the reference server)',
  'FW-OBJ-20': 'a client requirement (verification and rename): the runner is the client',
  'FW-OBJ-21': 'a client requirement (resume from verified bytes): the runner is the client',
  'FW-OBJ-22': 'a client requirement (retry policy): the runner is the client',
  'FW-OBJ-23': 'a client requirement (cancellation keeps the part file): the runner is the client',
};

interface Requirement {
  readonly id: string;
  readonly summary: string;
  readonly section: string;
  readonly level: string;
}

/** A specification document with a requirement index (a table of `| id | summary | section |` rows). */
interface SpecDoc {
  readonly file: string;
  readonly title: string;
  readonly text: string;
  /** The heading of its requirement index. */
  readonly index: string;
  /**
   * Where a document puts its tags: PROTOCOL.md and UPLOAD.md end a sentence with the tag, so the
   * sentence before it decides the level; EVENTS.md mostly starts a bullet with it, so the whole
   * bullet (or paragraph) does.
   */
  readonly tags: 'trailing' | 'leading';
}

function requirements(doc: SpecDoc): Requirement[] {
  const at = doc.text.indexOf(doc.index);
  if (at < 0) throw new Error(`${doc.file}: no "${doc.index}" section`);
  const out: Requirement[] = [];
  for (const line of doc.text.slice(at).split('\n')) {
    // `| FW-UP-1 | … | §11.2 |`, `| FW-EV-1 | … | 12.2 |`, and ranges: `| FW-EV-60..62 | … |`.
    const m = /^\| (FW-[A-Z]+-)(\d+)(?:\.\.(\d+))? \| (.*) \| §?([\d.]+) \|$/u.exec(line);
    if (m?.[1] === undefined || m[2] === undefined || m[4] === undefined || m[5] === undefined) continue;
    const from = Number(m[2]);
    const to = m[3] === undefined ? from : Number(m[3]);
    for (let n = from; n <= to; n++) {
      const id = `${m[1]}${n}`;
      out.push({ id, summary: m[4], section: `§${m[5]}`, level: levelOf(doc, id) });
    }
  }
  return out;
}

/** MUST if any sentence tagged with the id says MUST (or MUST NOT / REQUIRED), else SHOULD (or MAY); untagged by a keyword: MUST. */
function levelOf(doc: SpecDoc, id: string): string {
  const body = doc.text.slice(0, doc.text.indexOf(doc.index));
  let level = '';
  for (let at = body.indexOf(`[${id}]`); at >= 0; at = body.indexOf(`[${id}]`, at + 1)) {
    let text: string;
    if (doc.tags === 'trailing') {
      const start = Math.max(body.lastIndexOf('\n- ', at), body.lastIndexOf('. ', at - 4), body.lastIndexOf('\n\n', at));
      text = body.slice(start, at);
    } else {
      const start = Math.max(body.lastIndexOf('\n- ', at), body.lastIndexOf('\n\n', at));
      const ends = [body.indexOf('\n- ', at), body.indexOf('\n\n', at)].filter((i) => i >= 0);
      text = body.slice(start, ends.length === 0 ? body.length : Math.min(...ends));
    }
    if (/\bMUST\b|\bREQUIRED\b/u.test(text)) return 'MUST';
    if (/\bSHOULD\b/u.test(text)) level = 'SHOULD';
    else if (doc.tags === 'leading' && level === '' && /\bMAY\b/u.test(text)) level = 'MAY';
  }
  return level === '' ? 'MUST' : level;
}

/** The profile documents, when given: spec/UPLOAD.md, spec/EVENTS.md and spec/OBJECTS.md. */
export interface ProfileTexts {
  readonly upload?: string;
  readonly events?: string;
  readonly objects?: string;
}

export function coverageMarkdown(spec: string, profiles: ProfileTexts = {}): string {
  const docs: SpecDoc[] = [{ file: 'spec/PROTOCOL.md', title: 'Core protocol', text: spec, index: '## Appendix A', tags: 'trailing' }];
  if (profiles.upload !== undefined) docs.push({ file: 'spec/UPLOAD.md', title: 'Upload profile (§11)', text: profiles.upload, index: '## Appendix A', tags: 'trailing' });
  if (profiles.events !== undefined) docs.push({ file: 'spec/EVENTS.md', title: 'Event-stream profile (§12)', text: profiles.events, index: '## Requirement index', tags: 'leading' });
  if (profiles.objects !== undefined) docs.push({ file: 'spec/OBJECTS.md', title: 'Object read profile (§15)', text: profiles.objects, index: '## Appendix A', tags: 'trailing' });
  const byReq = new Map<string, string[]>();
  for (const c of allCases) if (c.notCheckable === undefined) for (const r of c.requirements) byReq.set(r, [...(byReq.get(r) ?? []), c.id]);
  const why = (id: string): string => {
    const placeholder = allCases.find((c) => c.notCheckable !== undefined && c.requirements[0] === id);
    return placeholder === undefined ? (notCovered[id] ?? 'not yet covered') : `${placeholder.notCheckable ?? ''} (\`${placeholder.id}\` reports N/A)`;
  };
  const perDoc = docs.map((doc) => ({ doc, reqs: requirements(doc) }));
  const all = perDoc.flatMap((d) => d.reqs);
  const must = all.filter((r) => r.level === 'MUST');
  const uncoveredMust = must.filter((r) => !byReq.has(r.id));
  const lines: string[] = [];
  lines.push(
    '# framewire conformance',
    '',
    'Generated by `npx tsx src/conformance/coverage.ts > spec/CONFORMANCE.md` from the case registry',
    `(\`src/conformance/cases/\`) and the requirement indexes of ${docs.map((d) => `\`${d.file}\``).join(', ')}.`,
    'Do not edit by hand.',
    '',
    '## Running',
    '',
    '```',
    'npx tsx src/conformance/main.ts --target 127.0.0.1:7070 [--peer-target 127.0.0.1:7071] [--cases GLOB[,GLOB…]] [--strict] [--json FILE] [--junit FILE]',
    '```',
    '',
    'The runner is a black box: it connects with raw TCP sockets, builds every frame with `src/wire`',
    '(or by hand, to send what a correct peer never would), and never uses the session layer.',
    '`--cases` takes comma-separated globs over case ids and requirement ids (`FW-FLOW-*`,',
    '`vectors/*`, `!FW-HB-4/*`). SHOULD cases run only with `--strict`. The exit code is non-zero when',
    'any case fails.',
    '',
    '## Verdicts',
    '',
    '| verdict | meaning |',
    '|---|---|',
    '| pass | the target did what the requirement says |',
    '| non-strict | acceptable but not exact: another error code, a connection error where a stream error was due, or a bare TCP close where a coded ERROR was required. Under `--strict` it counts as **fail** |',
    '| fail | the target broke the requirement; the report gives expected and actual |',
    '| unsupported | the target lacks what the case needs (the conformance services, a profile, a limit small enough to reach) |',
    '| informational | behaviour the spec leaves to the implementation (an auth hook, no flood limit hit, a timer longer than the run waits) |',
    '| not-applicable | the case checks something the target\'s transport does not have (a QUIC mapping rule over TCP, a byte-stream rule over QUIC), or needs a second node of its cluster (`--peer-target`) or a fault the runner cannot cause (a node killed); the report prints why |',
    '',
    '## QUIC targets',
    '',
    '`--target quic://host:port?peer=<peer id>` runs the cases over the QUIC mapping of PROTOCOL.md §14',
    '(`?peer=` pins the identity `framewire serve` prints; without it the connection is encrypted but the',
    'server is not authenticated). The runner opens the control stream first and writes its HELLO there;',
    'every frame a case writes goes on the QUIC stream its stream id names: stream 0 on the control',
    'stream, a stream that has a QUIC stream on it, any other stream on a new QUIC stream, opened in the',
    'order the frames come. Only a header\'s length and stream id are read for this, so corrupt frames,',
    'frames cut at any byte and frames split across writes travel as the case wrote them. The end of',
    'input of a case is a FIN on every QUIC stream the runner writes, the control stream last. Most',
    'cases thus run unchanged; those that order frames across streams wait over QUIC until the target',
    'showed it read the first (an echoed message, its FIN of the stream). The FW-QUIC-* cases break the',
    'mapping itself (a stream frame on the control stream, a new QUIC stream that does not start with',
    'an OPEN, a FIN or RESET_STREAM of a live stream); over TCP they are not applicable, and the few TCP',
    'cases the mapping changes are not applicable over QUIC, each naming the case that replaces it.',
    '',
    '## Cluster targets',
    '',
    '`--peer-target host:port` (same forms as `--target`, QUIC included) names a second node of the',
    'target\'s cluster: a node sharing its store (for the reference server, `framewire serve --redis URL',
    '--data-dir DIR` on one Redis and one shared directory; EVENTS.md §12.13, UPLOAD.md §11.9). The',
    'runner refuses the target\'s own address (every case would pass without a cluster), checks that',
    'the peer accepts a connection, like the target, and runs the cluster cases on both',
    'nodes: an event stream started on the target is resumed on the peer (FW-EV-100: `next` = `after` +',
    '1 and the rest once each; `PROTOCOL_ERROR` with the target\'s `last` beyond it; `RESUME_GAP` with the',
    'target\'s `earliest`, provoked as in FW-EV-23 by 4 × `ack_every` + 64 acknowledged events, since the',
    'conformance streams take no retention params), ends there exactly as on the target and the',
    'peer\'s confirmation drops it on the target (FW-EV-101; the done end only: the conformance streams',
    'never fail), and a CANCEL on the peer stops the target\'s producer (FW-EV-102). Whether the',
    'instance still exists on the target is asked without attaching: a resume with `after` far beyond',
    'any id gets `PROTOCOL_ERROR {key, last}` while it exists and `NOT_FOUND` once it is gone',
    '(FW-EV-24, FW-EV-26), asked every 50 ms for up to twice the reply timeout. An upload created on',
    'the target, written on both nodes and committed on the peer is the object written, and the',
    'target answers the same trailer; commits racing on both nodes answer one object, and a commit',
    'racing an abort ends one way (FW-UP-25, FW-UP-28). A peer that does not know what the target',
    'started (`NOT_FOUND`) fails the case: it is not a node of the same cluster. Without',
    '`--peer-target` the cluster cases are not applicable ("needs a second node of the same cluster:',
    '--peer-target"); FW-EV-103 (node death) and FW-EV-104 (Redis unreachable) are always not',
    'applicable, since a black-box runner cannot kill a node or its store (test/redis/ covers them for',
    'the reference server).',
    '',
    'Flood cases (FW-LIMIT-2..4, SHOULD): ENHANCE_YOUR_CALM → pass; the flood absorbed and service',
    'as usual → informational; another code or a bare close → non-strict; no service afterwards → fail.',
    '',
    '## What a conformance target provides',
    '',
    'A target is a framewire server. For the stream, flow-control, cancellation and GOAWAY cases it',
    'offers the conformance kinds of spec/PROTOCOL.md §13.2 (the reference server gets them from',
    '`conformanceService()` in `src/conformance/echo-service.ts`); a target without them gets',
    '`unsupported` for those cases:',
    '',
    '- `conformance.echo` (FW-REF-1): sends every message back unchanged, boundaries kept; when the',
    '  client ends its direction with DONE it ends its own with DONE and the trailer `{messages, bytes[,',
    '  client_trailer]}` (`client_trailer` = the client\'s DONE trailer, absent when the client sent',
    '  none; `client_trailer_omitted: true` instead when echoing it would break the client\'s',
    '  `max_frame_payload` or the nesting limit), after `meta.done_delay_ms` milliseconds (0..10000)',
    '  when the OPEN gives it.',
    '- `conformance.sink` (FW-REF-2): accepts the stream and never reads it, so it never returns',
    '  credit; the stream ends only by CANCEL, ERROR or the end of the connection.',
    '- `conformance.goaway` (FW-REF-3): the target sends GOAWAY `{last_stream: this stream, code:',
    '  NO_ERROR, deadline_ms: meta.deadline_ms (0..10000, default 10000)}` as it accepts the stream,',
    '  then echoes on it; it refuses later OPENs with REFUSED_STREAM and closes when no stream is left',
    '  or at the deadline. Only the asking connection is affected.',
    '',
    'The profile cases (`FW-UP-*`, `FW-EV-*`, `FW-OBJ-*`; select them with `--cases FW-UP-*,FW-EV-*,FW-OBJ-*`) need the',
    'profiles themselves, as `framewire serve` offers them (spec/PROTOCOL.md §13); the runner probes',
    'for each and gives `unsupported` to a target without it:',
    '',
    '- the upload profile (spec/UPLOAD.md): the `upload.*` kinds. Probe: `upload.status` of an unknown',
    '  id must answer `UPLOAD_NOT_FOUND`. Every case creates its own uploads with chunks of 1 KiB.',
    '- the event-stream profile (spec/EVENTS.md): `events.subscribe` with two streams of §13.3,',
    '  `tokens` (`params` `count`, `interval_ms`: `count` events, the first at once and then one per',
    '  interval, then DONE with the summary `{tokens: count}`) and `clock` (`params` `interval_ms`:',
    '  event 1 at once, then one per interval, until cancelled; FW-REF-4), refusing other params',
    '  before `start` (FW-REF-6). Probe: a subscription to',
    '  `tokens` with `count` 0 must answer `start`. The replay-log cases read `ack_every` from `start`',
    '  and send 4 × `ack_every` + 64 events (the reference server announces a quarter of its log',
    '  size); beyond 50 000 events they are informational.',
    '- the object read profile (spec/OBJECTS.md): the `objects.*` kinds. Probe: `objects.list` must answer',
    '  a page (an array `objects`). Its cases commit their own small objects through the upload profile',
    '  (so they need it too) and delete them when they end; the ownership cases that need a second',
    '  principal are covered by the reference tests only.',
    '',
    'Authentication (FW-HS-6, FW-HS-9): against a target that refuses made-up credentials, pass',
    'working ones with `--auth JSON` (for `framewire serve --token T`: `--auth \'{"token":"T"}\'`, §13.4);',
    'the runner sends them in every HELLO except where a case tests refusals.',
    '',
    'Timer cases read the target\'s HELLO: FW-HB-4 waits `idle_timeout_ms`, FW-HB-1 waits',
    '`heartbeat_interval_ms`, FW-HS-5 waits for the handshake deadline; the profile timers come from',
    'the profile\'s own answers: FW-UP-41 waits the upload\'s `ttl_ms`, FW-EV-40 `hb_ms` and FW-EV-50',
    '`grace_ms` from `start`. Each waits up to `--long-wait` (default 35 s) and is informational when',
    'the target\'s timer is longer (the reference server\'s defaults: 24 h, 15 s, 30 s); these cases run',
    'alongside the others.',
    '',
    'The packed-message cases (§8.2.6) read `packed_messages` from the target\'s HELLO: against a target',
    'that declares 1 the cases that send PACKED frames run and `FW-PACK-1/undeclared-receiver-rejects`',
    'is unsupported; against one that declares 0 it is the other way round. The runner itself declares',
    '`packed_messages` = 1 only in the FW-PACK-2..5 cases; everywhere else it declares nothing, so a',
    'PACKED frame from the target there breaks FW-PACK-1. `FW-PACK-5/record-too-large` needs a non-zero',
    '`max_message_size` small enough that a longer record fits in one frame within the target\'s',
    '`max_frame_payload` and initial credit.',
    '',
    '## Coverage',
    '',
    `${allCases.length} cases; ${all.length} requirements, ${must.length} of them MUST; ${must.length - uncoveredMust.length} MUSTs have at least one case.`,
  );
  for (const { doc, reqs } of perDoc) {
    const m = reqs.filter((r) => r.level === 'MUST');
    lines.push(
      '',
      `### ${doc.title}: \`${doc.file}\``,
      '',
      `${reqs.length} requirements, ${m.length} of them MUST; ${m.filter((r) => byReq.has(r.id)).length} MUSTs have at least one case.`,
      '',
      '| requirement | level | summary | cases |',
      '|---|---|---|---|',
    );
    for (const r of reqs) {
      const cases = byReq.get(r.id) ?? [];
      const shown = cases.length > 6 ? [...cases.slice(0, 6).map((c) => `\`${c}\``), `… ${cases.length - 6} more`] : cases.map((c) => `\`${c}\``);
      lines.push(`| ${r.id} | ${r.level} | ${r.summary} | ${cases.length === 0 ? `— ${why(r.id)}` : shown.join(', ')} |`);
    }
  }
  lines.push('', '## Not covered yet');
  for (const { doc, reqs } of perDoc) {
    lines.push('', `### ${doc.title}`, '');
    const open = reqs.filter((x) => !byReq.has(x.id));
    if (open.length === 0) lines.push('Every requirement has at least one case.');
    for (const r of open) lines.push(`- **${r.id}** (${r.level}): ${why(r.id)}`);
  }
  lines.push('');
  return lines.join('\n');
}

/** The four documents as they are in the repository. */
export function readSpecs(): { protocol: string; upload: string; events: string; objects: string } {
  const read = (name: string): string => readFileSync(new URL(`../../spec/${name}`, import.meta.url), 'utf8');
  return { protocol: read('PROTOCOL.md'), upload: read('UPLOAD.md'), events: read('EVENTS.md'), objects: read('OBJECTS.md') };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const specs = readSpecs();
  process.stdout.write(coverageMarkdown(specs.protocol, { upload: specs.upload, events: specs.events, objects: specs.objects }));
}
