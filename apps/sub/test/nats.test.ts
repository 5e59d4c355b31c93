import { Publisher } from '@zpub/client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  OwnNatsServer,
  freePort,
} from '../../../packages/nats/test/nats-server.js';
import { ZsubProcess, killRunningZsubs } from './helpers.js';

afterEach(async () => {
  await killRunningZsubs();
});

describe('unreachable NATS server', () => {
  it('is reported at once', async () => {
    const endpoint = `nats://127.0.0.1:${await freePort()}`;
    const zsub = new ZsubProcess(['--endpoint', endpoint]);
    await zsub.waitForStderr('cannot connect');

    expect(zsub.stderrLines).toEqual([
      `zsub: warning: cannot connect to ${endpoint}: connection refused (ECONNREFUSED); retrying`,
    ]);
  });

  it('is retried until it starts', async () => {
    const port = await freePort();
    const endpoint = `nats://127.0.0.1:${port}`;
    const zsub = new ZsubProcess([
      '--endpoint',
      endpoint,
      '--topic',
      'number',
      '--raw',
      '--count',
      '1',
    ]);
    await zsub.waitForStderr('cannot connect');
    await OwnNatsServer.start(port);
    const ready = await zsub.waitForReady();
    const publisher = await Publisher.open({ endpoint });
    try {
      publisher.publish('number', 7);

      expect(await zsub.exited).toEqual({ code: 0, signal: null });
    } finally {
      await publisher.close();
    }
    expect(ready).toBe(
      `zsub: ready, subscribed to ${endpoint} (topics: number)`,
    );
    expect(zsub.stdoutLines).toEqual(['7']);
    expect(zsub.stderrLines).toHaveLength(2);
  });
});
