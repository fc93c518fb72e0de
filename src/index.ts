/** framewire's public API. */
export { connect, type ConnectOptions } from './client.ts';
export { createServer, FramewireServer, type ServerOptions } from './server.ts';
export { Connection } from './connection.ts';
export { ErrorCodes, FramewireError, isFramewireError, errorCodeName, type ErrorCodeName } from './errors.ts';
export { Session, Stream, defaultLimits, type OpenOptions, type SessionEnd, type SessionLimits, type SessionOptions, type StreamHandler, type StreamOutcome } from './session/index.ts';
export { defaultSettings, type Settings } from './wire/index.ts';
