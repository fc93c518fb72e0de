/** `framewire upload FILE --to host:port` (or `--to quic://host:port`): a resumable upload with progress, survives dropped connections. */

import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { addClientFlags, connectOptionsFrom, type ClientFlags } from '../client-options.ts';
import { cliLogger } from '../logger.ts';
import { CliError, ExitCode } from '../cli-error.ts';
import { parseDuration, parseServerTarget, parseSize } from '../parse.ts';

interface UploadFlags extends ClientFlags {
  to: string;
  chunkSize: string;
  parallel: string;
  sha256?: string;
  stallTimeout: string;
  json?: boolean;
}

export function registerUpload(program: Command): void {
  addClientFlags(
    program
      .command('upload')
      .description('upload a file resumably: retries and resumes across dropped connections and server restarts, then commits and verifies')
      .argument('<file>', 'the file to upload')
      .requiredOption('--to <address>', 'the framewire server: host:port (TCP) or quic://host:port[?peer=<peer id>]')
      .option('--chunk-size <size>', 'chunk size', '4MiB')
      .option('--parallel <n>', 'chunks in flight at once', '4')
      .option('--sha256 <hex>', 'expected SHA-256 of the file (the server verifies it at commit)')
      .option('--stall-timeout <duration>', 'give a connection up after this long without progress and resume on a new one (0: never)', '15s')
      .option('--json', 'progress as JSON lines even on a terminal'),
  )
    .addHelpText('after', `
Examples:
  framewire upload ./video.mp4 --to 127.0.0.1:7070
  framewire upload big.iso --to files.example:7070 --chunk-size 8MiB --parallel 8 --tls --token s3cret
  framewire upload ./video.mp4 --to 'quic://127.0.0.1:7071?peer=12D3KooW…'   (the peer id serve printed)`)
    .action(async (file: string, flags: UploadFlags, command: Command) => {
      const target = parseServerTarget(flags.to, '--to');
      const chunkSize = parseSize(flags.chunkSize, '--chunk-size');
      const stallTimeoutMs = parseDuration(flags.stallTimeout, '--stall-timeout');
      const inflight = Number(flags.parallel);
      if (!Number.isInteger(inflight) || inflight < 1 || inflight > 256) throw new CliError('--parallel must be an integer in 1..256', ExitCode.usage);
      const size = (await stat(file).catch(() => undefined))?.size;
      if (size === undefined) throw new CliError(`cannot read ${file}`, ExitCode.usage);
      const log = cliLogger(command);
      const [{ SingleBar }, { upload }] = await Promise.all([import('cli-progress'), import('../../upload-client.ts')]);
      const json = flags.json === true || !process.stdout.isTTY;
      const bar = json ? undefined : new SingleBar({ format: ' {bar} {percentage}% | {value}/{total} MiB | {speed} MiB/s | ETA {eta_formatted} | chunks {chunks}', hideCursor: true });
      const started = performance.now();
      let lastLine = 0;
      const abort = new AbortController();
      const onSignal = (): void => {
        abort.abort(new Error('interrupted'));
      };
      process.once('SIGINT', onSignal);
      bar?.start(Math.ceil(size / 2 ** 20), 0, { speed: '0', chunks: '0' });
      try {
        const result = await upload(file, {
          ...target,
          ...connectOptionsFrom(flags),
          logger: log,
          chunkSize,
          inflight,
          signal: abort.signal,
          keepOnAbort: true,
          stallTimeoutMs,
          ...(flags.sha256 === undefined ? {} : { sha256: flags.sha256 }),
          onProgress: (p) => {
            const seconds = (performance.now() - started) / 1000;
            const mib = p.bytesConfirmed / 2 ** 20;
            if (bar !== undefined) {
              bar.update(Math.floor(mib), { speed: (mib / Math.max(seconds, 0.001)).toFixed(1), chunks: `${p.chunksConfirmed}/${p.totalChunks}` });
            } else if (performance.now() - lastLine >= 1000 || p.chunksConfirmed === p.totalChunks) {
              lastLine = performance.now();
              process.stdout.write(`${JSON.stringify({ event: 'progress', upload: p.uploadId, bytes: p.bytesConfirmed, total: p.totalBytes, chunks: p.chunksConfirmed, totalChunks: p.totalChunks, rateMiBs: Number((mib / Math.max(seconds, 0.001)).toFixed(2)) })}\n`);
            }
          },
          onRetry: (r) => {
            const line = { event: 'retry', attempt: r.attempt, delayMs: r.delayMs, code: r.error.code, message: r.error.message };
            if (bar !== undefined) bar.stop();
            process.stderr.write(`${json ? JSON.stringify(line) : `retrying (attempt ${r.attempt}, in ${r.delayMs} ms): ${r.error.code} ${r.error.message}`}\n`);
          },
        });
        bar?.update(Math.ceil(size / 2 ** 20));
        bar?.stop();
        const s = result.stats;
        const summary = { event: 'committed', objectId: result.objectId, sha256: result.sha256, size: result.size, seconds: Number((s.durationMs / 1000).toFixed(2)), reconnects: s.reconnects, chunksResent: s.chunksResent };
        process.stdout.write(json ? `${JSON.stringify(summary)}\n` : `committed ${result.objectId}\nsha256 ${result.sha256}\n${result.size} bytes in ${summary.seconds} s, ${s.reconnects} reconnects, ${s.chunksResent} chunks re-sent\n`);
      } finally {
        bar?.stop();
        process.off('SIGINT', onSignal);
      }
    });
}
