import { randomBytes } from 'node:crypto';
import {
  HELLO_PREFIX,
  type SubscriberStatus,
  type SubscriberStatusListener,
  type SubscriberTransport,
} from '@zpub/protocol';
import { Subscriber } from 'zeromq';
import { EndpointError, parseEndpoint } from './endpoint.js';
import { describeZmqError } from './publisher.js';

/**
 * How long a subscriber waits after a handshake for the publisher to answer
 * its hello before it calls itself live anyway. Publishers other than zpub's
 * do not answer; libzmq has sent the filters by then.
 */
export const HELLO_TIMEOUT_MS = 500;

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
  #wake: (() => void) | undefined;
  #resume: (() => void) | undefined;
  #helloCount = 0;
  #closed = false;

  private constructor(socket: Subscriber, options: ZmqSubscriberOptions) {
    this.#socket = socket;
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
    events.on('handshake', ({ address }) => {
      this.#report({ kind: 'connected', endpoint: address });
      this.#sendHello(address);
    });
    events.on('disconnect', ({ address }) => {
      this.#report({ kind: 'disconnected', endpoint: address });
    });
    for (const type of [
      'handshake:error:protocol',
      'handshake:error:auth',
      'handshake:error:other',
    ] as const) {
      events.on(type, ({ address, error }) => {
        this.#report({
          kind: 'warning',
          endpoint: address,
          message: `handshake with ${address} failed: ${error.message}`,
        });
      });
    }
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

  /** Consumes this subscriber's own hello answers; returns true for one. */
  #handleHello(frames: Buffer[]): boolean {
    const [topicFrame] = frames;
    if (frames.length !== 2 || topicFrame === undefined) {
      return false;
    }
    const topic = topicFrame.toString('latin1');
    if (!this.#pendingHellos.has(topic)) {
      return topic.startsWith(HELLO_PREFIX);
    }
    this.#finishHello(topic, true);

    return true;
  }
}
