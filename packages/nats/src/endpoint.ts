import { isIP } from 'node:net';
import { InvalidEndpointError } from '@zpub/protocol';

const NATS_ENDPOINT = /^nats:\/\/(\[[^\]]*\]|[^:/[\]@]+)(?::([0-9]{1,5}))?$/;

/** The port of a NATS endpoint that names none. */
export const DEFAULT_NATS_PORT = 4222;

/**
 * Checks an endpoint that lists one or more servers of one NATS system,
 * separated by commas as in `nats://a:4222,nats://b:4222`, and returns
 * them as the client's server entries. The client moves to another server
 * of the list when one goes away.
 */
export function parseNatsServers(endpoint: string): string[] {
  return endpoint.split(',').map((part) => parseNatsEndpoint(part.trim()));
}

/** Returns true for an endpoint that names the NATS transport. */
export function isNatsEndpoint(endpoint: string): boolean {
  return endpoint.startsWith('nats://');
}

/**
 * Checks one `nats://HOST[:PORT]` endpoint and returns it as the client's
 * server entry, `HOST:PORT`. Credentials in the URL are rejected, so that
 * they never appear in logs or `source`.
 */
export function parseNatsEndpoint(endpoint: string): string {
  if (endpoint.includes('@')) {
    throw new InvalidEndpointError(
      endpoint,
      'credentials in the URL are not supported; use a NATS server without authentication or a local leaf node',
    );
  }
  const match = NATS_ENDPOINT.exec(endpoint);
  if (match === null) {
    throw new InvalidEndpointError(
      endpoint,
      'expected nats://HOST:PORT, such as nats://127.0.0.1:4222',
    );
  }
  const [, host = '', portText] = match;
  const port = portText === undefined ? DEFAULT_NATS_PORT : Number(portText);
  if (port < 1 || port > 65535) {
    throw new InvalidEndpointError(
      endpoint,
      `port ${portText} is not a number from 1 to 65535`,
    );
  }
  if (host.startsWith('[') && isIP(host.slice(1, -1)) !== 6) {
    throw new InvalidEndpointError(
      endpoint,
      `${host} in brackets is not an IPv6 address`,
    );
  }

  return `${host}:${port}`;
}
