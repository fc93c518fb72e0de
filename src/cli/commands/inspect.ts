/** `framewire inspect [FILE|-]`: a captured byte stream as a frame log. */

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../cli-error.ts';
import { parseSize } from '../parse.ts';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('decode a captured framewire byte stream (raw bytes or hex) into one line per frame, flagging CRC and rule violations')
    .argument('[file]', 'capture file, or - for standard input', '-')
    .option('--max-payload <size>', "the receiver's max_frame_payload, to flag oversize frames (e.g. 64KiB)")
    .option('--json', 'print the frames as JSON lines')
    .addHelpText('after', `
Examples:
  framewire inspect capture.bin
  xxd -p capture.bin | framewire inspect -
  framewire inspect --max-payload 16KiB --json capture.hex`)
    .action(async (file: string, options: { maxPayload?: string; json?: boolean }) => {
      const input = file === '-' ? await readStdin() : await readFile(file).catch((error: unknown) => {
        throw new CliError(`cannot read ${file}: ${(error as Error).message}`, ExitCode.usage);
      });
      const maxPayload = options.maxPayload === undefined ? undefined : parseSize(options.maxPayload, '--max-payload');
      const { formatInspection, inspectBytes, parseCapture } = await import('../inspect.ts');
      const result = inspectBytes(parseCapture(input), maxPayload === undefined ? {} : { maxPayload });
      if (options.json === true) {
        for (const frame of result.frames) process.stdout.write(`${JSON.stringify(frame, jsonBytes)}\n`);
      } else {
        for (const line of formatInspection(result)) process.stdout.write(`${line}\n`);
      }
      process.exitCode = result.violations === 0 ? ExitCode.ok : ExitCode.failed;
    });
}

function jsonBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
