/**
 * The conformance runner against a QUIC target (spec §14): the reference server passes every
 * case that applies over QUIC, the rest are reported not applicable with their reason, and a
 * server that ignores a peer's FIN fails the FW-QUIC-6 cases, one that hides RESET_STREAM and
 * STOP_SENDING the FW-QUIC-7 ones. Skipped, loudly, where the QUIC binding does not load. Cost: one
 * strict run of the core cases over QUIC (about 20 s on a loaded 2-core machine, dominated by the
 * slow timer cases that run alongside) and two short runs (about 5 s each).
 */

import { afterEach, describe, expect, it } from 'vitest';
import { conformanceService } from '../../src/conformance/echo-service.ts';
import { parseTarget } from '../../src/conformance/main.ts';
import { runConformance, type Report } from '../../src/conformance/index.ts';
import { createServer, type FramewireServer } from '../../src/server.ts';
import { loadQuicBinding, quicAvailable } from '../../src/transport/quic/index.ts';
import type { QuicBinding, QuicConnection, QuicServer, QuicStream, QuinnConfig } from '../../src/transport/quic/binding.ts';
import { quickLimits, quickSettings } from './targets.ts';

const available = quicAvailable();
if (!available) console.warn('[quic conformance] SKIPPED: the QUIC binding (@chainsafe/libp2p-quic-linux-x64-gnu) does not load here');

/** Cases that do not apply over QUIC, each replaced by a FW-QUIC-* case. */
const NOT_OVER_QUIC = ['FW-FRAME-4/credit-range-before-stream-state', 'FW-HB-2/ping-answer-ahead-of-data', 'FW-HS-5/handshake-deadline', 'FW-STREAM-1/even-id-from-client'];
/** Run with our server configured for them in conformance.test.ts (unsupported under the quick settings). */
const OTHER_CONFIGURATION = new Set(['FW-PACK-5/record-too-large', 'FW-PACK-1/undeclared-receiver-rejects']);
const CORE = '!FW-UP-*,!FW-EV-*,!FW-OBJ-*';

const servers: FramewireServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close({ deadlineMs: 100 })));
});

async function quicTarget(binding?: QuicBinding): Promise<{ port: number; peerId: string }> {
  const server = createServer({ services: [conformanceService()], settings: quickSettings, limits: quickLimits, quic: { port: 0, ...(binding === undefined ? {} : { binding }) } });
  servers.push(server);
  await server.listen(0, '127.0.0.1');
  const address = server.quicAddress;
  if (address === undefined) throw new Error('no QUIC listener');
  return { port: address.port, peerId: address.peerId };
}

async function run(target: { port: number; peerId: string }, cases: string): Promise<Report> {
  return runConformance({ target: { host: '127.0.0.1', port: target.port, transport: 'quic', peerId: target.peerId }, strict: true, longWaitMs: 5000, cases });
}

describe.skipIf(!available)('conformance runner over QUIC', () => {
  it('parses quic:// targets with an optional pinned peer id', () => {
    expect(parseTarget('quic://127.0.0.1:7071?peer=12D3KooWabc')).toEqual({ host: '127.0.0.1', port: 7071, transport: 'quic', peerId: '12D3KooWabc' });
    expect(parseTarget('quic://[::1]:7071')).toEqual({ host: '::1', port: 7071, transport: 'quic' });
    expect(parseTarget('127.0.0.1:7070')).toEqual({ host: '127.0.0.1', port: 7070, transport: 'tcp' });
    expect(parseTarget('quic://127.0.0.1:7071?token=1')).toBeUndefined();
  });

  it('the reference QUIC server passes every case that applies over QUIC, under --strict', async () => {
    const report = await run(await quicTarget(), CORE);
    const problems = report.results.filter((r) => r.verdict !== 'pass' && r.verdict !== 'informational' && r.verdict !== 'not-applicable' && !(OTHER_CONFIGURATION.has(r.id) && r.verdict === 'unsupported'));
    expect(problems.map((r) => `${r.id}: ${r.verdict}: ${r.detail} (expected ${r.expected ?? '-'}, actual ${r.actual ?? '-'})`)).toEqual([]);
    const notApplicable = report.results.filter((r) => r.verdict === 'not-applicable');
    expect(notApplicable.map((r) => r.id).sort()).toEqual(NOT_OVER_QUIC);
    for (const r of notApplicable) expect(r.detail).toMatch(/^not over QUIC: .{20,}/u);
    const quicCases = report.results.filter((r) => r.id.startsWith('FW-QUIC-'));
    expect(quicCases.length).toBeGreaterThanOrEqual(12);
    expect(quicCases.every((r) => r.verdict === 'pass')).toBe(true);
    expect(report.target.transport).toBe('quic');
  }, 90_000);

  it('FW-QUIC-6: the reference QUIC server answers a FIN inside a frame, on a stream\'s QUIC stream or the control stream, with PROTOCOL_ERROR (not INTERNAL), and its ERROR is not cut off by the close', async () => {
    const report = await run(await quicTarget(), 'FW-QUIC-6/fin-inside-frame*');
    expect(report.results.map((r) => `${r.id}: ${r.verdict} (${r.actual ?? r.detail})`)).toEqual([
      expect.stringMatching(/^FW-QUIC-6\/fin-inside-frame: pass \(ERROR PROTOCOL_ERROR/u),
      expect.stringMatching(/^FW-QUIC-6\/fin-inside-frame-control: pass \(ERROR PROTOCOL_ERROR/u),
    ]);
  }, 30_000);

  it('a server whose QUIC streams hide RESET_STREAM and STOP_SENDING fails the FW-QUIC-7 live-stream cases', async () => {
    const report = await run(await quicTarget(resetIgnoringBinding(loadQuicBinding())), 'FW-QUIC-7/*');
    expect(Object.fromEntries(report.results.map((r) => [r.id, r.verdict]))).toEqual({
      'FW-QUIC-7/reset-live-stream': 'fail',
      'FW-QUIC-7/stop-sending-live-stream': 'fail',
      'FW-QUIC-7/reset-after-end-ignored': 'pass',
    });
  }, 60_000);

  it('a server whose QUIC streams ignore the peer FIN fails the FW-QUIC-6 cases', async () => {
    const report = await run(await quicTarget(finIgnoringBinding(loadQuicBinding())), 'FW-QUIC-6/*');
    expect(Object.fromEntries(report.results.map((r) => [r.id, r.verdict]))).toEqual({
      'FW-QUIC-6/fin-on-live-stream': 'fail',
      'FW-QUIC-6/fin-inside-frame': 'fail',
      'FW-QUIC-6/fin-inside-frame-control': 'pass',
      'FW-QUIC-6/target-finishes-ended-streams': 'pass',
    });
    expect(report.ok).toBe(false);
  }, 60_000);
});

/**
 * The real binding, except that on the server's framewire stream QUIC streams (not the control
 * stream) a peer FIN is never reported: the read waits forever, as in a transport that forgets to
 * check for the end of a stream.
 */
function finIgnoringBinding(real: QuicBinding): QuicBinding {
  return wrapServerStreams(real, (s) => ({
    ...forward(s),
    read: async (maxLen) => {
      const chunk = await s.read(maxLen);
      return chunk ?? new Promise<never>(() => undefined);
    },
  }));
}

/**
 * The real binding, except that the server's framewire stream QUIC streams hide a peer's
 * RESET_STREAM (the read waits forever) and STOP_SENDING (the write resolves as if sent), as in a
 * transport that never looks at either.
 */
function resetIgnoringBinding(real: QuicBinding): QuicBinding {
  const hidden = (error: unknown): boolean => /reset by peer|stopped by peer/iu.test(error instanceof Error ? error.message : String(error));
  return wrapServerStreams(real, (s) => ({
    ...forward(s),
    read: (maxLen) => s.read(maxLen).catch((error: unknown) => (hidden(error) ? new Promise<never>(() => undefined) : Promise.reject(error as Error))),
    write: (data) => s.write(data).catch((error: unknown) => (hidden(error) ? undefined : Promise.reject(error as Error))),
  }));
}

function forward(s: QuicStream): QuicStream {
  return {
    id: () => s.id(),
    read: (maxLen) => s.read(maxLen),
    write: (data) => s.write(data),
    finishWrite: () => s.finishWrite(),
    resetWrite: () => s.resetWrite(),
    stopRead: () => s.stopRead(),
  };
}

/** The real binding, with the server's QUIC streams after the control stream wrapped. */
function wrapServerStreams(real: QuicBinding, wrapStream: (s: QuicStream) => QuicStream): QuicBinding {
  const wrapConnection = (c: QuicConnection): QuicConnection => {
    let accepted = 0;
    return {
      inboundStream: async () => {
        const s = await c.inboundStream();
        return accepted++ === 0 ? s : wrapStream(s);
      },
      outboundStream: () => c.outboundStream(),
      abort: () => {
        c.abort();
      },
      rtt: () => c.rtt(),
      id: () => c.id(),
      remoteMultiaddr: () => c.remoteMultiaddr(),
      closed: () => c.closed(),
      stats: () => c.stats(),
    };
  };
  return {
    QuinnConfig: real.QuinnConfig,
    Client: real.Client,
    Server: class {
      readonly #s: QuicServer;
      constructor(config: QuinnConfig, ip: string, port: number) {
        this.#s = new real.Server(config, ip, port);
      }
      port(): number {
        return this.#s.port();
      }
      async inboundConnection(): Promise<QuicConnection> {
        return wrapConnection(await this.#s.inboundConnection());
      }
      abort(): Promise<void> {
        return this.#s.abort();
      }
    },
  };
}
