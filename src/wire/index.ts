/** L0 wire: the public surface of the codec. Pure functions on bytes; no sockets, no streams. */

export * from './limits.ts';
export * from './frame-type.ts';
export * from './flags.ts';
export * from './settings.ts';
export * from './header.ts';
export * from './frame.ts';
export * from './encoder.ts';
export * from './decoder.ts';
export * from './packed.ts';
export { crc32, crc32Range, SMALL_INPUT, crc32ImplName, crc32Implementations, crc32Js, type Crc32Fn, type Crc32ImplName } from './crc32.ts';
export { ControlLimits, type ControlMap } from './msgpack.ts';
export { encodedAsFloat } from './strict-msgpack.ts';
export * from './frames/hello.ts';
export * from './frames/open.ts';
export * from './frames/credit.ts';
export * from './frames/ack.ts';
export * from './frames/done.ts';
export * from './frames/error.ts';
export * from './frames/cancel.ts';
export * from './frames/ping.ts';
export * from './frames/goaway.ts';
