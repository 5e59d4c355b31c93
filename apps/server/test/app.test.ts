import type { FastifyInstance } from 'fastify';
import { subscribe } from '@zpub/client';
import type { RequestEventData } from '@zpub/protocol';
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
});
