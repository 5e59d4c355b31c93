import {
  HELLO_PREFIX,
  type PublisherTransport,
  type TransportMessage,
} from '@zpub/protocol';
import { Context, XPublisher } from 'zeromq';
import {
  assertCurveAvailable,
  checkZ85Key,
  curveClientOptions,
  type ZmqCurveClientOptions,
} from './curve.js';
import {
  EndpointError,
  parseEndpoint,
  toLibzmqBindEndpoint,
} from './endpoint.js';
import { ZAP_DOMAIN, ZapHandler, type RejectedPeer } from './zap.js';
import { describeZmqError, watchHandshakeErrors } from './zmq-errors.js';

/**
 * Default for {@link ZmqPublisherOptions.sendHighWaterMark}.
 * NOTE: the bound counts messages, not bytes. A subscriber that stops
 * reading can hold this many batches of up to 256 KiB each in the
 * publisher's memory, about 2.5 GiB at worst with the defaults.
 */
export const DEFAULT_SEND_HIGH_WATER_MARK = 10_000;

export interface ZmqPublisherOptions {
  /** Bind the socket (the default) or connect it, as to a proxy. */
  mode?: 'bind' | 'connect';
  /**
   * ZMQ_SNDHWM: messages queued per subscriber before libzmq drops new ones
   * for that subscriber. A subscriber that falls behind loses messages and
   * sees a gap in `sequence`; the others are not slowed.
   * @default 10000
   */
  sendHighWaterMark?: number;
  /** Text of the hello answer's payload, usually naming the instance. */
  helloPayload?: string;
  /**
   * Called for a failure of the subscription loop or the ZAP handler, which
   * then stops.
   */
  onError?: (error: Error) => void;
  /**
   * Encrypts every connection with CURVE. With `serverKey` the publisher is
   * a CURVE client, as of a proxy that it connects to. Otherwise it is the
   * CURVE server and may check subscribers against an allowlist.
   */
  curve?: ZmqCurveServerOptions | ZmqCurveClientOptions;
  /**
   * Called in connect mode when the ZMTP handshake with the endpoint fails,
   * as when a proxy rejects this publisher's CURVE key, once per endpoint
   * until a handshake with it succeeds. Events sent meanwhile go nowhere.
   */
  onHandshakeFailed?: (failure: HandshakeFailure) => void;
}

/** A failed ZMTP handshake of a publisher in connect mode. */
export interface HandshakeFailure {
  /** The endpoint as libzmq reports it, e.g. tcp://127.0.0.1:5556. */
  endpoint: string;
  reason: string;
}

/** CURVE settings of a publisher, which acts as the CURVE server. */
export interface ZmqCurveServerOptions {
  /** The publisher's secret key, 40 characters of Z85. */
  secretKey: string;
  /**
   * Public keys of the subscribers that may connect, checked by a ZAP
   * handler. Without a list, any subscriber that has the publisher's public
   * key may connect; the traffic is still encrypted.
   */
  allowedKeys?: readonly string[];
  /** Called once per rejected key and address. */
  onRejected?: (peer: RejectedPeer) => void;
}

/** Returns true for the CURVE settings of a client, which have a server key. */
export function isCurveClient(
  curve: ZmqCurveServerOptions | ZmqCurveClientOptions,
): curve is ZmqCurveClientOptions {
  return 'serverKey' in curve;
}

const SUBSCRIBE = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Topics whose routing the publisher remembers between filter changes. Past
 * it the cache starts over, so a publisher of many distinct topics keeps a
 * bounded cache.
 */
const ROUTED_CACHE_LIMIT = 1024;

/**
 * Publishes over a ZeroMQ XPUB socket. XPUB rather than PUB, because it lets
 * the publisher read subscriptions and answer each subscriber's hello once
 * that subscriber's filters are in place (see PROTOCOL.md).
 */
export class ZmqPublisherTransport implements PublisherTransport {
  readonly #socket: XPublisher;
  readonly #helloPayload: Uint8Array;
  readonly #onError: (error: Error) => void;
  readonly #mode: 'bind' | 'connect';
  /** Subscriptions as XPUB passes them up, counted per filter. */
  readonly #filters = new Map<string, number>();
  /** Results of hasSubscriber per topic, kept until the filters change. */
  readonly #routed = new Map<string, boolean>();
  #zapHandler: ZapHandler | undefined;
  #endpoint = '';
  #closed = false;

  private constructor(socket: XPublisher, options: ZmqPublisherOptions) {
    this.#socket = socket;
    this.#helloPayload = encoder.encode(options.helloPayload ?? '{}');
    this.#onError = options.onError ?? (() => undefined);
    this.#mode = options.mode ?? 'bind';
  }

  /**
   * Binds or connects a new publisher socket. Rejects with
   * {@link InvalidEndpointError} before touching the network when the
   * endpoint is malformed, and with {@link EndpointError} when libzmq fails.
   */
  static async open(
    endpoint: string,
    options: ZmqPublisherOptions = {},
  ): Promise<ZmqPublisherTransport> {
    const mode = options.mode ?? 'bind';
    const parsed = parseEndpoint(endpoint, mode);
    const curve = options.curve;
    let zapHandler: ZapHandler | undefined;
    let context: Context | undefined;
    if (curve !== undefined && !isCurveClient(curve)) {
      assertCurveAvailable();
      checkZ85Key(curve.secretKey, 'the CURVE secret key');
      // A context of its own, because ZAP handlers are per context and each
      // publisher has its own allowlist.
      context = new Context();
      if (curve.allowedKeys !== undefined) {
        zapHandler = await ZapHandler.open(
          context,
          curve.allowedKeys,
          curve.onRejected ?? (() => undefined),
          options.onError ?? (() => undefined),
        );
      }
    }
    const socket = new XPublisher({
      sendHighWaterMark:
        options.sendHighWaterMark ?? DEFAULT_SEND_HIGH_WATER_MARK,
      ipv6: parsed.ipv6,
      linger: 0,
      ...(context === undefined ? {} : { context }),
      ...curveSocketOptions(curve),
      // zeromq.js 6 then queues each message in libzmq at once, or fails at
      // once, and never leaves a send pending. Without it, every send also
      // polls the socket for POLLOUT, and some sends in a run are delayed
      // to the event loop. Nothing is lost by it: zmq_socket(3) says an
      // XPUB socket drops a message for a subscriber at that subscriber's
      // high-water mark instead of blocking, unless ZMQ_XPUB_NODROP is set,
      // and zpub does not set it.
      sendTimeout: 0,
    });
    socket.verbosity = 'allSubsUnsubs';
    const transport = new ZmqPublisherTransport(socket, options);
    transport.#zapHandler = zapHandler;
    if (mode === 'connect' && options.onHandshakeFailed !== undefined) {
      transport.#watchHandshakes(options.onHandshakeFailed);
    }

    try {
      if (mode === 'bind') {
        await socket.bind(toLibzmqBindEndpoint(endpoint));
      } else {
        socket.connect(endpoint);
      }
    } catch (error) {
      socket.close();
      zapHandler?.close();
      throw new EndpointError(
        endpoint,
        `cannot ${mode} ${endpoint}: ${describeZmqError(error)}`,
        { cause: error },
      );
    }
    transport.#endpoint =
      mode === 'bind' ? (socket.lastEndpoint ?? endpoint) : endpoint;
    void transport.#readSubscriptions();

    return transport;
  }

  get endpoint(): string {
    return this.#endpoint;
  }

  /** Sends never wait (see sendTimeout in open), so they may overlap. */
  get concurrentSends(): boolean {
    return true;
  }

  send(message: TransportMessage): Promise<void> {
    return this.#socket.send([message.topic, message.payload]);
  }

  /**
   * Returns true when some subscriber's filter is a prefix of `topic`, so
   * that libzmq sends a message on it to at least one subscriber.
   */
  hasSubscriber(topic: string): boolean {
    if (this.#filters.size === 0) {
      return false;
    }
    // The publisher calls this once per message, mostly for the same few
    // topics, while filters change only when subscribers come and go.
    let routed = this.#routed.get(topic);
    if (routed === undefined) {
      routed = this.#matchesFilter(topic);
      if (this.#routed.size >= ROUTED_CACHE_LIMIT) {
        this.#routed.clear();
      }
      this.#routed.set(topic, routed);
    }

    return routed;
  }

  #matchesFilter(topic: string): boolean {
    for (let length = 0; length <= topic.length; length++) {
      if (this.#filters.has(topic.slice(0, length))) {
        return true;
      }
    }

    return false;
  }

  async close(lingerMs: number): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#socket.linger = lingerMs;
    const released =
      this.#mode === 'bind' ? this.#listenerClosed() : Promise.resolve();
    this.#socket.close();
    await released;
    this.#zapHandler?.close();
  }

  /**
   * Resolves once libzmq has closed the listening socket, which its I/O
   * thread does some time after zmq_close returns. Until then, binding the
   * same endpoint again fails with "Address already in use". The "end" event
   * (monitoring stopped) follows the teardown of the whole socket, so it ends
   * the wait if no "close" event matches the endpoint.
   */
  #listenerClosed(): Promise<void> {
    const events = this.#socket.events;

    return new Promise((resolve) => {
      events.on('close', ({ address }) => {
        if (address === this.#endpoint) {
          resolve();
        }
      });
      events.on('end', () => resolve());
    });
  }

  /**
   * Reports failed handshakes once per endpoint until a handshake with it
   * succeeds, because libzmq retries and fails the same way.
   */
  #watchHandshakes(onFailed: (failure: HandshakeFailure) => void): void {
    const events = this.#socket.events;
    const failed = new Set<string>();
    events.on('handshake', ({ address }) => {
      failed.delete(address);
    });
    watchHandshakeErrors(
      events,
      "the endpoint rejected this publisher's key",
      (address, reason) => {
        if (failed.has(address) || this.#closed) {
          return;
        }
        failed.add(address);
        onFailed({ endpoint: address, reason });
      },
    );
  }

  async #readSubscriptions(): Promise<void> {
    try {
      while (!this.#closed) {
        const [frame] = await this.#socket.receive();
        if (frame !== undefined) {
          this.#handleSubscription(frame);
        }
      }
    } catch (error) {
      if (!this.#closed) {
        this.#onError(error as Error);
      }
    }
  }

  /**
   * Keeps the count of each filter. With the verbosity allSubsUnsubs, XPUB
   * passes up every subscription and every unsubscription, including those
   * of a subscriber that disconnects, so the counts follow the live filters.
   */
  #countSubscription(filter: string, subscribe: boolean): void {
    this.#routed.clear();
    const count = (this.#filters.get(filter) ?? 0) + (subscribe ? 1 : -1);
    if (count > 0) {
      this.#filters.set(filter, count);
    } else {
      this.#filters.delete(filter);
    }
  }

  #handleSubscription(frame: Buffer): void {
    const subscribe = frame[0] === SUBSCRIBE;
    const filter = decoder.decode(frame.subarray(1));
    this.#countSubscription(filter, subscribe);
    if (subscribe && filter.startsWith(HELLO_PREFIX) && !this.#closed) {
      // libzmq applies a subscription before it hands it to us, and a
      // subscriber sends its hello after its filters, so answering now is
      // answering after those filters are live.
      this.#socket.send([filter, this.#helloPayload]).catch(() => undefined);
    }
  }
}

/** Returns the socket options of the publisher's CURVE role, if any. */
function curveSocketOptions(
  curve: ZmqCurveServerOptions | ZmqCurveClientOptions | undefined,
): Record<string, string | boolean> {
  if (curve === undefined) {
    return {};
  }
  if (isCurveClient(curve)) {
    return curveClientOptions(curve);
  }

  return {
    curveServer: true,
    curveSecretKey: curve.secretKey.trim(),
    zapDomain: ZAP_DOMAIN,
  };
}
