/**
 * `framewire download ID -o FILE --from host:port`: a verified, resumable download (spec/OBJECTS.md
 * §15.8). The bytes collect in FILE.fwpart; a rerun with the same arguments after a cut, a Ctrl-C
 * or a crash resumes from the units of it that match their digests. Progress: a bar on a terminal,
 * JSON lines otherwise.
 */

import type { Command } from 'commander';
import { captureFrom } from '../capture-flags.ts';
import { connectOptionsFrom, type ClientFlags } from '../client-options.ts';
import { cliLogger } from '../logger.ts';
import { parseDuration, parseServerTarget } from '../parse.ts';
import { objectFlags } from './objects.ts';

interface DownloadFlags extends ClientFlags {
  from: string;
  stallTimeout: string;
  output: string;
  json?: boolean;
}

export function registerDownload(program: Command): void {
  objectFlags(
    program
      .command('download')
      .description('download an object resumably: verifies each held unit and the whole SHA-256, renames into place; rerun to resume')
      .argument('<id>', 'the object id (framewire upload prints it; framewire ls lists them)')
      .requiredOption('-o, --output <file>', 'where to write the object (its bytes collect in <file>.fwpart until verified)')
      .option('--stall-timeout <duration>', 'give a connection up after this long without bytes and resume on a new one (0: never)', '15s'),
  )
    .addHelpText('after', `
Examples:
  framewire download 3f2a…e1 -o copy.mp4 --from 127.0.0.1:7070
  framewire download 3f2a…e1 -o copy.mp4 --from files.example:7070 --tls --token s3cret`)
    .action(async (id: string, flags: DownloadFlags, command: Command) => {
      const target = parseServerTarget(flags.from, '--from');
      const [{ SingleBar }, { download }] = await Promise.all([import('cli-progress'), import('../../download-client.ts')]);
      const stallTimeoutMs = parseDuration(flags.stallTimeout, '--stall-timeout');
      const json = flags.json === true || !process.stdout.isTTY;
      const bar = json ? undefined : new SingleBar({ format: ' {bar} {percentage}% | {value}/{total} MiB | {speed} MiB/s | ETA {eta_formatted}', hideCursor: true });
      const started = performance.now();
      let lastLine = 0;
      let barStarted = false;
      const capture = await captureFrom(flags, cliLogger(command), target.quic !== undefined);
      const abort = new AbortController();
      const onSignal = (): void => {
        abort.abort(new Error('interrupted'));
      };
      process.once('SIGINT', onSignal);
      try {
        const result = await download(id, flags.output, {
          ...target,
          ...connectOptionsFrom(flags),
          ...capture,
          logger: cliLogger(command),
          signal: abort.signal,
          stallTimeoutMs,
          onProgress: (p) => {
            const seconds = (performance.now() - started) / 1000;
            const mib = p.bytesHeld / 2 ** 20;
            if (bar !== undefined) {
              if (!barStarted) bar.start(Math.ceil(p.totalBytes / 2 ** 20), 0, { speed: '0' });
              barStarted = true;
              bar.update(Math.floor(mib), { speed: (mib / Math.max(seconds, 0.001)).toFixed(1) });
            } else if (performance.now() - lastLine >= 1000 || p.bytesHeld === p.totalBytes) {
              lastLine = performance.now();
              process.stdout.write(`${JSON.stringify({ event: 'progress', objectId: p.objectId, bytes: p.bytesHeld, total: p.totalBytes, rateMiBs: Number((mib / Math.max(seconds, 0.001)).toFixed(2)) })}\n`);
            }
          },
          onRetry: (r) => {
            const line = { event: 'retry', attempt: r.attempt, delayMs: r.delayMs, code: r.error.code, message: r.error.message };
            bar?.stop();
            barStarted = false;
            process.stderr.write(`${json ? JSON.stringify(line) : `retrying (attempt ${r.attempt}, in ${r.delayMs} ms): ${r.error.code} ${r.error.message}`}\n`);
          },
        });
        bar?.stop();
        const s = result.stats;
        const summary = {
          event: 'downloaded',
          objectId: result.objectId,
          file: result.destination,
          sha256: result.sha256,
          size: result.size,
          seconds: Number((s.durationMs / 1000).toFixed(2)),
          reconnects: s.reconnects,
          bytesResumed: s.bytesResumed,
          unitsRejected: s.unitsRejected,
        };
        process.stdout.write(
          json
            ? `${JSON.stringify(summary)}\n`
            : `downloaded ${result.objectId} to ${result.destination}\nsha256 ${result.sha256} (verified)\n${result.size} bytes in ${summary.seconds} s, ${s.reconnects} reconnects, ${s.bytesResumed} bytes resumed from the part file${s.unitsRejected > 0 ? `, ${s.unitsRejected} held unit(s) did not verify and were read again` : ''}\n`,
        );
      } finally {
        bar?.stop();
        process.off('SIGINT', onSignal);
      }
    });
}
