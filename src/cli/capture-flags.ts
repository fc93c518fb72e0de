/**
 * `--capture DIR` and its bounds, on `serve` and on every client command: each TCP connection's two
 * directions written to DIR as files `framewire inspect` reads (src/transport/capture.ts). The
 * directory is checked at start: an unusable one stops the command with the reason, before any
 * connection; a write error later only ends that capture (logged), never the connection.
 */

import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { CaptureSink } from '../transport/index.ts';
import { CliError, ExitCode } from './cli-error.ts';
import { parseSize } from './parse.ts';

export interface CaptureFlags {
  capture?: string;
  captureMaxBytes: string;
  captureMaxTotal: string;
}

export const CAPTURE_HELP = `
Captures: --capture DIR writes each TCP connection's two directions to DIR as
<time>-<pid>-<connection>-<peer>.c2s.fwcap (client to server) and .s2c.fwcap (server to client);
read them with "framewire inspect DIR" (both directions of every connection) or one file at a time.
Each direction keeps at most --capture-max-bytes, all captures of the process at most
--capture-max-total; past a bound (or if the disk falls behind by 8 MiB) that capture stops, the
connection goes on, and inspect reports the truncation. QUIC connections are not captured.`;

export function addCaptureFlags(command: Command): Command {
  return command
    .option('--capture <dir>', 'write each TCP connection\'s bytes, both directions, to files in DIR for `framewire inspect` (not over QUIC)')
    .option('--capture-max-bytes <size>', 'bytes kept per connection direction', '64MiB')
    .option('--capture-max-total <size>', 'bytes kept over all captures of this process', '1GiB');
}

/** The checked capture sink the flags ask for, if any. `quic`: the target is QUIC, which cannot be captured. */
export async function captureFrom(flags: CaptureFlags, logger: Logger, quic = false): Promise<{ capture?: CaptureSink }> {
  if (flags.capture === undefined) return {};
  if (quic) throw new CliError('--capture: QUIC connections cannot be captured (captures are of TCP byte streams); use a host:port target', ExitCode.usage);
  const maxBytesPerDirection = parseSize(flags.captureMaxBytes, '--capture-max-bytes');
  const maxTotalBytes = parseSize(flags.captureMaxTotal, '--capture-max-total');
  const { CaptureSink } = await import('../transport/index.ts');
  let capture: CaptureSink;
  try {
    capture = await CaptureSink.create({ dir: flags.capture, maxBytesPerDirection, maxTotalBytes, logger });
  } catch (error) {
    throw new CliError(`--capture: cannot write captures to ${flags.capture}: ${(error as Error).message}`, ExitCode.usage);
  }
  sinks.push(capture);
  return { capture };
}

/** The sinks this process opened, for {@link closeCaptures}. */
const sinks: CaptureSink[] = [];

/** How long the exit waits for capture files to get their final header. */
const CLOSE_WAIT_MS = 2000;

/**
 * Before the process exits (bin.ts exits explicitly): every capture gets its final header, even of
 * a connection not yet closed; bounded, so that a stuck disk cannot hold the exit.
 */
export async function closeCaptures(): Promise<void> {
  if (sinks.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_WAIT_MS);
  });
  await Promise.race([Promise.all(sinks.splice(0).map((sink) => sink.close())), bound]);
  clearTimeout(timer);
}
