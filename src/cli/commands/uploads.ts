/** `framewire uploads --to host:port`: the caller's unfinished uploads on a server, with progress and expiry (FW-UP-60). */

import type { Command } from 'commander';
import type { UploadListEntry } from '../../upload/listing.ts';
import { captureFrom } from '../capture-flags.ts';
import { addClientFlags, connectOptionsFrom, type ClientFlags } from '../client-options.ts';
import { cliLogger } from '../logger.ts';
import { parseServerTarget } from '../parse.ts';

interface UploadsFlags extends ClientFlags {
  to: string;
  json?: boolean;
}

export function registerUploads(program: Command): void {
  addClientFlags(
    program
      .command('uploads')
      .description('list your unfinished uploads on a server: progress, expiry, file name')
      .requiredOption('--to <address>', 'the framewire server: host:port (TCP) or quic://host:port[?peer=<peer id>]')
      .option('--json', 'one JSON object per upload'),
  )
    .addHelpText('after', `
Resume one by running its upload command again; delete one with
  framewire upload --abort <upload id> --to <address>`)
    .action(async (flags: UploadsFlags, command: Command) => {
      const target = parseServerTarget(flags.to, '--to');
      const { listUnfinishedUploads } = await import('../../upload-client.ts');
      const uploads = await listUnfinishedUploads({ ...target, ...connectOptionsFrom(flags), ...(await captureFrom(flags, cliLogger(command), target.quic !== undefined)), logger: cliLogger(command) });
      if (flags.json === true) {
        for (const u of uploads) process.stdout.write(`${JSON.stringify(u)}\n`);
        return;
      }
      if (uploads.length === 0) {
        process.stdout.write('no unfinished uploads\n');
        return;
      }
      const now = Date.now();
      process.stdout.write(`${'upload id'.padEnd(32)}  ${'stored'.padStart(7)}  ${'size'.padStart(10)}  ${'expires in'.padStart(10)}  name\n`);
      for (const u of uploads) process.stdout.write(`${row(u, now)}\n`);
    });
}

function row(u: UploadListEntry, now: number): string {
  const percent = u.size === 0 ? 100 : Math.floor((u.storedBytes / u.size) * 100);
  return `${u.uploadId}  ${`${percent} %`.padStart(7)}  ${bytes(u.size).padStart(10)}  ${until(u.expiresAt - now).padStart(10)}  ${u.name ?? '-'}${u.contentType === undefined ? '' : ` (${u.contentType})`}`;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i] ?? ''}`;
}

function until(ms: number): string {
  if (ms <= 0) return 'expired';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
