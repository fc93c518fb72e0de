/** framewire over QUIC (spec §14): the transport, its endpoints and identities. */
export { QuicTransport, type QuicTransportTuning } from './quic-transport.ts';
export { QuicListener, dialQuic, type QuicDialOptions, type QuicEndpointOptions, type QuicListenOptions } from './endpoint.ts';
export { generateQuicIdentity, quicIdentityFromBytes, type QuicIdentity } from './identity.ts';
export { checkQuicOptions, quicDefaults, quicOptionRanges, type QuicTransportOptions } from './config.ts';
export { quicAvailable, quicInstalled, loadQuicBinding } from './binding.ts';
export { dialRawQuic, type RawQuicConnection, type RawQuicDialOptions, type RawQuicStream } from './raw.ts';
