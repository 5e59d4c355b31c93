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
import { ZmqPublisherTransport, ZmqSubscriberTransport } from '@zpub/zeromq';

const ZMQ_SCHEMES: readonly string[] = ['tcp', 'ipc', 'inproc'];

export interface OpenPublisherOptions {
  mode: 'bind' | 'connect';
  helloPayload: string;
  onError: (error: Error) => void;
  /** JetStream stream for `nats://` endpoints; ignored by ZeroMQ. */
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
    return ZmqPublisherTransport.open(endpoint, options);
  }
  if (scheme === 'nats') {
    // NATS clients always connect to the server, so `mode` does not apply.
    return NatsPublisherTransport.open(endpoint, {
      ...(options.stream === undefined ? {} : { stream: options.stream }),
      ...(options.ackTimeoutMs === undefined
        ? {}
        : { ackTimeoutMs: options.ackTimeoutMs }),
      ...(options.onConnectionChange === undefined
        ? {}
        : { onConnectionChange: options.onConnectionChange }),
    });
  }

  throw unsupportedScheme(endpoint);
}

export interface OpenSubscriberOptions {
  endpoints: readonly string[];
  filters: readonly string[];
  receiveHighWaterMark?: number;
  onStatus: SubscriberStatusListener;
  /** Read a JetStream stream; only for `nats://` endpoints. */
  jetstream?: NatsJetStreamOptions;
}

/** Opens the subscriber transport that the endpoints' scheme names. */
export function openSubscriberTransport(
  options: OpenSubscriberOptions,
): SubscriberTransport {
  const schemes = new Set(options.endpoints.map(schemeOf));
  if ([...schemes].every((scheme) => ZMQ_SCHEMES.includes(scheme))) {
    if (options.jetstream !== undefined) {
      throw new InvalidEndpointError(
        options.endpoints.join(', '),
        'replay, durable consumers and groups need a nats:// endpoint',
      );
    }
    return ZmqSubscriberTransport.open(options);
  }
  if ([...schemes].every((scheme) => scheme === 'nats')) {
    return NatsSubscriberTransport.open(options);
  }
  if (schemes.has('nats')) {
    throw new InvalidEndpointError(
      options.endpoints.join(', '),
      'nats:// endpoints cannot be mixed with ZeroMQ endpoints',
    );
  }

  throw unsupportedScheme(options.endpoints.join(', '));
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
