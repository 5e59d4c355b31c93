import type { FastifyInstance } from 'fastify';
import { subscribe } from '@zpub/client';
import {
  REJECTED_REQUEST_TOPIC,
  type RejectedRequestData,
  type RequestEventData,
} from '@zpub/protocol';
import { collect, type CollectorOf } from 'test-helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';

type Collector = CollectorOf<typeof subscribe>;

let app: FastifyInstance | undefined;
let collector: Collector | undefined;

afterEach(async () => {
  await collector?.subscription.close();
  await app?.close();
});

async function start(topics: string[]): Promise<{
  app: FastifyInstance;
  collector: Collector;
}> {
  app = buildApp({ zpub: { endpoint: 'tcp://127.0.0.1:0' } });
  await app.ready();
  collector = await collect(subscribe, {
    endpoint: app.zpub.endpoint,
    topics,
  });

  return { app, collector };
}

/** Starts the app on a real HTTP port, where Node.js parses requests. */
async function listen(topics: string[]): Promise<{
  url: string;
  collector: Collector;
}> {
  const started = await start(topics);
  const url = await started.app.listen({ host: '127.0.0.1', port: 0 });

  return { url, collector: started.collector };
}

describe('server routes', () => {
  it('answers Hello World! on /', async () => {
    const { app } = await start([]);

    const response = await app.inject({ url: '/' });

    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('Hello World!');
  });

  it('prints the number and publishes it', async () => {
    const { app, collector } = await start(['number']);

    const response = await app.inject({ url: '/print/42' });
    const [event] = await collector.take(1);

    expect(response.body).toBe('Number 42');
    expect(event?.topic).toBe('number');
    expect(event?.data).toEqual({ number: 42 });
  });

  it('accepts a trailing slash', async () => {
    const { app, collector } = await start(['number']);

    const response = await app.inject({ url: '/print/5/' });
    const [event] = await collector.take(1);

    expect(response.body).toBe('Number 5');
    expect(event?.data).toEqual({ number: 5 });
  });

  it('answers 400 for a number that is not one', async () => {
    const { app, collector } = await start(['number', 'http']);

    const response = await app.inject({ url: '/print/abc' });
    await app.inject({ url: '/print/1' });
    const events = await collector.take(3);
    // Order holds per topic only, so compare each topic on its own.
    const numbers = events.filter((event) => event.topic === 'number');
    const requests = events
      .filter((event) => event.topic === 'http.GET.print.:number')
      .map((event) => event.data as RequestEventData);

    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json()).toMatchObject({ statusCode: 400 });
    expect(numbers.map((event) => event.data)).toEqual([{ number: 1 }]);
    expect(requests.map((data) => data.status)).toEqual([400, 200]);
    expect(requests[0]?.path).toBe('/print/abc');
  });

  it.each([
    ['a space', '%20'],
    ['a tab', '%09'],
    ['hexadecimal', '0x10'],
    ['binary', '0b11'],
    ['octal', '0o17'],
    ['an exponent', '1e3'],
    ['a fraction', '1.5'],
    ['a plus sign', '+5'],
    ['a leading space', '%205'],
    ['a trailing space', '5%20'],
    ['Infinity', 'Infinity'],
    ['beyond the safe range', '99999999999999999999'],
    ['just past the safe maximum', '9007199254740992'],
    ['just past the safe minimum', '-9007199254740992'],
  ])('answers 400 for %s', async (_, value) => {
    const { app, collector } = await start(['number']);

    const response = await app.inject({ url: `/print/${value}` });
    await app.inject({ url: '/print/1' });
    const [event] = await collector.take(1);

    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ statusCode: 400 });
    expect(event?.data).toEqual({ number: 1 });
  });

  it.each([
    ['0', 0],
    ['-5', -5],
    ['007', 7],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
    ['-9007199254740991', Number.MIN_SAFE_INTEGER],
  ])('accepts %s', async (value, expected) => {
    const { app, collector } = await start(['number']);

    const response = await app.inject({ url: `/print/${value}` });
    const [event] = await collector.take(1);

    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(`Number ${expected}`);
    expect(event?.data).toEqual({ number: expected });
  });
});

describe('server over HTTP', () => {
  it('publishes URLs the router rejects', async () => {
    const { url, collector } = await listen(['http']);
    const longPath = `/print/${'7'.repeat(200)}`;

    const badEncoding = await fetch(`${url}/print/%zz`);
    const longParam = await fetch(`${url}${longPath}`);
    const events = await collector.take(2);
    const requests = events.map((event) => event.data as RequestEventData);

    expect(badEncoding.status).toBe(400);
    expect(await badEncoding.json()).toMatchObject({ code: 'FST_ERR_BAD_URL' });
    expect(longParam.status).toBe(414);
    expect(events.map((event) => event.topic)).toEqual([
      'http.GET._unmatched',
      'http.GET._unmatched',
    ]);
    expect(requests.map((data) => data.status)).toEqual([400, 414]);
    expect(requests.map((data) => data.path)).toEqual(['/print/%zz', longPath]);
  });

  it('publishes a 64 KB URL as rejected', async () => {
    const { url, collector } = await listen(['http']);

    const response = await fetch(`${url}/print/1?q=${'a'.repeat(64 * 1024)}`);
    const [event] = await collector.take(1);
    const data = event?.data as RejectedRequestData;

    expect(response.status).toBe(431);
    expect(event?.topic).toBe(REJECTED_REQUEST_TOPIC);
    expect(data.status).toBe(431);
    expect(data.reason).toBe('HPE_HEADER_OVERFLOW');
  });
});
