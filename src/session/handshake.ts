/**
 * The rules of the HELLO exchange (spec §7.1): what we declare, which version is chosen, who is
 * let in, and what the peer's settings allow us (packing, FW-PACK-1). The session runs the
 * exchange (timer, state, frames); this decides.
 */

import { FramewireError, isFramewireError } from '../errors.ts';
import { encodeHelloPayload, HANDSHAKE_MAX_PAYLOAD, PackedWriter, type HelloPayload, type Settings } from '../wire/index.ts';
import { checkFits, checkString, encodeArgument } from './control-payload.ts';
import type { ResolvedSessionOptions } from './options.ts';
import type { PackingLimits } from './send-half.ts';

/** The longest agent a receiver accepts (§7.1). */
const AGENT_MAX = 256;

export class Handshake {
  /** The client's HELLO, encoded and checked when the session is made (its auth is application data). */
  readonly clientHello: Uint8Array | undefined;
  readonly #o: ResolvedSessionOptions;

  /** Throws INVALID_ARGUMENT (or MESSAGE_TOO_LARGE) for a client HELLO that cannot be sent. */
  constructor(options: ResolvedSessionOptions) {
    this.#o = options;
    if (options.role === 'client') {
      checkString('agent', options.agent, 0, AGENT_MAX);
      this.clientHello = encodeArgument('the HELLO auth', () => encodeHelloPayload(this.#hello(options.versions)));
      checkFits('the HELLO (with its auth)', this.clientHello, HANDSHAKE_MAX_PAYLOAD);
    }
  }

  #hello(versions: readonly number[]): HelloPayload {
    const o = this.#o;
    return { versions, settings: o.settings, agent: o.agent, ...(o.role === 'client' && o.auth !== undefined ? { auth: o.auth } : {}) };
  }

  /** The server's HELLO, naming the version it chose. */
  serverHello(version: number): Uint8Array {
    return encodeHelloPayload(this.#hello([version]));
  }

  /** Client: the version the server chose, checked. Server: the highest both speak. Else UNSUPPORTED_VERSION. */
  version(hello: HelloPayload): number {
    const ours = this.#o.versions;
    if (this.#o.role === 'client') {
      const chosen = hello.versions[0];
      if (hello.versions.length !== 1 || chosen === undefined || !ours.includes(chosen)) {
        throw new FramewireError('UNSUPPORTED_VERSION', `server chose version(s) ${hello.versions.join(',')}, we speak ${ours.join(',')}`);
      }
      return chosen;
    }
    const common = hello.versions.filter((v) => ours.includes(v));
    if (common.length === 0) throw new FramewireError('UNSUPPORTED_VERSION', `client speaks ${hello.versions.join(',')}, we speak ${ours.join(',')}`);
    return Math.max(...common);
  }

  /** Server: the principal the authentication hook returned, or the error to close with (AUTH_FAILED, or the hook's coded error). */
  async authenticate(credentials: unknown): Promise<{ readonly principal: unknown } | FramewireError> {
    const authenticate = this.#o.authenticate;
    if (authenticate === undefined) return { principal: undefined };
    let principal: unknown;
    try {
      principal = await authenticate(credentials);
    } catch (error) {
      return isFramewireError(error) ? error : new FramewireError('AUTH_FAILED', 'credentials refused', { cause: error });
    }
    if (principal === false || principal === undefined || principal === null) return new FramewireError('AUTH_FAILED', 'credentials refused');
    return { principal };
  }

  /** How we may pack towards this peer: only one that declared it (FW-PACK-1), and only if our limits allow it. */
  packing(peer: Settings, transportCopyLimit: number): PackingLimits | undefined {
    const limits = this.#o.limits;
    if (peer.packedMessages !== 1 || !limits.packMessages || limits.packMaxMessage <= 0) return undefined;
    // One scratch buffer for every packed payload when the transport copies them (no allocation per frame).
    const reuse = transportCopyLimit >= Math.min(limits.packMaxFrame, peer.maxFramePayload);
    return { maxMessage: limits.packMaxMessage, maxFrame: limits.packMaxFrame, writer: new PackedWriter(reuse) };
  }
}
