import type { Server } from 'node:http';
import Fastify, {
  type FastifyHttpOptions,
  type FastifyInstance,
} from 'fastify';
import { subscribe } from '@zpub/client';
import {
  REJECTED_REQUEST_EVENT_TYPE,
  REJECTED_REQUEST_TOPIC,
  type RejectedRequestData,
  type RequestEventData,
  type ZpubEvent,
} from '@zpub/protocol';
import { collect, type CollectorOf } from 'test-helpers';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_ENTRIES,
  MAX_FIELD_LENGTH,
  MAX_SECTION_LENGTH,
  zpub,
  zpubFrameworkErrors,
  type ZpubPluginOptions,
} from '../src/index.js';
import { RawConnection, exchange, statusLine } from './helpers.js';

type Collector = CollectorOf<typeof subscribe>;

const BODY_LIMIT = 1024;
const LONG_URL = `/?q=${'a'.repeat(64 * 1024)}`;
const LARGE_HEADERS = Array.from(
  { length: 1000 },
  (_, index) => `x-h${index}: ${'v'.repeat(20)}\r\n`,
).join('');
/** Fastify's default response to a request line and headers over the limit. */
const HEADER_OVERFLOW_BODY =
  '{"error":"Request Header Fields Too Large","message":"Exceeded maximum allowed HTTP header size","statusCode":431}';
const CLIENT_ERROR_BODY =
  '{"error":"Bad Request","message":"Client Error","statusCode":400}';

const apps: FastifyInstance[] = [];
let collector: Collector | undefined;

afterEach(async () => {
  await collector?.subscription.close();
  collector = undefined;
  for (const app of apps.splice(0)) {
    await app.close();
  }
});

/**
 * Starts an app on a real HTTP port, with every header in request events,
 * and subscribes to all of its events.
 */
async function start(
  serverOptions: FastifyHttpOptions<Server> = {},
  pluginOptions: ZpubPluginOptions = {},
): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ bodyLimit: BODY_LIMIT, ...serverOptions });
  apps.push(app);
  await app.register(zpub, {
    endpoint: 'tcp://127.0.0.1:0',
    headers: true,
    ...pluginOptions,
  });
  app.post('/jobs', (request, reply) => {
    reply.publish('jobs.created', { body: request.body });
    return { queued: true };
  });
  addRoutes(app);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  collector = await collect(subscribe, { endpoint: app.zpub.endpoint });

  return { app, url };
}

/** Starts an app with the same routes and no zpub, as a reference. */
async function startPlain(): Promise<string> {
  const app = Fastify({ bodyLimit: BODY_LIMIT });
  apps.push(app);
  addRoutes(app);

  return app.listen({ host: '127.0.0.1', port: 0 });
}

function addRoutes(app: FastifyInstance): void {
  app.get(
    '/print/:number',
    {
      schema: {
        params: {
          type: 'object',
          properties: { number: { type: 'integer' } },
        },
      },
    },
    (request) => request.params,
  );
  app.get('/', () => 'ok');
}

/**
 * Publishes a marker and returns every event before it, so a test can
 * check that an event was not published.
 */
async function eventsUntilMarker(
  server: FastifyInstance,
): Promise<ZpubEvent[]> {
  server.zpub.publish('marker', null);
  const seen: ZpubEvent[] = [];
  while (true) {
    const [event] = await (collector as Collector).take(1);
    if (event?.topic === 'marker') {
      return seen;
    }
    if (event !== undefined) {
      seen.push(event);
    }
  }
}

function requestData(event: ZpubEvent | undefined): RequestEventData {
  return event?.data as RequestEventData;
}

function rejectedData(event: ZpubEvent | undefined): RejectedRequestData {
  return event?.data as RejectedRequestData;
}

function rejectedEvents(events: ZpubEvent[]): ZpubEvent[] {
  return events.filter((event) => event.topic === REJECTED_REQUEST_TOPIC);
}

/** Returns the body of a response that has a Content-Length. */
function bodyOf(response: string): string {
  return response.slice(response.indexOf('\r\n\r\n') + 4);
}

describe('hostile HTTP input', () => {
  it('body over the limit gets 413 and no custom event', async () => {
    const { app, url } = await start();

    const response = await fetch(`${url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ padding: 'x'.repeat(BODY_LIMIT * 2) }),
    });
    const events = await eventsUntilMarker(app);

    expect(response.status).toBe(413);
    expect(events.map((event) => event.topic)).toEqual(['http.POST.jobs']);
    expect(requestData(events[0]).status).toBe(413);
  });

  it('invalid params get 400 with their event', async () => {
    const { app, url } = await start();

    const invalid = await fetch(`${url}/print/abc`);
    const events = await eventsUntilMarker(app);

    expect(invalid.status).toBe(400);
    expect(events).toHaveLength(1);
    expect(requestData(events[0]).status).toBe(400);
    expect(requestData(events[0]).params).toEqual({ number: 'abc' });
  });

  it('malformed URLs publish with zpubFrameworkErrors', async () => {
    const { app, url } = await start({ frameworkErrors: zpubFrameworkErrors });
    const plainUrl = await startPlain();
    const longPath = `/print/${'7'.repeat(200)}`;

    const badEncoding = await fetch(`${url}/print/%zz`);
    const longParam = await fetch(`${url}${longPath}`);
    const plainBadEncoding = await fetch(`${plainUrl}/print/%zz`);
    const plainLongParam = await fetch(`${plainUrl}${longPath}`);
    const events = await eventsUntilMarker(app);

    expect(badEncoding.status).toBe(400);
    expect(longParam.status).toBe(414);
    expect(await badEncoding.text()).toBe(await plainBadEncoding.text());
    expect(await longParam.text()).toBe(await plainLongParam.text());
    expect(badEncoding.headers.get('content-type')).toBe(
      plainBadEncoding.headers.get('content-type'),
    );
    expect(events.map((event) => event.topic)).toEqual([
      'http.GET._unmatched',
      'http.GET._unmatched',
    ]);
    expect(events.map((event) => requestData(event).status)).toEqual([
      400, 414,
    ]);
    expect(events.map((event) => requestData(event).path)).toEqual([
      '/print/%zz',
      longPath,
    ]);
    expect(requestData(events[0]).route).toBeUndefined();
    expect(requestData(events[0]).params).toEqual({});
    expect(requestData(events[0]).query).toEqual({});
    expect(requestData(events[0]).durationMs).toBe(0);
    expect(requestData(events[0]).responseSize).toBe(
      Number(badEncoding.headers.get('content-length')),
    );
    expect(requestData(events[0]).clientAddress).toBe('127.0.0.1');
  });

  it('malformed URLs publish nothing without the handler', async () => {
    const { app, url } = await start();

    const badEncoding = await fetch(`${url}/print/%zz`);
    const longParam = await fetch(`${url}/print/${'7'.repeat(200)}`);
    const after = await fetch(`${url}/print/7`);
    const events = await eventsUntilMarker(app);

    // Fastify's router answers these itself, without running hooks.
    expect(badEncoding.status).toBe(400);
    expect(longParam.status).toBe(414);
    expect(after.status).toBe(200);
    expect(events.map((event) => requestData(event).path)).toEqual([
      '/print/7',
    ]);
  });

  it('64 KB URL gets 431 and a rejected event', async () => {
    const { app, url } = await start();

    const response = await exchange(
      url,
      `GET ${LONG_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
    );
    const after = await fetch(`${url}/`);
    const events = await eventsUntilMarker(app);
    const rejected = rejectedEvents(events);
    const data = rejectedData(rejected[0]);

    expect(statusLine(response)).toBe(
      'HTTP/1.1 431 Request Header Fields Too Large',
    );
    expect(bodyOf(response)).toBe(HEADER_OVERFLOW_BODY);
    expect(after.status).toBe(200);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.type).toBe(REJECTED_REQUEST_EVENT_TYPE);
    expect(data.status).toBe(431);
    expect(data.reason).toBe('HPE_HEADER_OVERFLOW');
    expect(data.method).toBe('GET');
    expect(data.url).toHaveLength(MAX_FIELD_LENGTH);
    expect(data.url?.startsWith('/?q=aaaa')).toBe(true);
    expect(data.url?.endsWith('…')).toBe(true);
    expect(data.clientAddress).toBe('127.0.0.1');
    expect(JSON.stringify(rejected[0]).length).toBeLessThan(
      MAX_FIELD_LENGTH + 1024,
    );
    expect(
      events
        .filter((event) => event.topic !== REJECTED_REQUEST_TOPIC)
        .map((event) => requestData(event).path),
    ).toEqual(['/']);
  });

  it('64 KB URL with fetch gets 431 and an event', async () => {
    const { app, url } = await start();

    const response = await fetch(`${url}${LONG_URL}`);
    const rejected = rejectedEvents(await eventsUntilMarker(app));

    expect(response.status).toBe(431);
    expect(rejected).toHaveLength(1);
    expect(rejectedData(rejected[0]).status).toBe(431);
    expect(rejectedData(rejected[0]).reason).toBe('HPE_HEADER_OVERFLOW');
  });

  it('headers over 16 KB get 431 and an event', async () => {
    const { app, url } = await start();

    const response = await exchange(
      url,
      `GET /print/7?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n${LARGE_HEADERS}\r\n`,
    );
    const events = await eventsUntilMarker(app);
    const data = rejectedData(events[0]);

    expect(statusLine(response)).toBe(
      'HTTP/1.1 431 Request Header Fields Too Large',
    );
    expect(events).toHaveLength(1);
    expect(events[0]?.topic).toBe(REJECTED_REQUEST_TOPIC);
    expect(data).toEqual({
      method: 'GET',
      url: '/print/7?x=1',
      status: 431,
      reason: 'HPE_HEADER_OVERFLOW',
      clientAddress: '127.0.0.1',
    });
  });

  it('malformed request lines get 400 and an event', async () => {
    const cases: { request: string; expected: RejectedRequestData }[] = [
      {
        request: 'GARBAGE\r\n\r\n',
        expected: { status: 400, reason: 'HPE_INVALID_METHOD' },
      },
      {
        request: 'GET /x HTTP/9.9\r\nHost: a\r\n\r\n',
        expected: {
          method: 'GET',
          url: '/x',
          status: 400,
          reason: 'HPE_INVALID_VERSION',
        },
      },
      {
        request: 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n',
        expected: {
          method: 'GET',
          url: '/a',
          status: 400,
          reason: 'HPE_INVALID_CONSTANT',
        },
      },
      {
        request: 'GET /a\u0001"b HTTP/1.1\r\nHost: a\r\n\r\n',
        expected: {
          method: 'GET',
          url: '/a',
          status: 400,
          reason: 'HPE_INVALID_URL',
        },
      },
      {
        request: 'DELETE /items HTTP/1.1\r\nHost: a\r\nBad Header: y\r\n\r\n',
        expected: {
          method: 'DELETE',
          url: '/items',
          status: 400,
          reason: 'HPE_INVALID_HEADER_TOKEN',
        },
      },
    ];
    const { app, url } = await start();

    for (const { request, expected } of cases) {
      const response = await exchange(url, request);
      const events = await eventsUntilMarker(app);

      expect(statusLine(response), request).toBe('HTTP/1.1 400 Bad Request');
      expect(bodyOf(response), request).toBe(CLIENT_ERROR_BODY);
      expect(
        events.map((event) => event.topic),
        request,
      ).toEqual([REJECTED_REQUEST_TOPIC]);
      expect(rejectedData(events[0]), request).toEqual({
        ...expected,
        clientAddress: '127.0.0.1',
      });
    }
  });

  it('headers that never end get 408 and an event', async () => {
    const { app, url } = await start({
      http: { headersTimeout: 200, connectionsCheckingInterval: 50 },
    });

    const response = await exchange(url, 'GET /slow HTTP/1.1\r\nHost: a\r\n');
    const events = await eventsUntilMarker(app);

    expect(statusLine(response)).toBe('HTTP/1.1 408 Request Timeout');
    expect(events.map((event) => event.topic)).toEqual([
      REJECTED_REQUEST_TOPIC,
    ]);
    // A timeout comes with no bytes to read the request line from.
    expect(rejectedData(events[0])).toEqual({
      status: 408,
      reason: 'ERR_HTTP_REQUEST_TIMEOUT',
      clientAddress: '127.0.0.1',
    });
  });

  it('pipelined request is not misread', async () => {
    const { app, url } = await start();

    const response = await exchange(
      url,
      'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nBad Header: y\r\n\r\n',
    );
    const events = await eventsUntilMarker(app);
    const rejected = rejectedEvents(events);

    expect(statusLine(response)).toBe('HTTP/1.1 200 OK');
    expect(response).toContain('HTTP/1.1 400 Bad Request');
    expect(rejected).toHaveLength(1);
    // The chunk begins with the first request, so the failed one's
    // request line is not read from it.
    expect(rejectedData(rejected[0])).toEqual({
      status: 400,
      reason: 'HPE_INVALID_HEADER_TOKEN',
      clientAddress: '127.0.0.1',
    });
    expect(
      events
        .filter((event) => event.topic !== REJECTED_REQUEST_TOPIC)
        .map((event) => requestData(event).status),
    ).toEqual([200]);
  });

  it('keep-alive 64 KB URL is read', async () => {
    const { app, url } = await start();
    const connection = await RawConnection.open(url);

    connection.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await connection.waitFor('\r\n\r\nok');
    connection.write(`GET ${LONG_URL} HTTP/1.1\r\nHost: a\r\n\r\n`);
    const response = await connection.closed;
    const rejected = rejectedEvents(await eventsUntilMarker(app));

    expect(response).toContain('HTTP/1.1 431 Request Header Fields Too Large');
    expect(rejected).toHaveLength(1);
    expect(rejectedData(rejected[0]).method).toBe('GET');
    expect(rejectedData(rejected[0]).url?.startsWith('/?q=aaaa')).toBe(true);
  });

  it('broken chunked body of an unanswered request', async () => {
    const { app, url } = await start();

    const response = await exchange(
      url,
      'POST /jobs?id=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n',
    );
    const events = await eventsUntilMarker(app);

    expect(statusLine(response)).toBe('HTTP/1.1 400 Bad Request');
    // Fastify never sends a response, so the request has no request event
    // and its handler publishes nothing.
    expect(events.map((event) => event.topic)).toEqual([
      REJECTED_REQUEST_TOPIC,
    ]);
    expect(rejectedData(events[0])).toEqual({
      method: 'POST',
      url: '/jobs?id=1',
      status: 400,
      reason: 'HPE_INVALID_CHUNK_SIZE',
      clientAddress: '127.0.0.1',
    });
  });

  it('broken chunked body of an answered request', async () => {
    const { app, url } = await start();

    const response = await exchange(
      url,
      'POST /nowhere HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    );
    const events = await eventsUntilMarker(app);

    expect(statusLine(response)).toBe('HTTP/1.1 404 Not Found');
    // The 404 was sent before the parser reached the body, so the request
    // event is the only one.
    expect(events.map((event) => event.topic)).toEqual([
      'http.POST._unmatched',
    ]);
    expect(requestData(events[0]).status).toBe(404);
  });

  it('custom clientErrorHandler status is published', async () => {
    const { app, url } = await start({
      clientErrorHandler: (_error, socket) => {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      },
    });

    const response = await exchange(
      url,
      `GET ${LONG_URL} HTTP/1.1\r\nHost: a\r\n\r\n`,
    );
    const rejected = rejectedEvents(await eventsUntilMarker(app));

    expect(statusLine(response)).toBe('HTTP/1.1 400 Bad Request');
    expect(rejected).toHaveLength(1);
    expect(rejectedData(rejected[0]).status).toBe(400);
    expect(rejectedData(rejected[0]).reason).toBe('HPE_HEADER_OVERFLOW');
  });

  it('requestEvents false publishes no rejected event', async () => {
    const { app, url } = await start({}, { requestEvents: false });

    const response = await exchange(url, 'GARBAGE\r\n\r\n');
    const events = await eventsUntilMarker(app);

    expect(statusLine(response)).toBe('HTTP/1.1 400 Bad Request');
    expect(events).toEqual([]);
  });

  it('64 KB URL is cut to the documented limits', async () => {
    // A server that raises maxHeaderSize lets the URL reach Fastify.
    const { app, url } = await start({ http: { maxHeaderSize: 128 * 1024 } });
    const query = Array.from(
      { length: 150 },
      (_, index) => `k${index}=${'v'.repeat(320)}`,
    ).join('&');
    const path = `/${'p'.repeat(64 * 1024 - query.length)}`;

    const response = await fetch(`${url}${path}?${query}`);
    const [event] = await eventsUntilMarker(app);
    const data = requestData(event);
    const queryLength = Object.entries(data.query).reduce(
      (total, [key, value]) => total + key.length + String(value).length,
      0,
    );

    expect(response.status).toBe(404);
    expect(data.path).toHaveLength(MAX_FIELD_LENGTH);
    expect(data.path.endsWith('…')).toBe(true);
    expect(Object.keys(data.query).length).toBeLessThanOrEqual(MAX_ENTRIES);
    expect(queryLength).toBeLessThanOrEqual(MAX_SECTION_LENGTH);
    expect(data.query.k0).toBe('v'.repeat(320));
  });

  it('query values of 2 MB stay within the limits', async () => {
    const { app, url } = await start({
      http: { maxHeaderSize: 4 * 1024 * 1024 },
    });
    const value = 'v'.repeat(MAX_FIELD_LENGTH);
    const query = Array.from({ length: MAX_ENTRIES }, (_, key) =>
      Array.from({ length: 10 }, () => `k${key}=${value}`).join('&'),
    ).join('&');

    const response = await exchange(
      url,
      `GET /?${query} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
    );
    const [event] = await eventsUntilMarker(app);
    const size = JSON.stringify(event).length;

    expect(statusLine(response)).toBe('HTTP/1.1 200 OK');
    expect(query.length).toBeGreaterThan(2_000_000);
    expect(size).toBeLessThan(MAX_SECTION_LENGTH + 4096);
  });

  it('1,000 headers are answered and cut', async () => {
    const { app, url } = await start();
    const headers = Object.fromEntries(
      Array.from({ length: 1000 }, (_, index) => [`x-h${index}`, 'v']),
    );

    const response = await fetch(`${url}/`, { headers });
    const [event] = await eventsUntilMarker(app);
    const copied = requestData(event).headers ?? {};

    expect(response.status).toBe(200);
    expect(Object.keys(copied)).toHaveLength(MAX_ENTRIES);
  });

  it('header values that are not UTF-8 arrive as Latin-1', async () => {
    const { app, url } = await start();
    const request = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: '),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
      Buffer.from('\r\nX-Binary: '),
      Buffer.from([0x80, 0x9b, 0x41]),
      Buffer.from('\r\nConnection: close\r\n\r\n'),
    ]);

    const response = await exchange(url, request);
    const [event] = await eventsUntilMarker(app);
    const data = requestData(event);

    expect(statusLine(response)).toBe('HTTP/1.1 200 OK');
    expect(data.userAgent).toBe('\u00ff\u00fe\u00c3(');
    expect(data.headers?.['x-binary']).toBe('\u0080\u009bA');
  });
});
