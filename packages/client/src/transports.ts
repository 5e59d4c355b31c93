import type {
  PublisherTransport,
  SubscriberStatusListener,
  SubscriberTransport,
} from '@zpub/protocol';
import {
  ZmqPublisherTransport,
  ZmqSubscriberTransport,
  type ZmqCurveClientOptions,
  type ZmqCurveServerOptions,
} from '@zpub/zeromq';
import { InvalidEndpointError } from '@zpub/zeromq';

export interface OpenPublisherOptions {
  mode: 'bind' | 'connect';
  helloPayload: string;
  onError: (error: Error) => void;
  curve?: ZmqCurveServerOptions;
}

/** Opens the publisher transport that the endpoint's scheme names. */
export async function openPublisherTransport(
  endpoint: string,
  options: OpenPublisherOptions,
): Promise<PublisherTransport> {
  const scheme = schemeOf(endpoint);
  if (scheme === 'tcp' || scheme === 'ipc' || scheme === 'inproc') {
    return ZmqPublisherTransport.open(endpoint, options);
  }

  throw unsupportedScheme(endpoint);
}

export interface OpenSubscriberOptions {
  endpoints: readonly string[];
  filters: readonly string[];
  receiveHighWaterMark?: number;
  onStatus: SubscriberStatusListener;
  curve?: ZmqCurveClientOptions;
}

/** Opens the subscriber transport that the endpoints' scheme names. */
export function openSubscriberTransport(
  options: OpenSubscriberOptions,
): SubscriberTransport {
  const schemes = new Set(options.endpoints.map(schemeOf));
  if (
    [...schemes].every((scheme) => ['tcp', 'ipc', 'inproc'].includes(scheme))
  ) {
    return ZmqSubscriberTransport.open(options);
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
    'the scheme must be tcp://, ipc:// or inproc://',
  );
}
