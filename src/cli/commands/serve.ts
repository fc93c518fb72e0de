/** `framewire serve`: a server with the file-system upload store and the built-in event streams. */

import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { addCaptureFlags, captureFrom, CAPTURE_HELP, type CaptureFlags } from '../capture-flags.ts';
import { cliLogger } from '../logger.ts';
import { CliError, ExitCode } from '../cli-error.ts';
import { addConnectionLimitFlags, connectionLimitsFrom, type ConnectionLimitFlags } from '../connection-limits.ts';
import { defaultPerfLimits, type PerfLimits } from '../../perf/kinds.ts';
import { parseDuration, parsePort, parseSize } from '../parse.ts';
import { addProfileLimitFlags, profileLimitsFrom, type ProfileLimitFlags } from '../profile-limits.ts';
import { loadTokens, singleToken, type TokenTable } from '../tokens.ts';
import type { QuicIdentity } from '../../transport/index.ts';

interface ServeOptions extends ProfileLimitFlags, ConnectionLimitFlags, CaptureFlags {
  port: string;
  host: string;
  dataDir: string;
  redis?: string;
  tlsCert?: string;
  tlsKey?: string;
  token?: string;
  tokens?: string;
  uploadTtl?: string;
  tail?: string;
  shutdownDeadline: string;
  quicPort?: string;
  quicKey?: string;
  perf?: boolean;
  perfMaxStreams?: string;
  perfMaxBytes?: string;
  perfMaxDuration?: string;
}

/** The benchmark kinds' limits from the flags, or undefined when --perf is absent. */
function perfLimits(o: ServeOptions): Partial<PerfLimits> | undefined {
  const given = o.perfMaxStreams !== undefined || o.perfMaxBytes !== undefined || o.perfMaxDuration !== undefined;
  if (o.perf !== true) {
    if (given) throw new CliError('--perf-max-* set the limits of the benchmark kinds: they need --perf', ExitCode.usage);
    return undefined;
  }
  const streams = o.perfMaxStreams === undefined ? undefined : Number(o.perfMaxStreams);
  if (streams !== undefined && (!Number.isInteger(streams) || streams < 1 || streams > 100_000)) throw new CliError(`--perf-max-streams: "${o.perfMaxStreams}" must be an integer in 1..100000`, ExitCode.usage);
  const duration = o.perfMaxDuration === undefined ? undefined : parseDuration(o.perfMaxDuration, '--perf-max-duration');
  if (duration !== undefined && duration <= 0) throw new CliError('--perf-max-duration must be positive', ExitCode.usage);
  return {
    ...(streams === undefined ? {} : { maxStreams: streams }),
    ...(o.perfMaxBytes === undefined ? {} : { maxStreamBytes: parseSize(o.perfMaxBytes, '--perf-max-bytes') }),
    ...(duration === undefined ? {} : { maxStreamDurationMs: duration }),
  };
}

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('run a framewire server: resumable uploads to a data directory and built-in event streams (clock, tokens, logtail)')
    .option('--port <port>', 'TCP port (0 picks a free one)', '7070')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--data-dir <dir>', 'where uploads and committed objects are stored: one server per directory (locked), or with --redis the directory every node mounts', './framewire-data')
    .option('--redis <url>', 'keep upload sessions and event-stream replay logs in this Redis (redis://host:port), shared with other nodes on the same --data-dir, so clients resume uploads and event streams on any node')
    .option('--tls-cert <file>', 'TLS certificate (PEM); needs --tls-key')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--token <token>', 'require clients to present this token; all of them are one principal, named "token"')
    .option('--tokens <file>', 'require clients to present a token listed in FILE, which maps each token to a principal (format below)')
    .option('--upload-ttl <duration>', 'unfinished uploads expire after this long (e.g. 24h)')
    .option('--tail <file>', 'offer the "logtail" event stream: lines appended to this file')
    .option('--shutdown-deadline <duration>', 'on SIGINT/SIGTERM, how long in-flight work may finish', '10s')
    .option('--quic-port <port>', 'also serve framewire over QUIC on this UDP port (0 picks a free one)')
    .option('--quic-key <file>', 'QUIC identity (a libp2p key, protobuf); created there if missing. Without it: a throw-away identity')
    .option('--perf', 'offer the benchmark kinds perf.sink, perf.source and perf.echo, for `framewire perf` (off by default: they let any client spend this server\'s CPU and bandwidth)')
    .option('--perf-max-streams <n>', `with --perf: benchmark streams open at once (default ${defaultPerfLimits.maxStreams})`)
    .option('--perf-max-bytes <size>', `with --perf: bytes per benchmark stream (default ${defaultPerfLimits.maxStreamBytes / 2 ** 30} GiB)`)
    .option('--perf-max-duration <duration>', `with --perf: lifetime of a benchmark stream (default ${defaultPerfLimits.maxStreamDurationMs / 1000}s)`);
  addCaptureFlags(addConnectionLimitFlags(addProfileLimitFlags(command)))
    .addHelpText('after', `
Examples:
  framewire serve
  framewire serve --port 9000 --data-dir /var/lib/framewire --token s3cret
  framewire serve --tls-cert cert.pem --tls-key key.pem --tail /var/log/syslog
  framewire serve --tokens /etc/framewire/tokens
  framewire serve --quic-port 7071 --quic-key ./quic.key
  framewire serve --redis redis://10.0.0.5:6379 --data-dir /mnt/shared/framewire
  framewire serve --max-connections 4096 --max-per-address 32 --handshake-timeout 3s
  framewire serve --host 0.0.0.0 --perf
  framewire serve --capture ./captures --capture-max-bytes 16MiB

The data directory is checked at start (created, written, fsynced) and locked (DIR/lock): an
unusable directory, or one another server holds, stops the start with the reason. Logs (pino JSON
on stderr) are at info by default: connections, uploads committed, errors; --log-level changes it.

A misbehaving peer costs its own connection: beyond the limits a connection gets ERROR
LIMIT_EXCEEDED (with retry_after_ms), a silent or trickling one is closed at its deadline.

Principals: uploads, committed objects and event-stream instances belong to the principal that
created them; to every other principal their ids are unknown (NOT_FOUND). Without --token or
--tokens every client is the one principal "anonymous". The tokens file has one entry per line,
"<token> <principal>" separated by white space; blank lines and lines starting with # are
ignored; a principal (1..64 of letters, digits and ._@-) may have several tokens:
  # token                            principal
  4f9c1d0e8a7b6c5d4e3f2a1b0c9d8e7f   alice
  0a1b2c3d4e5f60718293a4b5c6d7e8f9   backup-robot

Benchmark kinds (spec/PROTOCOL.md §13.5): with --perf, "framewire perf --target <this host>:<port>"
measures the path to this server; each stream is bounded by the --perf-max-* limits.
${CAPTURE_HELP}`)
    .action(async (options: ServeOptions, command: Command) => {
      if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw new CliError('--tls-cert and --tls-key go together', ExitCode.usage);
      if (options.token !== undefined && options.tokens !== undefined) throw new CliError('--token and --tokens exclude each other (put the token in the file)', ExitCode.usage);
      const tokens = await tokensFrom(options);
      const limits = profileLimitsFrom(options);
      const connectionLimits = connectionLimitsFrom(options);
      const log = cliLogger(command, 'info');
      const deadlineMs = parseDuration(options.shutdownDeadline, '--shutdown-deadline');
      const quicPort = options.quicPort === undefined ? undefined : parsePort(options.quicPort, '--quic-port');
      if (options.quicKey !== undefined && quicPort === undefined) throw new CliError('--quic-key needs --quic-port', ExitCode.usage);
      const quicIdentity = options.quicKey === undefined ? undefined : await loadOrCreateQuicKey(options.quicKey);
      const perf = perfLimits(options);
      const capture = await captureFrom(options, log);
      const { startServerApp } = await import('../server-app.ts');
      const app = await startServerApp({
        host: options.host,
        port: parsePort(options.port, '--port'),
        dataDir: options.dataDir,
        ...(options.redis === undefined ? {} : { redis: parseRedisUrl(options.redis) }),
        logger: log,
        ...(options.tlsCert === undefined ? {} : { tlsCert: options.tlsCert }),
        ...(options.tlsKey === undefined ? {} : { tlsKey: options.tlsKey }),
        ...(tokens === undefined ? {} : { tokens }),
        uploadQuota: limits.uploadQuota,
        eventLimits: limits.eventLimits,
        ...(options.uploadTtl === undefined ? {} : { uploadTtlMs: parseDuration(options.uploadTtl, '--upload-ttl') }),
        ...(options.tail === undefined ? {} : { tailFile: options.tail }),
        ...(quicPort === undefined ? {} : { quicPort }),
        ...(quicIdentity === undefined ? {} : { quicIdentity }),
        serverLimits: connectionLimits.serverLimits,
        sessionLimits: connectionLimits.sessionLimits,
        ...(perf === undefined ? {} : { perf }),
        ...capture,
      }).catch((error: unknown) => {
        throw new CliError(`cannot start the server: ${(error as Error).message}`);
      });
      const where = `${app.address.address}:${app.address.port}`;
      process.stdout.write(`framewire listening on ${where} (data: ${options.dataDir}${options.redis === undefined ? '' : `; sessions and event logs: ${options.redis}`}; event streams: ${app.streams.join(', ')}${app.perfKinds.length > 0 ? `; benchmark kinds: ${app.perfKinds.join(', ')}` : ''})
`);
      if (app.quic !== undefined) {
        const quicWhere = `quic://${options.host}:${app.quic.port}?peer=${app.quic.peerId}`;
        process.stdout.write(`framewire listening on QUIC ${options.host}:${app.quic.port}, peer id ${app.quic.peerId}${options.quicKey === undefined ? ' (throw-away: changes at every start; keep one with --quic-key FILE)' : ''}\n`);
        process.stdout.write(`  clients pin it with: --to '${quicWhere}'\n`);
        log.info({ quic: quicWhere }, 'listening on QUIC');
      }
      log.info({ address: where, dataDir: options.dataDir }, 'listening');
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals): void => {
          if (stopping) {
            // A second signal: stop waiting for in-flight work.
            process.stdout.write('framewire: forced exit\n');
            process.exit(ExitCode.failed);
          }
          stopping = true;
          process.stdout.write(`framewire: ${signal}, sending GOAWAY; in-flight work has ${deadlineMs} ms\n`);
          void app.close(deadlineMs).then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      process.stdout.write('framewire: stopped\n');
    });
}

function parseRedisUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`--redis: not a URL: ${value} (expected redis://host:port)`, ExitCode.usage);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new CliError(`--redis: expected redis://host:port or rediss://, got ${value}`, ExitCode.usage);
  return value;
}

async function tokensFrom(options: ServeOptions): Promise<TokenTable | undefined> {
  try {
    if (options.tokens !== undefined) return await loadTokens(options.tokens);
    return options.token === undefined ? undefined : singleToken(options.token);
  } catch (error) {
    throw new CliError(`${options.tokens === undefined ? '--token' : '--tokens'}: ${(error as Error).message}`, ExitCode.usage);
  }
}

/** The QUIC identity stored in `file`, or a new one written there (mode 0600) when the file does not exist. */
async function loadOrCreateQuicKey(file: string): Promise<QuicIdentity> {
  const { generateQuicIdentity, quicIdentityFromBytes } = await import('../../transport/index.ts');
  let bytes: Buffer | undefined;
  try {
    bytes = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`--quic-key: cannot read ${file}: ${(error as Error).message}`, ExitCode.usage);
  }
  if (bytes !== undefined) {
    try {
      return await quicIdentityFromBytes(bytes);
    } catch (error) {
      throw new CliError(`--quic-key: ${(error as Error).message}`, ExitCode.usage);
    }
  }
  const identity = await generateQuicIdentity();
  await writeFile(file, identity.privateKeyProto, { mode: 0o600, flag: 'wx' });
  return identity;
}
