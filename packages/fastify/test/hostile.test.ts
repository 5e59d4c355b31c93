import { connect } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { subscribe } from '@zpub/client';
import type { RequestEventData, ZpubEvent } from '@zpub/protocol';
import { collect, type CollectorOf } from 'test-helpers';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_ENTRIES,
  MAX_FIELD_LENGTH,
  MAX_SECTION_LENGTH,
  zpub,
} from '../src/index.js';

type Collector = CollectorOf<typeof subscribe>;

const BODY_LIMIT = 1024;
let app: FastifyInstance | undefined;
let collector: Collector | undefined;

afterEach(async () => {
  await collector?.subscription.close();
  await app?.close();
  collector = undefined;
  app = undefined;
});

/** Starts an app on a real HTTP port, with every header in request events. */
async function start(): Promise<{ app: FastifyInstance; url: string }> {
  app = Fastify({ bodyLimit: BODY_LIMIT });
  await app.register(zpub, { endpoint: 'tcp://127.0.0.1:0', headers: true });
  app.post('/jobs', (request, reply) => {
    reply.publish('jobs.created', { body: request.body });
    return { queued: true };
  });
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
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  collector = await collect(subscribe, { endpoint: app.zpub.endpoint });

  return { app, url };
}

/**
 * Publishes a marker and returns every event before it, so a test can
 * check that an event was not published.
 */
async function eventsUntilMarker(
  server: FastifyInstance,
  events: Collector,
): Promise<ZpubEvent[]> {
  server.zpub.publish('marker', null);
  const seen: ZpubEvent[] = [];
  while (true) {
    const [event] = await events.take(1);
    if (event?.topic === 'marker') {
      return seen;
    }
    if (event !== undefined) {
      seen.push(event);
    }
  }
}

/** Sends raw bytes as one HTTP request and returns the status line. */
function sendRaw(url: string, request: Buffer): Promise<string> {
  const { port } = new URL(url);

  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let response = '';
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      response += text;
      if (response.includes('\r\n')) {
        socket.destroy();
        resolve(response.slice(0, response.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
    socket.write(request);
  });
}

function requestData(event: ZpubEvent | undefined): RequestEventData {
  return event?.data as RequestEventData;
}

describe('hostile HTTP input', () => {
  it('body over the limit gets 413 and no custom event', async () => {
    const { app: server, url } = await start();

    const response = await fetch(`${url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ padding: 'x'.repeat(BODY_LIMIT * 2) }),
    });
    const events = await eventsUntilMarker(server, collector as Collector);

    expect(response.status).toBe(413);
    expect(events.map((event) => event.topic)).toEqual(['http.POST.jobs']);
    expect(requestData(events[0]).status).toBe(413);
  });

  it('invalid params get 400 with their event', async () => {
    const { app: server, url } = await start();

    const invalid = await fetch(`${url}/print/abc`);
    const events = await eventsUntilMarker(server, collector as Collector);

    expect(invalid.status).toBe(400);
    expect(events).toHaveLength(1);
    expect(requestData(events[0]).status).toBe(400);
    expect(requestData(events[0]).params).toEqual({ number: 'abc' });
  });

  it('malformed URLs are answered without an event', async () => {
    const { app: server, url } = await start();

    const badEncoding = await fetch(`${url}/print/%zz`);
    const longParam = await fetch(`${url}/print/${'7'.repeat(200)}`);
    const after = await fetch(`${url}/print/7`);
    const events = await eventsUntilMarker(server, collector as Collector);

    // Fastify's router answers these itself, without running hooks.
    expect(badEncoding.status).toBe(400);
    expect(longParam.status).toBe(414);
    expect(after.status).toBe(200);
    expect(events.map((event) => requestData(event).path)).toEqual([
      '/print/7',
    ]);
  });

  it('a 64 KB URL is answered 431 by Node.js', async () => {
    const { app: server, url } = await start();

    const long = await fetch(`${url}/?q=${'a'.repeat(64 * 1024)}`);
    const after = await fetch(`${url}/`);
    const events = await eventsUntilMarker(server, collector as Collector);

    // Node.js rejects a request line and headers over its 16 KiB limit
    // before Fastify sees the request, so only the next request has an
    // event.
    expect(long.status).toBe(431);
    expect(after.status).toBe(200);
    expect(events.map((event) => requestData(event).path)).toEqual(['/']);
  });

  it('a 64 KB URL is cut to the documented limits', async () => {
    const { app: server } = await start();
    const query = Array.from(
      { length: 150 },
      (_, index) => `k${index}=${'v'.repeat(320)}`,
    ).join('&');
    const path = `/${'p'.repeat(64 * 1024 - query.length)}`;

    const response = await server.inject({ url: `${path}?${query}` });
    const [event] = await eventsUntilMarker(server, collector as Collector);
    const data = requestData(event);
    const queryLength = Object.entries(data.query).reduce(
      (total, [key, value]) => total + key.length + String(value).length,
      0,
    );

    expect(response.statusCode).toBe(404);
    expect(data.path).toHaveLength(MAX_FIELD_LENGTH);
    expect(data.path.endsWith('…')).toBe(true);
    expect(Object.keys(data.query).length).toBeLessThanOrEqual(MAX_ENTRIES);
    expect(queryLength).toBeLessThanOrEqual(MAX_SECTION_LENGTH);
    expect(data.query.k0).toBe('v'.repeat(320));
  });

  it('query values of 2 MB stay within the limits', async () => {
    const { app: server } = await start();
    const value = 'v'.repeat(MAX_FIELD_LENGTH);
    const query = Array.from({ length: MAX_ENTRIES }, (_, key) =>
      Array.from({ length: 10 }, () => `k${key}=${value}`).join('&'),
    ).join('&');

    await server.inject({ url: `/?${query}` });
    const [event] = await eventsUntilMarker(server, collector as Collector);
    const size = JSON.stringify(event).length;

    expect(query.length).toBeGreaterThan(2_000_000);
    expect(size).toBeLessThan(MAX_SECTION_LENGTH + 4096);
  });

  it('1,000 headers are answered and cut', async () => {
    const { app: server, url } = await start();
    const headers = Object.fromEntries(
      Array.from({ length: 1000 }, (_, index) => [`x-h${index}`, 'v']),
    );

    const response = await fetch(`${url}/`, { headers });
    const [event] = await eventsUntilMarker(server, collector as Collector);
    const copied = requestData(event).headers ?? {};

    expect(response.status).toBe(200);
    expect(Object.keys(copied)).toHaveLength(MAX_ENTRIES);
  });

  it('header values that are not UTF-8 arrive as Latin-1', async () => {
    const { app: server, url } = await start();
    const request = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: '),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
      Buffer.from('\r\nX-Binary: '),
      Buffer.from([0x80, 0x9b, 0x41]),
      Buffer.from('\r\nConnection: close\r\n\r\n'),
    ]);

    const statusLine = await sendRaw(url, request);
    const [event] = await eventsUntilMarker(server, collector as Collector);
    const data = requestData(event);

    expect(statusLine).toBe('HTTP/1.1 200 OK');
    expect(data.userAgent).toBe('\u00ff\u00fe\u00c3(');
    expect(data.headers?.['x-binary']).toBe('\u0080\u009bA');
  });
});
