import { rmSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  InvalidEndpointError,
  ZmqPublisherTransport,
  ZmqSubscriberTransport,
} from '../src/index.js';
import { StatusLog, asText, ipcEndpoint, takeMessages } from './helpers.js';

const encoder = new TextEncoder();

const BIND_HOSTS = [
  '*',
  '0.0.0.0',
  '127.0.0.1',
  '[::1]',
  '[::]',
  'localhost',
] as const;
const CONNECT_HOSTS = ['127.0.0.1', 'localhost', '[::1]'] as const;

/**
 * Which connect hosts reach a publisher bound to each host. A bind to `*`
 * or `[::]` listens on IPv4 and IPv6; `localhost` connects over IPv4,
 * because the socket's ipv6 option is set only for bracketed addresses.
 */
const REACHES: Record<(typeof BIND_HOSTS)[number], readonly string[]> = {
  '*': ['127.0.0.1', 'localhost', '[::1]'],
  '0.0.0.0': ['127.0.0.1', 'localhost'],
  '127.0.0.1': ['127.0.0.1', 'localhost'],
  '[::1]': ['[::1]'],
  '[::]': ['127.0.0.1', 'localhost', '[::1]'],
  localhost: [],
};

const PAIRS = BIND_HOSTS.flatMap((bindHost) =>
  CONNECT_HOSTS.map((connectHost) => ({
    bindHost,
    connectHost,
    delivers: REACHES[bindHost].includes(connectHost),
  })),
);

function portOf(endpoint: string): string {
  return endpoint.slice(endpoint.lastIndexOf(':') + 1);
}

function openSubscriber(
  endpoint: string,
  filters = ['number'],
): {
  subscriber: ZmqSubscriberTransport;
  log: StatusLog;
} {
  const log = new StatusLog();
  const subscriber = ZmqSubscriberTransport.open({
    endpoints: [endpoint],
    filters,
    onStatus: log.listener,
  });
  onTestFinished(() => subscriber.close());

  return { subscriber, log };
}

describe('address pairs', () => {
  it('bind to localhost fails at once with the fix', async () => {
    const error = await ZmqPublisherTransport.open('tcp://localhost:0').catch(
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(InvalidEndpointError);
    expect((error as Error).message).toBe(
      'invalid endpoint "tcp://localhost:0": cannot bind to the host name "localhost"; use an IP address such as 127.0.0.1 or [::1], or * for every interface',
    );
  });

  it.each(PAIRS.filter((pair) => pair.bindHost !== 'localhost'))(
    'bind $bindHost, connect $connectHost: delivers $delivers',
    async ({ bindHost, connectHost, delivers }) => {
      const publisher = await ZmqPublisherTransport.open(`tcp://${bindHost}:0`);
      onTestFinished(() => publisher.close(0));
      const endpoint = `tcp://${connectHost}:${portOf(publisher.endpoint)}`;
      const { subscriber, log } = openSubscriber(endpoint);

      if (delivers) {
        await log.next('live');
        await publisher.send({ topic: 'number', payload: encoder.encode('1') });
        const [frames] = await takeMessages(
          subscriber[Symbol.asyncIterator](),
          1,
        );
        expect(asText(frames ?? [])).toEqual(['number', '1']);
      } else {
        const warning = await log.next('warning');
        expect(warning.status).toEqual({
          kind: 'warning',
          endpoint,
          message: `cannot connect to ${endpoint}: nothing accepts connections there yet; retrying`,
        });
      }
    },
  );
});

describe('ipc endpoints', () => {
  it('deliver and reconnect like tcp', async () => {
    const endpoint = ipcEndpoint();
    onTestFinished(() =>
      rmSync(endpoint.slice('ipc://'.length), { force: true }),
    );
    const first = await ZmqPublisherTransport.open(endpoint);
    const { subscriber, log } = openSubscriber(endpoint);
    const iterator = subscriber[Symbol.asyncIterator]();
    await log.next('live');
    await first.send({ topic: 'number', payload: encoder.encode('1') });
    const [before] = await takeMessages(iterator, 1);
    await first.close(0);
    await log.next('disconnected');

    const second = await ZmqPublisherTransport.open(endpoint);
    onTestFinished(() => second.close(0));
    await log.next('live');
    await second.send({ topic: 'number', payload: encoder.encode('2') });
    const [after] = await takeMessages(iterator, 1);

    expect(asText(before ?? [])).toEqual(['number', '1']);
    expect(asText(after ?? [])).toEqual(['number', '2']);
  });
});

describe('hasSubscriber', () => {
  it('follows subscriptions and disconnects', async () => {
    const publisher = await ZmqPublisherTransport.open('tcp://127.0.0.1:0');
    onTestFinished(() => publisher.close(0));

    expect(publisher.hasSubscriber('number')).toBe(false);
    const { subscriber, log } = openSubscriber(publisher.endpoint);
    await log.next('live');

    expect(publisher.hasSubscriber('number')).toBe(true);
    expect(publisher.hasSubscriber('number.7')).toBe(true);
    expect(publisher.hasSubscriber('other')).toBe(false);

    const { log: secondLog } = openSubscriber(publisher.endpoint, ['oth']);
    await secondLog.next('live');
    expect(publisher.hasSubscriber('other')).toBe(true);

    await subscriber.close();
    // XPUB passes up the unsubscriptions of a closed subscriber once libzmq
    // has seen the connection end, a moment after close returns.
    await expect
      .poll(() => publisher.hasSubscriber('number'), { timeout: 5000 })
      .toBe(false);
  });
});
