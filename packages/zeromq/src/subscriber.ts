import { randomBytes } from 'node:crypto';
import {
  HELLO_PREFIX,
  type SubscriberStatus,
  type SubscriberStatusListener,
  type SubscriberTransport,
} from '@zpub/protocol';
import { Subscriber } from 'zeromq';
import { curveClientOptions, type ZmqCurveClientOptions } from './curve.js';
import { EndpointError, parseEndpoint } from './endpoint.js';
import { describeZmqError, watchHandshakeErrors } from './zmq-errors.js';

/**
 * How long a subscriber waits after a handshake for the publisher to answer
 * its hello before it calls itself live anyway. Publishers other than zpub's
 * do not answer; libzmq has sent the filters by then.
 */
export const HELLO_TIMEOUT_MS = 500;

/**
 * How long a subscriber waits after a TCP connection is made for the ZeroMQ
 * handshake to finish before it reports the handshake as failed, as when a
 * CURVE publisher never replies to a subscriber without keys.
 */
export const HANDSHAKE_TIMEOUT_MS = 3000;

/** Default for {@link ZmqSubscriberOptions.receiveHighWaterMark}. */
export const DEFAULT_RECEIVE_HIGH_WATER_MARK = 10_000;

export interface ZmqSubscriberOptions {
  /** Endpoints to connect to; libzmq reconnects to each by itself. */
  endpoints: readonly string[];
  /** Byte-prefix filters; an empty list subscribes to every topic. */
  filters: readonly string[];
  /**
   * ZMQ_RCVHWM: messages libzmq buffers before the publisher drops new ones.
   * @default 10000
   */
  receiveHighWaterMark?: number;
  /** @default 500 */
  helloTimeoutMs?: number;
  /** Receives connection and readiness changes. */
  onStatus?: SubscriberStatusListener;
  /** Connects with CURVE encryption, as a CURVE client. */
  curve?: ZmqCurveClientOptions;
}

/** Messages buffered before the receive loop waits for the reader. */
const BUFFERED_MESSAGES = 256;

/**
 * The buffer bound while a hello is pending, so that a reader that has not
 * started yet does not keep the hello answer unread behind other messages.
 */
const BUFFERED_MESSAGES_DURING_HELLO = 65_536;

/**
 * Receives over a ZeroMQ SUB socket and reports readiness: after each
 * handshake it subscribes to a fresh hello topic and reports `live` when the
 * publisher answers on it, or after {@link HELLO_TIMEOUT_MS} without one.
 */
export class ZmqSubscriberTransport implements SubscriberTransport {
  readonly #socket: Subscriber;
  readonly #nonce = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
  readonly #helloTimeoutMs: number;
  readonly #pendingHellos = new Map<
    string,
    { endpoint: string; timer: NodeJS.Timeout }
  >();
  readonly #messages: Buffer[][] = [];
  readonly #onStatus: SubscriberStatusListener;
  /** Endpoints whose failed handshake was reported since the last success. */
  readonly #handshakeFailures = new Set<string>();
  readonly #handshakeTimers = new Map<string, NodeJS.Timeout>();
  /** Endpoints that accepted a TCP connection at least once. */
  readonly #reachedEndpoints = new Set<string>();
  readonly #unreachableReported = new Set<string>();
  #wake: (() => void) | undefined;
  #resume: (() => void) | undefined;
  #helloCount = 0;
  #closed = false;
  /**
   * Topics received while a hello is pending, so that a cached event from a
   * last-value cache that is older than one already received is dropped.
   */
  readonly #topicsDuringHello = new Set<string>();

  readonly #filters: readonly string[];

  private constructor(socket: Subscriber, options: ZmqSubscriberOptions) {
    this.#socket = socket;
    this.#filters = options.filters;
    this.#helloTimeoutMs = options.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    this.#onStatus = options.onStatus ?? (() => undefined);
  }

  /** Creates the socket, subscribes, and connects to every endpoint. */
  static open(options: ZmqSubscriberOptions): ZmqSubscriberTransport {
    const parsed = options.endpoints.map((endpoint) =>
      parseEndpoint(endpoint, 'connect'),
    );
    const socket = new Subscriber({
      receiveHighWaterMark:
        options.receiveHighWaterMark ?? DEFAULT_RECEIVE_HIGH_WATER_MARK,
      ipv6: parsed.some((endpoint) => endpoint.ipv6),
      linger: 0,
      ...curveClientOptions(options.curve),
    });
    const transport = new ZmqSubscriberTransport(socket, options);
    transport.#watchEvents();
    if (options.filters.length === 0) {
      socket.subscribe();
    } else {
      socket.subscribe(...options.filters);
    }

    try {
      for (const endpoint of options.endpoints) {
        socket.connect(endpoint);
      }
    } catch (error) {
      socket.close();
      const endpoint = options.endpoints.join(', ');
      throw new EndpointError(
        endpoint,
        `cannot connect to ${endpoint}: ${describeZmqError(error)}`,
        { cause: error },
      );
    }
    void transport.#receiveLoop();

    return transport;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array[]> {
    while (true) {
      const frames = this.#messages.shift();
      if (frames !== undefined) {
        this.#resume?.();
        yield frames;
        continue;
      }
      if (this.#closed) {
        return;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const { timer } of this.#pendingHellos.values()) {
        clearTimeout(timer);
      }
      for (const timer of this.#handshakeTimers.values()) {
        clearTimeout(timer);
      }
      this.#socket.close();
      this.#wakeReader();
    }

    return Promise.resolve();
  }

  #push(frames: Buffer[]): void {
    this.#messages.push(frames);
    this.#wakeReader();
  }

  #report(status: SubscriberStatus): void {
    if (!this.#closed) {
      this.#onStatus(status);
    }
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #watchEvents(): void {
    const events = this.#socket.events;
    events.on('connect', ({ address }) => {
      this.#reachedEndpoints.add(address);
      this.#startHandshakeTimer(address);
    });
    events.on('connect:retry', ({ address }) => {
      this.#reportUnreachable(address);
    });
    events.on('handshake', ({ address }) => {
      this.#clearHandshakeTimer(address);
      this.#handshakeFailures.delete(address);
      this.#report({ kind: 'connected', endpoint: address });
      this.#sendHello(address);
    });
    events.on('disconnect', ({ address }) => {
      this.#report({ kind: 'disconnected', endpoint: address });
    });
    watchHandshakeErrors(
      events,
      "the publisher rejected this subscriber's key",
      (address, reason) => this.#reportHandshakeFailure(address, reason),
    );
  }

  /**
   * Reports a failed handshake once per endpoint until a handshake with it
   * succeeds, because libzmq retries every 100 ms and fails the same way.
   */
  #reportHandshakeFailure(address: string, reason: string): void {
    this.#clearHandshakeTimer(address);
    if (this.#handshakeFailures.has(address)) {
      return;
    }
    this.#handshakeFailures.add(address);
    this.#report({
      kind: 'warning',
      endpoint: address,
      message: `handshake with ${address} failed: ${reason}`,
      handshake: true,
    });
  }

  #startHandshakeTimer(address: string): void {
    if (this.#handshakeTimers.has(address) || this.#closed) {
      return;
    }
    const timer = setTimeout(() => {
      this.#handshakeTimers.delete(address);
      this.#reportHandshakeFailure(
        address,
        `no handshake within ${HANDSHAKE_TIMEOUT_MS} ms of connecting; the publisher may require CURVE keys`,
      );
    }, HANDSHAKE_TIMEOUT_MS);
    this.#handshakeTimers.set(address, timer);
  }

  #clearHandshakeTimer(address: string): void {
    clearTimeout(this.#handshakeTimers.get(address));
    this.#handshakeTimers.delete(address);
  }

  /**
   * Reports once an endpoint that has never accepted a connection, such as
   * an IPv6 address when the publisher is bound to IPv4 only. libzmq goes on
   * retrying, so a publisher that starts later is still reached.
   */
  #reportUnreachable(address: string): void {
    if (
      this.#reachedEndpoints.has(address) ||
      this.#unreachableReported.has(address)
    ) {
      return;
    }
    this.#unreachableReported.add(address);
    this.#report({
      kind: 'warning',
      endpoint: address,
      message: `cannot connect to ${address}: nothing accepts connections there yet; retrying`,
    });
  }

  /**
   * Subscribes to a new hello topic. A new one each time, because XPUB passes
   * a subscription up only once per topic, and each connection must be
   * confirmed on its own.
   */
  #sendHello(endpoint: string): void {
    if (this.#closed) {
      return;
    }
    this.#helloCount++;
    const topic = `${HELLO_PREFIX}${this.#nonce}.${this.#helloCount}`;
    const timer = setTimeout(() => {
      this.#finishHello(topic, false);
    }, this.#helloTimeoutMs);
    this.#pendingHellos.set(topic, { endpoint, timer });
    this.#socket.subscribe(topic);
    // Read on past a full buffer until the answer arrives.
    this.#resume?.();
  }

  #finishHello(topic: string, confirmed: boolean): void {
    const pending = this.#pendingHellos.get(topic);
    if (pending === undefined || this.#closed) {
      return;
    }
    const { endpoint, timer } = pending;
    clearTimeout(timer);
    this.#pendingHellos.delete(topic);
    if (this.#pendingHellos.size === 0) {
      this.#topicsDuringHello.clear();
    }
    this.#socket.unsubscribe(topic);
    this.#report({ kind: 'live', endpoint, confirmed });
  }

  async #receiveLoop(): Promise<void> {
    try {
      while (!this.#closed) {
        const limit =
          this.#pendingHellos.size > 0
            ? BUFFERED_MESSAGES_DURING_HELLO
            : BUFFERED_MESSAGES;
        if (this.#messages.length >= limit) {
          await new Promise<void>((resolve) => (this.#resume = resolve));
          this.#resume = undefined;
          continue;
        }
        const frames = await this.#socket.receive();
        if (!this.#handleHello(frames)) {
          if (this.#pendingHellos.size > 0 && frames[0] !== undefined) {
            this.#topicsDuringHello.add(frames[0].toString('latin1'));
          }
          this.#push(frames);
        }
      }
    } catch (error) {
      if (!this.#closed) {
        this.#report({
          kind: 'warning',
          endpoint: '',
          message: `receive failed: ${describeZmqError(error)}`,
        });
        await this.close();
      }
    }
  }

  /**
   * Consumes this subscriber's own hello answers and the cached events a
   * proxy sends on the hello topic; returns true for either.
   */
  #handleHello(frames: Buffer[]): boolean {
    const [topicFrame] = frames;
    if (frames.length < 2 || frames.length > 3 || topicFrame === undefined) {
      return false;
    }
    const topic = topicFrame.toString('latin1');
    if (!this.#pendingHellos.has(topic)) {
      return topic.startsWith(HELLO_PREFIX);
    }
    if (frames.length === 3) {
      this.#pushCachedEvent(frames.slice(1));
    } else {
      this.#finishHello(topic, true);
    }

    return true;
  }

  /**
   * Passes on a cached event of a last-value cache when it matches a filter
   * and no event of its topic has arrived since the hello was sent, because
   * such an event is as new as the cached one or newer.
   */
  #pushCachedEvent(frames: Buffer[]): void {
    const topic = frames[0]?.toString('latin1') ?? '';
    const matches =
      this.#filters.length === 0 ||
      this.#filters.some((filter) => topic.startsWith(filter));
    if (matches && !this.#topicsDuringHello.has(topic)) {
      this.#push(frames);
    }
  }
}
