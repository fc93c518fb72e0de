/** `framewire demo`: the main job, verified end to end (see ../demo.ts). */

import type { Command } from 'commander';
import { cliLogger } from '../logger.ts';
import { CliError, ExitCode } from '../cli-error.ts';
import { parseSize } from '../parse.ts';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start a local server (own process, file-system store), upload a generated file through a cut connection and a server crash, stream events through a cut connection, cancel one; verify everything')
    .option('--size <size>', 'size of the generated file', '256MiB')
    .option('--chunk-size <size>', 'upload chunk size', '4MiB')
    .option('--parallel <n>', 'chunks in flight', '4')
    .option('--events <n>', 'events in the token stream', '3000')
    .option('--json', 'print the report as JSON')
    .option('--cluster', 'instead: two server nodes sharing Redis and a chunk directory; the client is moved to the other node at each cut (an upload, then an event stream)')
    .option('--redis <url>', 'with --cluster: use this Redis (redis://host:port) instead of starting a redis-server')
    .addHelpText('after', `
Examples:
  framewire demo
  framewire demo --size 64MiB --json
  framewire demo --cluster --size 64MiB`)
    .action(async (flags: { size: string; chunkSize: string; parallel: string; events: string; json?: boolean; cluster?: boolean; redis?: string }, command: Command) => {
      const inflight = Number(flags.parallel);
      const events = Number(flags.events);
      if (!Number.isInteger(inflight) || inflight < 1 || inflight > 64) throw new CliError('--parallel must be 1..64', ExitCode.usage);
      if (!Number.isInteger(events) || events < 10 || events > 1_000_000) throw new CliError('--events must be 10..1000000', ExitCode.usage);
      const say = flags.json === true ? (): void => undefined : (line: string): void => {
        process.stdout.write(`${line}\n`);
      };
      if (flags.redis !== undefined && flags.cluster !== true) throw new CliError('--redis goes with --cluster', ExitCode.usage);
      if (flags.cluster === true) {
        const { runClusterDemo } = await import('../demo-cluster.ts');
        const report = await runClusterDemo({
          bytes: parseSize(flags.size, '--size'),
          chunkSize: parseSize(flags.chunkSize, '--chunk-size'),
          inflight,
          events,
          ...(flags.redis === undefined ? {} : { redis: flags.redis }),
          logger: cliLogger(command),
          say,
        });
        if (flags.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else {
          const u = (key: string): string => String(report.upload[key] ?? '?');
          process.stdout.write(`
framewire cluster demo report
  upload  ${u('bytes')} bytes in ${u('seconds')} s across two nodes, ${u('reconnects')} reconnects, ${u('chunksResent')} chunks (${u('bytesResent')} bytes) re-sent
  events  ${String(report.events['delivered'] ?? '?')} events across two nodes, ${String(report.events['reconnects'] ?? '?')} reconnects, ${String(report.events['duplicatesDropped'] ?? '?')} duplicates dropped, ${String(report.events['outcome'] ?? '?')}
  result  ${report.ok ? 'VERIFIED' : 'FAILED'} (${report.checks.filter((c) => c.ok).length}/${report.checks.length} checks)
`);
        }
        process.exitCode = report.ok ? ExitCode.ok : ExitCode.failed;
        return;
      }
      const { runDemo } = await import('../demo.ts');
      const report = await runDemo({
        bytes: parseSize(flags.size, '--size'),
        chunkSize: parseSize(flags.chunkSize, '--chunk-size'),
        inflight,
        events,
        logger: cliLogger(command),
        say,
      });
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const u = (key: string): string => String(report.upload[key] ?? '?');
        const e = (key: string): string => String(report.events[key] ?? '?');
        process.stdout.write(`
framewire demo report
  upload  ${u('bytes')} bytes in ${u('seconds')} s (${u('mibPerSecond')} MiB/s including a cut and a crash), ${u('reconnects')} reconnects, ${u('chunksResent')} chunks (${u('bytesResent')} bytes) re-sent
  download ${u('bytes')} bytes in ${u('downloadSeconds')} s through a cut, SHA-256 verified
  events  ${e('delivered')} delivered, ${e('reconnects')} reconnect(s), first event over the new connection ${e('resumeMs')} ms after the cut, cancel -> producer stopped in ${e('cancelToStopMs')} ms
  result  ${report.ok ? 'VERIFIED' : 'FAILED'} (${report.checks.filter((c) => c.ok).length}/${report.checks.length} checks)
`);
      }
      process.exitCode = report.ok ? ExitCode.ok : ExitCode.failed;
    });
}
