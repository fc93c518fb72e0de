/**
 * The plain-HTTP baseline of bench/download.bench.ts, in its own process as the framewire server
 * is: node:http answering GET / with one file (createReadStream piped into the response).
 *   node --import tsx bench/lib/http-get-server.ts <file>
 * Prints one JSON line {"port": n} on stdout when listening.
 */

import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { pipeline } from 'node:stream/promises';

const [file] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: http-get-server.ts <file>');
const size = statSync(file).size;
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
  pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), res).catch(() => undefined);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
