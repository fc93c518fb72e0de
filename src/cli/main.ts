/**
 * `framewire`: the command line. Each command lives in commands/<name>.ts and registers itself on
 * the program; this file owns what they share: error reporting (one line, non-zero exit, a stack
 * only with --verbose) and logging (pino to stderr at --log-level).
 */

import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isFramewireError } from '../errors.ts';
import { closeCaptures } from './capture-flags.ts';
import { CliError, ExitCode } from './cli-error.ts';
import { registerCommands } from './commands/index.ts';

/** The package's version: package.json sits two levels up from both src/cli/ and dist/cli/. */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

export function buildProgram(): Command {
  const program = new Command('framewire')
    .description('A streaming protocol over TCP: multiplexed streams with credit flow control, resumable uploads and event streams.')
    .version(packageVersion(), '-V, --version', 'print the version of framewire')
    .option('--log-level <level>', 'pino log level on stderr (silent, error, warn, info, debug, trace); default: info for serve, silent otherwise', 'silent')
    .option('--verbose', 'print stack traces of errors', false)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCommands(program);
  return program;
}

/** Runs the CLI with the given arguments and returns the exit code (never calls process.exit). */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const verbose = program.opts<{ verbose?: boolean }>().verbose === true;
    process.stderr.write(`framewire: ${describe(error)}\n`);
    if (verbose && error instanceof Error && error.stack !== undefined) process.stderr.write(`${error.stack}\n`);
    return error instanceof CliError ? error.exitCode : ExitCode.failed;
  } finally {
    await closeCaptures();
  }
}

function describe(error: unknown): string {
  // A first connection that could not be made is not retried (FW-ERR-6): "(retryable)" would mislead.
  const setup = isFramewireError(error) && (error.code === 'CONNECTION_REFUSED' || error.details?.['phase'] === 'handshake');
  if (isFramewireError(error)) return `${error.code}: ${error.message}${error.retryable && !setup ? ' (retryable)' : ''}`;
  if (error instanceof Error) return error.message;
  return String(error);
}
