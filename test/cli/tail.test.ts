/**
 * `framewire tail` as a child process (issue 16): bad --params are a coded error, `--detach` lets
 * go without cancelling and prints the resume key and command, which another process runs to
 * continue with no gap and no duplicate (after --count and after a real SIGINT); a cancelled or
 * finished stream prints no key.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli, startCli } from './run-cli.ts';
import { ServeProcess } from './serve-process.ts';

const serve = new ServeProcess();
let from = '';
beforeAll(async () => {
  from = `127.0.0.1:${await serve.start([])}`;
}, 60_000);
afterAll(async () => {
  await serve.stop();
});

describe('framewire tail', () => {
  it('FW-REF-6: a negative count or an unknown param is MALFORMED_PAYLOAD naming it, exit 1, no events', async () => {
    for (const [params, words] of [['{"count":-1}', /count.*0\.\.10000000, got -1/u], ['{"cuont":3}', /no param "cuont"/u]] as const) {
      const r = await runCli(['tail', 'tokens', '--from', from, '--params', params]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/MALFORMED_PAYLOAD/u);
      expect(r.stderr).toMatch(words);
      expect(r.stdout).toBe('');
    }
  }, 60_000);

  it('--detach --count 5 prints the resume key and command; running that command continues at event 6 to the end; a finished or cancelled stream prints no key', async () => {
    const first = await runCli(['tail', 'tokens', '--from', from, '--params', '{"count":30,"interval_ms":5}', '--detach', '--count', '5', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(jsonLines(first.stdout).map((e) => e['id'])).toEqual([1, 2, 3, 4, 5]);
    const end = jsonLines(first.stderr).at(-1) ?? {};
    expect(end).toMatchObject({ end: 'detached', lastEventId: 5 });
    expect(end['resume']).toMatch(/@5$/u);
    const command = String(end['command']);
    expect(command).toContain(`--resume ${String(end['resume'])}`);
    expect(command).not.toContain('--params');
    // The printed command, as another process runs it.
    const args = command.split(' ').slice(1);
    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(0);
    expect(jsonLines(second.stdout).map((e) => e['id'])).toEqual([6, 7, 8, 9, 10]);
    const third = await runCli([...args.filter((a, i, all) => a !== '--count' && all[i - 1] !== '--count' && a !== '--resume' && all[i - 1] !== '--resume'), '--resume', String((jsonLines(second.stderr).at(-1) ?? {})['resume'])]);
    expect(third.code, third.stderr).toBe(0);
    expect(jsonLines(third.stdout).map((e) => e['id'])).toEqual(Array.from({ length: 20 }, (_, i) => i + 11));
    const done = jsonLines(third.stderr).at(-1) ?? {};
    expect(done).toMatchObject({ end: 'done', summary: { tokens: 30 } });
    expect(done['resume']).toBeUndefined();
    // Without --detach, --count cancels: no key to print, and the instance is gone.
    const cancelled = await runCli(['tail', 'clock', '--from', from, '--params', '{"interval_ms":10}', '--count', '2', '--json']);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    const line = jsonLines(cancelled.stderr).at(-1) ?? {};
    expect(line).toMatchObject({ end: 'cancelled', code: 'CANCELLED' });
    expect(line['resume']).toBeUndefined();
  }, 120_000);

  it('--detach on a real SIGINT: exit 130, the resume key of the last printed event and the command, which continues with no gap and no duplicate', async () => {
    const run = startCli(['tail', 'tokens', '--from', from, '--params', '{"count":40,"interval_ms":20}', '--detach', '--json']);
    // Bounded wait for a few events, then Ctrl-C as a terminal sends it.
    for (let i = 0; i < 600 && jsonLines(run.stdout).length < 4; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(jsonLines(run.stdout).length, run.stderr).toBeGreaterThanOrEqual(4);
    run.child.kill('SIGINT');
    const first = await run.done;
    expect(first.code, first.stderr).toBe(130);
    const seen = jsonLines(first.stdout).map((e) => Number(e['id']));
    const last = seen.at(-1) ?? 0;
    expect(seen).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(last).toBeLessThan(40);
    const end = jsonLines(first.stderr).at(-1) ?? {};
    expect(end).toMatchObject({ end: 'detached', lastEventId: last });
    expect(end['resume']).toMatch(new RegExp(`@${String(last)}$`, 'u'));
    const command = String(end['command']);
    expect(command).toMatch(/^framewire tail tokens /u);
    expect(command).toContain(`--resume ${String(end['resume'])}`);
    const second = await runCli(command.split(' ').slice(1));
    expect(second.code, second.stderr).toBe(0);
    expect(jsonLines(second.stdout).map((e) => e['id'])).toEqual(Array.from({ length: 40 - last }, (_, i) => i + last + 1));
    expect(jsonLines(second.stderr).at(-1)).toMatchObject({ end: 'done', summary: { tokens: 40 } });
  }, 120_000);
});
