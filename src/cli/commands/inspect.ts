/** `framewire inspect [FILE|DIR|-]...`: captured byte streams as frame logs. */

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../cli-error.ts';
import { parseSize } from '../parse.ts';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('decode captured framewire byte streams (--capture files, raw bytes or hex) into one line per frame, flagging CRC and rule violations')
    .argument('[files...]', 'capture files, directories of --capture files (every *.fwcap in them, both directions of each connection), or - for standard input', ['-'])
    .option('--max-payload <size>', "the receiver's max_frame_payload, to flag oversize frames (e.g. 64KiB)")
    .option('--json', 'print the frames as JSON lines (with their "file" when several files are read)')
    .addHelpText('after', `
Getting a capture: run the server or any client command with --capture DIR
  framewire serve --capture ./captures        (or: framewire upload f.bin --to … --capture ./captures)
writes each TCP connection's two directions as <time>-<pid>-<connection>-<peer>.c2s.fwcap (client to
server) and .s2c.fwcap (server to client); "framewire inspect ./captures" prints them all, each file
under its name, and says when a capture was truncated at its --capture-max-bytes. Any other capture
of one direction works as raw bytes or as hex: e.g. Wireshark's "Follow TCP stream" saved raw, or
"xxd -p" of it. QUIC connections are not captured.

Examples:
  framewire inspect ./captures
  framewire inspect ./captures/20261204T140000000Z-4242-s0-127.0.0.1_50312.c2s.fwcap
  xxd -p capture.bin | framewire inspect -
  framewire inspect --max-payload 16KiB --json capture.hex`)
    .action(async (args: string[], options: { maxPayload?: string; json?: boolean }) => {
      const maxPayload = options.maxPayload === undefined ? undefined : parseSize(options.maxPayload, '--max-payload');
      const { formatInspection, inspectBytes, parseCapture } = await import('../inspect.ts');
      const { readCaptureFile } = await import('../capture-file.ts');
      const files = await expand(args);
      const several = files.length > 1;
      let violations = 0;
      for (const file of files) {
        const input = file === '-' ? await readStdin() : await readFile(file).catch((error: unknown) => {
          throw new CliError(`cannot read ${file}: ${(error as Error).message}`, ExitCode.usage);
        });
        const capture = readCaptureFile(input);
        const bytes = capture.note === undefined ? parseCapture(capture.bytes) : capture.bytes;
        const result = inspectBytes(bytes, { ...(maxPayload === undefined ? {} : { maxPayload }), truncatedCapture: capture.truncated && capture.note !== undefined });
        violations += result.violations;
        if (options.json === true) {
          if (capture.note !== undefined) process.stdout.write(`${JSON.stringify({ ...(several ? { file } : {}), capture: capture.note })}\n`);
          for (const frame of result.frames) process.stdout.write(`${JSON.stringify(several ? { file, ...frame } : frame, jsonBytes)}\n`);
          continue;
        }
        if (several) process.stdout.write(`== ${file}\n`);
        if (capture.note !== undefined) process.stdout.write(`${capture.note}\n`);
        for (const line of formatInspection(result)) process.stdout.write(`${line}\n`);
      }
      process.exitCode = violations === 0 ? ExitCode.ok : ExitCode.failed;
    });
}

/** Directories become their *.fwcap files, sorted: by time, then connection, c2s before s2c. */
async function expand(args: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const arg of args) {
    const info = arg === '-' ? undefined : await stat(arg).catch((error: unknown) => {
      throw new CliError(`cannot read ${arg}: ${(error as Error).message}`, ExitCode.usage);
    });
    if (info?.isDirectory() !== true) {
      files.push(arg);
      continue;
    }
    const names = (await readdir(arg)).filter((name) => name.endsWith('.fwcap')).sort();
    if (names.length === 0) throw new CliError(`${arg}: no capture files (*.fwcap) in this directory`, ExitCode.usage);
    files.push(...names.map((name) => join(arg, name)));
  }
  return files;
}

function jsonBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
