import {
  HELLO_PREFIX,
  InvalidEndpointError,
  isControlTopic,
} from '@zpub/protocol';
import {
  EndpointError,
  ZAP_DOMAIN,
  ZapHandler,
  assertCurveAvailable,
  checkZ85Key,
  describeZmqError,
  parseEndpoint,
  toLibzmqBindEndpoint,
  type RejectedPeer,
} from '@zpub/zeromq';
import { Context, XPublisher, XSubscriber } from 'zeromq';

/** Default for {@link ProxyOptions.maxCachedTopics}. */
export const DEFAULT_MAX_CACHED_TOPICS = 10_000;

export interface ProxyOptions {
  /** Endpoint to bind for publishers, which connect their XPUB sockets. */
  frontend: string;
  /** Endpoint to bind for subscribers, which connect their SUB sockets. */
  backend: string;
  /** Send each new subscriber the last event of every cached topic. */
  lastValueCache?: boolean;
  /** Topics the cache keeps; the least recently updated is evicted first. */
  maxCachedTopics?: number;
  /** Makes the proxy the CURVE server of both its endpoints. */
  curve?: ProxyCurveOptions;
}

/** The two sides of a proxy: publishers connect to the frontend. */
export type ProxySide = 'frontend' | 'backend';

/** CURVE settings of a proxy, which is the CURVE server on both sides. */
export interface ProxyCurveOptions {
  /** The proxy's secret key, 40 characters of Z85. */
  secretKey: string;
  /**
   * Public keys of the publishers that may connect to the frontend. Without
   * a list, any publisher that has the proxy's public key may connect.
   */
  frontendAllowedKeys?: readonly string[];
  /**
   * Public keys of the subscribers that may connect to the backend. Without
   * a list, any subscriber that has the proxy's public key may connect.
   */
  backendAllowedKeys?: readonly string[];
  /** Called once per rejected key and address on each side. */
  onRejected?: (peer: RejectedPeer, side: ProxySide) => void;
  /**
   * Called when a ZAP handler fails, after which every new CURVE handshake
   * on its side fails.
   */
  onError?: (error: Error, side: ProxySide) => void;
}

/** Counters of a proxy. */
export interface ProxyStats {
  /** Messages forwarded from publishers to subscribers. */
  forwarded: number;
  /** Cached events sent to joining subscribers. */
  cachedSent: number;
  /** Topics in the last-value cache. */
  cachedTopics: number;
}

const SUBSCRIBE = 1;
const decoder = new TextDecoder();

/**
 * A ZeroMQ XSUB/XPUB forwarder. Publishers connect to the frontend and
 * subscribers to the backend. Subscriptions travel upstream, each topic
 * once while any subscriber has it, so publishers still filter, and hello
 * subscriptions travel too, so that a publisher's hello reply confirms
 * that it applies the subscriber's filters. With the last-value cache, the
 * proxy sends a joining subscriber the cached events on its own hello
 * topic, as three-frame messages that only that subscriber receives (see
 * PROTOCOL.md).
 */
export class ZmqProxy {
  readonly frontend: string;
  readonly backend: string;
  readonly #upstream: XSubscriber;
  readonly #downstream: XPublisher;
  readonly #lastValueCache: boolean;
  readonly #maxCachedTopics: number;
  /** Subscriptions forwarded upstream, each once. */
  readonly #forwarded = new Set<string>();
  readonly #cache = new Map<string, Buffer>();
  #downstreamTail: Promise<void> = Promise.resolve();
  #upstreamTail: Promise<void> = Promise.resolve();
  #forwardedCount = 0;
  #cachedSent = 0;
  #closed = false;
  readonly #loops: Promise<void>[] = [];
  readonly #zapHandlers: readonly ZapHandler[];

  private constructor(
    upstream: XSubscriber,
    downstream: XPublisher,
    zapHandlers: readonly ZapHandler[],
    options: ProxyOptions,
  ) {
    this.#upstream = upstream;
    this.#downstream = downstream;
    this.#zapHandlers = zapHandlers;
    this.frontend = upstream.lastEndpoint ?? options.frontend;
    this.backend = downstream.lastEndpoint ?? options.backend;
    this.#lastValueCache = options.lastValueCache ?? false;
    this.#maxCachedTopics =
      options.maxCachedTopics ?? DEFAULT_MAX_CACHED_TOPICS;
  }

  /**
   * Binds both endpoints and starts forwarding. Rejects with
   * {@link InvalidEndpointError} for a malformed endpoint, with
   * {@link EndpointError} when a bind fails, such as for a port in use, and
   * with CurveConfigError for an invalid secret key or a zeromq build
   * without CURVE.
   */
  static async open(options: ProxyOptions): Promise<ZmqProxy> {
    const frontend = parseEndpoint(options.frontend, 'bind');
    const backend = parseEndpoint(options.backend, 'bind');
    if (options.frontend === options.backend && !/:0$/.test(options.frontend)) {
      throw new InvalidEndpointError(
        options.frontend,
        'the frontend and the backend need two different endpoints',
      );
    }
    const frontendSecurity = await openSecurity(options.curve, 'frontend');
    const backendSecurity = await openSecurity(options.curve, 'backend');
    const zapHandlers = [frontendSecurity, backendSecurity].flatMap(
      ({ zapHandler }) => (zapHandler === undefined ? [] : [zapHandler]),
    );
    const upstream = new XSubscriber({
      ipv6: frontend.ipv6,
      linger: 0,
      ...frontendSecurity.socketOptions,
    });
    const downstream = new XPublisher({
      ipv6: backend.ipv6,
      linger: 0,
      ...backendSecurity.socketOptions,
    });
    // Every subscription is passed up, so the proxy receives each subscriber's
    // hello and counts forwarded topics itself. Unsubscriptions are passed
    // up only when the last subscriber of a topic leaves.
    downstream.verbosity = 'allSubs';
    try {
      await bind(upstream, options.frontend);
      await bind(downstream, options.backend);
    } catch (error) {
      upstream.close();
      downstream.close();
      for (const handler of zapHandlers) {
        handler.close();
      }
      throw error;
    }

    const proxy = new ZmqProxy(upstream, downstream, zapHandlers, options);
    proxy.#loops.push(proxy.#forwardMessages(), proxy.#forwardSubscriptions());

    return proxy;
  }

  get stats(): ProxyStats {
    return {
      forwarded: this.#forwardedCount,
      cachedSent: this.#cachedSent,
      cachedTopics: this.#cache.size,
    };
  }

  /** Stops forwarding and closes both sockets and the ZAP handlers. */
  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#upstream.close();
    this.#downstream.close();
    await Promise.allSettled(this.#loops);
    for (const handler of this.#zapHandlers) {
      handler.close();
    }
  }

  async #forwardMessages(): Promise<void> {
    try {
      for await (const frames of this.#upstream) {
        if (this.#lastValueCache) {
          this.#remember(frames);
        }
        this.#forwardedCount++;
        await this.#sendDownstream(frames);
      }
    } catch (error) {
      if (!this.#closed) {
        throw error;
      }
    }
  }

  async #forwardSubscriptions(): Promise<void> {
    try {
      for await (const [frame] of this.#downstream) {
        if (frame === undefined || frame.length === 0) {
          continue;
        }
        const subscribe = frame[0] === SUBSCRIBE;
        const topic = decoder.decode(frame.subarray(1));
        if (
          subscribe &&
          this.#lastValueCache &&
          topic.startsWith(HELLO_PREFIX)
        ) {
          await this.#sendCache(topic);
        }
        if (subscribe === this.#forwarded.has(topic)) {
          continue;
        }
        if (subscribe) {
          this.#forwarded.add(topic);
        } else {
          this.#forwarded.delete(topic);
        }
        await this.#sendUpstream(frame);
      }
    } catch (error) {
      if (!this.#closed) {
        throw error;
      }
    }
  }

  #remember(frames: Buffer[]): void {
    const [topicFrame, payload] = frames;
    if (
      frames.length !== 2 ||
      topicFrame === undefined ||
      payload === undefined
    ) {
      return;
    }
    const topic = topicFrame.toString('latin1');
    if (isControlTopic(topic)) {
      return;
    }
    const last = lastEventOf(payload);
    if (last === undefined) {
      return;
    }
    // Map keeps insertion order: re-inserting makes the oldest entry the
    // least recently updated one.
    this.#cache.delete(topic);
    this.#cache.set(topic, last);
    if (this.#cache.size > this.#maxCachedTopics) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) {
        this.#cache.delete(oldest);
      }
    }
  }

  /**
   * Sends every cached event on the subscriber's hello topic, the only
   * topic that no other subscriber has. The subscriber's filters select
   * among them on its side.
   */
  async #sendCache(helloTopic: string): Promise<void> {
    for (const [topic, payload] of [...this.#cache]) {
      this.#cachedSent++;
      await this.#sendDownstream([
        Buffer.from(helloTopic, 'latin1'),
        Buffer.from(topic, 'latin1'),
        payload,
      ]);
    }
  }

  /** Chains sends, because zeromq.js allows one pending send per socket. */
  #sendDownstream(frames: Buffer[]): Promise<void> {
    const sent = this.#downstreamTail.then(() => this.#downstream.send(frames));
    this.#downstreamTail = sent.catch(() => undefined);

    return sent;
  }

  #sendUpstream(frame: Buffer): Promise<void> {
    const sent = this.#upstreamTail.then(() => this.#upstream.send(frame));
    this.#upstreamTail = sent.catch(() => undefined);

    return sent;
  }
}

/** The CURVE socket options of one side of a proxy, and its ZAP handler. */
interface SideSecurity {
  socketOptions: {
    context?: Context;
    curveServer?: boolean;
    curveSecretKey?: string;
    zapDomain?: string;
  };
  zapHandler?: ZapHandler;
}

/**
 * Prepares one side for CURVE. Each side gets a context of its own, because
 * libzmq sends the ZAP requests of every socket in a context to one
 * handler, and the two sides have different allowlists. A side without an
 * allowlist gets no handler, and libzmq then accepts every CURVE client.
 */
async function openSecurity(
  curve: ProxyCurveOptions | undefined,
  side: ProxySide,
): Promise<SideSecurity> {
  if (curve === undefined) {
    return { socketOptions: {} };
  }
  assertCurveAvailable();
  const secretKey = checkZ85Key(curve.secretKey, 'the CURVE secret key');
  const context = new Context();
  const allowedKeys =
    side === 'frontend' ? curve.frontendAllowedKeys : curve.backendAllowedKeys;
  const zapHandler =
    allowedKeys === undefined
      ? undefined
      : await ZapHandler.open(
          context,
          allowedKeys,
          (peer) => curve.onRejected?.(peer, side),
          (error) => curve.onError?.(error, side),
        );

  return {
    socketOptions: {
      context,
      curveServer: true,
      curveSecretKey: secretKey,
      zapDomain: ZAP_DOMAIN,
    },
    zapHandler,
  };
}

async function bind(
  socket: XSubscriber | XPublisher,
  endpoint: string,
): Promise<void> {
  try {
    await socket.bind(toLibzmqBindEndpoint(endpoint));
  } catch (error) {
    throw new EndpointError(
      endpoint,
      `cannot bind ${endpoint}: ${describeZmqError(error)}`,
      { cause: error },
    );
  }
}

/**
 * Returns the payload of the last event of a message: the message itself
 * for one event, the last item for a batch, or undefined for a batch that
 * is not valid JSON or is empty, which is not cached.
 */
function lastEventOf(payload: Buffer): Buffer | undefined {
  const first = payload.find(
    (byte) => byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09,
  );
  if (first !== 0x5b) {
    return payload;
  }
  try {
    const batch: unknown = JSON.parse(payload.toString('utf8'));
    if (!Array.isArray(batch) || batch.length === 0) {
      return undefined;
    }
    return Buffer.from(JSON.stringify(batch.at(-1)));
  } catch {
    return undefined;
  }
}
