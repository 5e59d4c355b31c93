import type { Context } from 'zeromq';
import { Reply } from 'zeromq';
import { encodeZ85 } from './curve.js';

/** Endpoint of the ZAP handler that libzmq sends requests to, per RFC 27. */
export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/** ZAP domain of zpub's CURVE server sockets: publishers and the proxy. */
export const ZAP_DOMAIN = 'zpub';

/**
 * The maximum number of rejected peers remembered for reporting each one
 * once. Past it the memory is cleared, so that a client that tries many
 * keys cannot grow it without bound; peers are then reported again.
 */
export const MAX_REMEMBERED_PEERS = 10_000;

/**
 * A client that a ZAP handler turned away: a subscriber, or a publisher at
 * the frontend of a proxy.
 */
export interface RejectedPeer {
  /** The client's CURVE public key in Z85, or '' for another mechanism. */
  publicKey: string;
  /** The client's IP address, as libzmq reports it. */
  address: string;
  mechanism: string;
}

/**
 * Replies to libzmq's ZAP requests for the sockets of one context. A CURVE
 * client whose public key is on the allowlist is accepted, and every other
 * request is rejected with status 400. `onRejected` runs once per peer,
 * that is once per key and address.
 */
export class ZapHandler {
  readonly #socket: Reply;
  readonly #allowedKeys: ReadonlySet<string>;
  readonly #onRejected: (peer: RejectedPeer) => void;
  readonly #onError: (error: Error) => void;
  readonly #reportedPeers = new Set<string>();
  #closed = false;

  private constructor(
    socket: Reply,
    allowedKeys: readonly string[],
    onRejected: (peer: RejectedPeer) => void,
    onError: (error: Error) => void,
  ) {
    this.#socket = socket;
    this.#allowedKeys = new Set(allowedKeys);
    this.#onRejected = onRejected;
    this.#onError = onError;
  }

  /**
   * Binds the handler in `context`; call it before any socket binds.
   * `onError` receives a failure of the handler, after which libzmq gets no
   * more replies and every new CURVE handshake fails.
   */
  static async open(
    context: Context,
    allowedKeys: readonly string[],
    onRejected: (peer: RejectedPeer) => void,
    onError: (error: Error) => void,
  ): Promise<ZapHandler> {
    const socket = new Reply({ context, linger: 0 });
    await socket.bind(ZAP_ENDPOINT);
    const handler = new ZapHandler(socket, allowedKeys, onRejected, onError);
    void handler.#serve();

    return handler;
  }

  close(): void {
    this.#closed = true;
    this.#socket.close();
  }

  async #serve(): Promise<void> {
    try {
      for await (const frames of this.#socket) {
        await this.#socket.send(this.#reply(frames));
      }
    } catch (error) {
      if (!this.#closed) {
        this.#onError(error as Error);
      }
    }
  }

  /**
   * Builds the reply to one request. Its frames are version, request id,
   * domain, address, identity, mechanism, then the credentials: for CURVE,
   * the client's 32-byte public key.
   */
  #reply(frames: Buffer[]): (string | Buffer)[] {
    const [version, requestId, , address, , mechanism, credential] = frames;
    const mechanismText = mechanism?.toString('latin1') ?? '';
    const publicKey =
      mechanismText === 'CURVE' && credential?.length === 32
        ? encodeZ85(credential)
        : '';
    const allowed = publicKey !== '' && this.#allowedKeys.has(publicKey);
    if (!allowed) {
      this.#report({
        publicKey,
        address: address?.toString('latin1') ?? '',
        mechanism: mechanismText,
      });
    }
    const status = allowed ? ['200', 'OK'] : ['400', 'key not allowed'];

    return [
      version ?? '1.0',
      requestId ?? '',
      ...status,
      allowed ? publicKey : '',
      '',
    ];
  }

  #report(peer: RejectedPeer): void {
    const id = `${peer.publicKey} ${peer.address}`;
    if (this.#reportedPeers.has(id)) {
      return;
    }
    if (this.#reportedPeers.size >= MAX_REMEMBERED_PEERS) {
      this.#reportedPeers.clear();
    }
    this.#reportedPeers.add(id);
    this.#onRejected(peer);
  }
}
