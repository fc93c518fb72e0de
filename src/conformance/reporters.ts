/** Three views of a report: a terminal summary, JSON, and JUnit XML for CI dashboards. */

import { featureLabel, type CaseResult, type Report, type Verdict } from './types.ts';

const LABEL: Record<Verdict, string> = {
  pass: 'PASS',
  'non-strict': 'NON-STRICT',
  fail: 'FAIL',
  unsupported: 'UNSUPPORTED',
  informational: 'INFO',
  'not-applicable': 'N/A',
};

/** One line per case: verdict, id, short detail; failures get expected vs actual; totals at the end. */
export function formatTerminal(report: Report, options: { color?: boolean } = {}): string {
  const color = options.color ?? false;
  const paint = (v: Verdict, s: string): string => {
    if (!color) return s;
    const code = v === 'pass' ? 32 : v === 'fail' ? 31 : v === 'non-strict' ? 33 : 36;
    return `\u001b[${code}m${s}\u001b[0m`;
  };
  const lines: string[] = [];
  const name = (t: Report['target']): string => `${t.transport === 'quic' ? 'quic://' : ''}${t.host}:${t.port}`;
  const peer = report.peerTarget === undefined ? '' : ` with peer ${name(report.peerTarget)} (cluster cases)`;
  lines.push(`framewire conformance: ${name(report.target)}${peer}${report.strict ? ' (strict)' : ''}`);
  const info = report.targetInfo;
  lines.push(`target: ${info.agent ?? 'unknown agent'}; services: ${info.features.length === 0 ? 'none' : info.features.map(featureLabel).join(', ')}`);
  let section = '';
  for (const r of report.results) {
    if (r.section !== section) {
      section = r.section;
      lines.push('', `§${section}`);
    }
    lines.push(`  ${paint(r.verdict, LABEL[r.verdict].padEnd(11))} ${r.id}${r.level === 'SHOULD' ? ' (SHOULD)' : ''}: ${short(r.detail)}`);
    if ((r.verdict === 'fail' || r.verdict === 'non-strict') && (r.expected !== undefined || r.actual !== undefined)) {
      lines.push(`              expected: ${r.expected ?? '-'}`, `              actual:   ${r.actual ?? '-'}`);
    }
  }
  const t = report.totals;
  lines.push('', `${report.results.length} cases in ${(report.durationMs / 1000).toFixed(1)} s: ${t.pass} passed, ${t['non-strict']} non-strict, ${t.fail} failed, ${t.unsupported} unsupported, ${t.informational} informational, ${t['not-applicable']} not applicable (over ${report.target.transport.toUpperCase()}${report.peerTarget === undefined ? ', no --peer-target' : ''})`);
  lines.push(report.ok ? 'RESULT: conforming' : 'RESULT: NOT conforming');
  return lines.join('\n');
}

function short(s: string): string {
  const one = s.replace(/\s+/gu, ' ');
  return one.length > 160 ? `${one.slice(0, 157)}...` : one;
}

/** The report as JSON. */
export function formatJson(report: Report): string {
  return JSON.stringify(report, null, 2);
}

function xml(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/gu, '').replace(/&/gu, '&amp;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;').replace(/"/gu, '&quot;');
}

/** JUnit XML: one testsuite per spec section; fail → <failure>, unsupported and not-applicable → <skipped>, non-strict and informational pass with <system-out>. */
export function formatJUnit(report: Report): string {
  const bySection = new Map<string, CaseResult[]>();
  for (const r of report.results) {
    const list = bySection.get(r.section) ?? [];
    list.push(r);
    bySection.set(r.section, list);
  }
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const failures = report.totals.fail;
  const skipped = report.totals.unsupported + report.totals['not-applicable'];
  out.push(`<testsuites name="framewire conformance" tests="${report.results.length}" failures="${failures}" skipped="${skipped}" time="${(report.durationMs / 1000).toFixed(3)}">`);
  for (const [section, list] of bySection) {
    const f = list.filter((r) => r.verdict === 'fail').length;
    const s = list.filter((r) => r.verdict === 'unsupported' || r.verdict === 'not-applicable').length;
    const time = list.reduce((a, r) => a + r.durationMs, 0) / 1000;
    out.push(`  <testsuite name="${xml(section)}" tests="${list.length}" failures="${f}" skipped="${s}" time="${time.toFixed(3)}">`);
    for (const r of list) {
      out.push(`    <testcase classname="framewire.conformance.${xml(section.split(' ')[0] ?? section)}" name="${xml(r.id)}" time="${(r.durationMs / 1000).toFixed(3)}">`);
      if (r.verdict === 'fail') {
        out.push(`      <failure message="${xml(r.detail)}">${xml(`${r.title}\nrequirements: ${r.requirements.join(', ')}\nexpected: ${r.expected ?? '-'}\nactual: ${r.actual ?? '-'}\n${r.quote}`)}</failure>`);
      } else if (r.verdict === 'unsupported' || r.verdict === 'not-applicable') {
        out.push(`      <skipped message="${xml(r.detail)}"/>`);
      } else {
        out.push(`      <system-out>${xml(`${r.verdict}: ${r.detail}`)}</system-out>`);
      }
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n');
}
