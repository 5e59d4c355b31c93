import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import {
  buildRequestData,
  serializeRequestData,
  type RequestEventDataWithExtra,
} from '../src/request-event.js';

const ODD = [
  '',
  'quote " backslash \\ slash /',
  'controls \u0000\u0007\b\f\n\r\t\u001f',
  'separators \u2028\u2029',
  'surrogates \ud83d alone \ude00 and 😀',
  'latin é and cjk 漢字',
  'long '.repeat(600),
];

const BASE: RequestEventDataWithExtra = {
  method: 'GET',
  path: '/print/7',
  route: '/print/:number',
  params: { number: 7 },
  query: {},
  status: 200,
  durationMs: 0.123,
  requestId: 'req-1',
  clientAddress: '127.0.0.1',
};

const CASES: RequestEventDataWithExtra[] = [
  BASE,
  { ...BASE, route: undefined, clientAddress: undefined },
  { ...BASE, userAgent: 'curl/8.0', requestSize: 0, responseSize: 12345 },
  { ...BASE, durationMs: 1e-7, status: 599 },
  { ...BASE, durationMs: 123456.789 },
  ...ODD.map((text) => ({
    ...BASE,
    method: text,
    path: text,
    route: text,
    requestId: text,
    clientAddress: text,
    userAgent: text,
  })),
  {
    ...BASE,
    params: Object.fromEntries(ODD.map((text, index) => [text, text + index])),
    query: { list: ['a', 'b', ODD[2]], nested: '{"a":1}', empty: '', n: -0 },
  },
  {
    ...BASE,
    headers: { accept: '*/*', 'x-many': ['1', '2'], odd: ODD[1] as string },
  },
  { ...BASE, extra: { team: 'a', deep: { list: [1, null, { x: ODD[4] }] } } },
  { ...BASE, extra: {} },
];

describe('serializeRequestData', () => {
  it('writes what JSON.stringify writes', () => {
    for (const data of CASES) {
      expect(serializeRequestData(data)).toBe(JSON.stringify(data));
    }
  });

  it('writes members in the order buildRequestData adds them', () => {
    const text = serializeRequestData({
      ...BASE,
      userAgent: 'ua',
      headers: { a: 'b' },
      extra: { c: 1 },
    });
    const keys = Object.keys(JSON.parse(text) as object);
    expect(keys).toEqual([
      'method',
      'path',
      'route',
      'params',
      'query',
      'status',
      'durationMs',
      'requestId',
      'clientAddress',
      'userAgent',
      'headers',
      'extra',
    ]);
  });
});

describe('buildRequestData', () => {
  it('serializes real requests like JSON.stringify', async () => {
    const app = Fastify();
    const texts: { compiled: string; standard: string }[] = [];
    app.addHook('onResponse', (request, reply, done) => {
      const data = buildRequestData(
        request,
        reply,
        true,
        request.routeOptions.url,
      );
      texts.push({
        compiled: serializeRequestData(data),
        standard: JSON.stringify(data),
      });
      done();
    });
    app.get('/items/:id', () => 'ok');
    app.post('/items', (request) => request.body);

    await app.inject({ url: '/items/a%22b?x=1&x=2&y=%E2%80%A8' });
    await app.inject({
      url: '/items/7',
      headers: { 'user-agent': ODD[1], 'x-odd': ODD[4] as string },
    });
    await app.inject({ method: 'POST', url: '/items', payload: { a: 1 } });
    await app.inject({ url: '/missing?q="' });
    await app.close();

    expect(texts).toHaveLength(4);
    for (const { compiled, standard } of texts) {
      expect(compiled).toBe(standard);
    }
  });
});
