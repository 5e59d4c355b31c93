import { describe, expect, it } from 'vitest';
import type { NatsConnectionChange } from '../src/index.js';
import { collect } from './helpers.js';
import { OwnNatsServer, openNatsPublisher, waitUntil } from './nats-helpers.js';

describe('NATS outage', () => {
  it('counts failures and resumes after a restart', async () => {
    const server = await OwnNatsServer.start();
    const changes: NatsConnectionChange[] = [];
    const errors: Error[] = [];
    const publisher = await openNatsPublisher({
      endpoint: server.endpoint,
      stream: { name: 'OUTAGE', subjects: ['load.>'] },
      ackTimeoutMs: 500,
      onConnectionChange: (change) => changes.push(change),
      onSendError: (error) => errors.push(error),
    });
    const collector = await collect({
      endpoint: server.endpoint,
      topics: ['load'],
    });
    const durable = await collect({
      endpoint: server.endpoint,
      topics: ['load'],
      jetstream: { stream: 'OUTAGE', durable: 'reader' },
    });

    // Load: one event per millisecond-ish tick while the server goes away
    // and comes back. publish() must keep returning without throwing.
    let number = 0;
    let publishing = true;
    const results: boolean[] = [];
    const load = (async () => {
      while (publishing) {
        results.push(publisher.publish('load.tick', ++number));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();

    await collector.take(5);
    await server.stop();
    await waitUntil('the publisher saw the outage', () =>
      changes.some((change) => !change.connected),
    );
    await waitUntil(
      'sends failed during the outage',
      () => publisher.stats.sendErrors + (publisher.stats.ackTimeouts ?? 0) > 0,
    );
    await server.restart();
    await collector.nextNotice('reconnected');
    await waitUntil('the publisher reconnected', () =>
      changes.some((change) => change.connected),
    );
    const acknowledgedBefore = publisher.stats.acknowledged ?? 0;
    await waitUntil(
      'new events were acknowledged',
      () => (publisher.stats.acknowledged ?? 0) > acknowledgedBefore + 10,
    );
    const mark = number;
    const after = await (async () => {
      while (true) {
        const [event] = await collector.take(1);
        if ((event?.data as number) > mark) {
          return event;
        }
      }
    })();
    const afterOnStream = await (async () => {
      while (true) {
        const [event] = await durable.take(1);
        if ((event?.data as number) > mark) {
          return event;
        }
      }
    })();
    publishing = false;
    await load;

    expect(results.length).toBeGreaterThan(0);
    expect(after?.data).toBeGreaterThan(mark);
    expect(afterOnStream?.data).toBeGreaterThan(mark);
    expect(changes.map((change) => change.connected)).toEqual([false, true]);
    expect(errors.length).toBeGreaterThan(0);
    expect(publisher.stats.acknowledged).toBeGreaterThan(acknowledgedBefore);
    expect(collector.notices.some((notice) => notice.kind === 'gap')).toBe(
      true,
    );
  });
});
