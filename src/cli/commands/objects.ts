/**
 * `framewire ls`, `framewire stat ID`, `framewire rm ID` (spec/OBJECTS.md): the committed objects of
 * the principal the token names, one connection per command. Tables on a terminal, JSON lines
 * otherwise (or with --json). The round trip upload → ls → download is in `framewire --help`.
 */

import type { Command } from 'commander';
import type { ConnectOptions } from '../../client.ts';
import type { Connection } from '../../connection.ts';
import type { ObjectSummary } from '../../objects/index.ts';
import { captureFrom } from '../capture-flags.ts';
import { addClientFlags, connectOptionsFrom, type ClientFlags } from '../client-options.ts';
import { cliLogger } from '../logger.ts';
import { parseCount, parseServerTarget } from '../parse.ts';

interface ObjectFlags extends ClientFlags {
  from: string;
  json?: boolean;
}

/** The metadata keys an upload may carry that a listing shows (the upload command stores them). */
const NAME_KEY = 'name';
const TYPE_KEY = 'content_type';

export const ROUND_TRIP_HELP = `
The round trip (objects belong to the principal of the token):
  framewire serve --data-dir ./data --port 7070
  framewire upload ./video.mp4 --to 127.0.0.1:7070            prints the object id
  framewire ls --from 127.0.0.1:7070                          id, size, time, name
  framewire stat <object id> --from 127.0.0.1:7070            size, SHA-256, units
  framewire download <object id> -o copy.mp4 --from 127.0.0.1:7070
                                                              resumes when rerun after a cut
  framewire rm <object id> --from 127.0.0.1:7070`;

export function objectFlags(command: Command): Command {
  return addClientFlags(command.requiredOption('--from <address>', 'the framewire server: host:port (TCP) or quic://host:port[?peer=<peer id>]').option('--json', 'JSON lines even on a terminal'));
}

type ObjectOps = typeof import('../../objects/index.ts');

/** One connection for one command; the client and the operations load on first use, as every command's implementation does. */
export async function withConnection<T>(flags: ObjectFlags, command: Command, work: (conn: Connection, ops: ObjectOps) => Promise<T>): Promise<T> {
  const target = parseServerTarget(flags.from, '--from');
  const options: ConnectOptions = { ...target, ...connectOptionsFrom(flags), ...(await captureFrom(flags, cliLogger(command), target.quic !== undefined)), logger: cliLogger(command) };
  const [{ connect }, ops] = await Promise.all([import('../../client.ts'), import('../../objects/index.ts')]);
  const conn = await connect(options);
  try {
    return await work(conn, ops);
  } finally {
    conn.close();
  }
}

export function registerObjects(program: Command): void {
  objectFlags(
    program
      .command('ls')
      .description('list your committed objects (id, size, commit time, name)')
      .option('--limit <n>', `at most this many objects (all by default)`),
  ).action(async (flags: ObjectFlags & { limit?: string }, command: Command) => {
    const limit = flags.limit === undefined ? Infinity : parseCount(flags.limit, '--limit');
    const json = flags.json === true || !process.stdout.isTTY;
    await withConnection(flags, command, async (conn, { listObjects, MAX_LIST_LIMIT }) => {
      let cursor: string | undefined;
      let shown = 0;
      do {
        const page = await listObjects(conn, { limit: Math.min(MAX_LIST_LIMIT, limit - shown), ...(cursor === undefined ? {} : { cursor }) });
        for (const o of page.objects) process.stdout.write(json ? `${JSON.stringify(summaryLine(o))}\n` : `${tableLine(o)}\n`);
        shown += page.objects.length;
        cursor = page.cursor;
      } while (cursor !== undefined && shown < limit);
      if (!json && shown === 0) process.stdout.write('no objects\n');
    });
  });

  objectFlags(program.command('stat').description('size, SHA-256, commit time and metadata of an object').argument('<id>', 'the object id')).action(
    async (id: string, flags: ObjectFlags, command: Command) => {
      const json = flags.json === true || !process.stdout.isTTY;
      const d = await withConnection(flags, command, (conn, { statObject }) => statObject(conn, id, { unitsMax: 0 }));
      const line = { ...summaryLine(d), unitSize: d.unitSize, unitCount: d.unitCount };
      process.stdout.write(
        json
          ? `${JSON.stringify(line)}\n`
          : [
              `object     ${d.objectId}`,
              `size       ${d.size} bytes`,
              `sha256     ${d.sha256}`,
              `committed  ${new Date(d.committedAt).toISOString()}`,
              ...(d.metadata?.[NAME_KEY] === undefined ? [] : [`name       ${d.metadata[NAME_KEY]}`]),
              ...(d.metadata?.[TYPE_KEY] === undefined ? [] : [`type       ${d.metadata[TYPE_KEY]}`]),
              `units      ${d.unitCount} of ${d.unitSize} bytes, each with its SHA-256`,
              '',
            ].join('\n'),
      );
    },
  );

  objectFlags(program.command('rm').description('delete an object of yours (idempotent)').argument('<id>', 'the object id')).action(async (id: string, flags: ObjectFlags, command: Command) => {
    const json = flags.json === true || !process.stdout.isTTY;
    const deleted = await withConnection(flags, command, (conn, { deleteObject }) => deleteObject(conn, id));
    process.stdout.write(json ? `${JSON.stringify({ event: 'deleted', objectId: id, deleted })}\n` : deleted ? `deleted ${id}\n` : `nothing to delete: ${id} is not one of your objects (any more)\n`);
  });
}

function summaryLine(o: ObjectSummary): Record<string, unknown> {
  return { objectId: o.objectId, size: o.size, sha256: o.sha256, committedAt: new Date(o.committedAt).toISOString(), ...(o.metadata === undefined ? {} : { metadata: o.metadata }) };
}

function tableLine(o: ObjectSummary): string {
  return `${o.objectId}  ${String(o.size).padStart(14)}  ${new Date(o.committedAt).toISOString()}  ${o.metadata?.[NAME_KEY] ?? ''}`.trimEnd();
}
