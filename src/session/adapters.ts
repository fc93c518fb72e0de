/**
 * Node and Web stream views of a framewire Stream, so it plugs into pipeline(), fetch bodies and
 * the like. Both keep framewire's semantics: backpressure follows credit, a clean end is DONE, and
 * destroying/aborting the Node or Web stream cancels the framewire stream (never a silent success).
 */

import { Duplex } from 'node:stream';
import { isFramewireError } from '../errors.ts';
import type { Stream } from './stream.ts';

/** A Node Duplex over the byte-stream view: writes become messages, reads yield DATA payloads. */
export function toDuplex(stream: Stream): Duplex {
  const chunks = stream.chunks();
  let reading = false;
  const duplex = new Duplex({
    allowHalfOpen: true,
    read() {
      if (reading) return;
      reading = true;
      void (async () => {
        try {
          for (;;) {
            const r = await chunks.next();
            if (r.done === true) {
              duplex.push(null);
              return;
            }
            if (!duplex.push(r.value)) break;
          }
        } catch (error) {
          duplex.destroy(error as Error);
        } finally {
          reading = false;
        }
      })();
    },
    write(chunk: Buffer, _encoding, callback) {
      stream.write(chunk).then(() => {
        callback();
      }, callback);
    },
    final(callback) {
      stream.end().then(() => {
        callback();
      }, callback);
    },
    destroy(error, callback) {
      if (!stream.ended) stream.cancel(error?.message ?? 'destroyed');
      callback(error);
    },
  });
  return duplex;
}

/** A Web ReadableStream of DATA payloads; cancelling it cancels the framewire stream. */
export function toReadableStream(stream: Stream): ReadableStream<Uint8Array> {
  const chunks = stream.chunks();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await chunks.next();
        if (r.done === true) controller.close();
        else controller.enqueue(r.value);
      } catch (error) {
        controller.error(error);
      }
    },
    cancel(reason) {
      stream.cancel(reason instanceof Error ? reason.message : 'readable cancelled');
    },
  }, { highWaterMark: 0 });
}

/** A Web WritableStream: each chunk is a message; close() sends DONE; abort() cancels. */
export function toWritableStream(stream: Stream): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write(chunk) {
      return stream.write(chunk);
    },
    close() {
      return stream.end();
    },
    abort(reason) {
      if (!stream.ended) stream.cancel(isFramewireError(reason) ? reason.message : 'writable aborted');
    },
  });
}
