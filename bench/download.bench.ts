/**
 * Resumable, verified download throughput over TCP loopback from the FS store, against a local
 * fs.copyFile and a plain node:http GET of the same file measured in the same run, and the cost
 * of one forced reconnect mid-way.
 *
 *   npm run bench:download                    1 GiB, 4 MiB units, writes bench/results/download.json
 *   npm run bench:download -- --size 256MiB   another size
 *   npm run bench:download -- --smoke         16 MiB, a few seconds, writes bench/results/download.tmp.json
 *
 * Both servers run in their own processes (test/upload/fixtures/server.ts: the FS store with the
 * read profile; bench/lib/http-get-server.ts: node:http piping the file); the clients are this
 * process. The object is uploaded once (4 MiB chunks, so 4 MiB digest units). Cases, interleaved
 * round by round (2 rounds in a full run, each case keeps its fastest):
 * - fs.copyFile         the local floor.
 * - http GET            the response piped into a file: the network baseline, no integrity check.
 * - http GET + SHA-256  the same, hashing the body as it arrives (for reference).
 * - download            downloadWith(): stat, one objects.read, positioned messages written to the
 *                       part file with the SHA-256 computed as they arrive, compared with the
 *                       object's, then a rename. `durable: false` (no fsync), as the baselines.
 * - download + 1 cut    the same with the connection destroyed once at 50 %: seconds lost, and the
 *                       bytes received (each byte once: the resume reads from the first byte not held).
 * Ratio = http GET time / download time (target >= 0.9).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdtemp, open, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { downloadWith, type DownloadResult } from '../src/api/objects.ts';
import { uploadWith } from '../src/api/upload.ts';
import { connect, type Connection } from '../src/index.ts';
import { benchArgs, describeMachine, flagValue, formatNumber, formatSize, machineInfo, markdownTable, MiB, parseSize, writeResults } from './lib/report.ts';

const args = process.argv.slice(2);
const { smoke } = benchArgs(args);
const sizeArg = flagValue('size', args);
const SIZE = sizeArg !== undefined ? parseSize(sizeArg) : smoke ? 16 * MiB : 1024 * MiB;
const UNIT = 4 * MiB;
const ROUNDS = smoke ? 1 : 2;
const FW_SERVER = fileURLToPath(new URL('../test/upload/fixtures/server.ts', import.meta.url));
const HTTP_SERVER = fileURLToPath(new URL('./lib/http-get-server.ts', import.meta.url));

async function makeSource(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    for (let at = 0; at < size; at += 16 * MiB) await fh.write(randomBytes(Math.min(16 * MiB, size - at)));
  } finally {
    await fh.close();
  }
}

async function spawnServer(script: string, arg: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, arg], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => { reject(new Error(`${script} exited with ${code}`)); });
  });
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

function httpGet(port: number, destination: string, hash: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      const sha = hash ? createHash('sha256') : undefined;
      if (sha !== undefined) res.on('data', (piece: Buffer) => sha.update(piece));
      pipeline(res, createWriteStream(destination)).then(() => {
        sha?.digest('hex');
        resolve();
      }, reject);
    }).on('error', reject);
  });
}

const work = await mkdtemp(join(tmpdir(), 'fw-bench-download-'));
const source = join(work, 'source.bin');
const machine = machineInfo();
process.stderr.write(`download bench: ${formatSize(SIZE)}, units ${formatSize(UNIT)}; ${describeMachine(machine)}\n`);
const children: ChildProcess[] = [];
try {
  await makeSource(source, SIZE);
  const fw = await spawnServer(FW_SERVER, join(work, 'data'));
  children.push(fw.child);
  const http = await spawnServer(HTTP_SERVER, source);
  children.push(http.child);
  const uploaded = await uploadWith((signal) => connect({ port: fw.port, signal }), source, { chunkSize: UNIT, inflight: 4 });
  const objectId = uploaded.objectId;

  const runDownload = async (cutAtHalf: boolean): Promise<{ seconds: number; result: DownloadResult }> => {
    let live: Connection | undefined;
    let cut = !cutAtHalf;
    const destination = join(work, 'download.bin');
    let result: DownloadResult | undefined;
    const s = await seconds(async () => {
      result = await downloadWith(
        async (signal) => {
          live = await connect({ port: fw.port, signal });
          return live;
        },
        objectId,
        destination,
        {
          durable: false,
          onProgress: (p) => {
            if (!cut && p.bytesHeld >= p.totalBytes / 2) {
              cut = true;
              live?.destroy();
            }
          },
        },
      );
    });
    if (result === undefined || result.sha256 !== uploaded.sha256) throw new Error('the download did not verify');
    await rm(destination);
    return { seconds: s, result };
  };

  const samples: Record<string, number[]> = { copy: [], get: [], getSha: [], download: [], cut: [] };
  let cutReceived = 0;
  let cutReconnects = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const target = join(work, 'baseline.bin');
    samples['copy']!.push(await seconds(() => copyFile(source, target)));
    await rm(target);
    samples['get']!.push(await seconds(() => httpGet(http.port, target, false)));
    await rm(target);
    samples['getSha']!.push(await seconds(() => httpGet(http.port, target, true)));
    await rm(target);
    samples['download']!.push((await runDownload(false)).seconds);
    const cut = await runDownload(true);
    samples['cut']!.push(cut.seconds);
    cutReceived = Math.max(cutReceived, cut.result.stats.bytesReceived);
    cutReconnects = cut.result.stats.reconnects;
    process.stderr.write(`  round ${round + 1}: ${Object.entries(samples).map(([k, v]) => `${k} ${v.at(-1)!.toFixed(2)} s`).join(', ')}\n`);
  }
  const best = (k: string): number => Math.min(...samples[k]!);
  const mbs = (s: number): string => formatNumber(SIZE / 1e6 / s);
  const rows = [
    ['fs.copyFile', formatNumber(best('copy')), mbs(best('copy'))],
    ['http GET', formatNumber(best('get')), mbs(best('get'))],
    ['http GET + SHA-256', formatNumber(best('getSha')), mbs(best('getSha'))],
    ['download (verified)', formatNumber(best('download')), mbs(best('download'))],
    ['download + 1 cut at 50 %', formatNumber(best('cut')), mbs(best('cut'))],
  ];
  const ratioGet = best('get') / best('download');
  const ratioCopy = best('copy') / best('download');
  const lost = best('cut') - best('download');
  console.log(`\n### Download ${formatSize(SIZE)} over loopback from the FS store (${describeMachine(machine)})\n`);
  console.log(markdownTable(['case', 'seconds', 'MB/s'], rows));
  console.log(`\nthroughput ratio download / http GET: ${ratioGet.toFixed(3)} (target >= 0.9); download / fs.copyFile: ${ratioCopy.toFixed(3)}`);
  console.log(`one reconnect costs ${lost.toFixed(2)} s; bytes received with the cut: ${formatSize(cutReceived)} of ${formatSize(SIZE)} (${cutReconnects} reconnect)`);
  const path = writeResults('download', smoke, {
    machine,
    size: SIZE,
    unitSize: UNIT,
    rounds: ROUNDS,
    samples,
    fsCopyFile: { seconds: best('copy'), mbPerSec: SIZE / 1e6 / best('copy') },
    httpGet: { seconds: best('get'), mbPerSec: SIZE / 1e6 / best('get') },
    httpGetSha256: { seconds: best('getSha'), mbPerSec: SIZE / 1e6 / best('getSha') },
    download: { seconds: best('download'), mbPerSec: SIZE / 1e6 / best('download') },
    downloadWithCut: { seconds: best('cut'), bytesReceived: cutReceived, reconnects: cutReconnects },
    ratioVsHttpGet: ratioGet,
    ratioVsFsCopyFile: ratioCopy,
    reconnectCost: { secondsLost: lost, bytesReceived: cutReceived, eachByteOnce: cutReceived === SIZE },
  });
  process.stderr.write(`results: ${path}\n`);
  if (cutReceived !== SIZE) {
    process.exitCode = 1;
    process.stderr.write(`FAIL: the cut download received ${cutReceived} bytes for an object of ${SIZE}\n`);
  }
} finally {
  for (const c of children) c.kill('SIGKILL');
  await rm(work, { recursive: true, force: true });
}
