/**
 * The server process of `framewire demo`: the same server as `framewire serve`, reporting what the
 * demo must verify (its address, producers that stopped) as JSON lines on stdout, so the demo can
 * SIGKILL and restart it like any real deployment.
 *
 *   node --import tsx src/cli/demo-server.ts <dataDir> <port> [redis://host:port]
 *
 * With a Redis URL it is a node of a cluster (upload sessions in Redis, bytes in dataDir).
 */

import { pino } from 'pino';
import { startServerApp } from './server-app.ts';

const [dataDir, port, redis] = process.argv.slice(2);
if (dataDir === undefined) throw new Error('usage: demo-server.ts <dataDir> [port] [redis://host:port]');

const say = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

const app = await startServerApp({
  host: '127.0.0.1',
  port: Number(port ?? 0),
  dataDir,
  ...(redis === undefined ? {} : { redis }),
  logger: pino({ level: process.env['FRAMEWIRE_DEMO_LOG'] ?? 'silent' }, pino.destination(2)),
  onProducerStop: (info) => {
    say({ event: 'producer-stopped', ...info, at: Date.now() });
  },
});
say({ event: 'listening', port: app.address.port, pid: process.pid });
process.once('SIGTERM', () => {
  void app.close(2000).then(() => process.exit(0));
});
