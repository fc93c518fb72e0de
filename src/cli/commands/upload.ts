/**
 * `framewire upload FILE --to host:port` (or `--to quic://host:port`): a resumable upload with
 * progress, survives dropped connections; rerunning the same command after an interruption
 * resumes it (a local record, spec/UPLOAD.md §11.9); `--abort ID` deletes one.
 */

import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { isFramewireError } from '../../errors.ts';
import { invalidContentType, MetadataKey } from '../../upload/metadata.ts';
import type { UploadProgress } from '../../upload/uploader.ts';
import { captureFrom } from '../capture-flags.ts';
import { addClientFlags, connectOptionsFrom, connectRetriesFrom, type ClientFlags } from '../client-options.ts';
import { cliLogger } from '../logger.ts';
import { CliError, ExitCode } from '../cli-error.ts';
import { parseDuration, parseServerTarget, parseSize } from '../parse.ts';
import { etaText } from '../progress.ts';
import { shellQuote } from '../shell-quote.ts';

interface UploadFlags extends ClientFlags {
  to: string;
  chunkSize: string;
  parallel: string;
  sha256?: string;
  stallTimeout: string;
  json?: boolean;
  resume: boolean;
  abort?: string;
  contentType?: string;
}

/** The exit code of a command ended by SIGINT (128 + 2), as shells report it. */
export const EXIT_INTERRUPTED = 130;

export function registerUpload(program: Command): void {
  addClientFlags(
    program
      .command('upload')
      .description('upload a file resumably: retries and resumes across dropped connections and server restarts, then commits and verifies; run it again after an interruption to resume')
      .argument('[file]', 'the file to upload')
      .requiredOption('--to <address>', 'the framewire server: host:port (TCP) or quic://host:port[?peer=<peer id>]')
      .option('--chunk-size <size>', 'chunk size', '4MiB')
      .option('--parallel <n>', 'chunks in flight at once', '4')
      .option('--sha256 <hex>', 'expected SHA-256 of the file (the server verifies it at commit)')
      .option('--content-type <type>', 'media type stored with the upload (e.g. video/mp4)')
      .option('--stall-timeout <duration>', 'give a connection up after this long without progress and resume on a new one (0: never)', '15s')
      .option('--no-resume', 'start a new upload even if an earlier run of this file was interrupted')
      .option('--abort <upload id>', 'delete an unfinished upload (see `framewire uploads`) instead of uploading')
      .option('--json', 'progress as JSON lines even on a terminal'),
  )
    .addHelpText('after', `
Interrupted (Ctrl-C, a crash, a lost network)? Run the same command again: it resumes the
upload and sends only what the server lacks. The record of unfinished uploads is kept in
$XDG_STATE_HOME/framewire/uploads.json (default ~/.local/state/framewire/uploads.json;
FRAMEWIRE_STATE_DIR overrides the directory).

Examples:
  framewire upload ./video.mp4 --to 127.0.0.1:7070
  framewire upload big.iso --to files.example:7070 --chunk-size 8MiB --parallel 8 --tls --token s3cret
  framewire upload ./video.mp4 --to 'quic://127.0.0.1:7071?peer=12D3KooW…'   (the peer id serve printed)
  framewire uploads --to 127.0.0.1:7070                       (unfinished uploads)
  framewire upload --abort 5f0c…e1 --to 127.0.0.1:7070        (delete one)`)
    .action(async (file: string | undefined, flags: UploadFlags, command: Command) => {
      const target = parseServerTarget(flags.to, '--to');
      if (flags.abort !== undefined) {
        if (file !== undefined) throw new CliError('--abort takes an upload id, not a file', ExitCode.usage);
        const { abortRemoteUpload } = await import('../../upload-client.ts');
        const state = await abortRemoteUpload(flags.abort, { ...target, ...connectOptionsFrom(flags), ...(await captureFrom(flags, cliLogger(command), target.quic !== undefined)) });
        process.stdout.write(`upload ${flags.abort}: ${state}\n`);
        return;
      }
      if (file === undefined) throw new CliError('upload needs a file (or --abort ID)', ExitCode.usage);
      const chunkSize = parseSize(flags.chunkSize, '--chunk-size');
      const stallTimeoutMs = parseDuration(flags.stallTimeout, '--stall-timeout');
      const inflight = Number(flags.parallel);
      if (!Number.isInteger(inflight) || inflight < 1 || inflight > 256) throw new CliError('--parallel must be an integer in 1..256', ExitCode.usage);
      if (flags.contentType !== undefined && invalidContentType(flags.contentType) !== undefined) {
        throw new CliError(`--content-type: "${flags.contentType}" ${invalidContentType(flags.contentType) ?? ''}`, ExitCode.usage);
      }
      const info = await stat(file).catch(() => undefined);
      if (info === undefined) throw new CliError(`cannot read ${file}`, ExitCode.usage);
      // Before anything reaches the server: a directory would fail at the first read.
      if (!info.isFile()) throw new CliError(`${file} is not a regular file${info.isDirectory() ? ' (a directory: upload its files one by one, or an archive of it)' : ''}`, ExitCode.usage);
      const size = info.size;
      const log = cliLogger(command);
      const capture = await captureFrom(flags, log, target.quic !== undefined);
      const [{ SingleBar }, { upload }, { FileResumeStore }] = await Promise.all([import('cli-progress'), import('../../upload-client.ts'), import('../../upload/resume-record.ts')]);
      const json = flags.json === true || !process.stdout.isTTY;
      const say = (line: Record<string, unknown>, text: string): void => {
        process.stderr.write(`${json ? JSON.stringify(line) : text}\n`);
      };
      const bar = json ? undefined : new SingleBar({ format: ' {bar} {percentage}% | {value}/{total} MiB | {speed} MiB/s | ETA {etaText} | chunks {chunks}', hideCursor: true });
      const started = performance.now();
      let lastLine = 0;
      let last: UploadProgress | undefined;
      let firstConfirmed: number | undefined;
      const abort = new AbortController();
      const onSignal = (): void => {
        abort.abort(new Error('interrupted'));
      };
      process.once('SIGINT', onSignal);
      bar?.start(Math.ceil(size / 2 ** 20), 0, { speed: '0', chunks: '0', etaText: '--' });
      const name = basename(file);
      const metadata = {
        ...(Buffer.byteLength(name) <= 255 ? { [MetadataKey.name]: name } : {}),
        ...(flags.contentType === undefined ? {} : { [MetadataKey.contentType]: flags.contentType }),
      };
      try {
        const result = await upload(file, {
          ...target,
          ...connectOptionsFrom(flags),
          ...capture,
          logger: log,
          chunkSize,
          inflight,
          signal: abort.signal,
          keepOnAbort: true,
          stallTimeoutMs,
          retry: { connectRetries: connectRetriesFrom(flags) },
          metadata,
          resumeStore: new FileResumeStore(),
          restart: !flags.resume,
          ...(flags.sha256 === undefined ? {} : { sha256: flags.sha256 }),
          onResume: (entry) => {
            say({ event: 'resume', upload: entry.uploadId }, `resuming upload ${entry.uploadId} (interrupted earlier; --no-resume starts over)`);
          },
          onProgress: (p) => {
            last = p;
            firstConfirmed ??= p.bytesConfirmed;
            const seconds = (performance.now() - started) / 1000;
            const mib = p.bytesConfirmed / 2 ** 20;
            // The rate counts this run's bytes only: what a resumed upload had stored came for free.
            const rate = (p.bytesConfirmed - firstConfirmed) / 2 ** 20 / Math.max(seconds, 0.001);
            if (bar !== undefined) {
              bar.update(Math.floor(mib), { speed: rate.toFixed(1), chunks: `${p.chunksConfirmed}/${p.totalChunks}`, etaText: etaText(p.totalBytes - p.bytesConfirmed, rate * 2 ** 20) });
            } else if (performance.now() - lastLine >= 1000 || p.chunksConfirmed === p.totalChunks) {
              lastLine = performance.now();
              process.stdout.write(`${JSON.stringify({ event: 'progress', upload: p.uploadId, bytes: p.bytesConfirmed, total: p.totalBytes, chunks: p.chunksConfirmed, totalChunks: p.totalChunks, rateMiBs: Number(rate.toFixed(2)) })}\n`);
            }
          },
          onRetry: (r) => {
            bar?.stop();
            say({ event: 'retry', attempt: r.attempt, delayMs: r.delayMs, code: r.error.code, message: r.error.message }, `retrying (attempt ${r.attempt}, in ${r.delayMs} ms): ${r.error.code} ${r.error.message}`);
          },
        });
        bar?.update(Math.ceil(size / 2 ** 20));
        bar?.stop();
        const s = result.stats;
        const summary = { event: 'committed', objectId: result.objectId, sha256: result.sha256, size: result.size, seconds: Number((s.durationMs / 1000).toFixed(2)), reconnects: s.reconnects, chunksSent: s.chunksSent, chunksResent: s.chunksResent };
        process.stdout.write(json ? `${JSON.stringify(summary)}\n` : `committed ${result.objectId}\nsha256 ${result.sha256}\n${result.size} bytes in ${summary.seconds} s, ${s.reconnects} reconnects, ${s.chunksResent} chunks re-sent\n`);
      } catch (error) {
        if (!abort.signal.aborted || !isFramewireError(error) || error.code !== 'CANCELLED') throw error;
        bar?.stop();
        throw interrupted(last);
      } finally {
        bar?.stop();
        process.off('SIGINT', onSignal);
      }
    });
}

/** Ctrl-C: the upload stays on the server, and the same command resumes it. */
function interrupted(last: UploadProgress | undefined): CliError {
  const again = shellQuote(['framewire', ...process.argv.slice(2).filter((a) => a !== '--no-resume')]);
  if (last === undefined) return new CliError(`interrupted before the server created the upload; run again: ${again}`, EXIT_INTERRUPTED);
  return new CliError(
    `interrupted: upload ${last.uploadId} is unfinished (${last.chunksConfirmed}/${last.totalChunks} chunks, ${last.bytesConfirmed}/${last.totalBytes} bytes stored) and stays resumable\n  resume:  ${again}\n  discard: framewire upload --abort ${last.uploadId} --to …`,
    EXIT_INTERRUPTED,
  );
}
