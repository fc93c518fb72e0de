// A TypeScript consumer compiled against the shipped declarations (moduleResolution nodenext):
// every subpath resolves, and the types users write against are the ones they get.
import { AbortError, connect, createServer, FramewireError, isFramewireError, type ClientConnection, type Connection, type Stream, type StreamOutcome } from 'framewire';
import { allCases, runConformance, type Report } from 'framewire/conformance';
import { EventService, subscribe, type DeliveredEvent, type Producer } from 'framewire/events';
import { putChunk, UploadKind, type ChunkAck } from 'framewire/protocol';
import { FsUploadStore, upload, UploadService, type UploadResult, type UploadStore } from 'framewire/upload';
import { encodeFrame, FrameType, type Frame } from 'framewire/wire';

const count: Producer = async function* ({ params, signal }) {
  for (let i = 0; i < Number(params['n']) && !signal.aborted; i++) yield { type: 'n', data: i };
};
const store: UploadStore = new FsUploadStore({ dataDir: './data' });
const server = createServer({ services: [new UploadService({ store }), new EventService().handle('count', count)] });

export async function useIt(port: number): Promise<[UploadResult, DeliveredEvent[], StreamOutcome, Report]> {
  const connection: Connection = await connect({ port });
  const stream: Stream = connection.open({ kind: 'my.echo' });
  await stream.write(new Uint8Array([1, 2, 3]));
  await stream.end();
  const outcome = await stream.outcome;
  const raw: ClientConnection = connection;
  const ack: Promise<ChunkAck> = putChunk(raw, '0'.repeat(32), { index: 0, offset: 0, length: 3, sha256: '0'.repeat(64), token: 1 }, new Uint8Array(3));
  ack.catch((error: unknown) => (isFramewireError(error) ? error.code : 'other'));
  const result = await upload(new Uint8Array(16), { port });
  const events: DeliveredEvent[] = [];
  for await (const event of subscribe('count', { port, params: { n: 3 } })) events.push(event);
  const report = await runConformance({ target: { host: '127.0.0.1', port }, cases: allCases[0]?.id ?? 'FW-HS-*' });
  return [result, events, outcome, report];
}

// `await using` with the shipped declarations; the events are typed.
export async function disposeIt(port: number, signal: AbortSignal): Promise<string> {
  await using served = createServer({});
  served.on('connection', (accepted: Connection) => accepted.on('error', (error: FramewireError) => error.code));
  await using connection = await connect({ port, signal });
  const closed = new Promise<string>((resolve) => connection.once('close', (error) => { resolve(error?.code ?? 'clean'); }));
  try {
    await upload(new Uint8Array(16), { port, signal });
  } catch (error) {
    if (error instanceof AbortError && error.name === 'AbortError') return String(error.cause);
    throw error;
  }
  return closed;
}

const ping: Frame = { type: FrameType.PING, flags: 0, stream: 0, seq: 0, payload: new Uint8Array(8) };
export const bytes: Uint8Array = encodeFrame(ping);
export const kinds: string[] = Object.values(UploadKind);
export const failure = new FramewireError('NOT_FOUND', 'nothing here');
export { server };
