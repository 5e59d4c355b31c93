import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  AcknowledgementTimeoutError,
  MESSAGE_EVENT_TYPE,
  assertTopic,
  createEvent,
  type PublisherTransport,
} from '@zpub/protocol';
import type { NatsConnectionChange, NatsStreamOptions } from '@zpub/nats';
import type { ZmqCurveServerOptions } from '@zpub/zeromq';
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
   * only for `nats://` endpoints.
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
   * CloudEvents `source` of every event. Keep it stable across restarts of
   * one service instance, so that subscribers report a restart, not a new
   * publisher.
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
  /** Called with each failed send; the publisher goes on. */
  onSendError?: (error: Error) => void;
  /** A transport opened by the caller, used in place of `endpoint`. */
  transport?: PublisherTransport;
  /**
   * CURVE encryption and authentication for a ZeroMQ endpoint: the
   * publisher's secret key and the allowed subscriber public keys.
   */
  curve?: ZmqCurveServerOptions;
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

interface QueuedEvent {
  topic: string;
  json: string;
}

/**
 * Publishes CloudEvents on one transport without ever blocking the caller.
 *
 * {@link publish} builds the event and queues it. A single sender drains the
 * queue once per event-loop turn and sends the events of each topic as one
 * message (a batch when there are several), so sending costs one transport
 * message per topic per turn, not one per event. Order is kept per topic.
 */
export class Publisher {
  /** `zpubinstance` of every event: a new UUID each time a publisher opens. */
  readonly instance: string;
  readonly #transport: PublisherTransport;
  readonly #source: string;
  readonly #maxQueue: number;
  readonly #lingerMs: number;
  readonly #onSendError: (error: Error) => void;
  readonly #sequences = new Map<string, number>();
  #queue: QueuedEvent[] = [];
  #inFlight = 0;
  #draining: Promise<void> | undefined;
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
    this.#onSendError = options.onSendError ?? (() => undefined);
  }

  /** Binds or connects the transport, then returns a ready publisher. */
  static async open(options: PublisherOptions = {}): Promise<Publisher> {
    checkPositiveInteger('maxQueue', options.maxQueue);
    checkPositiveInteger('lingerMs', options.lingerMs, true);
    checkPositiveInteger('ackTimeoutMs', options.ackTimeoutMs);
    const instance = randomUUID();
    const transport =
      options.transport ??
      (await openPublisherTransport(options.endpoint ?? DEFAULT_ENDPOINT, {
        mode: options.mode ?? 'bind',
        helloPayload: JSON.stringify({ instance }),
        onError: (error) => options.onSendError?.(error),
        curve: options.curve,
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
      queueDepth: this.#queue.length + this.#inFlight,
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
    assertTopic(topic);
    if (
      this.#closing !== undefined ||
      this.#queue.length + this.#inFlight >= this.#maxQueue
    ) {
      this.#dropped++;
      // The dropped event still takes its sequence, so that subscribers
      // report it as missed.
      this.#sequences.set(topic, (this.#sequences.get(topic) ?? 0) + 1);
      return false;
    }

    const sequence = (this.#sequences.get(topic) ?? 0) + 1;
    const event = createEvent({
      id: randomUUID(),
      source: this.#source,
      type: options.type ?? MESSAGE_EVENT_TYPE,
      time: new Date().toISOString(),
      topic,
      sequence,
      instance: this.instance,
      data,
    });
    const json = JSON.stringify(event);
    this.#sequences.set(topic, sequence);
    this.#queue.push({ topic, json });
    this.#draining ??= new Promise((resolve) => setImmediate(resolve)).then(
      () => this.#drain(),
    );

    return true;
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
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#lingerMs);
    });
    await Promise.race([this.#draining, expired]);
    this.#dropped += this.#queue.length;
    this.#queue = [];
    await Promise.race([Promise.all(this.#pendingAcks), expired]);
    clearTimeout(timer);
    await this.#transport.close(Math.max(0, deadline - Date.now()));

    return this.stats;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const queued = this.#queue;
      this.#queue = [];
      this.#inFlight = queued.length;
      for (const [topic, jsons] of groupByTopic(queued)) {
        const batches = this.#transport.allowsBatches?.(topic) ?? true;
        for (const payload of batchPayloads(jsons, batches)) {
          await this.#send(topic, payload.text, payload.count);
        }
      }
      this.#inFlight = 0;
    }
    this.#draining = undefined;
  }

  async #send(topic: string, text: string, count: number): Promise<void> {
    const routed = this.#transport.hasSubscriber?.(topic) ?? true;
    try {
      const pending = await this.#transport.send({
        topic,
        payload: Buffer.from(text),
      });
      this.#published += count;
      if (!routed) {
        this.#unrouted += count;
      }
      if (pending !== undefined) {
        this.#awaitAcknowledgement(pending.acknowledged, count);
      }
    } catch (error) {
      this.#sendErrors += count;
      this.#onSendError(error as Error);
    }
    this.#inFlight -= count;
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

function groupByTopic(queued: readonly QueuedEvent[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const { topic, json } of queued) {
    const group = groups.get(topic);
    if (group === undefined) {
      groups.set(topic, [json]);
    } else {
      group.push(json);
    }
  }

  return groups;
}

/**
 * Splits events of one topic into payloads of at most MAX_BATCH_BYTES, or
 * into one payload per event when the transport allows no batches.
 */
function* batchPayloads(
  jsons: readonly string[],
  batches: boolean,
): Generator<{ text: string; count: number }> {
  let chunk: string[] = [];
  let size = 0;
  for (const json of jsons) {
    if (
      chunk.length > 0 &&
      (!batches || size + json.length > MAX_BATCH_BYTES)
    ) {
      yield toPayload(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(json);
    size += json.length + 1;
  }
  if (chunk.length > 0) {
    yield toPayload(chunk);
  }
}

function toPayload(chunk: readonly string[]): { text: string; count: number } {
  const text =
    chunk.length === 1 ? (chunk[0] as string) : `[${chunk.join(',')}]`;

  return { text, count: chunk.length };
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
