import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  MESSAGE_EVENT_TYPE,
  assertTopic,
  type PublisherTransport,
} from '@zpub/protocol';
import { EventEncoder, type TopicEncoding } from './encoder.js';
import { openPublisherTransport } from './transports.js';

/** Default for {@link PublisherOptions.endpoint}. */
export const DEFAULT_ENDPOINT = 'tcp://127.0.0.1:5555';

/** Default for {@link PublisherOptions.maxQueue}, in events. */
export const DEFAULT_MAX_QUEUE = 10_000;

/** Default for {@link PublisherOptions.lingerMs}: 1 second. */
export const DEFAULT_LINGER_MS = 1000;

/**
 * Upper bound of one batch payload, in bytes, so that a batch stays well
 * under a subscriber's default message limit of 1 MiB. A single event larger
 * than this is still sent, as a message of its own.
 */
export const MAX_BATCH_BYTES = 256 * 1024;

export interface PublisherOptions {
  /**
   * Endpoint to publish on: `tcp://IP:PORT`, `ipc://PATH` or `inproc://NAME`.
   * Port 0 binds an ephemeral port; {@link Publisher.endpoint} has the real one.
   * @default 'tcp://127.0.0.1:5555'
   */
  endpoint?: string;
  /** Bind the endpoint (the default) or connect to it, as to a proxy. */
  mode?: 'bind' | 'connect';
  /**
   * CloudEvents `source` of every event. Keep it stable across restarts of
   * one service instance, so that subscribers report a restart, not a new
   * publisher.
   * @default 'zpub://HOSTNAME/tcp/IP:PORT', from the bound endpoint
   */
  source?: string;
  /**
   * Events waiting to be sent before new ones are dropped and counted.
   * @default 10000
   */
  maxQueue?: number;
  /**
   * How long {@link Publisher.close} waits for queued events to be sent, in
   * milliseconds.
   * @default 1000
   */
  lingerMs?: number;
  /**
   * How long the first event of a batch waits for more before the batch is
   * sent, in milliseconds. 0 sends at the end of the current turn of the
   * event loop. A longer wait puts more events in each message, which
   * costs less CPU per event, and adds up to that wait (and the timer's
   * lateness) to each event's latency.
   * @default 0
   */
  flushDelayMs?: number;
  /** Called with each failed send; the publisher goes on. */
  onSendError?: (error: Error) => void;
  /** A transport opened by the caller, used in place of `endpoint`. */
  transport?: PublisherTransport;
}

/** Counters of a publisher, in events. */
export interface PublisherStats {
  /** Events handed to the transport. */
  published: number;
  /** Events rejected because the queue was full or the publisher closed. */
  dropped: number;
  /** Events lost because the transport failed to send them. */
  sendErrors: number;
  /** Events waiting to be sent, including those being sent now. */
  queueDepth: number;
}

export interface PublishOptions {
  /** CloudEvents `type`. @default 'dev.zpub.message' */
  type?: string;
}

/** A topic's encoding state and its events waiting to be sent. */
interface TopicQueue extends TopicEncoding {
  pending: string[];
}

/**
 * Publishes CloudEvents on one transport without ever blocking the caller.
 *
 * {@link publish} builds the event and queues it. A single sender drains the
 * queue once per event-loop turn and sends the events of each topic as one
 * message (a batch when there are several), so sending costs one transport
 * message per topic per turn, not one per event. Order is kept per topic.
 * When the transport allows overlapping sends, the sender hands over all
 * messages of a turn at once; otherwise it waits for each send to settle.
 */
export class Publisher {
  /** `zpubinstance` of every event: a new UUID each time a publisher opens. */
  readonly instance: string;
  readonly #transport: PublisherTransport;
  readonly #source: string;
  readonly #maxQueue: number;
  readonly #lingerMs: number;
  readonly #flushDelayMs: number;
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #onSendError: (error: Error) => void;
  readonly #encoder: EventEncoder;
  /** Every topic published on so far, each checked once by assertTopic. */
  readonly #topics = new Map<string, TopicQueue>();
  /** Topics with pending events, in the order their first one came. */
  #ready: TopicQueue[] = [];
  #queued = 0;
  #inFlight = 0;
  #drainScheduled = false;
  /** True while the one-send-at-a-time drain is waiting for a send. */
  #sending = false;
  readonly #drainedWaiters: (() => void)[] = [];
  #closing: Promise<PublisherStats> | undefined;
  #published = 0;
  #dropped = 0;
  #sendErrors = 0;

  private constructor(
    transport: PublisherTransport,
    instance: string,
    options: PublisherOptions,
  ) {
    this.instance = instance;
    this.#transport = transport;
    this.#source =
      options.source ??
      `zpub://${hostname()}/${transport.endpoint.replace('://', '/')}`;
    this.#maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.#lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
    this.#flushDelayMs = options.flushDelayMs ?? 0;
    this.#onSendError = options.onSendError ?? (() => undefined);
    this.#encoder = new EventEncoder(this.#source, instance);
  }

  /** Binds or connects the transport, then returns a ready publisher. */
  static async open(options: PublisherOptions = {}): Promise<Publisher> {
    checkPositiveInteger('maxQueue', options.maxQueue);
    checkPositiveInteger('lingerMs', options.lingerMs, true);
    checkPositiveInteger('flushDelayMs', options.flushDelayMs, true);
    const instance = randomUUID();
    const transport =
      options.transport ??
      (await openPublisherTransport(options.endpoint ?? DEFAULT_ENDPOINT, {
        mode: options.mode ?? 'bind',
        helloPayload: JSON.stringify({ instance }),
        onError: (error) => options.onSendError?.(error),
      }));

    return new Publisher(transport, instance, options);
  }

  /** The endpoint as bound or connected, e.g. with the real port. */
  get endpoint(): string {
    return this.#transport.endpoint;
  }

  get source(): string {
    return this.#source;
  }

  get stats(): PublisherStats {
    return {
      published: this.#published,
      dropped: this.#dropped,
      sendErrors: this.#sendErrors,
      queueDepth: this.#queued + this.#inFlight,
    };
  }

  /**
   * Queues one event on `topic` and returns at once: true when it was
   * queued, false when it was dropped because the queue is full or the
   * publisher is closing. Throws {@link InvalidTopicError} for an invalid
   * topic and TypeError for data that JSON.stringify rejects (a cycle, a
   * BigInt); both are programming errors, and neither uses up a sequence.
   * An event dropped because the queue is full does use one, so that
   * subscribers see the loss as a gap.
   */
  publish(topic: string, data: unknown, options: PublishOptions = {}): boolean {
    const queue = this.#topicQueue(topic);
    if (this.#isFull(queue)) {
      return false;
    }
    this.#enqueue(
      queue,
      options.type ?? MESSAGE_EVENT_TYPE,
      JSON.stringify(data),
    );

    return true;
  }

  /**
   * Queues one event whose data is already JSON text, as a precompiled
   * serializer writes it, and returns as {@link publish} does. The text is
   * put into the event as it is, so it must be exactly one valid JSON value:
   * nothing checks it. Throws {@link InvalidTopicError} for an invalid topic.
   */
  publishJson(
    topic: string,
    dataJson: string,
    options: PublishOptions = {},
  ): boolean {
    const queue = this.#topicQueue(topic);
    if (this.#isFull(queue)) {
      return false;
    }
    this.#enqueue(queue, options.type ?? MESSAGE_EVENT_TYPE, dataJson);

    return true;
  }

  #topicQueue(topic: string): TopicQueue {
    let queue = this.#topics.get(topic);
    if (queue === undefined) {
      assertTopic(topic);
      queue = { ...this.#encoder.topic(topic), pending: [] };
      this.#topics.set(topic, queue);
    }

    return queue;
  }

  /**
   * Returns true when no event may be queued, and then counts one dropped
   * event on `queue`. The dropped event still takes its sequence, so that
   * subscribers report it as missed.
   */
  #isFull(queue: TopicQueue): boolean {
    if (
      this.#closing !== undefined ||
      this.#queued + this.#inFlight >= this.#maxQueue
    ) {
      this.#dropped++;
      queue.sequence++;
      return true;
    }

    return false;
  }

  #enqueue(queue: TopicQueue, type: string, dataJson: string | undefined) {
    queue.pending.push(this.#encoder.encode(queue, type, dataJson));
    if (queue.pending.length === 1) {
      this.#ready.push(queue);
    }
    this.#queued++;
    if (!this.#drainScheduled) {
      this.#drainScheduled = true;
      if (this.#flushDelayMs === 0) {
        setImmediate(this.#drain);
      } else {
        this.#flushTimer = setTimeout(this.#drain, this.#flushDelayMs);
      }
    }
  }

  /**
   * Stops taking events, sends what is queued for at most `lingerMs`, closes
   * the transport and returns the final counters. Events still queued after
   * the linger are counted as dropped.
   */
  close(): Promise<PublisherStats> {
    this.#closing ??= this.#close();

    return this.#closing;
  }

  async #close(): Promise<PublisherStats> {
    const deadline = Date.now() + this.#lingerMs;
    if (this.#flushTimer !== undefined && this.#drainScheduled) {
      // Events waiting for the flush delay go out now.
      clearTimeout(this.#flushTimer);
      this.#drain();
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#lingerMs);
    });
    await Promise.race([this.#drained(), expired]);
    clearTimeout(timer);
    this.#dropped += this.#queued;
    this.#queued = 0;
    for (const queue of this.#ready) {
      queue.pending = [];
    }
    this.#ready = [];
    await this.#transport.close(Math.max(0, deadline - Date.now()));

    return this.stats;
  }

  /**
   * Sends every pending event, once per turn of the event loop or, with a
   * flush delay, once per delay.
   */
  readonly #drain = (): void => {
    this.#drainScheduled = false;
    this.#flushTimer = undefined;
    if (this.#transport.concurrentSends === true) {
      for (const { topic, payloads } of this.#takeReady()) {
        for (const payload of payloads) {
          this.#sendWithoutWaiting(topic, payload);
        }
      }
    } else if (!this.#sending) {
      void this.#drainOneByOne();
    }
  };

  /** Takes the pending events of every topic, split into payloads. */
  #takeReady(): { topic: string; payloads: Payload[] }[] {
    const ready = this.#ready;
    this.#ready = [];

    return ready.map((queue) => {
      const pending = queue.pending;
      queue.pending = [];
      this.#queued -= pending.length;
      this.#inFlight += pending.length;

      return { topic: queue.topic, payloads: splitPayloads(pending) };
    });
  }

  #sendWithoutWaiting(topic: string, payload: Payload): void {
    let sent: Promise<void>;
    try {
      sent = this.#transport.send({
        topic,
        payload: Buffer.from(payload.text),
      });
    } catch (error) {
      this.#settle(payload.count, error as Error);
      return;
    }
    sent.then(
      () => this.#settle(payload.count),
      (error: unknown) => this.#settle(payload.count, error as Error),
    );
  }

  async #drainOneByOne(): Promise<void> {
    this.#sending = true;
    while (this.#ready.length > 0) {
      for (const { topic, payloads } of this.#takeReady()) {
        for (const payload of payloads) {
          try {
            await this.#transport.send({
              topic,
              payload: Buffer.from(payload.text),
            });
            this.#settle(payload.count);
          } catch (error) {
            this.#settle(payload.count, error as Error);
          }
        }
      }
    }
    this.#sending = false;
  }

  /** Counts a payload's events as published, or as lost with `error`. */
  #settle(count: number, error?: Error): void {
    this.#inFlight -= count;
    if (error === undefined) {
      this.#published += count;
    } else {
      this.#sendErrors += count;
      this.#onSendError(error);
    }
    if (this.#queued === 0 && this.#inFlight === 0) {
      for (const resolve of this.#drainedWaiters.splice(0)) {
        resolve();
      }
    }
  }

  /** Resolves once no event is queued or being sent. */
  #drained(): Promise<void> {
    if (this.#queued === 0 && this.#inFlight === 0) {
      return Promise.resolve();
    }

    return new Promise((resolve) => this.#drainedWaiters.push(resolve));
  }
}

/** The text of one message and the number of events in it. */
interface Payload {
  text: string;
  count: number;
}

/**
 * Splits events of one topic into payloads of at most MAX_BATCH_BYTES,
 * counting UTF-16 code units as bytes.
 */
function splitPayloads(jsons: readonly string[]): Payload[] {
  if (jsons.length === 1) {
    return [{ text: jsons[0] as string, count: 1 }];
  }
  const payloads: Payload[] = [];
  let start = 0;
  let size = 0;
  for (let index = 0; index < jsons.length; index++) {
    const length = (jsons[index] as string).length;
    if (index > start && size + length > MAX_BATCH_BYTES) {
      payloads.push(toPayload(jsons, start, index));
      start = index;
      size = 0;
    }
    size += length + 1;
  }
  payloads.push(toPayload(jsons, start, jsons.length));

  return payloads;
}

function toPayload(
  jsons: readonly string[],
  start: number,
  end: number,
): Payload {
  const text =
    end - start === 1
      ? (jsons[start] as string)
      : `[${jsons.slice(start, end).join(',')}]`;

  return { text, count: end - start };
}

function checkPositiveInteger(
  name: string,
  value: number | undefined,
  allowZero = false,
): void {
  if (value === undefined) {
    return;
  }
  const minimum = allowZero ? 0 : 1;
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw new RangeError(
      `${name} must be an integer of at least ${minimum}, got ${String(value)}`,
    );
  }
}
