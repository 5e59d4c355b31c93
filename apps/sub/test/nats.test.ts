import { Publisher } from '@zpub/client';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import {
  NATS_ENDPOINT,
  OwnNatsServer,
  freePort,
  testStream,
  waitUntil,
  type TestStream,
} from '../../../packages/nats/test/nats-server.js';
import { ZsubProcess, killRunningZsubs, runZsub } from './helpers.js';

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

/** Opens a publisher that stores its events in the test's stream. */
async function openStreamPublisher(stream: TestStream): Promise<Publisher> {
  const publisher = await Publisher.open({
    endpoint: NATS_ENDPOINT,
    source: 'zpub://test/zsub',
    stream: { name: stream.name, subjects: [`${stream.prefix}.>`] },
  });
  onTestFinished(async () => {
    await publisher.close();
  });

  return publisher;
}

/** Returns the zsub options that read `topic` from the test's stream. */
function streamArgs(stream: TestStream, topic: string): string[] {
  return [
    '--endpoint',
    NATS_ENDPOINT,
    '--stream',
    stream.name,
    '--topic',
    topic,
  ];
}

describe('JetStream', () => {
  it('group members report no gaps', async () => {
    const stream = testStream();
    const publisher = await openStreamPublisher(stream);
    const topic = `${stream.prefix}.number`;
    const args = [...streamArgs(stream, topic), '--group', 'workers', '--raw'];
    const members = [new ZsubProcess(args), new ZsubProcess(args)];
    await Promise.all(members.map((member) => member.waitForReady()));

    const total = 40;
    for (let number = 1; number <= total; number++) {
      publisher.publish(topic, number);
    }
    await waitUntil(
      'every event was printed',
      () =>
        members.reduce((sum, member) => sum + member.stdoutLines.length, 0) >=
        total,
    );
    for (const member of members) {
      member.child.kill('SIGTERM');
    }
    await Promise.all(members.map((member) => member.exited));

    const printed = members.flatMap((member) => member.stdoutLines);
    expect(printed.map(Number).sort((a, b) => a - b)).toEqual(
      Array.from({ length: total }, (_, index) => index + 1),
    );
    // Both members took part, so each had gaps in the sequence.
    expect(members[0]?.stdoutLines.length).toBeGreaterThan(0);
    expect(members[1]?.stdoutLines.length).toBeGreaterThan(0);
    for (const member of members) {
      expect(member.stderrLines).toEqual([
        `zsub: ready, subscribed to ${NATS_ENDPOINT} (topics: ${topic})`,
      ]);
    }
  });

  it('replay that reaches --count prints ready', async () => {
    const stream = testStream();
    const publisher = await openStreamPublisher(stream);
    const topic = `${stream.prefix}.number`;
    for (let number = 1; number <= 5; number++) {
      publisher.publish(topic, number);
    }
    await waitUntil(
      'the stream stored every event',
      () => (publisher.stats.acknowledged ?? 0) >= 5,
    );

    const result = await runZsub([
      ...streamArgs(stream, topic),
      '--since',
      '5m',
      '--count',
      '2',
      '--raw',
    ]);

    expect(result.code).toBe(0);
    expect(result.stdout).toEqual(['1', '2']);
    expect(result.stderr).toEqual([
      `zsub: ready, subscribed to ${NATS_ENDPOINT} (topics: ${topic})`,
    ]);
  });
});
