import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  Child,
  SERVER_BIN,
  ZSUB_BIN,
  parseLog,
  startServer,
  startZsub,
} from './processes.js';

const NATS_ENDPOINT = 'nats://127.0.0.1:4222';

const children: Child[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
    await child.exited;
  }
});

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

/** Starts `zsub proxy` on ephemeral ports and returns its endpoints. */
async function startProxy(): Promise<{ frontend: string; backend: string }> {
  const proxy = new Child(process.execPath, [
    ZSUB_BIN,
    'proxy',
    '--frontend',
    'tcp://127.0.0.1:0',
    '--backend',
    'tcp://127.0.0.1:0',
  ]);
  children.push(proxy);
  const line = await proxy.waitForLine('stderr', (text) =>
    text.includes('proxy ready'),
  );
  const match = /frontend (\S+), backend ([^\s,]+)/.exec(line);

  return { frontend: match?.[1] ?? '', backend: match?.[2] ?? '' };
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

async function deleteStream(name: string): Promise<void> {
  const connection = await connect({ servers: '127.0.0.1:4222' });
  try {
    const manager = await jetstreamManager(connection);
    await manager.streams.delete(name).catch(() => undefined);
  } finally {
    await connection.close();
  }
}

describe('deployments', () => {
  it('prints the same through ZeroMQ, the proxy and NATS', async () => {
    const direct = await startServer();
    children.push(direct.child);
    const directOutput = await printThreeNumbers(direct.url, direct.publish);

    const proxy = await startProxy();
    const behindProxy = await startServer([
      '--publish',
      proxy.frontend,
      '--publish-mode',
      'connect',
    ]);
    children.push(behindProxy.child);
    await waitForPath(behindProxy.url, proxy.backend);
    const proxyOutput = await printThreeNumbers(behindProxy.url, proxy.backend);

    const onNats = await startServer(['--publish', NATS_ENDPOINT]);
    children.push(onNats.child);
    const natsOutput = await printThreeNumbers(onNats.url, NATS_ENDPOINT);

    const expected = ['{"number":1}', '{"number":2}', '{"number":3}'];
    expect(directOutput).toEqual(expected);
    expect(proxyOutput).toEqual(expected);
    expect(natsOutput).toEqual(expected);
  });

  it('resumes a durable zsub after a restart', async () => {
    const stream = `ZPUB_E2E_${randomBytes(4).toString('hex')}`;
    onTestFinished(() => deleteStream(stream));
    const server = await startServer([
      '--publish',
      NATS_ENDPOINT,
      '--stream',
      stream,
    ]);
    children.push(server.child);
    const args = [
      '--endpoint',
      NATS_ENDPOINT,
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

    expect(first.stdout).toEqual(['{"number":1}', '{"number":2}']);
    expect(code).toBe(0);
    expect(second.stdout).toEqual(['{"number":3}', '{"number":4}']);
    expect(closed?.zpub).toMatchObject({
      acknowledged: 8,
      ackFailures: 0,
      ackTimeouts: 0,
    });
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
