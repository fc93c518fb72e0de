/** `framewire tail NAME --from host:port` (or `--from quic://host:port`): subscribe to an event stream and print its events. */

import type { Command } from 'commander';
import { addClientFlags, connectOptionsFrom, connectRetriesFrom, type ClientFlags } from '../client-options.ts';
import { cliLogger } from '../logger.ts';
import { CliError, ExitCode } from '../cli-error.ts';
import { parseServerTarget } from '../parse.ts';

interface TailFlags extends ClientFlags {
  from: string;
  key?: string;
  fromId?: string;
  params?: string;
  json?: boolean;
}

export function registerTail(program: Command): void {
  addClientFlags(
    program
      .command('tail')
      .description('subscribe to an event stream and print its events, resuming across disconnects; Ctrl-C cancels it on the server')
      .argument('<name>', 'event stream name (the built-in server offers clock, tokens and logtail)')
      .requiredOption('--from <address>', 'the framewire server: host:port (TCP) or quic://host:port[?peer=<peer id>]')
      .option('--key <key>', 'instance key (request id): attach to a running instance, or name a new one')
      .option('--from-id <n>', 'resume after this event id (with --key)')
      .option('--params <json>', 'producer parameters as a JSON object, e.g. \'{"count":100}\'')
      .option('--json', 'print JSON lines'),
  )
    .addHelpText('after', `
Examples:
  framewire tail clock --from 127.0.0.1:7070
  framewire tail tokens --from 127.0.0.1:7070 --params '{"count":50,"interval_ms":100}' --json
  framewire tail tokens --from 127.0.0.1:7070 --key my-request --from-id 42
  framewire tail clock --from 'quic://127.0.0.1:7071?peer=12D3KooW…'`)
    .action(async (name: string, flags: TailFlags, command: Command) => {
      const target = parseServerTarget(flags.from, '--from');
      let params: Record<string, unknown> | undefined;
      if (flags.params !== undefined) {
        try {
          params = JSON.parse(flags.params) as Record<string, unknown>;
        } catch {
          throw new CliError('--params must be a JSON object', ExitCode.usage);
        }
        if (typeof params !== 'object' || Array.isArray(params)) throw new CliError('--params must be a JSON object', ExitCode.usage);
      }
      let after: number | undefined;
      if (flags.fromId !== undefined) {
        after = Number(flags.fromId);
        if (!Number.isSafeInteger(after) || after < 0) throw new CliError('--from-id must be a non-negative integer', ExitCode.usage);
        if (flags.key === undefined) throw new CliError('--from-id needs --key: ids are per instance', ExitCode.usage);
      }
      const abort = new AbortController();
      const onSignal = (): void => {
        abort.abort(new Error('interrupted'));
      };
      process.once('SIGINT', onSignal);
      const { subscribe } = await import('../../events-client.ts');
      const sub = subscribe(name, {
        ...target,
        ...connectOptionsFrom(flags),
        logger: cliLogger(command),
        signal: abort.signal,
        reconnect: { connectRetries: connectRetriesFrom(flags) },
        ...(params === undefined ? {} : { params }),
        ...(after === undefined || flags.key === undefined ? (flags.key === undefined ? {} : { key: flags.key }) : { from: { key: flags.key, after } }),
      });
      const json = flags.json === true;
      try {
        for await (const event of sub) {
          const data = event.data instanceof Uint8Array ? Buffer.from(event.data).toString('base64') : event.data;
          process.stdout.write(json ? `${JSON.stringify({ id: event.id, type: event.type, data })}\n` : `#${event.id} ${event.type} ${typeof data === 'string' ? data : JSON.stringify(data)}\n`);
        }
      } catch (error) {
        // Ctrl-C: the stream was cancelled on purpose (and on the server); report it, not an error.
        if (!abort.signal.aborted) throw error;
      } finally {
        process.off('SIGINT', onSignal);
      }
      const outcome = await sub.outcome;
      if (abort.signal.aborted) process.exitCode = 130;
      const line = outcome.status === 'done' ? { end: 'done', summary: outcome.summary } : { end: outcome.status, code: outcome.error.code, message: outcome.error.message };
      process.stderr.write(`${json ? JSON.stringify({ ...line, key: sub.key }) : `-- ${outcome.status}${outcome.status === 'done' ? '' : ` (${outcome.error.code}: ${outcome.error.message})`}; key ${sub.key}`}\n`);
      if (outcome.status === 'failed') process.exitCode = ExitCode.failed;
    });
}
