import { isIP } from 'node:net';
import { ZpubError } from '@zpub/protocol';

/** An endpoint that cannot be bound or connected, with the reason and fix. */
export class InvalidEndpointError extends ZpubError {
  override name = 'InvalidEndpointError';

  constructor(
    readonly endpoint: string,
    reason: string,
  ) {
    super(`invalid endpoint ${JSON.stringify(endpoint)}: ${reason}`);
  }
}

/** A bind or connect that libzmq rejected, with its error as `cause`. */
export class EndpointError extends ZpubError {
  override name = 'EndpointError';

  constructor(
    readonly endpoint: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An endpoint split into the parts zpub checks. */
export interface ParsedEndpoint {
  transport: 'tcp' | 'ipc' | 'inproc';
  /** Host part of a tcp endpoint, brackets removed. */
  host?: string;
  port?: string;
  /** True for a bracketed IPv6 host, which needs the socket's ipv6 option. */
  ipv6: boolean;
}

const TCP_ENDPOINT = /^tcp:\/\/(\[[^\]]*\]|[^:/[\]]*):([^:/]*)$/;
/** A tcp endpoint whose IPv6 host lacks brackets, split at the last colon. */
const UNBRACKETED_IPV6_ENDPOINT = /^tcp:\/\/([0-9A-Fa-f:.]+):([0-9]+)$/;

/**
 * Parses and checks a ZeroMQ endpoint. For `bind`, a tcp host must be an IP
 * address or `*` and the port a number from 0 to 65535 or `*`; libzmq reads a
 * host name there as a network interface name and fails with a vague error.
 */
export function parseEndpoint(
  endpoint: string,
  use: 'bind' | 'connect',
): ParsedEndpoint {
  if (endpoint.startsWith('ipc://') || endpoint.startsWith('inproc://')) {
    const transport = endpoint.startsWith('ipc://') ? 'ipc' : 'inproc';
    if (endpoint.length === `${transport}://`.length) {
      throw new InvalidEndpointError(
        endpoint,
        `a path must follow ${transport}://`,
      );
    }

    return { transport, ipv6: false };
  }

  const match = TCP_ENDPOINT.exec(endpoint);
  if (match === null) {
    // TCP_ENDPOINT allows no colon in a host without brackets, so an IPv6
    // address without brackets fails it and is recognized here.
    const unbracketed = UNBRACKETED_IPV6_ENDPOINT.exec(endpoint);
    if (unbracketed !== null && isIP(unbracketed[1] ?? '') === 6) {
      const [, host, port] = unbracketed;
      throw new InvalidEndpointError(
        endpoint,
        `put the IPv6 address in brackets: tcp://[${host}]:${port}`,
      );
    }
    throw new InvalidEndpointError(
      endpoint,
      'expected tcp://HOST:PORT, ipc://PATH or inproc://NAME',
    );
  }
  const [, rawHost = '', port = ''] = match;
  const bracketed = rawHost.startsWith('[');
  const host = bracketed ? rawHost.slice(1, -1) : rawHost;
  checkPort(endpoint, port, use);
  if (host === '') {
    throw new InvalidEndpointError(endpoint, 'the host is missing');
  }
  if (bracketed && isIP(host) !== 6) {
    throw new InvalidEndpointError(
      endpoint,
      `${JSON.stringify(host)} in brackets is not an IPv6 address`,
    );
  }
  if (use === 'connect' && host === '*') {
    throw new InvalidEndpointError(
      endpoint,
      'the host * is valid only for bind. Use the IP address or host name of the publisher',
    );
  }
  if (use === 'bind' && host !== '*' && isIP(host) === 0) {
    throw new InvalidEndpointError(
      endpoint,
      `cannot bind to the host name ${JSON.stringify(host)}; use an IP address such as 127.0.0.1 or [::1], or * for every interface`,
    );
  }

  return { transport: 'tcp', host, port, ipv6: bracketed };
}

function checkPort(
  endpoint: string,
  port: string,
  use: 'bind' | 'connect',
): void {
  if (use === 'bind' && port === '*') {
    return;
  }
  const valid = /^[0-9]{1,5}$/.test(port) && Number(port) <= 65535;
  if (!valid || (use === 'connect' && Number(port) === 0)) {
    const allowed = use === 'bind' ? '0 to 65535, or *' : '1 to 65535';
    throw new InvalidEndpointError(
      endpoint,
      `port ${JSON.stringify(port)} is not a number from ${allowed}`,
    );
  }
}

/**
 * Returns a bind endpoint with port 0 as `*`, which is how libzmq asks the
 * system for an ephemeral port.
 */
export function toLibzmqBindEndpoint(endpoint: string): string {
  return endpoint.replace(/:0$/, ':*');
}
