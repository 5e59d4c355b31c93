import {
  InvalidEndpointError,
  type PublisherTransport,
  type SubscriberStatusListener,
  type SubscriberTransport,
} from '@zpub/protocol';
import {
  NatsPublisherTransport,
  NatsSubscriberTransport,
  type NatsConnectionChange,
  type NatsJetStreamOptions,
  type NatsStreamOptions,
} from '@zpub/nats';
import {
  CurveConfigError,
  ZmqPublisherTransport,
  type HandshakeFailure,
  ZmqSubscriberTransport,
  type ZmqCurveClientOptions,
  type ZmqCurveServerOptions,
} from '@zpub/zeromq';

const ZMQ_SCHEMES: readonly string[] = ['tcp', 'ipc', 'inproc'];

export interface OpenPublisherOptions {
  mode: 'bind' | 'connect';
  helloPayload: string;
  onError: (error: Error) => void;
  curve?: ZmqCurveServerOptions | ZmqCurveClientOptions;
  onHandshakeFailed?: (failure: HandshakeFailure) => void;
  /** JetStream stream; only for `nats://` endpoints. */
  stream?: NatsStreamOptions;
  ackTimeoutMs?: number;
  onConnectionChange?: (change: NatsConnectionChange) => void;
}

/** Opens the publisher transport that the endpoint's scheme names. */
export async function openPublisherTransport(
  endpoint: string,
  options: OpenPublisherOptions,
): Promise<PublisherTransport> {
  const scheme = schemeOf(endpoint);
  if (ZMQ_SCHEMES.includes(scheme)) {
    if (options.stream !== undefined) {
      throw new TypeError(
        `stream needs a nats:// endpoint, but endpoint is ${JSON.stringify(endpoint)}. Publish to a NATS server or leave stream out.`,
      );
    }
    return ZmqPublisherTransport.open(endpoint, options);
  }
  if (scheme === 'nats') {
    rejectCurveOverNats(options.curve);
    // NATS clients always connect to the server, so `mode` does not apply.
    return NatsPublisherTransport.open(endpoint, options);
  }

  throw unsupportedScheme(endpoint);
}

export interface OpenSubscriberOptions {
  endpoints: readonly string[];
  filters: readonly string[];
  receiveHighWaterMark?: number;
  onStatus: SubscriberStatusListener;
  curve?: ZmqCurveClientOptions;
  /** Read a JetStream stream; only for `nats://` endpoints. */
  jetstream?: NatsJetStreamOptions;
}

/**
 * Opens the subscriber transport that the endpoints' scheme names. Several
 * ZeroMQ endpoints get one socket each: a SUB socket sends every
 * subscription to every connection, so with one socket the hello reply of
 * one publisher would also confirm the connection to another. Several NATS
 * endpoints are servers of one system and share one connection.
 */
export function openSubscriberTransport(
  options: OpenSubscriberOptions,
): SubscriberTransport {
  const schemes = new Set(options.endpoints.map(schemeOf));
  if ([...schemes].every((scheme) => scheme === 'nats')) {
    // The endpoints are servers of one NATS system, reached over one
    // connection.
    rejectCurveOverNats(options.curve);
    return NatsSubscriberTransport.open(options);
  }
  if (schemes.has('nats')) {
    throw new InvalidEndpointError(
      options.endpoints.join(', '),
      'nats:// endpoints cannot be mixed with ZeroMQ endpoints',
    );
  }
  if (![...schemes].every((scheme) => ZMQ_SCHEMES.includes(scheme))) {
    throw unsupportedScheme(options.endpoints.join(', '));
  }
  if (options.jetstream !== undefined) {
    throw new InvalidEndpointError(
      options.endpoints.join(', '),
      'replay, durable consumers and groups need a nats:// endpoint',
    );
  }
  if (options.endpoints.length <= 1) {
    return ZmqSubscriberTransport.open(options);
  }

  const transports: SubscriberTransport[] = [];
  try {
    for (const endpoint of options.endpoints) {
      transports.push(
        ZmqSubscriberTransport.open({ ...options, endpoints: [endpoint] }),
      );
    }
  } catch (error) {
    for (const transport of transports) {
      void transport.close();
    }
    throw error;
  }

  return new MergedSubscriberTransport(transports);
}

/**
 * Yields the messages of several transports as they arrive, in order within
 * each transport, until every one of them has ended.
 */
class MergedSubscriberTransport implements SubscriberTransport {
  readonly #transports: readonly SubscriberTransport[];

  constructor(transports: readonly SubscriberTransport[]) {
    this.#transports = transports;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array[]> {
    const iterators = this.#transports.map((transport) =>
      transport[Symbol.asyncIterator](),
    );
    type Next = { index: number; result: IteratorResult<Uint8Array[]> };
    const pending = new Map<number, Promise<Next>>();
    const pull = (index: number): void => {
      const iterator = iterators[index];
      if (iterator !== undefined) {
        pending.set(
          index,
          iterator.next().then((result) => ({ index, result })),
        );
      }
    };
    iterators.forEach((_, index) => pull(index));

    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      pending.delete(index);
      if (result.done !== true) {
        // Pulled again at the end of the map, so that a busy transport
        // takes turns with the others.
        pull(index);
        yield result.value;
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#transports.map((transport) => transport.close()));
  }
}

/**
 * Throws for CURVE options with a NATS endpoint, so that no one believes a
 * NATS connection is encrypted by them.
 */
function rejectCurveOverNats(curve: object | undefined): void {
  if (curve !== undefined) {
    throw new CurveConfigError(
      "CURVE keys apply to ZeroMQ endpoints only; a nats:// endpoint uses the NATS server's TLS and credentials",
    );
  }
}

function schemeOf(endpoint: string): string {
  const index = endpoint.indexOf('://');

  return index === -1 ? '' : endpoint.slice(0, index);
}

function unsupportedScheme(endpoint: string): InvalidEndpointError {
  return new InvalidEndpointError(
    endpoint,
    'the scheme must be tcp://, ipc://, inproc:// or nats://',
  );
}
