/**
 * Standalone entry until the CLI wires `framewire conformance`:
 *   npx tsx src/conformance/main.ts --target 127.0.0.1:7070|quic://127.0.0.1:7071?peer=ID [--peer-target HOST:PORT] [--cases GLOB] [--strict] [--json FILE] [--junit FILE]
 * Exit code 0 when no case failed, 1 when one did, 2 on bad arguments.
 */

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Transport } from './link.ts';
import { formatJson, formatJUnit, formatTerminal } from './reporters.ts';
import { runConformance, SAME_NODE, sameNode, TargetUnreachable } from './runner.ts';
import type { Report } from './types.ts';
import { usage } from './usage.ts';


/** The target: "host:port" or "tcp://host:port" (TCP), "quic://host:port[?peer=<peer id>]" (QUIC, spec §14). */
export function parseTarget(s: string): { host: string; port: number; transport: Transport; peerId?: string } | undefined {
  const scheme = /^(tcp|quic):\/\/([^?/]*)\/?(?:\?(.*))?$/iu.exec(s);
  if (scheme === null) {
    const hostPort = parseHostPort(s);
    return hostPort === undefined ? undefined : { ...hostPort, transport: 'tcp' };
  }
  const [, protocol = '', where = '', query] = scheme;
  const hostPort = parseHostPort(where);
  if (hostPort === undefined) return undefined;
  if (protocol.toLowerCase() === 'tcp') return query === undefined ? { ...hostPort, transport: 'tcp' } : undefined;
  const params = new URLSearchParams(query ?? '');
  const peerId = params.get('peer');
  if ([...params.keys()].some((k) => k !== 'peer') || peerId === '') return undefined;
  return { ...hostPort, transport: 'quic', ...(peerId === null ? {} : { peerId }) };
}

function parseHostPort(s: string): { host: string; port: number } | undefined {
  const at = s.lastIndexOf(':');
  if (at <= 0) return undefined;
  const host = s.slice(0, at).replace(/^\[(.*)\]$/u, '$1');
  const port = Number(s.slice(at + 1));
  return Number.isInteger(port) && port > 0 && port < 65536 ? { host, port } : undefined;
}

export async function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        target: { type: 'string' },
        'peer-target': { type: 'string' },
        cases: { type: 'string' },
        strict: { type: 'boolean', default: false },
        json: { type: 'string' },
        junit: { type: 'string' },
        timeout: { type: 'string' },
        'long-wait': { type: 'string' },
        auth: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    out(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
    return 2;
  }
  if (values.help) {
    out(usage);
    return 0;
  }
  const target = values.target === undefined ? undefined : parseTarget(values.target);
  if (target === undefined) {
    out(`--target HOST:PORT or quic://HOST:PORT[?peer=PEER_ID] is required\n${usage}`);
    return 2;
  }
  const peerTarget = values['peer-target'] === undefined ? undefined : parseTarget(values['peer-target']);
  if (values['peer-target'] !== undefined && peerTarget === undefined) {
    out(`--peer-target takes HOST:PORT or quic://HOST:PORT[?peer=PEER_ID], like --target\n${usage}`);
    return 2;
  }
  if (peerTarget !== undefined && sameNode(target, peerTarget)) {
    out(`${SAME_NODE}\n${usage}`);
    return 2;
  }
  const num = (s: string | undefined, name: string): number | undefined => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isFinite(n) || n <= 0) throw new RangeError(`--${name} must be a positive number of milliseconds`);
    return n;
  };
  let timeoutMs: number | undefined;
  let longWaitMs: number | undefined;
  let auth: unknown;
  try {
    timeoutMs = num(values.timeout, 'timeout');
    longWaitMs = num(values['long-wait'], 'long-wait');
    auth = values.auth === undefined ? undefined : (JSON.parse(values.auth) as unknown);
  } catch (error) {
    out(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
    return 2;
  }
  let report: Report;
  try {
    report = await runConformance({
    target,
    ...(peerTarget === undefined ? {} : { peerTarget }),
    strict: values.strict,
    ...(values.cases === undefined ? {} : { cases: values.cases }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(longWaitMs === undefined ? {} : { longWaitMs }),
    ...(auth === undefined ? {} : { auth }),
    });
  } catch (error) {
    if (!(error instanceof TargetUnreachable)) throw error;
    out(`framewire conformance: ${error.message}`);
    return 1;
  }
  if (!values.quiet) out(formatTerminal(report, { color: process.stdout.isTTY }));
  if (values.json !== undefined) writeFileSync(values.json, `${formatJson(report)}\n`);
  if (values.junit !== undefined) writeFileSync(values.junit, `${formatJUnit(report)}\n`);
  return report.ok ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  process.exitCode = await main(process.argv.slice(2));
}
