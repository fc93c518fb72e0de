/** The conformance runner against deliberately broken targets: a case that cannot fail proves nothing. */

import { afterEach, describe, expect, it } from 'vitest';
import { closeTargets, naiveServer, runAgainst, skipCrcServer, verdictOf } from './targets.ts';

afterEach(closeTargets);

describe('conformance runner against broken targets', () => {
  it('a target that skips CRC verification fails the bad-CRC cases (under --strict: another code is a failure too)', async () => {
    const report = await runAgainst(await skipCrcServer(), { cases: 'FW-FRAME-2/*,FW-FRAME-11/*,vectors/invalid/crc-*', timeoutMs: 600, strict: true });
    const crcCases = report.results.filter((r) => r.requirements.includes('FW-FRAME-2'));
    expect(crcCases.length).toBeGreaterThan(5);
    for (const r of crcCases) expect(`${r.id}: ${r.verdict}`).toBe(`${r.id}: fail`);
    expect(report.ok).toBe(false);
  });

  it('a naive echo server fails flow control, cancellation and every error case', async () => {
    const report = await runAgainst(await naiveServer(), { cases: 'FW-STREAM-5/*,FW-HS-8/*,FW-FLOW-1/*,FW-FLOW-8/*,FW-GOAWAY-2/*,FW-STREAM-7/*,FW-SEQ-2/*,FW-HB-2/*,FW-STREAM-13/*', timeoutMs: 500, quietMs: 150 });
    expect(verdictOf(report, 'FW-STREAM-5/cancel-stops-pending-done')).toBe('fail');
    expect(verdictOf(report, 'FW-HS-8/obeys-our-settings')).toBe('fail');
    expect(verdictOf(report, 'FW-FLOW-1/zero-credit')).toBe('fail');
    expect(verdictOf(report, 'FW-STREAM-7/data-after-done')).toBe('fail');
    expect(verdictOf(report, 'FW-SEQ-2/gap-on-stream-0')).toBe('fail');
    // It never returns credit, so a message longer than its window never arrives (FW-FLOW-8) …
    expect(verdictOf(report, 'FW-FLOW-8/message-larger-than-window')).toBe('fail');
    // … it never sends GOAWAY when conformance.goaway asks for one …
    expect(verdictOf(report, 'FW-GOAWAY-2/refused-after-goaway')).toBe('fail');
    // … and it sends DATA beyond our credit, ahead of a PING answer (FW-HB-2).
    expect(verdictOf(report, 'FW-HB-2/ping-answer-ahead-of-data')).toBe('fail');
    // What it gets right still passes: the runner does not fail everything.
    expect(verdictOf(report, 'FW-HB-2/ping-answered')).toBe('pass');
    expect(verdictOf(report, 'FW-STREAM-13/message-boundaries')).toBe('pass');
  });

  it('a server that packs without negotiation and delivers bad PACKED frames fails the FW-PACK cases', async () => {
    const report = await runAgainst(await naiveServer({ packing: true }), { cases: 'FW-PACK-*,FW-FRAME-1/target-frames-valid', timeoutMs: 500, quietMs: 150 });
    // It sends PACKED to a runner that declared nothing (FW-PACK-1, sender side) …
    expect(verdictOf(report, 'FW-PACK-1/not-packed-unless-declared')).toBe('fail');
    expect(report.results.find((r) => r.id === 'FW-FRAME-1/target-frames-valid')?.detail).toMatch(/FW-PACK-1: the target sent PACKED DATA/u);
    // … echoes bad PACKED frames as they came, so they come back malformed (FW-PACK-2) and no ERROR is sent (FW-PACK-4).
    expect(verdictOf(report, 'FW-PACK-2/target-packs-well-formed')).toBe('pass');
    for (const id of ['FW-PACK-4/packed-with-follows', 'FW-PACK-4/packed-empty', 'FW-PACK-4/bytes-left-over', 'FW-PACK-4/length-overruns-payload', 'FW-PACK-5/record-too-large']) {
      expect(`${id}: ${verdictOf(report, id) ?? 'missing'}`).toBe(`${id}: fail`);
    }
    expect(verdictOf(report, 'FW-PACK-1/undeclared-receiver-rejects')).toBe('unsupported');
  });

  it('a server that answers HELLO and then ignores everything fails the error cases', async () => {
    const report = await runAgainst(await naiveServer({ silent: true }), { cases: 'FW-HS-3/*,FW-HS-7/second-hello,FW-FRAME-2/bad-crc-ping,FW-FLOW-6/*,FW-HB-2/ping-answered,FW-STREAM-1/*', timeoutMs: 400, quietMs: 100 });
    expect(verdictOf(report, 'FW-HS-3/server-hello')).toBe('pass');
    for (const id of ['FW-HS-7/second-hello', 'FW-FRAME-2/bad-crc-ping', 'FW-FLOW-6/credit-overflow-stream-0', 'FW-HB-2/ping-answered', 'FW-STREAM-1/even-id-from-client']) {
      expect(`${id}: ${verdictOf(report, id) ?? 'missing'}`).toBe(`${id}: fail`);
    }
    expect(report.targetInfo.features).toEqual([]);
  });
});
