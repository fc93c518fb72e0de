/**
 * `framewire bench [suite...]`: runs the benchmark suites under bench/ (each in its own process,
 * each measuring its baselines in the same run) and, with --json, prints their results together.
 */

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../cli-error.ts';

/** In the order a full run takes them: cheapest first. */
export const suites = ['crc', 'codec', 'e2e', 'upload', 'events', 'hol', 'hol-loss', 'perf'] as const;
type Suite = (typeof suites)[number];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function runSuite(suite: Suite, args: readonly string[], quiet: boolean): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'bench', `${suite}.bench.ts`), ...args], {
      cwd: root,
      stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      resolvePromise(code ?? (signal === null ? 1 : 128));
    });
  });
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(`run benchmark suites (${suites.join(', ')}); each prints a table with ratios to baselines measured in the same run`)
    .argument('[suite...]', `suites to run (default: all of ${suites.join(', ')})`)
    .option('--smoke', 'every case at a tiny size (seconds); results go to bench/results/*.tmp.json')
    .option('--json', "print the suites' results as one JSON document on stdout (the tables are not printed)")
    .option('--size <size>', 'passed to suites that take a size (e2e, upload)')
    .addHelpText('after', `
Examples:
  framewire bench codec
  framewire bench --smoke --json
  framewire bench e2e --size 256MiB
  framewire bench hol-loss --smoke      (root: network namespaces, nftables, ethtool)`)
    .action(async (names: string[], flags: { smoke?: boolean; json?: boolean; size?: string }) => {
      // The benchmarks (and tsx, which runs them) come with a clone of the repository, not with the package.
      if (!existsSync(join(root, 'bench'))) throw new CliError('the benchmarks are not part of the installed package: run them from a clone of the repository', ExitCode.usage);
      const chosen = (names.length === 0 ? [...suites] : names) as Suite[];
      for (const name of chosen) {
        if (!suites.includes(name)) throw new CliError(`unknown suite "${name}" (choose from ${suites.join(', ')})`, ExitCode.usage);
      }
      const results: Record<string, unknown> = {};
      let failed = 0;
      for (const suite of chosen) {
        const args = [...(flags.smoke === true ? ['--smoke'] : []), ...(flags.size !== undefined && (suite === 'e2e' || suite === 'upload') ? ['--size', flags.size] : [])];
        if (flags.json !== true) process.stdout.write(`\n== ${suite}\n`);
        const code = await runSuite(suite, args, flags.json === true);
        const file = join(root, 'bench', 'results', `${suite}${flags.smoke === true ? '.tmp' : ''}.json`);
        if (code !== 0) failed++;
        results[suite] = code === 0 && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as unknown) : { error: `exit code ${code}` };
      }
      if (flags.json === true) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      process.exitCode = failed === 0 ? ExitCode.ok : ExitCode.failed;
    });
}
