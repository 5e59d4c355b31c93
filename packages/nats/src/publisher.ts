import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
} from '@nats-io/jetstream';
import {
  TimeoutError,
  connect,
  type NatsConnection,
} from '@nats-io/transport-node';
import {
  AcknowledgementTimeoutError,
  EndpointError,
  type PendingAcknowledgement,
  type PublisherTransport,
  type TransportMessage,
} from '@zpub/protocol';
import { parseNatsServers } from './endpoint.js';
import { ensureStream, type NatsStreamOptions } from './stream.js';
import { subjectMatches } from './subjects.js';

/** Default for {@link NatsPublisherOptions.maxPendingAcks}. */
export const DEFAULT_MAX_PENDING_ACKS = 1024;

/** Default for {@link NatsPublisherOptions.ackTimeoutMs}: 5 seconds. */
export const DEFAULT_ACK_TIMEOUT_MS = 5000;

/** How long opening waits for the first connection, in milliseconds. */
export const CONNECT_TIMEOUT_MS = 5000;

/** Delay between reconnect attempts after NATS went away, in milliseconds. */
export const RECONNECT_WAIT_MS = 250;

/** Interval of the publisher's pings to the server, in milliseconds. */
const PING_INTERVAL_MS = 10_000;

/** A change of the publisher's connection to NATS. */
export interface NatsConnectionChange {
  connected: boolean;
  /** The server, as HOST:PORT. */
  server: string;
}

export interface NatsPublisherOptions {
  /** Store events in this JetStream stream; without it, core NATS only. */
  stream?: NatsStreamOptions;
  /**
   * JetStream publishes whose acknowledgement is awaited at once. When they
   * are all pending, `send` waits for one to settle, so the publisher's own
   * queue absorbs the rest and drops beyond its limit.
   * @default 1024
   */
  maxPendingAcks?: number;
  /** How long to wait for each acknowledgement, in milliseconds. @default 5000 */
  ackTimeoutMs?: number;
  /** Client name shown by the NATS server's monitoring. */
  name?: string;
  /** Called when the connection is lost and when it is back. */
  onConnectionChange?: (change: NatsConnectionChange) => void;
}

/**
 * Publishes on NATS subjects equal to the topics. With a stream, events on
 * subjects that the stream captures go through JetStream, and their
 * acknowledgements are awaited off the caller's path. All others are
 * published on core NATS. While the connection is down, `send` rejects at
 * once, so nothing piles up in the client, and it works again after the
 * client reconnects.
 */
export class NatsPublisherTransport implements PublisherTransport {
  readonly endpoint: string;
  readonly acknowledges: boolean;
  readonly #connection: NatsConnection;
  readonly #jetstream: JetStreamClient | undefined;
  readonly #streamSubjects: readonly string[];
  readonly #maxPendingAcks: number;
  readonly #ackTimeoutMs: number;
  readonly #pendingAcks = new Set<Promise<void>>();
  /** Sends waiting for an acknowledgement slot, first come first served. */
  readonly #slotWaiters: (() => void)[] = [];
  /** JetStream publishes sent or about to be, at most maxPendingAcks. */
  #ackSlotsTaken = 0;
  readonly #capturedTopics = new Map<string, boolean>();
  #connected = true;
  #closed = false;

  private constructor(
    endpoint: string,
    connection: NatsConnection,
    jetstreamClient: JetStreamClient | undefined,
    streamSubjects: readonly string[],
    options: NatsPublisherOptions,
  ) {
    this.endpoint = endpoint;
    this.#connection = connection;
    this.#jetstream = jetstreamClient;
    this.acknowledges = jetstreamClient !== undefined;
    this.#streamSubjects = streamSubjects;
    this.#maxPendingAcks = options.maxPendingAcks ?? DEFAULT_MAX_PENDING_ACKS;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
  }

  /**
   * Connects and, with a stream, creates or checks it. Rejects with
   * {@link InvalidEndpointError} for a malformed endpoint and with
   * {@link EndpointError} when the server cannot be reached or the
   * stream cannot be set up.
   */
  static async open(
    endpoint: string,
    options: NatsPublisherOptions = {},
  ): Promise<NatsPublisherTransport> {
    const servers = parseNatsServers(endpoint);
    let connection: NatsConnection;
    try {
      connection = await connect({
        servers,
        name: options.name ?? 'zpub publisher',
        timeout: CONNECT_TIMEOUT_MS,
        maxReconnectAttempts: -1,
        reconnectTimeWait: RECONNECT_WAIT_MS,
        // A server that vanishes without closing the connection is noticed
        // after two unanswered pings, so about 20 s of events at most pile
        // up in the client's buffer instead of the default 4 minutes.
        pingInterval: PING_INTERVAL_MS,
        maxPingOut: 2,
        // Otherwise each JetStream publish, a request underneath, builds two
        // Error objects with stack traces in case it fails: about a third of
        // the CPU time in a profile of 20,000 publishes. A failed
        // acknowledgement still names its topic (toAcknowledgementError).
        noAsyncTraces: true,
      });
    } catch (error) {
      throw new EndpointError(
        endpoint,
        `cannot connect to NATS at ${endpoint}: ${(error as Error).message}`,
        { cause: error },
      );
    }

    let jetstreamClient: JetStreamClient | undefined;
    let subjects: string[] = [];
    if (options.stream !== undefined) {
      try {
        subjects = await ensureStream(
          await jetstreamManager(connection),
          options.stream,
        );
        jetstreamClient = jetstream(connection, {
          timeout: options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
        });
      } catch (error) {
        await connection.close();
        throw new EndpointError(
          endpoint,
          `cannot set up the JetStream stream on ${endpoint}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }

    const transport = new NatsPublisherTransport(
      endpoint,
      connection,
      jetstreamClient,
      subjects,
      options,
    );
    void transport.#watchStatus(options.onConnectionChange);

    return transport;
  }

  /** Events stored in the stream go one per message; see the interface. */
  allowsBatches(topic: string): boolean {
    return this.#jetstream === undefined || !this.#isCaptured(topic);
  }

  /** JetStream publishes waiting for their acknowledgement. */
  get pendingAcks(): number {
    return this.#pendingAcks.size;
  }

  /**
   * Sends of one turn go out together, so the client writes them to its
   * socket at once. JetStream publishes past `maxPendingAcks` wait in order.
   */
  get concurrentSends(): boolean {
    return true;
  }

  async send(
    message: TransportMessage,
  ): Promise<void | PendingAcknowledgement> {
    this.#checkOpen();
    const { topic, payload } = message;
    if (this.#jetstream === undefined || !this.#isCaptured(topic)) {
      this.#connection.publish(topic, payload);
      return;
    }

    if (
      this.#ackSlotsTaken >= this.#maxPendingAcks ||
      this.#slotWaiters.length > 0
    ) {
      // The send takes over the slot of the acknowledgement that settles
      // next, behind any send already waiting, so the stream stores events
      // in the order they were sent.
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
      try {
        this.#checkOpen();
      } catch (error) {
        this.#releaseSlot();
        throw error;
      }
    } else {
      this.#ackSlotsTaken++;
    }
    const acknowledged = this.#jetstream
      .publish(topic, payload, { timeout: this.#ackTimeoutMs })
      .then(
        () => undefined,
        (error: unknown) => {
          throw toAcknowledgementError(error, topic);
        },
      );
    const settled = acknowledged.catch(() => undefined);
    this.#pendingAcks.add(settled);
    void settled.then(() => {
      this.#pendingAcks.delete(settled);
      this.#releaseSlot();
    });

    return { acknowledged };
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new EndpointError(this.endpoint, 'the publisher is closed');
    }
    if (!this.#connected) {
      throw new EndpointError(
        this.endpoint,
        `not connected to NATS at ${this.endpoint}; the client is reconnecting`,
      );
    }
  }

  /** Hands an acknowledgement slot to the next waiting send, if any. */
  #releaseSlot(): void {
    const next = this.#slotWaiters.shift();
    if (next === undefined) {
      this.#ackSlotsTaken--;
    } else {
      next();
    }
  }

  /**
   * Waits at most `lingerMs` for pending acknowledgements and for the
   * client to write its buffer, then closes the connection.
   */
  async close(lingerMs: number): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, lingerMs);
    });
    const finished = Promise.all([...this.#pendingAcks]).then(() =>
      this.#connected ? this.#connection.flush() : undefined,
    );
    await Promise.race([finished.catch(() => undefined), expired]);
    clearTimeout(timer);
    await this.#connection.close();
  }

  #isCaptured(topic: string): boolean {
    let captured = this.#capturedTopics.get(topic);
    if (captured === undefined) {
      captured = this.#streamSubjects.some((pattern) =>
        subjectMatches(topic, pattern),
      );
      // Topics of request events are bounded by the routes, but custom
      // topics are not, so the cache is emptied rather than left to grow.
      if (this.#capturedTopics.size >= 10_000) {
        this.#capturedTopics.clear();
      }
      this.#capturedTopics.set(topic, captured);
    }

    return captured;
  }

  async #watchStatus(
    onChange: ((change: NatsConnectionChange) => void) | undefined,
  ): Promise<void> {
    for await (const status of this.#connection.status()) {
      if (status.type === 'disconnect') {
        this.#connected = false;
        onChange?.({ connected: false, server: status.server });
      } else if (status.type === 'reconnect') {
        this.#connected = true;
        onChange?.({ connected: true, server: status.server });
      }
    }
  }
}

function toAcknowledgementError(error: unknown, topic: string): Error {
  if (error instanceof TimeoutError) {
    return new AcknowledgementTimeoutError(
      `JetStream did not acknowledge an event on ${topic} in time`,
      { cause: error },
    );
  }
  const reason = error instanceof Error ? error.message : String(error);

  return new Error(`JetStream rejected an event on ${topic}: ${reason}`, {
    cause: error,
  });
}
