import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  AcknowledgementTimeoutError,
  MESSAGE_EVENT_TYPE,
  assertTopic,
  type PendingAcknowledgement,
  type PublisherTransport,
} from '@zpub/protocol';
import type { NatsConnectionChange, NatsStreamOptions } from '@zpub/nats';
import type {
  HandshakeFailure,
  ZmqCurveClientOptions,
  ZmqCurveServerOptions,
} from '@zpub/zeromq';
import { EventEncoder, type TopicEncoding } from './encoder.js';
import { checkPublisherOptions } from './options.js';
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
   * Endpoint to publish on: `tcp://IP:PORT`, `ipc://PATH` or `inproc://NAME`
   * for ZeroMQ, or `nats://HOST:PORT` for a NATS server. Port 0 binds an
   * ephemeral port; {@link Publisher.endpoint} has the real one.
   * @default 'tcp://127.0.0.1:5555'
   */
  endpoint?: string;
  /**
   * Bind the ZeroMQ endpoint (the default) or connect to it, as to a proxy.
   * NATS endpoints are always connected to.
   */
  mode?: 'bind' | 'connect';
  /**
   * Store events in this JetStream stream, created at startup if missing;
   * only for `nats://` endpoints, and rejected with a ZeroMQ one.
   */
  stream?: NatsStreamOptions;
  /**
   * How long to wait for each JetStream acknowledgement, in milliseconds.
   * @default 5000
   */
  ackTimeoutMs?: number;
  /** Called when a NATS connection is lost and when it is back. */
  onConnectionChange?: (change: NatsConnectionChange) => void;
  /**
   * CloudEvents `source` of every event, rejected when empty or only
   * whitespace. Keep it stable across restarts of one service instance, so
   * that subscribers report a restart, not a new publisher.
   * @default 'zpub://HOSTNAME/tcp/IP:PORT' from the bound endpoint; with
   * `mode: 'connect'` or NATS, where many instances share the endpoint,
   * 'zpub://HOSTNAME/pid/PID'
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
  /**
   * CURVE encryption and authentication for a ZeroMQ endpoint. A publisher
   * that binds is the CURVE server: its secret key and the allowed
   * subscriber public keys. A publisher that connects to a proxy is a CURVE
   * client: the proxy's public key as `serverKey` and its own secret key.
   */
  curve?: ZmqCurveServerOptions | ZmqCurveClientOptions;
  /**
   * Called with `mode: 'connect'` when the ZeroMQ handshake with the
   * endpoint fails, as when a proxy rejects this publisher's CURVE key. It
   * is called once per endpoint until a handshake with it succeeds.
   */
  onHandshakeFailed?: (failure: HandshakeFailure) => void;
}

/** Counters of a publisher, in events. */
export interface PublisherStats {
  /** Events handed to the transport. */
  published: number;
  /**
   * Events among `published` that went nowhere, because no subscriber's
   * filter matched their topic when they were sent. Stays 0 with a
   * transport that cannot tell.
   */
  unrouted: number;
  /** Events rejected because the queue was full or the publisher closed. */
  dropped: number;
  /** Events lost because the transport failed to send them. */
  sendErrors: number;
  /** Events waiting to be sent, including those being sent now. */
  queueDepth: number;
  /**
   * Events that the broker confirmed it stored. This and the other
   * acknowledgement counters are present only for a transport with
   * acknowledgements, such as NATS with a JetStream stream.
   */
  acknowledged?: number;
  /** Events the broker rejected, as when no stream captures the subject. */
  ackFailures?: number;
  /** Events whose acknowledgement did not arrive in time, as in an outage. */
  ackTimeouts?: number;
  /** Events sent whose acknowledgement is still awaited. */
  awaitingAck?: number;
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
  #unrouted = 0;
  #dropped = 0;
  #sendErrors = 0;
  #acknowledged = 0;
  #ackFailures = 0;
  #ackTimeouts = 0;
  #awaitingAck = 0;
  readonly #pendingAcks = new Set<Promise<void>>();

  private constructor(
    transport: PublisherTransport,
    instance: string,
    options: PublisherOptions,
  ) {
    this.instance = instance;
    this.#transport = transport;
    this.#source = options.source ?? defaultSource(transport, options);
    this.#maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.#lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
    this.#flushDelayMs = options.flushDelayMs ?? 0;
    this.#onSendError = options.onSendError ?? (() => undefined);
    this.#encoder = new EventEncoder(this.#source, instance);
  }

  /** Binds or connects the transport, then returns a ready publisher. */
  static async open(options: PublisherOptions = {}): Promise<Publisher> {
    checkPublisherOptions(options);
    const instance = randomUUID();
    const transport =
      options.transport ??
      (await openPublisherTransport(options.endpoint ?? DEFAULT_ENDPOINT, {
        mode: options.mode ?? 'bind',
        helloPayload: JSON.stringify({ instance }),
        onError: (error) => options.onSendError?.(error),
        curve: options.curve,
        onHandshakeFailed: options.onHandshakeFailed,
        stream: options.stream,
        ackTimeoutMs: options.ackTimeoutMs,
        onConnectionChange: options.onConnectionChange,
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
    const stats: PublisherStats = {
      published: this.#published,
      unrouted: this.#unrouted,
      dropped: this.#dropped,
      sendErrors: this.#sendErrors,
      queueDepth: this.#queued + this.#inFlight,
    };
    if (this.#transport.acknowledges === true) {
      stats.acknowledged = this.#acknowledged;
      stats.ackFailures = this.#ackFailures;
      stats.ackTimeouts = this.#ackTimeouts;
      stats.awaitingAck = this.#awaitingAck;
    }

    return stats;
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
    this.#dropped += this.#queued;
    this.#queued = 0;
    for (const queue of this.#ready) {
      queue.pending = [];
    }
    this.#ready = [];
    await Promise.race([Promise.all(this.#pendingAcks), expired]);
    clearTimeout(timer);
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

      const batches = this.#transport.allowsBatches?.(queue.topic) ?? true;

      return {
        topic: queue.topic,
        payloads: splitPayloads(pending, batches),
      };
    });
  }

  #sendWithoutWaiting(topic: string, payload: Payload): void {
    const routed = this.#transport.hasSubscriber?.(topic) ?? true;
    let sent: Promise<void | PendingAcknowledgement>;
    try {
      sent = this.#transport.send({
        topic,
        payload: payload.text,
      });
    } catch (error) {
      this.#settle(payload.count, routed, undefined, error as Error);
      return;
    }
    sent.then(
      (pending) => this.#settle(payload.count, routed, pending),
      (error: unknown) =>
        this.#settle(payload.count, routed, undefined, error as Error),
    );
  }

  async #drainOneByOne(): Promise<void> {
    this.#sending = true;
    while (this.#ready.length > 0) {
      for (const { topic, payloads } of this.#takeReady()) {
        for (const payload of payloads) {
          const routed = this.#transport.hasSubscriber?.(topic) ?? true;
          try {
            const pending = await this.#transport.send({
              topic,
              payload: payload.text,
            });
            this.#settle(payload.count, routed, pending);
          } catch (error) {
            this.#settle(payload.count, routed, undefined, error as Error);
          }
        }
      }
    }
    this.#sending = false;
  }

  /**
   * Counts a payload's events as published, and as unrouted when no
   * subscriber wanted them, or as lost with `error`.
   */
  #settle(
    count: number,
    routed: boolean,
    pending: void | PendingAcknowledgement,
    error?: Error,
  ): void {
    this.#inFlight -= count;
    if (error === undefined) {
      this.#published += count;
      if (!routed) {
        this.#unrouted += count;
      }
      if (pending !== undefined) {
        this.#awaitAcknowledgement(pending.acknowledged, count);
      }
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

  /** Counts the outcome of one acknowledgement, off the sending path. */
  #awaitAcknowledgement(acknowledged: Promise<void>, count: number): void {
    this.#awaitingAck += count;
    const settled = acknowledged.then(
      () => {
        this.#acknowledged += count;
      },
      (error: unknown) => {
        if (error instanceof AcknowledgementTimeoutError) {
          this.#ackTimeouts += count;
        } else {
          this.#ackFailures += count;
        }
        this.#onSendError(error as Error);
      },
    );
    const tracked = settled.finally(() => {
      this.#awaitingAck -= count;
      this.#pendingAcks.delete(tracked);
    });
    this.#pendingAcks.add(tracked);
  }

  /** Resolves once no event is queued or being sent. */
  #drained(): Promise<void> {
    if (this.#queued === 0 && this.#inFlight === 0) {
      return Promise.resolve();
    }

    return new Promise((resolve) => this.#drainedWaiters.push(resolve));
  }
}

/**
 * Returns the default `source`. A bound endpoint names one instance, but a
 * connected or NATS endpoint is shared by every instance, so the process id
 * distinguishes them there.
 */
function defaultSource(
  transport: PublisherTransport,
  options: PublisherOptions,
): string {
  if (options.mode === 'connect' || transport.endpoint.startsWith('nats://')) {
    return `zpub://${hostname()}/pid/${process.pid}`;
  }

  return `zpub://${hostname()}/${transport.endpoint.replace('://', '/')}`;
}

/** The text of one message and the number of events in it. */
interface Payload {
  text: string;
  count: number;
}

/**
 * Splits events of one topic into payloads of at most MAX_BATCH_BYTES,
 * counting UTF-16 code units as bytes, or into one payload per event when
 * the transport allows no batches.
 */
function splitPayloads(jsons: readonly string[], batches: boolean): Payload[] {
  if (!batches) {
    return jsons.map((text) => ({ text, count: 1 }));
  }
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
