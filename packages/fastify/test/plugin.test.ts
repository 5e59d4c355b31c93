import Fastify, { type FastifyInstance } from 'fastify';
import { Publisher, subscribe } from '@zpub/client';
import { REQUEST_EVENT_TYPE, type RequestEventData } from '@zpub/protocol';
import { collect, type CollectorOf } from 'test-helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { REDACTED, zpub, type ZpubPluginOptions } from '../src/index.js';

type Collector = CollectorOf<typeof subscribe>;

const EPHEMERAL = 'tcp://127.0.0.1:0';
let app: FastifyInstance | undefined;
let collector: Collector | undefined;

afterEach(async () => {
  await collector?.subscription.close();
  await app?.close();
  collector = undefined;
  app = undefined;
});

async function start(
  options: ZpubPluginOptions = {},
  topics: string[] = [],
): Promise<{ app: FastifyInstance; collector: Collector }> {
  app = Fastify();
  await app.register(zpub, { endpoint: EPHEMERAL, ...options });
  app.get('/print/:number', (request, reply) => {
    const { number } = request.params as { number: string };
    reply.publish('number', { number: Number(number) });
    return `Number ${number}`;
  });
  app.get('/quiet', { config: { publish: false } }, () => 'quiet');
  app.get(
    '/custom',
    { config: { publish: { topic: 'audit.custom', data: { team: 'a' } } } },
    () => 'custom',
  );
  app.post('/echo', (request) => request.body);
  await app.ready();
  collector = await collect(subscribe, {
    endpoint: app.zpub.endpoint,
    topics,
  });

  return { app, collector };
}

describe('request events', () => {
  it('publishes one event per request with the fields', async () => {
    const { app, collector } = await start({}, ['http']);

    const response = await app.inject({
      url: '/print/7?verbose=1',
      headers: { 'user-agent': 'test-agent' },
    });
    const [event] = await collector.take(1);

    expect(response.statusCode).toBe(200);
    expect(event?.type).toBe(REQUEST_EVENT_TYPE);
    expect(event?.topic).toBe('http.GET.print.:number');
    expect(event?.sequence).toBe('1');
    expect(event?.zpubinstance).toBe(app.zpub.instance);
    const data = event?.data as RequestEventData;
    expect(data.method).toBe('GET');
    expect(data.path).toBe('/print/7');
    expect(data.route).toBe('/print/:number');
    expect(data.params).toEqual({ number: '7' });
    expect(data.query).toEqual({ verbose: '1' });
    expect(data.status).toBe(200);
    expect(data.durationMs).toBeGreaterThanOrEqual(0);
    expect(data.requestId).toMatch(/^req-/);
    expect(data.userAgent).toBe('test-agent');
    expect(data.responseSize).toBe('Number 7'.length);
    expect(data.headers).toBeUndefined();
  });

  it('publishes 404s under _unmatched', async () => {
    const { app, collector } = await start({}, ['http']);

    await app.inject({ url: '/nowhere' });
    const [event] = await collector.take(1);

    expect(event?.topic).toBe('http.GET._unmatched');
    expect((event?.data as RequestEventData).status).toBe(404);
    expect((event?.data as RequestEventData).route).toBeUndefined();
  });

  it('skips routes with publish: false', async () => {
    const { app, collector } = await start({}, ['http']);

    await app.inject({ url: '/quiet' });
    await app.inject({ url: '/print/1' });
    const [event] = await collector.take(1);

    expect(event?.topic).toBe('http.GET.print.:number');
  });

  it('uses the topic and data from route config', async () => {
    const { app, collector } = await start({}, ['audit']);

    await app.inject({ url: '/custom' });
    const [event] = await collector.take(1);

    expect(event?.topic).toBe('audit.custom');
    expect((event?.data as { extra: unknown }).extra).toEqual({ team: 'a' });
  });

  it('copies opted-in headers and redacts secrets', async () => {
    const { app, collector } = await start({ headers: true }, ['http']);

    await app.inject({
      url: '/print/1',
      headers: {
        authorization: 'Bearer secret',
        cookie: 'session=secret',
        'proxy-authorization': 'Basic secret',
        'x-trace': 'abc',
      },
    });
    const [event] = await collector.take(1);
    const headers = (event?.data as RequestEventData).headers ?? {};

    expect(headers.authorization).toBe(REDACTED);
    expect(headers.cookie).toBe(REDACTED);
    expect(headers['proxy-authorization']).toBe(REDACTED);
    expect(headers['x-trace']).toBe('abc');
    expect(JSON.stringify(event)).not.toContain('secret');
  });

  it('copies only the named headers', async () => {
    const { app, collector } = await start({ headers: ['X-Trace'] }, ['http']);

    await app.inject({
      url: '/print/1',
      headers: { 'x-trace': 'abc', 'x-other': 'no' },
    });
    const [event] = await collector.take(1);

    expect((event?.data as RequestEventData).headers).toEqual({
      'x-trace': 'abc',
    });
  });

  it('records the request body size', async () => {
    const { app, collector } = await start({}, ['http']);

    await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
    const [event] = await collector.take(1);

    expect((event?.data as RequestEventData).requestSize).toBe(7);
  });

  it('counts sequences per topic', async () => {
    const { app, collector } = await start();

    await app.inject({ url: '/print/1' });
    await app.inject({ url: '/print/2' });
    const events = await collector.take(4);
    const byTopic = (topic: string) =>
      events
        .filter((event) => event.topic === topic)
        .map((event) => event.sequence);

    expect(byTopic('number')).toEqual(['1', '2']);
    expect(byTopic('http.GET.print.:number')).toEqual(['1', '2']);
  });
});

describe('reply.publish', () => {
  it('publishes custom messages', async () => {
    const { app, collector } = await start({}, ['number']);

    await app.inject({ url: '/print/3' });
    const [event] = await collector.take(1);

    expect(event?.topic).toBe('number');
    expect(event?.data).toEqual({ number: 3 });
  });

  it('never fails the request on an invalid topic', async () => {
    app = Fastify();
    await app.register(zpub, { endpoint: EPHEMERAL });
    app.get('/bad', (_request, reply) => {
      const published = reply.publish('not a topic', {});
      return { published };
    });

    const response = await app.inject({ url: '/bad' });

    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ published: false });
  });

  it('never fails the request on data JSON cannot encode', async () => {
    app = Fastify();
    await app.register(zpub, { endpoint: EPHEMERAL });
    app.get('/bigint', (_request, reply) => ({
      published: reply.publish('number', { big: 1n }),
    }));

    const response = await app.inject({ url: '/bigint' });

    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ published: false });
  });
});

describe('counters', () => {
  it('counts published events', async () => {
    const { app, collector } = await start();

    await app.inject({ url: '/print/1' });
    await collector.take(2);

    expect(app.zpub.stats).toEqual({
      published: 2,
      unrouted: 0,
      dropped: 0,
      sendErrors: 0,
      queueDepth: 0,
    });
  });

  it('counts request events nobody subscribed to', async () => {
    const { app, collector } = await start({}, ['number']);

    for (let index = 0; index < 100; index++) {
      await app.inject({ url: '/quiet-route-that-is-missing' });
    }
    await app.inject({ url: '/print/1' });
    await collector.take(1);
    await expect.poll(() => app.zpub.stats.published).toBe(102);

    // 100 request events for the 404s and one for /print/1 went to no
    // subscriber; only the number event matched the filter.
    expect(app.zpub.stats.unrouted).toBe(101);
  });

  it('drops and counts events past the queue bound', async () => {
    app = Fastify();
    await app.register(zpub, { endpoint: EPHEMERAL, maxQueue: 3 });
    app.get('/burst', (_request, reply) => {
      for (let index = 0; index < 10; index++) {
        reply.publish('number', { number: index });
      }
      return 'ok';
    });

    const response = await app.inject({ url: '/burst' });

    // 3 of the 10 messages fit; the request event finds the queue full too.
    expect(response.statusCode).toBe(200);
    expect(app.zpub.stats.dropped).toBe(8);
  });
});

describe('startup', () => {
  it('fails ready when the port is in use', async () => {
    const holder = await Publisher.open({ endpoint: EPHEMERAL });
    app = Fastify();
    void app.register(zpub, { endpoint: holder.endpoint });

    await expect(app.ready()).rejects.toThrow(/Address already in use/);
    await holder.close();
  });

  it('fails ready for a host name in a bind endpoint', async () => {
    app = Fastify();
    void app.register(zpub, { endpoint: 'tcp://localhost:5555' });

    await expect(app.ready()).rejects.toThrow(/use an IP address/);
  });

  it.each([
    [{ headers: 'yes' }, 'headers must be false, true or an array', "'yes'"],
    [
      { headers: ['accept', 1] },
      'headers must be false, true',
      "[ 'accept', 1 ]",
    ],
    [{ headers: null }, 'headers must be false, true', 'got null'],
    [{ requestEvents: 'no' }, 'requestEvents must be true or false', "'no'"],
    [{ source: '' }, 'source must be a non-blank string', "got ''"],
    [{ source: '   ' }, 'source must be a non-blank string', "got '   '"],
    [{ mode: 'connnect' }, "mode must be 'bind' or 'connect'", "'connnect'"],
    [{ mode: 'Bind' }, "mode must be 'bind' or 'connect'", "'Bind'"],
    [
      { stream: { name: 'ZPUB' } },
      'stream needs a nats:// endpoint',
      `"${EPHEMERAL}"`,
    ],
  ])('fails ready for %o', async (options, rule, value) => {
    app = Fastify();
    void app.register(zpub, {
      endpoint: EPHEMERAL,
      ...(options as ZpubPluginOptions),
    });

    const error: unknown = await app.ready().then(
      () => undefined,
      (reason: unknown) => reason,
    );

    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(rule);
    expect((error as Error).message).toContain(value);
  });

  it('rejects an invalid route topic when the route is added', async () => {
    app = Fastify();
    await app.register(zpub, { endpoint: EPHEMERAL });
    const instance = app;

    expect(() =>
      instance.get(
        '/x',
        { config: { publish: { topic: 'bad topic' } } },
        () => 'x',
      ),
    ).toThrow(/invalid topic "bad topic"/);
  });

  it('resolves the endpoint to the bound port', async () => {
    app = Fastify();
    await app.register(zpub, { endpoint: EPHEMERAL });

    expect(app.zpub.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
  });
});
