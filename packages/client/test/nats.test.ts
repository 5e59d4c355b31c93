import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { ZpubEvent } from '@zpub/protocol';
import { describe, expect, it } from 'vitest';
import {
  InvalidEndpointError,
  subscribe,
  type Notice,
  type Publisher,
  type SubscribeOptions,
} from '../src/index.js';
import { collect } from './helpers.js';
import {
  NATS_ENDPOINT,
  openNatsPublisher,
  testStream,
  waitUntil,
  type TestStream,
} from './nats-helpers.js';

/** Resolves once the stream has acknowledged `count` events. */
function acknowledged(publisher: Publisher, count: number): Promise<void> {
  return waitUntil(
    `${count} events are acknowledged`,
    () => (publisher.stats.acknowledged ?? 0) >= count,
    5000,
  );
}

/** Reads a subscription to its end and collects its events and warnings. */
async function readToEnd(
  options: SubscribeOptions,
): Promise<{ events: unknown[]; warnings: string[] }> {
  const warnings: string[] = [];
  const subscription = subscribe({
    ...options,
    onNotice: (notice) => {
      if (notice.kind === 'warning') {
        warnings.push(notice.message);
      }
    },
  });
  const events: unknown[] = [];
  for await (const event of subscription) {
    events.push(event);
  }

  return { events, warnings };
}

function numbers(events: readonly ZpubEvent[]): unknown[] {
  return events.map((event) => event.data);
}

async function openJetStreamPublisher(stream: TestStream): Promise<Publisher> {
  return openNatsPublisher({
    stream: { name: stream.name, subjects: [`${stream.prefix}.>`] },
  });
}

describe('core NATS', () => {
  it('delivers events in order', async () => {
    const { prefix } = testStream();
    const publisher = await openNatsPublisher();
    const collector = await collect({
      endpoint: NATS_ENDPOINT,
      topics: [`${prefix}.number`],
    });

    for (const number of [1, 2, 3]) {
      publisher.publish(`${prefix}.number`, number);
    }
    const events = await collector.take(3);

    expect(numbers(events)).toEqual([1, 2, 3]);
    expect(events.map((event) => event.topic)).toEqual([
      `${prefix}.number`,
      `${prefix}.number`,
      `${prefix}.number`,
    ]);
    expect(events.map((event) => event.sequence)).toEqual(['1', '2', '3']);
    expect(collector.notices[0]).toEqual({
      kind: 'ready',
      endpoint: NATS_ENDPOINT,
      confirmed: true,
      endpoints: [{ endpoint: NATS_ENDPOINT, confirmed: true }],
    });
  });

  it('is ready once for a list of servers', async () => {
    const { prefix } = testStream();
    const publisher = await openNatsPublisher();
    const second = 'nats://localhost:4222';
    const collector = await collect({
      endpoint: [NATS_ENDPOINT, second],
      topics: [`${prefix}.number`],
    });
    publisher.publish(`${prefix}.number`, 1);
    const events = await collector.take(1);

    expect(events.map((event) => event.data)).toEqual([1]);
    expect(collector.notices.map((notice) => notice.kind)).toEqual(['ready']);
    expect(collector.notices[0]).toEqual({
      kind: 'ready',
      endpoint: `${NATS_ENDPOINT},${second}`,
      confirmed: true,
      endpoints: [{ endpoint: `${NATS_ENDPOINT},${second}`, confirmed: true }],
    });
  });

  it('filters on whole tokens', async () => {
    const { prefix } = testStream();
    const publisher = await openNatsPublisher();
    const collector = await collect({
      endpoint: NATS_ENDPOINT,
      topics: [`${prefix}.number`],
    });

    publisher.publish(`${prefix}.numbers`, 'numbers');
    publisher.publish(`${prefix}.number`, 'number');
    publisher.publish(`${prefix}.other`, 'other');
    publisher.publish(`${prefix}.number.7`, 'number.7');
    publisher.publish(`${prefix}.number.7.8`, 'number.7.8');
    const events = await collector.take(3);

    expect(numbers(events)).toEqual(['number', 'number.7', 'number.7.8']);
  });

  it('receives every topic without a filter', async () => {
    const { prefix } = testStream();
    const publisher = await openNatsPublisher();
    const collector = await collect({ endpoint: NATS_ENDPOINT });

    publisher.publish(`${prefix}.a`, 'a');
    publisher.publish(`${prefix}.b.c`, 'b.c');
    const events: ZpubEvent[] = [];
    while (events.length < 2) {
      // Other tests publish on the shared server too; keep only this one's.
      const [event] = await collector.take(1);
      if (event?.topic?.startsWith(`${prefix}.`) === true) {
        events.push(event);
      }
    }

    expect(numbers(events).sort()).toEqual(['a', 'b.c']);
  });

  it('rejects an invalid endpoint', () => {
    expect(() => subscribe({ endpoint: 'nats://127.0.0.1:99999' })).toThrow(
      InvalidEndpointError,
    );
    expect(() => subscribe({ endpoint: 'nats://user:pw@host:4222' })).toThrow(
      /credentials/,
    );
  });

  it('rejects replay options on a ZeroMQ endpoint', () => {
    expect(() =>
      subscribe({
        endpoint: 'tcp://127.0.0.1:5555',
        jetstream: { stream: 'ZPUB', last: 1 },
      }),
    ).toThrow(/need a nats:\/\/ endpoint/);
  });
});

describe('JetStream', () => {
  it('stores events and counts acknowledgements', async () => {
    const stream = testStream();
    const publisher = await openJetStreamPublisher(stream);

    publisher.publish(`${stream.prefix}.number`, 1);
    publisher.publish(`${stream.prefix}.other`, 2);
    await acknowledged(publisher, 2);

    expect(publisher.stats).toMatchObject({
      published: 2,
      acknowledged: 2,
      ackFailures: 0,
      ackTimeouts: 0,
      awaitingAck: 0,
    });
  });

  it('publishes uncaptured topics on core NATS', async () => {
    const stream = testStream();
    const other = testStream();
    const publisher = await openJetStreamPublisher(stream);
    const collector = await collect({
      endpoint: NATS_ENDPOINT,
      topics: [other.prefix],
    });

    publisher.publish(`${other.prefix}.live`, 'live only');
    const [event] = await collector.take(1);

    expect(event?.data).toBe('live only');
    expect(publisher.stats.acknowledged).toBe(0);
  });

  it('replays events since a time', async () => {
    const stream = testStream();
    const publisher = await openJetStreamPublisher(stream);
    for (const number of [1, 2, 3]) {
      publisher.publish(`${stream.prefix}.number`, number);
    }
    publisher.publish(`${stream.prefix}.numbers`, 'not this one');
    await acknowledged(publisher, 4);

    const collector = await collect({
      endpoint: NATS_ENDPOINT,
      topics: [`${stream.prefix}.number`],
      jetstream: { stream: stream.name, since: new Date(Date.now() - 60_000) },
    });
    publisher.publish(`${stream.prefix}.number`, 4);

    expect(numbers(await collector.take(4))).toEqual([1, 2, 3, 4]);
  });

  it('replays nothing from before the since time', async () => {
    const stream = testStream();
    const publisher = await openJetStreamPublisher(stream);
    publisher.publish(`${stream.prefix}.number`, 'old');
    await acknowledged(publisher, 1);

    // The stream stamps messages in milliseconds, so start strictly after
    // the old event's millisecond and publish the new one after the start.
    const since = new Date(Date.now() + 2);
    await waitUntil(
      'the start time has passed',
      () => Date.now() > since.getTime(),
    );
    const collector = await collect({
      endpoint: NATS_ENDPOINT,
      topics: [`${stream.prefix}.number`],
      jetstream: { stream: stream.name, since },
    });
    publisher.publish(`${stream.prefix}.number`, 'new');

    expect(numbers(await collector.take(1))).toEqual(['new']);
  });

  it('replays the last N matching events', async () => {
    const stream = testStream();
    const publisher = await openJetStreamPublisher(stream);
    for (const number of [1, 2, 3, 4, 5]) {
      publisher.publish(`${stream.prefix}.number`, number);
      publisher.publish(`${stream.prefix}.noise`, number);
    }
    publisher.publish(`${stream.prefix}.number.sub`, 6);
    publisher.publish(`${stream.prefix}.noise`, 7);
    await acknowledged(publisher, 12);

    const collector = await collect({
      endpoint: NATS_ENDPOINT,
      topics: [`${stream.prefix}.number`],
      jetstream: { stream: stream.name, last: 3 },
    });
    publisher.publish(`${stream.prefix}.number`, 8);

    expect(numbers(await collector.take(4))).toEqual([4, 5, 6, 8]);
  });

  it('replays everything when fewer than N are stored', async () => {
    const stream = testStream();
    const publisher = await openJetStreamPublisher(stream);
    publisher.publish(`${stream.prefix}.number`, 1);
    publisher.publish(`${stream.prefix}.number`, 2);
    await acknowledged(publisher, 2);

    const collector = await collect({
      endpoint: NATS_ENDPOINT,
      topics: [`${stream.prefix}.number`],
      jetstream: { stream: stream.name, last: 10 },
    });

    expect(numbers(await collector.take(2))).toEqual([1, 2]);
  });

  it('resumes a durable consumer after a restart', async () => {
    const stream = testStream();
    const publisher = await openJetStreamPublisher(stream);
    const options = {
      endpoint: NATS_ENDPOINT,
      topics: [`${stream.prefix}.number`],
      jetstream: { stream: stream.name, durable: 'reader' },
    };

    const first = await collect(options);
    for (const number of [1, 2, 3]) {
      publisher.publish(`${stream.prefix}.number`, number);
    }
    expect(numbers(await first.take(3))).toEqual([1, 2, 3]);
    await first.subscription.close();

    for (const number of [4, 5, 6]) {
      publisher.publish(`${stream.prefix}.number`, number);
    }
    await acknowledged(publisher, 6);
    const second = await collect(options);
    publisher.publish(`${stream.prefix}.number`, 7);

    expect(numbers(await second.take(4))).toEqual([4, 5, 6, 7]);
  });

  it('rejects a durable consumer reused for other topics', async () => {
    const stream = testStream();
    await openJetStreamPublisher(stream);
    const first = await collect({
      endpoint: NATS_ENDPOINT,
      topics: [`${stream.prefix}.a`],
      jetstream: { stream: stream.name, durable: 'reader' },
    });
    await first.subscription.close();

    const { events, warnings } = await readToEnd({
      endpoint: NATS_ENDPOINT,
      topics: [`${stream.prefix}.b`],
      jetstream: { stream: stream.name, durable: 'reader' },
    });

    expect(events).toEqual([]);
    expect(warnings).toEqual([
      `durable consumer reader-1 of stream ${stream.name} reads "${stream.prefix}.a", not "${stream.prefix}.b"; use another name for other topics`,
    ]);
  });

  it('shares events among a queue group', async () => {
    const stream = testStream();
    const publisher = await openJetStreamPublisher(stream);
    const notices: Notice[] = [];
    const options = {
      endpoint: NATS_ENDPOINT,
      topics: [`${stream.prefix}.job`],
      jetstream: { stream: stream.name, group: 'workers' },
      onNotice: (notice: Notice) => {
        if (notice.kind !== 'ready') {
          notices.push(notice);
        }
      },
    };
    const members = [subscribe(options), subscribe(options)];
    await Promise.all(members.map((member) => member.ready));
    const received: unknown[][] = [[], []];
    const reading = members.map(async (member, index) => {
      for await (const event of member) {
        received[index]?.push(event.data);
      }
    });

    const total = 40;
    for (let number = 1; number <= total; number++) {
      publisher.publish(`${stream.prefix}.job`, number);
    }
    await waitUntil(
      'every event arrived',
      () => received.flat().length >= total,
    );
    // Any event delivered twice would arrive by the time these are in.
    publisher.publish(`${stream.prefix}.job`, total + 1);
    await waitUntil(
      'the last event arrived',
      () => received.flat().length >= total + 1,
    );
    await Promise.all(members.map((member) => member.close()));
    await Promise.all(reading);

    const all = received.flat();
    expect(all).toHaveLength(total + 1);
    expect(new Set(all).size).toBe(total + 1);
    // Both members took part, so each saw gaps in the sequence, and a group
    // member reports none.
    expect(received[0]?.length).toBeGreaterThan(0);
    expect(received[1]?.length).toBeGreaterThan(0);
    expect(notices).toEqual([]);
  });

  it('queue group reports a restart', async () => {
    const stream = testStream();
    const first = await openJetStreamPublisher(stream);
    const collector = await collect({
      endpoint: NATS_ENDPOINT,
      topics: [`${stream.prefix}.job`],
      jetstream: { stream: stream.name, group: 'workers' },
    });
    first.publish(`${stream.prefix}.job`, 1);
    first.publish(`${stream.prefix}.job`, 2);
    await acknowledged(first, 2);
    await first.close();
    const second = await openJetStreamPublisher(stream);
    second.publish(`${stream.prefix}.job`, 3);

    expect(numbers(await collector.take(3))).toEqual([1, 2, 3]);
    const notices = collector.notices.filter(
      (notice) => notice.kind !== 'ready',
    );
    expect(notices).toEqual([
      {
        kind: 'restart',
        source: 'zpub://test/nats',
        previous: first.instance,
        current: second.instance,
      },
    ]);
  });

  it('reports a missing stream and ends', async () => {
    const stream = testStream();
    const { events, warnings } = await readToEnd({
      endpoint: NATS_ENDPOINT,
      jetstream: { stream: stream.name, last: 1 },
    });

    expect(events).toEqual([]);
    expect(warnings).toEqual([
      expect.stringContaining(`JetStream stream ${stream.name} not found`),
    ]);
  });

  it('reports a stream without the topics', async () => {
    const stream = testStream();
    await openJetStreamPublisher(stream);
    const { events, warnings } = await readToEnd({
      endpoint: NATS_ENDPOINT,
      topics: ['elsewhere'],
      jetstream: { stream: stream.name, last: 1 },
    });

    expect(events).toEqual([]);
    expect(warnings).toEqual([
      `JetStream stream ${stream.name} stores none of the requested topics; it stores ${stream.prefix}.>`,
    ]);
  });

  it('adds missing subjects to an existing stream', async () => {
    const stream = testStream();
    const first = await openJetStreamPublisher(stream);
    await first.close();
    await openNatsPublisher({
      stream: {
        name: stream.name,
        subjects: [`${stream.prefix}.>`, `${stream.prefix}x.>`],
      },
    });

    const connection = await connect({ servers: '127.0.0.1:4222' });
    const manager = await jetstreamManager(connection);
    const info = await manager.streams.info(stream.name);
    await connection.close();

    expect(info.config.subjects).toEqual([
      `${stream.prefix}.>`,
      `${stream.prefix}x.>`,
    ]);
  });
});
