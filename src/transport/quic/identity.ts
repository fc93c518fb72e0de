/**
 * QUIC identities. The library authenticates both ends with libp2p TLS (RFC-less but documented in
 * the libp2p TLS spec): each endpoint holds a key pair, presents a self-signed certificate bound to
 * it, and the peer learns the other side's *peer id* (a hash of its public key), proven by the TLS
 * handshake. There is no certificate authority: a client trusts a server by pinning its peer id,
 * the way SSH pins host keys. framewire's HELLO token authenticates the client on top, as over TCP.
 */

import { FramewireError } from '../../errors.ts';

/**
 * The libp2p key libraries, loaded on first use: they cost hundreds of milliseconds at import,
 * which every process importing framewire would pay even without QUIC (a restarted server is then
 * slower to come back).
 */
async function libp2p(): Promise<typeof import('@libp2p/crypto/keys') & typeof import('@libp2p/peer-id')> {
  const [keys, peerId] = await Promise.all([import('@libp2p/crypto/keys'), import('@libp2p/peer-id')]);
  return { ...keys, ...peerId };
}

/**
 * A QUIC TLS identity: a libp2p private key and the peer id its certificate proves. Keep one
 * (`quicIdentityFromBytes`) for a stable peer id.
 */
export interface QuicIdentity {
  /** The libp2p private key, protobuf-encoded (what the binding and a key file hold). */
  readonly privateKeyProto: Uint8Array;
  /** The peer id its certificate proves, base58 (`12D3Koo…` for Ed25519): what peers pin. */
  readonly peerId: string;
}

/** A fresh Ed25519 identity: for tests, the demo, and `serve` when no key file is given. */
export async function generateQuicIdentity(): Promise<QuicIdentity> {
  const { generateKeyPair, privateKeyToProtobuf, peerIdFromPrivateKey } = await libp2p();
  const key = await generateKeyPair('Ed25519');
  return { privateKeyProto: privateKeyToProtobuf(key), peerId: peerIdFromPrivateKey(key).toString() };
}

/** The identity stored in a key file (the protobuf bytes that generateQuicIdentity produced). */
export async function quicIdentityFromBytes(bytes: Uint8Array): Promise<QuicIdentity> {
  const { privateKeyFromProtobuf, privateKeyToProtobuf, peerIdFromPrivateKey } = await libp2p();
  try {
    const key = privateKeyFromProtobuf(bytes);
    return { privateKeyProto: privateKeyToProtobuf(key), peerId: peerIdFromPrivateKey(key).toString() };
  } catch (error) {
    throw new FramewireError('INTERNAL', 'QUIC: the key file is not a libp2p private key (protobuf)', { cause: error, retryable: false });
  }
}

/** The peer id in the binding's `/ip4/…/udp/…/quic-v1/p2p/<peer id>` address of a connection. */
export function peerIdOfAddress(multiaddr: string): string {
  const at = multiaddr.lastIndexOf('/p2p/');
  return at < 0 ? '' : multiaddr.slice(at + 5);
}
