// The package smoke test, as a user's plain-JavaScript daemon would use framewire: a server with
// an echo handler, uploads and an event stream, and clients for each. esm.mjs and cjs.cjs load the
// package (import / require) and hand the modules in, so both paths run the same checks.
'use strict';
const assert = require('node:assert/strict');
const { createHash, randomBytes } = require('node:crypto');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

/** @param {{ framewire: any, upload: any, events: any, protocol: any, wire: any, conformance: any }} m */
async function runSmoke(m, say) {
  const { connect, createServer, isFramewireError } = m.framewire;
  const { upload, UploadService, FsUploadStore } = m.upload;
  const { EventService, subscribe } = m.events;
  const dataDir = mkdtempSync(join(tmpdir(), 'framewire-smoke-'));
  const events = new EventService();
  events.handle('count', async function* ({ params, signal }) {
    for (let i = 1; i <= params.n && !signal.aborted; i++) yield { type: 'n', data: i };
    return { counted: params.n };
  });
  const server = createServer({
    services: [new UploadService({ store: new FsUploadStore({ dataDir }) }), events],
    onStream: async (stream) => {
      for await (const message of stream) await stream.write(message);
      await stream.end();
    },
  });
  const { port } = await server.listen(0);
  try {
    // An echo stream: messages keep their boundaries, the stream ends explicitly.
    const connection = await connect({ port });
    const stream = connection.open({ kind: 'smoke.echo' });
    await stream.write(Buffer.from('hello'));
    await stream.write(Buffer.from('world'));
    await stream.end();
    const echoed = [];
    for await (const message of stream) echoed.push(Buffer.from(message).toString());
    assert.deepEqual(echoed, ['hello', 'world']);
    assert.equal((await stream.outcome).status, 'completed');
    await connection.goaway();
    say('echo stream: 2 messages back, outcome completed');

    // An upload stopped after two chunks and kept on the server, then resumed by its id.
    const bytes = randomBytes(1024 * 1024);
    const chunkSize = 64 * 1024;
    const stop = new AbortController();
    let uploadId;
    const first = upload(bytes, {
      port, chunkSize, inflight: 1, keepOnAbort: true, signal: stop.signal,
      onProgress: (p) => {
        uploadId = p.uploadId;
        if (p.chunksConfirmed >= 2) stop.abort();
      },
    });
    await assert.rejects(first, (error) => isFramewireError(error) && error.code === 'CANCELLED');
    assert.ok(uploadId, 'the first attempt reported its upload id');
    const result = await upload(bytes, { port, chunkSize, uploadId });
    assert.equal(result.uploadId, uploadId);
    assert.equal(result.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.ok(result.stats.chunksSent < bytes.length / chunkSize, `the resumed upload sent only what was missing (${result.stats.chunksSent} chunks)`);
    say(`upload: resumed ${uploadId} after 2 chunks, sent ${result.stats.chunksSent} more, SHA-256 verified`);

    // An event subscription: ids 1..n in order, then the producer's summary.
    const ids = [];
    const subscription = subscribe('count', { port, params: { n: 50 } });
    for await (const event of subscription) ids.push(event.id);
    assert.deepEqual(ids, Array.from({ length: 50 }, (_, i) => i + 1));
    const outcome = await subscription.outcome;
    assert.equal(outcome.status, 'done');
    say('event stream: ids 1..50 in order, outcome done');

    // The lower layers load and work: the protocol's upload kinds and the frame codec.
    const { FrameType, encodeFrame, FrameDecoder } = m.wire;
    const frames = [];
    new FrameDecoder({ maxPayload: 16384 }, (f) => frames.push(f)).push(encodeFrame({ type: FrameType.PING, flags: 0, stream: 0, seq: 0, payload: Buffer.alloc(8) }));
    assert.equal(frames.length, 1);
    assert.equal(typeof m.protocol.putChunk, 'function');
    say('framewire/wire and framewire/protocol: a PING frame round-trips');

    // The conformance cases read the spec's test vectors from the package's spec/ folder.
    const caseIds = m.conformance.allCases.map((c) => c.id);
    assert.ok(!caseIds.includes('vectors/missing'), 'the test vectors ship with the package');
    const vectorCases = caseIds.filter((id) => id.startsWith('vectors/')).length;
    assert.ok(vectorCases > 10, `vector cases: ${vectorCases}`);
    say(`framewire/conformance: ${caseIds.length} cases, ${vectorCases} from the shipped test vectors`);
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

module.exports = { runSmoke };
