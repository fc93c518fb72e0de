/** L4 transport: the only layer that touches sockets. */
export { SocketTransport, type SocketTransportOptions } from './socket-transport.ts';
export { createMemoryPair, type MemoryPairOptions } from './memory-pair.ts';
export * from './quic/index.ts';
export { CaptureSink, CaptureEnd, CAPTURE_MAGIC, CAPTURE_HEADER_SIZE, captureDefaults, type CaptureOptions, type ConnectionTap } from './capture.ts';
