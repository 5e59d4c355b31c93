import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { OwnNatsServer } from '../../../packages/nats/test/nats-server.js';
import {
  Child,
  SERVER_BIN,
  ZSUB_BIN,
  parseLog,
  startProxy,
  startServer,
  startZsub,
  type RunningServer,
  killedAfterEach,
} from './processes.js';

const children = killedAfterEach();

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Runs one zsub command against a server and sends three requests once zsub
 * is ready; returns what zsub printed.
 */
async function printThreeNumbers(
  serverUrl: string,
  endpoint: string,
): Promise<string[]> {
  const zsub = await startZsub([
    '--endpoint',
    endpoint,
    '--topic',
    'number',
    '--raw',
    '--count',
    '3',
  ]);
  children.push(zsub);
  for (const number of [1, 2, 3]) {
    await get(`${serverUrl}/print/${number}`);
  }
  const { code } = await zsub.exited;
  expect(code).toBe(0);
  expect(zsub.stderr[0]).toBe(
    `zsub: ready, subscribed to ${endpoint} (topics: number)`,
  );

  return zsub.stdout;
}

/**
 * Sends requests until a zsub on `endpoint` prints one event, which shows
 * that the server's publisher has connected to the proxy. A later zsub's
 * hello then reaches that publisher and is confirmed.
 */
async function waitForPath(serverUrl: string, endpoint: string): Promise<void> {
  const probe = await startZsub([
    '--endpoint',
    endpoint,
    '--topic',
    'number',
    '--count',
    '1',
  ]);
  children.push(probe);
  let exited = false;
  void probe.exited.then(() => (exited = true));
  while (!exited) {
    await get(`${serverUrl}/print/0`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Starts a nats-server of the test's own. The example server's topics, such
 * as `number`, cannot take a per-test prefix, and JetStream rejects two
 * streams whose subjects overlap, so these tests do not share a server with
 * others.
 */
async function startNats(): Promise<string> {
  const nats = await OwnNatsServer.start();

  return nats.endpoint;
}

/** Starts a nats-server and the example server storing events in ZPUB. */
async function startServerOnStream(): Promise<{
  natsEndpoint: string;
  stream: string;
  server: RunningServer;
}> {
  const natsEndpoint = await startNats();
  const stream = 'ZPUB';
  const server = await startServer([
    '--publish',
    natsEndpoint,
    '--stream',
    stream,
  ]);
  children.push(server.child);

  return { natsEndpoint, stream, server };
}

describe('deployments', () => {
  it('prints the same through ZeroMQ, the proxy and NATS', async () => {
    const direct = await startServer();
    children.push(direct.child);
    const directOutput = await printThreeNumbers(direct.url, direct.publish);

    const proxy = await startProxy();
    children.push(proxy.child);
    const behindProxy = await startServer([
      '--publish',
      proxy.frontend,
      '--publish-mode',
      'connect',
    ]);
    children.push(behindProxy.child);
    await waitForPath(behindProxy.url, proxy.backend);
    const proxyOutput = await printThreeNumbers(behindProxy.url, proxy.backend);

    const natsEndpoint = await startNats();
    const onNats = await startServer(['--publish', natsEndpoint]);
    children.push(onNats.child);
    const natsOutput = await printThreeNumbers(onNats.url, natsEndpoint);

    const expected = ['{"number":1}', '{"number":2}', '{"number":3}'];
    expect(directOutput).toEqual(expected);
    expect(proxyOutput).toEqual(expected);
    expect(natsOutput).toEqual(expected);
  });

  it('resumes a durable zsub after a restart', async () => {
    const { natsEndpoint, stream, server } = await startServerOnStream();
    const args = [
      '--endpoint',
      natsEndpoint,
      '--stream',
      stream,
      '--durable',
      'printer',
      '--topic',
      'number',
      '--raw',
      '--count',
      '2',
    ];

    const first = await startZsub(args);
    children.push(first);
    await get(`${server.url}/print/1`);
    await get(`${server.url}/print/2`);
    expect((await first.exited).code).toBe(0);

    await get(`${server.url}/print/3`);
    await get(`${server.url}/print/4`);
    const second = new Child(process.execPath, [ZSUB_BIN, ...args]);
    children.push(second);
    const { code } = await second.exited;

    server.child.kill('SIGTERM');
    await server.child.exited;
    const closed = server.child.stdout
      .map(parseLog)
      .find((log) => log?.msg === 'zpub publisher closed');

    const last = new Child(process.execPath, [
      ZSUB_BIN,
      '--endpoint',
      natsEndpoint,
      '--stream',
      stream,
      '--topic',
      'number',
      '--last',
      '3',
      '--raw',
      '--count',
      '3',
    ]);
    children.push(last);
    expect((await last.exited).code).toBe(0);
    expect(last.stdout).toEqual([
      '{"number":2}',
      '{"number":3}',
      '{"number":4}',
    ]);
    expect(first.stdout).toEqual(['{"number":1}', '{"number":2}']);
    expect(code).toBe(0);
    expect(second.stdout).toEqual(['{"number":3}', '{"number":4}']);
    expect(closed?.zpub).toMatchObject({
      acknowledged: 8,
      ackFailures: 0,
      ackTimeouts: 0,
    });
  });

  it('shares events among a zsub group', async () => {
    const { natsEndpoint, stream, server } = await startServerOnStream();
    const member = (): Promise<Child> =>
      startZsub([
        '--endpoint',
        natsEndpoint,
        '--stream',
        stream,
        '--group',
        'workers',
        '--topic',
        'number',
        '--raw',
      ]);
    const members = [await member(), await member()];
    children.push(...members);

    const total = 30;
    for (let number = 1; number <= total; number++) {
      await get(`${server.url}/print/${number}`);
    }
    const printed = (): string[] => members.flatMap((child) => child.stdout);
    const deadline = Date.now() + 10_000;
    while (printed().length < total && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // A duplicate would have arrived by the time one more event does.
    await get(`${server.url}/print/${total + 1}`);
    while (printed().length < total + 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const numbers = printed().map(
      (line) => (JSON.parse(line) as { number: number }).number,
    );

    expect(numbers).toHaveLength(total + 1);
    expect(new Set(numbers).size).toBe(total + 1);
  });

  it('exits 1 when NATS cannot be reached', async () => {
    const server = new Child(process.execPath, [
      SERVER_BIN,
      '--port',
      '0',
      '--publish',
      'nats://127.0.0.1:1',
    ]);
    children.push(server);
    const { code } = await server.exited;
    const fatal = server.stdout.map(parseLog).find((log) => log?.level === 60);

    expect(code).toBe(1);
    expect(fatal?.msg).toMatch(
      /^cannot start: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1: .*--publish/,
    );
  });
});

describe('server publish flags', () => {
  it.each([
    [
      ['--stream', 'ZPUB'],
      'error: --stream needs a nats:// endpoint in --publish, got "tcp://127.0.0.1:5555"',
    ],
    [
      [
        '--publish',
        'tcp://127.0.0.1:0',
        '--publish-connect',
        'tcp://127.0.0.1:1',
      ],
      'error: --publish-connect cannot be combined with --publish',
    ],
    [
      ['--publish-connect', 'nats://127.0.0.1:4222'],
      'error: --publish-connect takes a ZeroMQ endpoint; pass a nats:// endpoint with --publish',
    ],
    [
      ['--stream', 'a.b'],
      "error: option '--stream <name>' argument 'a.b' is invalid. invalid stream name \"a.b\": use 1 to 64 letters, digits, - or _",
    ],
    [
      ['--stream-max-age', 'soon'],
      "error: option '--stream-max-age <duration>' argument 'soon' is invalid. expected a duration such as 30m, 24h or 7d, or 0 to keep events until the size limit",
    ],
  ])('exits 2 for %j', async (args, message) => {
    const server = new Child(process.execPath, [
      SERVER_BIN,
      '--port',
      '0',
      ...args,
    ]);
    children.push(server);
    const { code } = await server.exited;

    expect(code).toBe(2);
    expect(server.stderr[0]).toBe(message);
  });
});
