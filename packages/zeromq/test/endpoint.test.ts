import { describe, expect, it } from 'vitest';
import {
  InvalidEndpointError,
  ZmqPublisherTransport,
  ZmqSubscriberTransport,
  parseEndpoint,
  type ParsedEndpoint,
} from '../src/index.js';

const validEndpoints: [string, 'bind' | 'connect', ParsedEndpoint][] = [
  [
    'tcp://*:5555',
    'bind',
    { transport: 'tcp', host: '*', port: '5555', ipv6: false },
  ],
  [
    'tcp://*:*',
    'bind',
    { transport: 'tcp', host: '*', port: '*', ipv6: false },
  ],
  [
    'tcp://127.0.0.1:0',
    'bind',
    { transport: 'tcp', host: '127.0.0.1', port: '0', ipv6: false },
  ],
  [
    'tcp://0.0.0.0:65535',
    'bind',
    { transport: 'tcp', host: '0.0.0.0', port: '65535', ipv6: false },
  ],
  [
    'tcp://[::1]:0',
    'bind',
    { transport: 'tcp', host: '::1', port: '0', ipv6: true },
  ],
  [
    'tcp://127.0.0.1:5555',
    'connect',
    { transport: 'tcp', host: '127.0.0.1', port: '5555', ipv6: false },
  ],
  [
    'tcp://localhost:5555',
    'connect',
    { transport: 'tcp', host: 'localhost', port: '5555', ipv6: false },
  ],
  [
    'tcp://[::1]:5555',
    'connect',
    { transport: 'tcp', host: '::1', port: '5555', ipv6: true },
  ],
  ['ipc:///tmp/zpub.sock', 'bind', { transport: 'ipc', ipv6: false }],
  ['ipc:///tmp/zpub.sock', 'connect', { transport: 'ipc', ipv6: false }],
  ['inproc://events', 'bind', { transport: 'inproc', ipv6: false }],
  ['inproc://events', 'connect', { transport: 'inproc', ipv6: false }],
];

/** Endpoint, use, and a part of the expected error message. */
const invalidEndpoints: [string, 'bind' | 'connect', string][] = [
  [
    'tcp://localhost:5555',
    'bind',
    'cannot bind to the host name "localhost"; use an IP address such as 127.0.0.1 or [::1], or * for every interface',
  ],
  ['tcp://eth0:5555', 'bind', 'cannot bind to the host name "eth0"'],
  ['tcp://127.0.0.1', 'bind', 'expected tcp://HOST:PORT'],
  ['tcp://127.0.0.1', 'connect', 'expected tcp://HOST:PORT'],
  ['tcp://[::1]', 'connect', 'expected tcp://HOST:PORT'],
  ['tcp://127.0.0.1:', 'bind', 'port "" is not a number from 0 to 65535, or *'],
  [
    'tcp://127.0.0.1:70000',
    'bind',
    'port "70000" is not a number from 0 to 65535, or *',
  ],
  [
    'tcp://127.0.0.1:70000',
    'connect',
    'port "70000" is not a number from 1 to 65535',
  ],
  ['tcp://127.0.0.1:0', 'connect', 'port "0" is not a number from 1 to 65535'],
  ['tcp://127.0.0.1:*', 'connect', 'port "*" is not a number from 1 to 65535'],
  [
    'tcp://127.0.0.1:-1',
    'bind',
    'port "-1" is not a number from 0 to 65535, or *',
  ],
  [
    'tcp://::1:5555',
    'bind',
    'put the IPv6 address in brackets: tcp://[::1]:5555',
  ],
  [
    'tcp://::1:5555',
    'connect',
    'put the IPv6 address in brackets: tcp://[::1]:5555',
  ],
  [
    'tcp://[127.0.0.1]:5555',
    'connect',
    '"127.0.0.1" in brackets is not an IPv6 address',
  ],
  ['tcp://:5555', 'bind', 'the host is missing'],
  ['tcp://[]:5555', 'connect', 'the host is missing'],
  ['tcp://*:5555', 'connect', 'the host * is valid only for bind'],
  ['ipc://', 'bind', 'a path must follow ipc://'],
  ['inproc://', 'connect', 'a path must follow inproc://'],
  ['foo://x', 'bind', 'expected tcp://HOST:PORT, ipc://PATH or inproc://NAME'],
  ['127.0.0.1:5555', 'connect', 'expected tcp://HOST:PORT'],
  ['tcp://127.0.0.1:5555/path', 'connect', 'expected tcp://HOST:PORT'],
];

function errorOf(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }

  return undefined;
}

describe('parseEndpoint', () => {
  it.each(validEndpoints)('accepts %s for %s', (endpoint, use, expected) => {
    expect(parseEndpoint(endpoint, use)).toEqual(expected);
  });

  it.each(invalidEndpoints)(
    'rejects %s for %s',
    (endpoint, use, expectedMessage) => {
      const error = errorOf(() => parseEndpoint(endpoint, use));

      expect(error).toBeInstanceOf(InvalidEndpointError);
      expect((error as InvalidEndpointError).endpoint).toBe(endpoint);
      expect((error as Error).message).toContain(expectedMessage);
    },
  );
});

describe('transports with an invalid endpoint', () => {
  it('publisher rejects before binding', async () => {
    const opening = ZmqPublisherTransport.open('tcp://localhost:0');

    await expect(opening).rejects.toThrow(InvalidEndpointError);
  });

  it('publisher in connect mode rejects port 0', async () => {
    const opening = ZmqPublisherTransport.open('tcp://127.0.0.1:0', {
      mode: 'connect',
    });

    await expect(opening).rejects.toThrow(InvalidEndpointError);
  });

  it('subscriber throws for any invalid endpoint', () => {
    const error = errorOf(() =>
      ZmqSubscriberTransport.open({
        endpoints: ['tcp://127.0.0.1:5555', 'tcp://::1:5555'],
        filters: [],
      }),
    );

    expect(error).toBeInstanceOf(InvalidEndpointError);
    expect((error as InvalidEndpointError).endpoint).toBe('tcp://::1:5555');
  });
});
