/**
 * Resumable upload throughput over TCP loopback into the FS store, against copying the same file
 * locally with node fs streams in the same run, and the cost of one forced reconnect mid-way.
 *
 *   npm run bench:upload                      1 GiB, writes bench/results/upload.json
 *   npm run bench:upload -- --size 256MiB     another size (B, KiB, MiB, GiB suffixes)
 *   npm run bench:upload -- --smoke           16 MiB, a few seconds, writes bench/results/upload.tmp.json
 *   npm run bench:upload -- --size 128MiB --rounds 4
 *                                             a reduced size (results go to upload.tmp.json) in 4 interleaved
 *                                             rounds: on a loaded machine the per-round Redis/FS ratios show the noise
 *   npm run bench:upload -- --size 256MiB --chunk-size 64KiB
 *                                             another chunk size (default 4 MiB; results go to upload.tmp.json):
 *                                             many small chunks show what a chunk costs apart from its bytes
 *   npm run bench:upload -- --cpu-prof DIR    the server processes write CPU profiles (.cpuprofile) into DIR
 *
 * The server runs in its own process (test/upload/fixtures/server.ts, FS store with fsync), as a
 * real deployment would; the client is this process. Cases:
 * - fs copy          pipeline(createReadStream, createWriteStream): the local floor.
 * - fs copy + fsync  the same, then fsync of the copy: the floor with the durability uploads promise.
 * - upload           upload() of the file: create, chunks (4 MiB, 4 in flight) each written into the
 *                    part file and fsynced, commit (the SHA-256 of what the running prefix hash
 *                    has not covered yet, then a rename). Ratio = copy time / upload time.
 * - upload + cut     the same with the connection destroyed once at 50 % confirmed: seconds lost
 *                    against the clean upload, and bytes re-sent (bound: one chunk per chunk in flight).
 * - upload, Redis   the same upload into a second server process whose store is RedisUploadStore
 *                    (issue 19: sessions in a redis-server this bench starts, bytes in a shared
 *                    directory, fsync on): ratio = FS-store upload time / Redis-store upload time
 *                    (target >= 0.8 at 4 MiB chunks), and the Redis round trips per chunk, as the
 *                    server sees them (MONITOR: a script or a MULTI..EXEC is one round trip; the
 *                    commands a script runs are not round trips, which INFO commandstats would count).
 *                    Without redis-server installed these rows are skipped, loudly.
 * Clean, cut and Redis runs alternate (2 rounds in a full run, --rounds N) and each case keeps its
 * fastest; the Redis ratio is also given per round (FS time / Redis time of the same round) and as
 * the median of those, which a burst of load on one run moves less than the best-of ratio.
 * `commit` is the time from the last chunk acknowledged to the commit's answer (verify + rename).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { uploadWith, type UploadResult } from '../src/api/upload.ts';
import { connect, type Connection } from '../src/index.ts';
import { RoundTripCounter } from '../test/redis/round-trip-counter.ts';
import { RedisServer, redisServerBinary } from '../test/redis/server.ts';
import { benchArgs, describeMachine, flagValue, formatNumber, formatSize, machineInfo, markdownTable, MiB, writeResults } from './lib/report.ts';

const GiB_ = 1024 * MiB;

const args = process.argv.slice(2);
const { smoke } = benchArgs(args);
const sizeArg = args[args.indexOf('--size') + 1];
const SIZE = args.includes('--size') && sizeArg !== undefined ? parseSize(sizeArg, '--size') : smoke ? 16 * MiB : GiB_;
const chunkArg = flagValue('chunk-size', args);
const CHUNK = chunkArg === undefined ? 4 * MiB : parseSize(chunkArg, '--chunk-size');
const INFLIGHT = 4;
const roundsArg = flagValue('rounds', args);
const ROUNDS = roundsArg === undefined ? (smoke ? 1 : 2) : Number(roundsArg);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 50) throw new Error(`--rounds: an integer from 1 to 50, not "${String(roundsArg)}"`);
const CPU_PROF_DIR = flagValue('cpu-prof', args);
/** Only the full default run replaces the committed results. */
const PARTIAL = smoke || SIZE !== GiB_ || CHUNK !== 4 * MiB;
const FIXTURE = fileURLToPath(new URL('../test/upload/fixtures/server.ts', import.meta.url));

function parseSize(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB)?$/i.exec(s);
  if (m === null) throw new Error(`${flag}: cannot parse "${s}" (e.g. 64KiB, 64MiB, 1GiB)`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const mult = unit === 'gib' ? 1024 ** 3 : unit === 'mib' ? 1024 ** 2 : unit === 'kib' ? 1024 : 1;
  return Math.round(Number(m[1]) * mult);
}

async function makeSource(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    for (let at = 0; at < size; at += 16 * MiB) await fh.write(randomBytes(Math.min(16 * MiB, size - at)));
  } finally {
    await fh.close();
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - t0) / 1000, value };
}

async function spawnServer(dataDir: string, redisUrl?: string): Promise<{ child: ChildProcess; port: number }> {
  const profile = CPU_PROF_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', FIXTURE, dataDir, '0', ...(redisUrl === undefined ? [] : [redisUrl])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => { reject(new Error(`server exited with ${code}`)); });
  });
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

const work = await mkdtemp(join(tmpdir(), 'fw-bench-upload-'));
const source = join(work, 'source.bin');
const machine = machineInfo();
process.stderr.write(`upload bench: ${formatSize(SIZE)}, chunks ${formatSize(CHUNK)} x ${INFLIGHT} in flight; ${describeMachine(machine)}\n`);
let server: { child: ChildProcess; port: number } | undefined;
let redisNode: { child: ChildProcess; port: number } | undefined;
let redis: RedisServer | undefined;
let redisCounter: RoundTripCounter | undefined;
try {
  await makeSource(source, SIZE);

  const copy = await timed(async () => {
    await pipeline(createReadStream(source), createWriteStream(join(work, 'copy.bin')));
  });
  await rm(join(work, 'copy.bin'));
  const copySync = await timed(async () => {
    const dst = join(work, 'copy.bin');
    await pipeline(createReadStream(source), createWriteStream(dst));
    const fh = await open(dst, 'r+');
    await fh.sync();
    await fh.close();
  });
  await rm(join(work, 'copy.bin'));
  process.stderr.write(`  fs copy ${copy.seconds.toFixed(2)} s, fs copy + fsync ${copySync.seconds.toFixed(2)} s\n`);

  const dataDir = join(work, 'data');
  server = await spawnServer(dataDir);
  const port = server.port;
  const redisDir = join(work, 'shared');
  if (redisServerBinary === undefined) {
    process.stderr.write('!!! redis-server is not installed: the Redis rows are SKIPPED (apt-get install -y redis-server)\n');
  } else {
    redis = await RedisServer.start();
    redisNode = await spawnServer(redisDir, redis.url);
    redisCounter = await RoundTripCounter.start(redis.url);
  }

  // Clean and cut runs alternate, REPS times each, and each case keeps its fastest run: on a busy
  // machine a single pair can even show a negative reconnect cost.
  const REPS = ROUNDS;
  interface Run { seconds: number; commitSeconds: number; value: UploadResult }
  const runUpload = async (cutAtHalf: boolean, to = { port, objects: join(dataDir, 'objects') }): Promise<Run> => {
    let cutDone = !cutAtHalf;
    let live: Connection | undefined;
    let allConfirmedAt = 0;
    const t0 = performance.now();
    const value = await uploadWith(
      async (signal) => {
        live = await connect({ port: to.port, signal });
        return live;
      },
      source,
      {
        chunkSize: CHUNK,
        inflight: INFLIGHT,
        onProgress: (p) => {
          if (p.bytesConfirmed === p.totalBytes) allConfirmedAt = performance.now();
          if (!cutDone && p.bytesConfirmed >= p.totalBytes / 2) {
            cutDone = true;
            live?.destroy();
          }
        },
      },
    );
    const end = performance.now();
    await rm(join(to.objects, value.objectId), { recursive: true });
    return { seconds: (end - t0) / 1000, commitSeconds: (end - allConfirmedAt) / 1000, value };
  };
  const cleanRuns: Run[] = [];
  const cutRuns: Run[] = [];
  const redisRuns: (Run & { roundTrips: number })[] = [];
  for (let i = 0; i < REPS; i++) {
    if (redisNode !== undefined && redisCounter !== undefined) {
      const before = await redisCounter.count();
      const run = await runUpload(false, { port: redisNode.port, objects: join(redisDir, 'objects') });
      redisRuns.push({ ...run, roundTrips: (await redisCounter.count()) - before });
      process.stderr.write(`  upload, Redis store ${run.seconds.toFixed(2)} s (commit ${run.commitSeconds.toFixed(2)} s), ${redisRuns.at(-1)!.roundTrips} Redis round trips\n`);
    }
    cleanRuns.push(await runUpload(false));
    process.stderr.write(`  upload ${cleanRuns.at(-1)!.seconds.toFixed(2)} s (commit ${cleanRuns.at(-1)!.commitSeconds.toFixed(2)} s)\n`);
    cutRuns.push(await runUpload(true));
    process.stderr.write(`  upload + 1 cut ${cutRuns.at(-1)!.seconds.toFixed(2)} s, ${cutRuns.at(-1)!.value.stats.chunksResent} chunks re-sent\n`);
  }
  const best = (runs: Run[]): Run => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const cleanBest = best(cleanRuns);
  const cutBest = best(cutRuns);
  const clean = { seconds: cleanBest.seconds, value: cleanBest.value };
  const cut = { seconds: cutBest.seconds, value: cutBest.value };
  const maxResent = Math.max(...cutRuns.map((r) => r.value.stats.bytesResent));
  // FS time / Redis time of the same round: the pairs that ran back to back.
  const roundRatios = redisRuns.map((r, i) => cleanRuns[i]!.seconds / r.seconds);
  const medianRatio = roundRatios.length === 0 ? undefined : [...roundRatios].sort((x, y) => x - y)[Math.floor((roundRatios.length - 1) / 2)];
  const result = (r: UploadResult, seconds: number): Record<string, unknown> => ({
    seconds,
    mbPerSec: SIZE / 1e6 / seconds,
    reconnects: r.stats.reconnects,
    chunksSent: r.stats.chunksSent,
    chunksResent: r.stats.chunksResent,
    bytesResent: r.stats.bytesResent,
    sha256: r.sha256,
  });
  const ratio = copy.seconds / clean.seconds;
  const ratioSync = copySync.seconds / clean.seconds;
  const lost = cut.seconds - clean.seconds;
  const resendBound = INFLIGHT * CHUNK;
  const redisBest = redisRuns.length === 0 ? undefined : redisRuns.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const chunks = Math.ceil(SIZE / CHUNK);
  const redisRatio = redisBest === undefined ? undefined : clean.seconds / redisBest.seconds;
  const rows = [
    ['fs copy', formatNumber(copy.seconds), formatNumber(SIZE / 1e6 / copy.seconds), '', ''],
    ['fs copy + fsync', formatNumber(copySync.seconds), formatNumber(SIZE / 1e6 / copySync.seconds), '', ''],
    ['upload', formatNumber(clean.seconds), formatNumber(SIZE / 1e6 / clean.seconds), '0', '0'],
    ['upload + 1 cut at 50 %', formatNumber(cut.seconds), formatNumber(SIZE / 1e6 / cut.seconds), String(cut.value.stats.chunksResent), formatSize(cut.value.stats.bytesResent)],
    ...(redisBest === undefined ? [] : [['upload, Redis store', formatNumber(redisBest.seconds), formatNumber(SIZE / 1e6 / redisBest.seconds), '0', '0']]),
  ];
  console.log(`\n### Upload ${formatSize(SIZE)} over loopback to the FS store (${describeMachine(machine)})\n`);
  console.log(markdownTable(['case', 'seconds', 'MB/s', 'chunks re-sent', 'bytes re-sent'], rows));
  console.log(`\ncommit (verify + rename): ${cleanBest.commitSeconds.toFixed(2)} s of the clean upload`);
  console.log(`throughput ratio upload / fs copy: ${ratio.toFixed(3)} (vs copy + fsync: ${ratioSync.toFixed(3)})`);
  if (redisBest !== undefined && redisRatio !== undefined) {
    console.log(`throughput ratio Redis store / FS store: ${redisRatio.toFixed(3)} (target >= 0.8); Redis round trips: ${redisBest.roundTrips} for ${chunks} chunks = ${(redisBest.roundTrips / chunks).toFixed(1)} per chunk (create, acquire and commit included)`);
    console.log(`per round (FS / Redis, same round): ${roundRatios.map((r) => r.toFixed(3)).join(', ')}; median ${medianRatio?.toFixed(3) ?? '-'}`);
  }
  console.log(`one reconnect costs ${lost.toFixed(2)} s and ${formatSize(cut.value.stats.bytesResent)} re-sent (bound: ${formatSize(resendBound)} = ${INFLIGHT} chunks in flight)`);
  const path = writeResults('upload', PARTIAL, {
    machine,
    size: SIZE,
    chunkSize: CHUNK,
    inflight: INFLIGHT,
    fsCopy: { seconds: copy.seconds, mbPerSec: SIZE / 1e6 / copy.seconds },
    fsCopyFsync: { seconds: copySync.seconds, mbPerSec: SIZE / 1e6 / copySync.seconds },
    repetitions: REPS,
    upload: { ...result(clean.value, clean.seconds), commitSeconds: cleanBest.commitSeconds, allSeconds: cleanRuns.map((r) => r.seconds) },
    uploadWithCut: { ...result(cut.value, cut.seconds), allSeconds: cutRuns.map((r) => r.seconds), maxBytesResent: maxResent },
    ...(redisBest === undefined ? {} : {
      uploadRedis: { ...result(redisBest.value, redisBest.seconds), commitSeconds: redisBest.commitSeconds, allSeconds: redisRuns.map((r) => r.seconds), redisRoundTrips: redisBest.roundTrips, redisRoundTripsPerChunk: redisBest.roundTrips / chunks },
      ratioRedisVsFsStore: redisRatio,
      ratioRedisVsFsStoreByRound: roundRatios,
      ratioRedisVsFsStoreMedian: medianRatio,
    }),
    ratioVsFsCopy: ratio,
    ratioVsFsCopyFsync: ratioSync,
    reconnectCost: { secondsLost: lost, bytesResent: cut.value.stats.bytesResent, chunksResent: cut.value.stats.chunksResent, boundBytes: resendBound, withinBound: maxResent <= resendBound },
  });
  process.stderr.write(`results: ${path}\n`);
  if (maxResent > resendBound) {
    process.exitCode = 1;
    process.stderr.write(`FAIL: ${maxResent} bytes re-sent, more than one chunk per chunk in flight\n`);
  }
  await writeFile(join(work, 'done'), '');
} finally {
  // SIGTERM lets a profiled server write its profile (the fixture exits on it); SIGKILL otherwise.
  const stop = CPU_PROF_DIR === undefined ? 'SIGKILL' : 'SIGTERM';
  for (const s of [server, redisNode]) {
    if (s === undefined || s.child.exitCode !== null || s.child.signalCode !== null) continue;
    const exited = new Promise((resolve) => s.child.once('exit', resolve));
    s.child.kill(stop);
    await exited;
  }
  redisCounter?.close();
  await redis?.destroy();
  await rm(work, { recursive: true, force: true });
}
