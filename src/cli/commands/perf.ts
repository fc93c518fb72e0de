/**
 * `framewire perf --target host:port`: measures the path to any framewire server that offers the
 * benchmark kinds (spec/PROTOCOL.md, "Benchmark kinds"; `framewire serve --perf`), like iperf3 or
 * h2load: throughput of N streams, CPU per GiB on both sides, and round trips before and under the
 * load.
 */

import type { Command } from 'commander';
import { isFramewireError } from '../../errors.ts';
import type { PerfOptions } from '../../perf/index.ts';
import { MAX_PERF_MESSAGE, MAX_PERF_STREAMS } from '../../perf/kinds.ts';
import { captureFrom } from '../capture-flags.ts';
import { addClientFlags, connectOptionsFrom, type ClientFlags } from '../client-options.ts';
import { cliLogger } from '../logger.ts';
import { CliError, ExitCode } from '../cli-error.ts';
import { parseDuration, parseHostPort, parseSize } from '../parse.ts';

interface PerfFlags extends ClientFlags {
  target: string;
  streams: string;
  messageSize: string;
  duration?: string;
  bytes?: string;
  reverse?: boolean;
  probeInterval: string;
  idleProbes: string;
  interval?: string;
  json?: boolean;
}

function integer(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${flag}: "${text}" must be an integer in ${min}..${max}`, ExitCode.usage);
  return n;
}

export function registerPerf(program: Command): void {
  addClientFlags(
    program
      .command('perf')
      .description('measure throughput, CPU per GiB and latency under load against a framewire server that offers the benchmark kinds (framewire serve --perf)')
      .requiredOption('--target <host:port>', 'the framewire server')
      .option('-P, --streams <n>', `concurrent data streams (1..${MAX_PERF_STREAMS})`, '1')
      .option('-l, --message-size <size>', 'bytes per message (one write)', '64KiB')
      .option('-t, --duration <duration>', 'how long to move data (default 10s unless --bytes)')
      .option('-n, --bytes <size>', 'move this many bytes in total instead of for a duration')
      .option('-R, --reverse', 'the server sends (perf.source) instead of the client (perf.sink)')
      .option('--probe-interval <duration>', 'one PING and one perf.echo round trip per interval under load; 0 turns latency probes off', '100ms')
      .option('--idle-probes <n>', 'probes before the load starts (the idle baseline)', '10')
      .option('--interval <duration>', 'print the rate so far every interval on stderr (default 1s; with --json, off)')
      .option('--json', 'print the result as JSON'),
  )
    .addHelpText('after', `
The server must offer perf.sink, perf.source and perf.echo: start it with \`framewire serve --perf\`.

Examples:
  framewire perf --target 10.0.0.2:7070
  framewire perf --target 10.0.0.2:7070 -P 8 -t 30s
  framewire perf --target 10.0.0.2:7070 -l 64 -n 1GiB --json     # 64-byte messages
  framewire perf --target 10.0.0.2:7070 -R --tls --ca ca.pem      # server to client, over TLS`)
    .action(async (flags: PerfFlags, command: Command) => {
      const target = parseHostPort(flags.target, '--target');
      if (flags.duration !== undefined && flags.bytes !== undefined) throw new CliError('give --duration or --bytes, not both', ExitCode.usage);
      const bytes = flags.bytes === undefined ? undefined : parseSize(flags.bytes, '--bytes');
      const durationMs = bytes !== undefined ? undefined : parseDuration(flags.duration ?? '10s', '--duration');
      if (durationMs !== undefined && durationMs <= 0) throw new CliError('--duration must be positive', ExitCode.usage);
      const messageSize = parseSize(flags.messageSize, '--message-size');
      if (messageSize > MAX_PERF_MESSAGE) throw new CliError(`--message-size: at most ${MAX_PERF_MESSAGE} bytes`, ExitCode.usage);
      const interval = flags.interval === undefined ? (flags.json === true ? 0 : 1000) : parseDuration(flags.interval, '--interval');
      const capture = await captureFrom(flags, cliLogger(command));
      const abort = new AbortController();
      const onSignal = (): void => {
        abort.abort(new Error('interrupted'));
      };
      process.once('SIGINT', onSignal);
      const options: PerfOptions = {
        ...target,
        connect: { ...connectOptionsFrom(flags), ...capture, logger: cliLogger(command) },
        streams: integer(flags.streams, '--streams', 1, MAX_PERF_STREAMS),
        messageSize,
        direction: flags.reverse === true ? 'receive' : 'send',
        ...(durationMs === undefined ? {} : { durationMs }),
        ...(bytes === undefined ? {} : { bytes }),
        probeIntervalMs: parseDuration(flags.probeInterval, '--probe-interval'),
        idleProbes: integer(flags.idleProbes, '--idle-probes', 0, 10_000),
        probeSize: 64,
        signal: abort.signal,
        ...(interval > 0
          ? {
              progressIntervalMs: interval,
              onProgress: (p: { elapsedMs: number; bytes: number }) => {
                process.stderr.write(`${(p.elapsedMs / 1000).toFixed(1).padStart(7)} s  ${(p.bytes / 2 ** 20).toFixed(0).padStart(9)} MiB  ${(p.bytes / (p.elapsedMs / 1000) / 1e6).toFixed(0).padStart(7)} MB/s\n`);
              },
            }
          : {}),
      };
      const { formatPerf, runPerf } = await import('../../perf/index.ts');
      try {
        const result = await runPerf(options);
        process.stdout.write(flags.json === true ? `${JSON.stringify(result, null, 2)}\n` : `${formatPerf(result)}\n`);
      } catch (error) {
        if (isFramewireError(error) && error.code === 'NOT_FOUND') {
          throw new CliError(`${flags.target} does not offer the benchmark kinds (start it with \`framewire serve --perf\`): ${error.message}`);
        }
        throw error;
      } finally {
        process.off('SIGINT', onSignal);
      }
    });
}
