/**
 * What the command line's parts share about failing: the exit codes and the error a user caused.
 * Its own module so that the commands and their helpers import it without importing main.ts,
 * which imports the commands.
 */

/** Exit codes: 0 success, 1 the operation failed (or a check did not verify), 2 bad usage. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

/** An error the user caused (bad argument, unreachable peer): reported as one line. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.failed) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
