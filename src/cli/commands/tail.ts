/**
 * `framewire tail NAME --from host:port` (or `--from quic://host:port`): subscribe to an event
 * stream and print its events. Ctrl-C cancels the stream on the server; with `--detach` it lets go
 * instead and prints the resume key and the command that continues the stream (spec/EVENTS.md §12.9).
 */

import type { Command } from 'commander';
import type { EventOutcome, Subscription } from '../../events/index.ts';
import { captureFrom } from '../capture-flags.ts';
import { addClientFlags, connectOptionsFrom, connectRetriesFrom, type ClientFlags } from '../client-options.ts';
import { cliLogger } from '../logger.ts';
import { CliError, ExitCode } from '../cli-error.ts';
import { parseCount, parseServerTarget } from '../parse.ts';
import { shellQuote } from '../shell-quote.ts';
import { EXIT_INTERRUPTED } from './upload.ts';

interface TailFlags extends ClientFlags {
  from: string;
  key?: string;
  fromId?: string;
  resume?: string;
  params?: string;
  count?: string;
  detach?: boolean;
  json?: boolean;
}

export function registerTail(program: Command): void {
  addClientFlags(
    program
      .command('tail')
      .description('subscribe to an event stream and print its events, resuming across disconnects; Ctrl-C cancels it on the server (with --detach: leaves it running, resumable)')
      .argument('<name>', 'event stream name (the built-in server offers clock, tokens and logtail)')
      .requiredOption('--from <address>', 'the framewire server: host:port (TCP) or quic://host:port[?peer=<peer id>]')
      .option('--resume <key>', 'continue a stream after its last printed event: the resume key an earlier tail printed (<key>@<id>)')
      .option('--key <key>', 'instance key (request id): attach to a running instance, or name a new one')
      .option('--from-id <n>', 'resume after this event id (with --key)')
      .option('--params <json>', 'producer parameters as a JSON object, e.g. \'{"count":100}\'')
      .option('--count <n>', 'stop after printing this many events (cancelling the stream, or with --detach leaving it resumable)')
      .option('--detach', 'on Ctrl-C (or after --count) let go without cancelling: the server keeps the stream for its grace period and tail prints how to resume it')
      .option('--json', 'print JSON lines'),
  )
    .addHelpText('after', `
The last line (on stderr) says how the stream ended. While the stream can still be resumed — after
--detach, or when the connection was lost for good — it gives the resume key and the command that
continues with the next event, from this or any other process; a cancelled or finished stream has
none.

Examples:
  framewire tail clock --from 127.0.0.1:7070
  framewire tail tokens --from 127.0.0.1:7070 --params '{"count":50,"interval_ms":100}' --json
  framewire tail tokens --from 127.0.0.1:7070 --params '{"count":1000}' --detach --count 10
  framewire tail tokens --from 127.0.0.1:7070 --resume 4f1c…@10
  framewire tail clock --from 'quic://127.0.0.1:7071?peer=12D3KooW…'`)
    .action(async (name: string, flags: TailFlags, command: Command) => {
      const target = parseServerTarget(flags.from, '--from');
      const params = paramsFrom(flags.params);
      const count = flags.count === undefined ? undefined : parseCount(flags.count, '--count');
      const [{ subscribe }, { parseResumeKey }] = await Promise.all([import('../../events-client.ts'), import('../../events/index.ts')]);
      const from = resumePointFrom(flags, parseResumeKey);
      const capture = await captureFrom(flags, cliLogger(command), target.quic !== undefined);
      const abort = new AbortController();
      const detach = flags.detach === true;
      const sub = subscribe(name, {
        ...target,
        ...connectOptionsFrom(flags),
        ...capture,
        logger: cliLogger(command),
        signal: abort.signal,
        reconnect: { connectRetries: connectRetriesFrom(flags) },
        ...(params === undefined ? {} : { params }),
        ...(from === undefined ? (flags.key === undefined ? {} : { key: flags.key }) : { from }),
      });
      // An object: the handler sets it while the loop below awaits.
      const state = { interrupted: false };
      const onSignal = (): void => {
        state.interrupted = true;
        if (detach) sub.detach();
        else abort.abort(new Error('interrupted'));
      };
      process.once('SIGINT', onSignal);
      const json = flags.json === true;
      let printed = 0;
      try {
        if (count !== 0) {
          for await (const event of sub) {
            const data = event.data instanceof Uint8Array ? Buffer.from(event.data).toString('base64') : event.data;
            process.stdout.write(json ? `${JSON.stringify({ id: event.id, type: event.type, data })}\n` : `#${event.id} ${event.type} ${typeof data === 'string' ? data : JSON.stringify(data)}\n`);
            if (++printed === count) {
              // Before leaving the loop, whose end would cancel the stream.
              if (detach) sub.detach();
              else sub.cancel(`tail stopped after ${count} events (--count)`);
              break;
            }
          }
        }
      } catch (error) {
        // Ctrl-C: the stream was cancelled (or let go) on purpose; report it, not an error.
        if (!state.interrupted) throw error;
      } finally {
        process.off('SIGINT', onSignal);
      }
      const outcome = await sub.outcome;
      process.stderr.write(`${endLine(outcome, sub, json, resumeCommand(name, sub.resumeKey))}\n`);
      if (state.interrupted) process.exitCode = EXIT_INTERRUPTED;
      else if (outcome.status === 'failed') process.exitCode = ExitCode.failed;
    });
}

function paramsFrom(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let params: unknown;
  try {
    params = JSON.parse(text);
  } catch {
    throw new CliError('--params must be a JSON object', ExitCode.usage);
  }
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new CliError('--params must be a JSON object', ExitCode.usage);
  return params as Record<string, unknown>;
}

/** --resume KEY@ID, or --key with --from-id: where to continue an existing instance. */
function resumePointFrom(flags: TailFlags, parse: (text: string) => { key: string; after: number }): { key: string; after: number } | undefined {
  if (flags.resume !== undefined) {
    if (flags.key !== undefined || flags.fromId !== undefined) throw new CliError('--resume already names the instance and the event: drop --key and --from-id', ExitCode.usage);
    try {
      return parse(flags.resume);
    } catch (error) {
      throw new CliError(`--resume: ${(error as Error).message}`, ExitCode.usage);
    }
  }
  if (flags.fromId === undefined) return undefined;
  const after = Number(flags.fromId);
  if (!Number.isSafeInteger(after) || after < 0) throw new CliError('--from-id must be a non-negative integer', ExitCode.usage);
  if (flags.key === undefined) throw new CliError('--from-id needs --key: ids are per instance', ExitCode.usage);
  return { key: flags.key, after };
}

/** This command again, continuing after the last printed event: the instance options replaced by --resume. */
function resumeCommand(name: string, resumeKey: string | undefined): string | undefined {
  if (resumeKey === undefined) return undefined;
  const dropped = new Set(['--resume', '--key', '--from-id', '--params']);
  const args = process.argv.slice(2);
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (dropped.has(arg)) {
      i++;
      continue;
    }
    if (!dropped.has(arg.split('=')[0] ?? '')) kept.push(arg);
  }
  if (!kept.includes(name)) kept.push('tail', name);
  return shellQuote(['framewire', ...kept, '--resume', resumeKey]);
}

/** The last line: how the stream ended and, only while it can still be resumed, how to continue it. */
function endLine(outcome: EventOutcome, sub: Subscription, json: boolean, command: string | undefined): string {
  const resume = sub.resumeKey;
  if (json) {
    const base = outcome.status === 'done' ? { end: 'done', summary: outcome.summary } : outcome.status === 'detached' ? { end: 'detached' } : { end: outcome.status, code: outcome.error.code, message: outcome.error.message };
    return JSON.stringify({ ...base, lastEventId: sub.lastEventId, ...(resume === undefined ? {} : { resume, command }) });
  }
  const how = outcome.status === 'done'
    ? `-- done${outcome.summary === undefined ? '' : ` ${JSON.stringify(outcome.summary)}`}`
    : outcome.status === 'detached'
      ? `-- detached after event ${sub.lastEventId}: the stream goes on on the server, which keeps it for its grace period`
      : `-- ${outcome.status} (${outcome.error.code}: ${outcome.error.message})`;
  return resume === undefined ? how : `${how}\n   resume key ${resume}\n   continue:  ${command ?? ''}`;
}
