import {
  DecodeError,
  SequenceTracker,
  assertTopicFilter,
  decodeMessage,
  isControlTopic,
  matchesAnyFilter,
  type DecodeOptions,
  type SequenceObservation,
  type SubscriberStatus,
  type SubscriberTransport,
  type ZpubEvent,
} from '@zpub/protocol';
import type { NatsJetStreamOptions } from '@zpub/nats';
import type { ZmqCurveClientOptions } from '@zpub/zeromq';
import { DEFAULT_ENDPOINT } from './publisher.js';
import { openSubscriberTransport } from './transports.js';

export interface SubscribeOptions extends DecodeOptions {
  /**
   * One endpoint or several to connect to at once: ZeroMQ publishers or
   * proxies, or the servers of one NATS system (`nats://HOST:PORT`).
   * Repeated endpoints are connected once.
   * @default 'tcp://127.0.0.1:5555'
   */
  endpoint?: string | readonly string[];
  /**
   * Topic filters: `number` receives `number` and `number.*`, never
   * `numbers`. None receives every topic.
   */
  topics?: readonly string[];
  /** ZMQ_RCVHWM for ZeroMQ endpoints. */
  receiveHighWaterMark?: number;
  /**
   * Read a JetStream stream rather than live core NATS: replay from a time
   * or the last N events, keep a durable position, or share the events with
   * a group. Only for `nats://` endpoints.
   *
   * A member of a group receives only some of the events, and events that
   * another member returned unread can arrive late. Its sequences show gaps
   * and go back by design, and a real loss looks the same, so a member
   * reports no `gap` and no `out-of-order` notices. It reports a `restart`
   * when a source sends a `zpubinstance` not seen before.
   */
  jetstream?: NatsJetStreamOptions;
  /** Called with everything that is not an event; see {@link Notice}. */
  onNotice?: (notice: Notice) => void;
  /**
   * CURVE encryption for ZeroMQ endpoints: the publisher's public key and
   * this subscriber's secret key.
   */
  curve?: ZmqCurveClientOptions;
}

/** The readiness of one endpoint of a subscription. */
export interface EndpointReadiness {
  endpoint: string;
  /** False when the publisher sent no hello reply and was assumed live. */
  confirmed: boolean;
}

/**
 * The value of {@link Subscription.ready}: every endpoint is live, so events
 * published from now on at any of them arrive.
 */
export interface Readiness {
  /** The endpoint that became live last; the only one when there is one. */
  endpoint: string;
  /** True when every endpoint's publisher confirmed the subscription. */
  confirmed: boolean;
  /** Every endpoint, in the order given. */
  endpoints: readonly EndpointReadiness[];
}

/** Something a subscription reports beside its events. */
export type Notice =
  /** Every endpoint is live: events published from now on arrive. */
  | ({ kind: 'ready' } & Readiness)
  /**
   * One of several endpoints became live for the first time, while the
   * endpoints in `pending` are not live yet. A subscription to one endpoint
   * reports only `ready`.
   */
  | {
      kind: 'live';
      endpoint: string;
      confirmed: boolean;
      pending: readonly string[];
    }
  /** Live again after the connection to a publisher was lost. */
  | { kind: 'reconnected'; endpoint: string; confirmed: boolean }
  | { kind: 'disconnected'; endpoint: string }
  /** A message that was skipped because it could not be decoded. */
  | { kind: 'invalid'; error: DecodeError }
  /**
   * A gap (events that never arrived, e.g. dropped by a full queue), a
   * publisher restart, or an event out of order, from {@link SequenceTracker}.
   * A member of a JetStream group (`jetstream.group`) reports restarts only;
   * see {@link SubscribeOptions.jetstream}.
   */
  | Extract<SequenceObservation, { kind: 'gap' | 'restart' | 'out-of-order' }>
  /**
   * A fault that stops nothing. `handshake` is true for a connection whose
   * handshake failed or never finished, as with wrong CURVE keys; it is
   * reported once per endpoint until a handshake succeeds.
   */
  | { kind: 'warning'; endpoint: string; message: string; handshake?: boolean };

/** A live subscription: iterate it for events, close it when done. */
export interface Subscription extends AsyncIterable<ZpubEvent> {
  /**
   * Resolves once the publisher at every endpoint has the subscription;
   * rejects when the subscription is closed before that.
   */
  readonly ready: Promise<Readiness>;
  close(): Promise<void>;
}

/**
 * Connects, subscribes and yields every event that matches the topics, with
 * batches flattened and `topic` set on each event. Messages that cannot be
 * decoded, gaps and restarts are reported to `onNotice` and never end the
 * iteration. Throws {@link InvalidTopicError} for an invalid filter and
 * {@link InvalidEndpointError} for an invalid endpoint.
 */
export function subscribe(options: SubscribeOptions = {}): Subscription {
  // An endpoint given twice is connected once and listed once in readiness.
  const listed = [
    ...new Set(
      typeof options.endpoint === 'string'
        ? [options.endpoint]
        : (options.endpoint ?? [DEFAULT_ENDPOINT]),
    ),
  ];
  // Servers of one NATS system share one connection, so they are one
  // endpoint that is ready once, named by the list.
  const endpoints =
    listed.length > 1 &&
    listed.every((endpoint) => endpoint.startsWith('nats://'))
      ? [listed.join(',')]
      : listed;
  const filters = [...new Set(options.topics ?? [])];
  filters.forEach(assertTopicFilter);
  const receiveAll = filters.length === 0 || filters.includes('');
  const subscription = new ActiveSubscription(
    endpoints,
    receiveAll ? [] : filters,
    options,
  );
  subscription.attach(
    openSubscriberTransport({
      endpoints,
      filters: receiveAll ? [] : filters,
      receiveHighWaterMark: options.receiveHighWaterMark,
      curve: options.curve,
      ...(options.jetstream === undefined
        ? {}
        : { jetstream: options.jetstream }),
      onStatus: (status) => subscription.handleStatus(status),
    }),
  );

  return subscription;
}

class ActiveSubscription implements Subscription {
  readonly ready: Promise<Readiness>;
  #transport: SubscriberTransport | undefined;
  readonly #endpoints: readonly string[];
  /**
   * Whether each endpoint's publisher confirmed the subscription, for the
   * endpoints that have been live at least once.
   */
  readonly #liveEndpoints = new Map<string, boolean>();
  readonly #filters: readonly string[];
  readonly #options: SubscribeOptions;
  readonly #tracker = new SequenceTracker();
  /**
   * The publisher instances seen, in a group only, where a returned event
   * of an earlier instance must not read as a restart; undefined otherwise.
   */
  readonly #groupInstances: Set<string> | undefined;
  readonly #notify: (notice: Notice) => void;
  #markReady: (value: Readiness) => void = () => undefined;
  #failReady: (error: Error) => void = () => undefined;
  #isReady = false;

  constructor(
    endpoints: readonly string[],
    filters: readonly string[],
    options: SubscribeOptions,
  ) {
    this.#endpoints = endpoints;
    this.#filters = filters;
    this.#options = options;
    this.#groupInstances =
      options.jetstream?.group === undefined ? undefined : new Set();
    this.#notify = options.onNotice ?? (() => undefined);
    this.ready = new Promise((resolve, reject) => {
      this.#markReady = resolve;
      this.#failReady = reject;
    });
    // Callers need not await `ready`, so an early close must not leave an
    // unhandled rejection.
    this.ready.catch(() => undefined);
  }

  attach(transport: SubscriberTransport): void {
    this.#transport = transport;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ZpubEvent> {
    for await (const frames of this.#transport ?? []) {
      yield* this.#decode(frames);
    }
  }

  close(): Promise<void> {
    this.#failReady(
      new Error('the subscription was closed before it was ready'),
    );

    return this.#transport?.close() ?? Promise.resolve();
  }

  handleStatus(status: SubscriberStatus): void {
    switch (status.kind) {
      case 'live':
        this.#handleLive(status.endpoint, status.confirmed);
        return;
      case 'disconnected':
        this.#notify({ kind: 'disconnected', endpoint: status.endpoint });
        return;
      case 'warning':
        this.#notify({
          kind: 'warning',
          endpoint: status.endpoint,
          message: status.message,
          ...(status.handshake === true ? { handshake: true } : {}),
        });
        return;
      case 'connected':
        return;
    }
  }

  /**
   * Tracks which endpoints have been live. The subscription is ready once
   * every endpoint has been live. An endpoint that is live a second time has
   * reconnected.
   */
  #handleLive(endpoint: string, confirmed: boolean): void {
    // NOTE: this relies on libzmq's monitor events naming an endpoint exactly
    // as it was passed to connect, which libzmq 4.3 does.
    if (this.#liveEndpoints.has(endpoint)) {
      this.#liveEndpoints.set(endpoint, confirmed);
      this.#notify({ kind: 'reconnected', endpoint, confirmed });
      return;
    }
    this.#liveEndpoints.set(endpoint, confirmed);
    const pending = this.#endpoints.filter(
      (configured) => !this.#liveEndpoints.has(configured),
    );
    if (this.#isReady) {
      return;
    }
    if (pending.length > 0) {
      this.#notify({ kind: 'live', endpoint, confirmed, pending });
      return;
    }

    const endpoints = this.#endpoints.map((configured) => ({
      endpoint: configured,
      confirmed: this.#liveEndpoints.get(configured) === true,
    }));
    const readiness: Readiness = {
      endpoint,
      confirmed: endpoints.every((entry) => entry.confirmed),
      endpoints,
    };
    this.#isReady = true;
    this.#markReady(readiness);
    this.#notify({ kind: 'ready', ...readiness });
  }

  /**
   * Returns false for control messages and for topics that match a filter
   * only as a byte prefix (`numbers` for `number`), before any decoding, so
   * a malformed message on a topic nobody asked for is not reported. A topic
   * frame that is not UTF-8 is kept, so that decoding reports it.
   */
  #isWanted(topicFrame: Uint8Array | undefined): boolean {
    if (topicFrame === undefined) {
      return true;
    }
    const topic = Buffer.from(topicFrame).toString('utf8');
    if (isControlTopic(topic)) {
      return false;
    }

    return (
      this.#filters.length === 0 ||
      topic.includes('\uFFFD') ||
      matchesAnyFilter(topic, this.#filters)
    );
  }

  *#decode(frames: Uint8Array[]): Generator<ZpubEvent> {
    if (!this.#isWanted(frames[0])) {
      return;
    }

    let message;
    try {
      message = decodeMessage(frames, this.#options);
    } catch (error) {
      if (error instanceof DecodeError) {
        this.#notify({ kind: 'invalid', error });
        return;
      }
      throw error;
    }
    for (const event of message.events) {
      event.topic ??= message.topic;
      this.#reportSequence(this.#tracker.observe(message.topic, event));
      yield event;
    }
  }

  /**
   * Notifies gaps, restarts and out-of-order events. A group member notifies
   * only restarts to an instance that it has not seen.
   */
  #reportSequence(observation: SequenceObservation): void {
    switch (observation.kind) {
      case 'gap':
      case 'out-of-order':
        if (this.#groupInstances === undefined) {
          this.#notify(observation);
        }
        return;
      case 'restart':
        if (this.#groupInstances === undefined) {
          this.#notify(observation);
        } else if (!this.#groupInstances.has(observation.current)) {
          this.#groupInstances.add(observation.current);
          this.#notify(observation);
        }
        return;
      case 'first':
        if (observation.instance !== undefined) {
          this.#groupInstances?.add(observation.instance);
        }
        return;
      case 'in-order':
        return;
    }
  }
}
