import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
import { zpub } from '../src/index.js';
import { OwnNatsServer, waitUntil } from '../../nats/test/nats-server.js';

interface LogLine {
  level: number;
  msg: string;
  zpub?: Record<string, number>;
  repeats?: number;
}

describe('plugin on NATS', () => {
  it('logs an outage once and keeps serving', async () => {
    const server = await OwnNatsServer.start();
    const lines: LogLine[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as LogLine);
        done();
      },
    });
    const app = Fastify({ logger: { level: 'info', stream: destination } });
    await app.register(zpub, {
      endpoint: server.endpoint,
      stream: { name: 'PLUGIN', subjects: ['http.>'] },
      ackTimeoutMs: 300,
    });
    app.get('/', () => 'ok');
    await app.ready();
    onTestFinished(() => app.close());
    const messages = (): string[] => lines.map((line) => line.msg);
    const statuses: number[] = [];
    const request = async (): Promise<void> => {
      statuses.push((await app.inject({ url: '/' })).statusCode);
    };

    await request();
    await waitUntil(
      'the first event is acknowledged',
      () => (app.zpub.stats.acknowledged ?? 0) > 0,
    );
    await server.stop();
    await waitUntil('the plugin logged the outage', () =>
      messages().some((message) => message.includes('lost its connection')),
    );
    for (let count = 0; count < 200; count++) {
      await request();
    }
    await waitUntil(
      'the failed sends are counted',
      () => app.zpub.stats.sendErrors >= 200,
    );
    await server.restart();
    await waitUntil('the plugin logged the reconnection', () =>
      messages().some((message) => message.includes('reconnected to NATS')),
    );
    const acknowledgedBefore = app.zpub.stats.acknowledged ?? 0;
    await request();
    await waitUntil(
      'publishing resumed',
      () => (app.zpub.stats.acknowledged ?? 0) > acknowledgedBefore,
    );
    await app.close();

    const failures = lines.filter(
      (line) => line.msg === 'zpub failed to send an event',
    );
    const closed = lines.find((line) => line.msg === 'zpub publisher closed');
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(statuses).toHaveLength(202);
    expect(
      messages().filter((message) => message.includes('lost its connection')),
    ).toHaveLength(1);
    expect(
      messages().filter((message) => message.includes('reconnected to NATS')),
    ).toHaveLength(1);
    expect(failures).toHaveLength(1);
    expect(closed?.zpub).toMatchObject({
      published: 2,
      acknowledged: 2,
      sendErrors: 200,
      ackFailures: 0,
      dropped: 0,
    });
  });
});
