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
import { DEFAULT_ENDPOINT } from './publisher.js';
import { openSubscriberTransport } from './transports.js';

export interface SubscribeOptions extends DecodeOptions {
  /**
   * One endpoint or several to connect to at once.
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
  /** Called with everything that is not an event; see {@link Notice}. */
  onNotice?: (notice: Notice) => void;
}

/** Something a subscription reports beside its events. */
export type Notice =
  /** The subscription is live: events published from now on arrive. */
  | { kind: 'ready'; endpoint: string; confirmed: boolean }
  /** Live again after the connection to a publisher was lost. */
  | { kind: 'reconnected'; endpoint: string; confirmed: boolean }
  | { kind: 'disconnected'; endpoint: string }
  /** A message that was skipped because it could not be decoded. */
  | { kind: 'invalid'; error: DecodeError }
  /**
   * A gap (events that never arrived, e.g. dropped by a full queue), a
   * publisher restart, or an event out of order, from {@link SequenceTracker}.
   */
  | Extract<SequenceObservation, { kind: 'gap' | 'restart' | 'out-of-order' }>
  | { kind: 'warning'; endpoint: string; message: string };

/** A live subscription: iterate it for events, close it when done. */
export interface Subscription extends AsyncIterable<ZpubEvent> {
  /**
   * Resolves once the first publisher has the subscription; rejects when the
   * subscription is closed before that.
   */
  readonly ready: Promise<{ endpoint: string; confirmed: boolean }>;
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
  const endpoints =
    typeof options.endpoint === 'string'
      ? [options.endpoint]
      : [...(options.endpoint ?? [DEFAULT_ENDPOINT])];
  const filters = [...new Set(options.topics ?? [])];
  filters.forEach(assertTopicFilter);
  const receiveAll = filters.length === 0 || filters.includes('');
  const subscription = new ActiveSubscription(
    receiveAll ? [] : filters,
    options,
  );
  subscription.attach(
    openSubscriberTransport({
      endpoints,
      filters: receiveAll ? [] : filters,
      receiveHighWaterMark: options.receiveHighWaterMark,
      onStatus: (status) => subscription.handleStatus(status),
    }),
  );

  return subscription;
}

class ActiveSubscription implements Subscription {
  readonly ready: Promise<{ endpoint: string; confirmed: boolean }>;
  #transport: SubscriberTransport | undefined;
  readonly #filters: readonly string[];
  readonly #options: SubscribeOptions;
  readonly #tracker = new SequenceTracker();
  readonly #notify: (notice: Notice) => void;
  #markReady: (value: { endpoint: string; confirmed: boolean }) => void = () =>
    undefined;
  #failReady: (error: Error) => void = () => undefined;
  #isReady = false;

  constructor(filters: readonly string[], options: SubscribeOptions) {
    this.#filters = filters;
    this.#options = options;
    this.#notify = options.onNotice ?? (() => undefined);
    this.ready = new Promise((resolve, reject) => {
      this.#markReady = resolve;
      this.#failReady = reject;
    });
    // Nobody has to await `ready`; an early close must not be an unhandled
    // rejection then.
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
      case 'live': {
        const { endpoint, confirmed } = status;
        if (this.#isReady) {
          this.#notify({ kind: 'reconnected', endpoint, confirmed });
          return;
        }
        this.#isReady = true;
        this.#markReady({ endpoint, confirmed });
        this.#notify({ kind: 'ready', endpoint, confirmed });
        return;
      }
      case 'disconnected':
        this.#notify({ kind: 'disconnected', endpoint: status.endpoint });
        return;
      case 'warning':
        this.#notify({
          kind: 'warning',
          endpoint: status.endpoint,
          message: status.message,
        });
        return;
      case 'connected':
        return;
    }
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
      const observation = this.#tracker.observe(message.topic, event);
      if (
        observation.kind === 'gap' ||
        observation.kind === 'restart' ||
        observation.kind === 'out-of-order'
      ) {
        this.#notify(observation);
      }
      yield event;
    }
  }
}
