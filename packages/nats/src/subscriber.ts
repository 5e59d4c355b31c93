import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerConfig,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import type {
  SubscriberStatus,
  SubscriberStatusListener,
  SubscriberTransport,
} from '@zpub/protocol';
import { parseNatsServers } from './endpoint.js';
import { CONNECT_TIMEOUT_MS, RECONNECT_WAIT_MS } from './publisher.js';
import { startSequenceOfLast } from './replay.js';
import { assertJetStreamName, isNotFound, patternCovers } from './stream.js';
import { filtersToSubjects } from './subjects.js';

/** The start and the durable position of a JetStream subscription. */
export interface NatsJetStreamOptions {
  /** The stream to read. */
  stream: string;
  /** Replay events stored at or after this time. */
  since?: Date;
  /** Replay the last this many stored events that match the filters. */
  last?: number;
  /**
   * A durable consumer that keeps its position across restarts. A new one
   * starts with the events published from its creation on, or from `since`
   * or `last` when given. An existing one resumes where it stopped.
   */
  durable?: string;
  /**
   * A durable consumer shared by every subscriber with this name: each
   * event goes to one of them.
   */
  group?: string;
}

export interface NatsSubscriberOptions {
  /**
   * `nats://HOST:PORT` of one or more servers of one NATS system, as
   * separate endpoints or separated by commas in one.
   */
  endpoints: readonly string[];
  /** Topic filters; an empty list receives every topic. */
  filters: readonly string[];
  /** Receives connection and readiness changes. */
  onStatus?: SubscriberStatusListener;
  /** Read from a JetStream stream instead of core NATS. */
  jetstream?: NatsJetStreamOptions;
}

/** Messages buffered before a JetStream consumer waits for the reader. */
const BUFFERED_MESSAGES = 256;

/**
 * Core NATS cannot be paused, so past this many unread messages new ones
 * are dropped; the subscriber then reports a gap in `sequence`.
 */
const MAX_BUFFERED_CORE_MESSAGES = 65_536;

/** Messages a member of a queue group fetches ahead, kept low to share work. */
const GROUP_PREFETCH = 16;

/** How long an unused replay consumer lives on the server, in milliseconds. */
const EPHEMERAL_INACTIVE_MS = 5000;

interface BufferedMessage {
  frames: Uint8Array[];
  /** A JetStream message to acknowledge once it is read. */
  toAcknowledge?: JsMsg;
}

const encoder = new TextEncoder();

/**
 * Receives from NATS. Each topic filter becomes two subscriptions, `topic`
 * and `topic.>`, so the whole-token semantics match ZeroMQ's. On core NATS
 * the subscription is live once the server has replied to a flush after the
 * SUB commands, and `live` is reported confirmed then. With JetStream, one
 * pull consumer per subject reads the stream. Durable and group consumers
 * acknowledge each message when it is read, and return unread ones on close.
 */
export class NatsSubscriberTransport implements SubscriberTransport {
  /** The endpoints as given, joined by commas, as status reports name them. */
  readonly #endpoint: string;
  readonly #servers: string[];
  readonly #subjects: string[];
  readonly #jetstreamOptions: NatsJetStreamOptions | undefined;
  readonly #onStatus: SubscriberStatusListener;
  readonly #messages: BufferedMessage[] = [];
  readonly #stoppers: (() => Promise<unknown>)[] = [];
  #connection: NatsConnection | undefined;
  #wake: (() => void) | undefined;
  #resume: (() => void) | undefined;
  /**
   * Whether `live` has been reported. Messages that arrive earlier, as the
   * first stored events of a replay do, wait until then, so that a run that
   * ends within a replay has been live and the ready line comes first.
   */
  #isLive = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(options: NatsSubscriberOptions, servers: string[]) {
    this.#endpoint = options.endpoints.join(',');
    this.#servers = servers;
    this.#subjects = filtersToSubjects(options.filters);
    this.#jetstreamOptions = options.jetstream;
    this.#onStatus = options.onStatus ?? (() => undefined);
  }

  /**
   * Checks the options and starts connecting; the connection and the
   * subscriptions are reported to `onStatus`. Throws
   * {@link InvalidNatsEndpointError} for a malformed endpoint and
   * {@link StreamConfigError} for an invalid stream or consumer name.
   */
  static open(options: NatsSubscriberOptions): NatsSubscriberTransport {
    const servers = options.endpoints.flatMap(parseNatsServers);
    const replay = options.jetstream;
    if (replay !== undefined) {
      assertJetStreamName('stream', replay.stream);
      for (const [kind, name] of [
        ['durable consumer', replay.durable],
        ['group', replay.group],
      ] as const) {
        if (name !== undefined) {
          assertJetStreamName(kind, name);
        }
      }
    }
    const transport = new NatsSubscriberTransport(options, servers);
    void transport.#start();

    return transport;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array[]> {
    while (true) {
      const message = this.#isLive ? this.#messages.shift() : undefined;
      if (message !== undefined) {
        // NOTE: the acknowledgement goes out when the message is read, before
        // the caller handles it, so a crash in between loses that message.
        message.toAcknowledge?.ack();
        this.#resume?.();
        yield message.frames;
        continue;
      }
      if (this.#closed) {
        return;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();

    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#wakeReader();
    this.#resume?.();
    // Unread JetStream messages go back to the consumer at once, rather
    // than after its acknowledgement wait.
    for (const message of this.#messages.splice(0)) {
      message.toAcknowledge?.nak();
    }
    await Promise.allSettled(this.#stoppers.map((stop) => stop()));
    const connection = this.#connection;
    if (connection !== undefined && !connection.isClosed()) {
      await connection.flush().catch(() => undefined);
      await connection.close();
    }
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

  async #start(): Promise<void> {
    try {
      const connection = await this.#connect();
      this.#connection = connection;
      if (this.#closed) {
        await connection.close();
        return;
      }
      void this.#watchStatus(connection);
      this.#report({ kind: 'connected', endpoint: this.#endpoint });
      if (this.#jetstreamOptions === undefined) {
        this.#subscribeCore(connection);
      } else {
        await this.#consumeStream(connection, this.#jetstreamOptions);
      }
      await connection.flush();
      this.#report({ kind: 'live', endpoint: this.#endpoint, confirmed: true });
      this.#isLive = true;
      this.#wakeReader();
    } catch (error) {
      if (!this.#closed) {
        this.#report({
          kind: 'warning',
          endpoint: this.#endpoint,
          message: (error as Error).message,
        });
        await this.close();
      }
    }
  }

  /**
   * Connects to the first server that accepts. When the first attempt
   * reaches no server, a warning names the endpoint and the reason. The
   * client then retries until a server accepts, as a ZeroMQ subscriber does
   * for a publisher that is not up yet.
   */
  async #connect(): Promise<NatsConnection> {
    const options = {
      servers: this.#servers,
      name: 'zsub',
      maxReconnectAttempts: -1,
      reconnectTimeWait: RECONNECT_WAIT_MS,
    };
    try {
      // NOTE: in this first attempt the client removes each server that
      // fails from its list. After it connects to a later server of a list,
      // it tries those again only once the cluster announces them.
      return await connect({ ...options, timeout: CONNECT_TIMEOUT_MS });
    } catch (error) {
      if (this.#closed) {
        throw error;
      }
      this.#report({
        kind: 'warning',
        endpoint: this.#endpoint,
        message: `cannot connect to ${this.#endpoint}: ${describeConnectError(error)}; retrying`,
      });
    }

    // NOTE: the client cannot cancel a first connection that is still
    // waiting for a server, so closing before then leaves its retry timer
    // running until a server accepts.
    return connect({ ...options, waitOnFirstConnect: true });
  }

  async #watchStatus(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (status.type === 'disconnect') {
        this.#report({ kind: 'disconnected', endpoint: this.#endpoint });
      } else if (status.type === 'reconnect') {
        // The client sends its subscriptions again on reconnect; the flush
        // returns once the server has them.
        await connection.flush().catch(() => undefined);
        this.#report({
          kind: 'live',
          endpoint: this.#endpoint,
          confirmed: true,
        });
      }
    }
  }

  #subscribeCore(connection: NatsConnection): void {
    for (const subject of this.#subjects) {
      connection.subscribe(subject, {
        callback: (error, message) => {
          if (error !== null) {
            this.#report({
              kind: 'warning',
              endpoint: this.#endpoint,
              message: `subscription to ${subject} failed: ${error.message}`,
            });
            return;
          }
          if (this.#messages.length < MAX_BUFFERED_CORE_MESSAGES) {
            this.#push({
              frames: [encoder.encode(message.subject), message.data],
            });
          }
        },
      });
    }
  }

  async #consumeStream(
    connection: NatsConnection,
    options: NatsJetStreamOptions,
  ): Promise<void> {
    const manager = await jetstreamManager(connection);
    let streamSubjects: string[];
    try {
      streamSubjects = (await manager.streams.info(options.stream)).config
        .subjects;
    } catch (error) {
      if (isNotFound(error)) {
        throw new Error(
          `JetStream stream ${options.stream} not found on ${this.#endpoint}; start the server with --stream ${options.stream}, or pass the name of an existing stream with --stream`,
          { cause: error },
        );
      }
      throw error;
    }

    const subjects = consumerSubjects(this.#subjects, streamSubjects);
    if (subjects.length === 0) {
      throw new Error(
        `JetStream stream ${options.stream} stores none of the requested topics; it stores ${streamSubjects.join(', ')}`,
      );
    }
    const start = await this.#deliverPolicy(manager, options, subjects);
    const durableName = options.durable ?? options.group;
    const client = jetstream(connection);
    for (const [index, subject] of subjects.entries()) {
      const config: Partial<ConsumerConfig> = {
        ...start,
        ...(subject === '>' ? {} : { filter_subject: subject }),
      };
      let name: string;
      if (durableName === undefined) {
        const info = await manager.consumers.add(options.stream, {
          ...config,
          ack_policy: AckPolicy.None,
          inactive_threshold: nanos(EPHEMERAL_INACTIVE_MS),
          mem_storage: true,
        });
        name = info.name;
      } else {
        name =
          subjects.length === 1 ? durableName : `${durableName}-${index + 1}`;
        await ensureDurable(manager, options.stream, name, {
          ...config,
          durable_name: name,
          ack_policy: AckPolicy.Explicit,
        });
      }
      const consumer = await client.consumers.get(options.stream, name);
      const messages = await consumer.consume({
        max_messages:
          options.group === undefined ? BUFFERED_MESSAGES : GROUP_PREFETCH,
      });
      this.#stoppers.push(() => messages.close());
      void this.#readConsumer(messages, durableName !== undefined);
    }
  }

  async #deliverPolicy(
    manager: JetStreamManager,
    options: NatsJetStreamOptions,
    subjects: readonly string[],
  ): Promise<Partial<ConsumerConfig>> {
    if (options.since !== undefined) {
      return {
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: options.since.toISOString(),
      };
    }
    if (options.last !== undefined) {
      const sequence = await startSequenceOfLast(
        manager,
        options.stream,
        subjects,
        options.last,
      );
      return {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: sequence,
      };
    }

    return { deliver_policy: DeliverPolicy.New };
  }

  async #readConsumer(
    messages: AsyncIterable<JsMsg>,
    acknowledge: boolean,
  ): Promise<void> {
    try {
      for await (const message of messages) {
        if (this.#closed) {
          if (acknowledge) {
            message.nak();
          }
          continue;
        }
        this.#push({
          frames: [encoder.encode(message.subject), message.data],
          ...(acknowledge ? { toAcknowledge: message } : {}),
        });
        if (this.#messages.length >= BUFFERED_MESSAGES) {
          await new Promise<void>((resolve) => (this.#resume = resolve));
          this.#resume = undefined;
        }
      }
    } catch (error) {
      this.#report({
        kind: 'warning',
        endpoint: this.#endpoint,
        message: `JetStream consumer failed: ${(error as Error).message}`,
      });
    }
  }

  #push(message: BufferedMessage): void {
    this.#messages.push(message);
    this.#wakeReader();
  }
}

/**
 * Creates a durable consumer, or checks that an existing one reads the same
 * subject, so that a changed filter is reported rather than ignored.
 */
async function ensureDurable(
  manager: JetStreamManager,
  stream: string,
  name: string,
  config: Partial<ConsumerConfig>,
): Promise<void> {
  try {
    const existing = await manager.consumers.info(stream, name);
    const existingFilter = existing.config.filter_subject ?? '';
    const wantedFilter = config.filter_subject ?? '';
    if (existingFilter !== wantedFilter) {
      throw new Error(
        `durable consumer ${name} of stream ${stream} reads ${JSON.stringify(existingFilter || '>')}, not ${JSON.stringify(wantedFilter || '>')}; use another name for other topics`,
      );
    }
    return;
  } catch (error) {
    if (!isNotFound(error)) {
      throw error;
    }
  }
  await manager.consumers.add(stream, config);
}

/**
 * Returns the filter subjects of the consumers for a subscription's
 * subjects. NATS servers before 2.10 reject a consumer whose filter the
 * stream's subjects do not cover, so a subject the stream covers is kept, a
 * broader one is narrowed to the stream subjects it covers, and one that no
 * stream subject overlaps is dropped. `>` stands for the whole stream.
 */
export function consumerSubjects(
  subjects: readonly string[],
  streamSubjects: readonly string[],
): string[] {
  if (subjects.includes('>')) {
    return ['>'];
  }
  const result = new Set<string>();
  for (const subject of subjects) {
    if (streamSubjects.some((pattern) => patternCovers(pattern, subject))) {
      result.add(subject);
      continue;
    }
    for (const pattern of streamSubjects) {
      if (patternCovers(subject, pattern)) {
        result.add(pattern);
      }
    }
  }

  return [...result];
}

/**
 * Returns the reason of a failed connection attempt, with the system error
 * code when there is one, as in "connection refused (ECONNREFUSED)".
 */
function describeConnectError(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  const code = (error.cause as { code?: unknown } | undefined)?.code;

  return typeof code === 'string' && !error.message.includes(code)
    ? `${error.message} (${code})`
    : error.message;
}
