import { XPublisher } from 'zeromq';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Publisher, subscribe, type Notice } from '../src/index.js';
import {
  WAIT_TIMEOUT_MS,
  collect,
  openPublisher,
  openRawPublisher,
  sendEvent,
  withTimeout,
} from './helpers.js';

describe('several endpoints', () => {
  it('are ready once every endpoint is live', async () => {
    const first = await openPublisher({ source: 'zpub://test/first' });
    // An endpoint with no publisher yet: its port is free once closed.
    const placeholder = await Publisher.open({
      endpoint: 'tcp://127.0.0.1:0',
    });
    const laterEndpoint = placeholder.endpoint;
    await placeholder.close();

    const notices: Notice[] = [];
    let onLive: (() => void) | undefined;
    const subscription = subscribe({
      endpoint: [first.endpoint, laterEndpoint],
      topics: ['number'],
      onNotice: (notice) => {
        notices.push(notice);
        if (notice.kind === 'live') {
          onLive?.();
        }
      },
    });
    onTestFinished(() => subscription.close());
    let isReady = false;
    void subscription.ready.then(() => (isReady = true));
    await withTimeout(
      new Promise<void>((resolve) => (onLive = resolve)),
      WAIT_TIMEOUT_MS,
      'the live notice',
    );

    // The endpoint with no publisher is also reported as unreachable, at a
    // moment that depends on libzmq's first connect attempt.
    const warnings = notices.filter((notice) => notice.kind === 'warning');
    const others = notices.filter((notice) => notice.kind !== 'warning');

    expect(isReady).toBe(false);
    expect(others).toEqual([
      {
        kind: 'live',
        endpoint: first.endpoint,
        confirmed: true,
        pending: [laterEndpoint],
      },
    ]);
    expect(warnings).toEqual(
      warnings.length === 0
        ? []
        : [
            {
              kind: 'warning',
              endpoint: laterEndpoint,
              message: `cannot connect to ${laterEndpoint}: nothing accepts connections there yet; retrying`,
            },
          ],
    );

    const later = await openPublisher({
      endpoint: laterEndpoint,
      source: 'zpub://test/later',
    });
    const readiness = await withTimeout(
      subscription.ready,
      WAIT_TIMEOUT_MS,
      'subscription.ready',
    );

    expect(readiness).toEqual({
      endpoint: later.endpoint,
      confirmed: true,
      endpoints: [
        { endpoint: first.endpoint, confirmed: true },
        { endpoint: later.endpoint, confirmed: true },
      ],
    });
    expect(
      notices
        .filter((notice) => notice.kind !== 'warning')
        .map((notice) => notice.kind),
    ).toEqual(['live', 'ready']);
  });

  it('are confirmed each by its own publisher', async () => {
    const publisher = await openPublisher();
    // A bare XPUB socket, as a publisher that is not zpub's: it never sends
    // a hello reply.
    const silent = new XPublisher({ linger: 0 });
    onTestFinished(() => silent.close());
    await silent.bind('tcp://127.0.0.1:*');
    const silentEndpoint = silent.lastEndpoint as string;

    const collector = await collect({
      endpoint: [publisher.endpoint, silentEndpoint],
      topics: ['number'],
    });
    const ready = collector.notices.find((notice) => notice.kind === 'ready');

    expect(ready).toMatchObject({
      confirmed: false,
      endpoints: [
        { endpoint: publisher.endpoint, confirmed: true },
        { endpoint: silentEndpoint, confirmed: false },
      ],
    });
  });

  it('connect a repeated endpoint once', async () => {
    const publisher = await openPublisher();
    const collector = await collect({
      endpoint: [publisher.endpoint, publisher.endpoint],
      topics: ['number'],
    });

    publisher.publish('number', 1);
    publisher.publish('number.end', 'end');
    const events = await collector.take(2);

    expect(events.map((event) => event.data)).toEqual([1, 'end']);
    expect(collector.notices).toEqual([
      {
        kind: 'ready',
        endpoint: publisher.endpoint,
        confirmed: true,
        endpoints: [{ endpoint: publisher.endpoint, confirmed: true }],
      },
    ]);
  });

  it('deliver events of two publishers', async () => {
    const first = await openPublisher({ source: 'zpub://test/first' });
    const second = await openPublisher({ source: 'zpub://test/second' });
    const collector = await collect({
      endpoint: [first.endpoint, second.endpoint],
      topics: ['number'],
    });

    first.publish('number', 'a1');
    second.publish('number', 'b1');
    const events = await collector.take(2);

    expect(events.map((event) => event.data).sort()).toEqual(['a1', 'b1']);
    expect(collector.notices.map((notice) => notice.kind)).toEqual([
      'live',
      'ready',
    ]);
  });
});

describe('sequences of two publishers', () => {
  it('report gaps per publisher instance', async () => {
    const first = await openRawPublisher();
    const second = await openRawPublisher();
    const collector = await collect({
      endpoint: [first.endpoint, second.endpoint],
      topics: ['number'],
    });

    // Both publishers use the same topic and overlapping sequences, so only
    // tracking per instance keeps them apart.
    const sends: [typeof first, string, number][] = [
      [first, 'instance-a', 1],
      [second, 'instance-b', 1],
      [first, 'instance-a', 2],
      [second, 'instance-b', 2],
      [first, 'instance-a', 3],
      [second, 'instance-b', 5],
      [first, 'instance-a', 4],
    ];
    for (const [transport, instance, sequence] of sends) {
      await sendEvent(transport, {
        topic: 'number',
        sequence,
        instance,
        source: `zpub://test/${instance}`,
      });
    }
    const events = await collector.take(sends.length);
    const gaps = collector.notices.filter((notice) => notice.kind === 'gap');

    expect(events).toHaveLength(sends.length);
    expect(gaps).toEqual([
      {
        kind: 'gap',
        topic: 'number',
        instance: 'instance-b',
        missed: 2,
        expected: 3,
        received: 5,
      },
    ]);
  });

  it('report the restart of one of them', async () => {
    const first = await openRawPublisher();
    const second = await openRawPublisher();
    const collector = await collect({
      endpoint: [first.endpoint, second.endpoint],
      topics: ['number'],
    });

    const sends: [typeof first, string, string, number][] = [
      [first, 'zpub://test/a', 'instance-a', 1],
      [second, 'zpub://test/b', 'instance-b', 1],
      [first, 'zpub://test/a', 'instance-a', 2],
      // The publisher at the first endpoint restarts: same source, new
      // instance, and its sequences begin again.
      [first, 'zpub://test/a', 'instance-a2', 1],
      [second, 'zpub://test/b', 'instance-b', 2],
      [first, 'zpub://test/a', 'instance-a2', 2],
      [second, 'zpub://test/b', 'instance-b', 3],
    ];
    for (const [transport, source, instance, sequence] of sends) {
      await sendEvent(transport, {
        topic: 'number',
        sequence,
        instance,
        source,
      });
    }
    await collector.take(sends.length);
    const kinds = collector.notices.map((notice) => notice.kind);

    expect(kinds).toEqual(['live', 'ready', 'restart']);
    expect(collector.notices[2]).toEqual({
      kind: 'restart',
      source: 'zpub://test/a',
      previous: 'instance-a',
      current: 'instance-a2',
    });
  });

  it('follow two real publishers without false gaps', async () => {
    const first = await openPublisher({ source: 'zpub://test/first' });
    const second = await openPublisher({ source: 'zpub://test/second' });
    const collector = await collect({
      endpoint: [first.endpoint, second.endpoint],
      topics: ['number'],
    });

    for (let value = 1; value <= 50; value++) {
      first.publish('number', value);
      second.publish('number', value);
    }
    const events = await collector.take(100);
    const instances = new Set(events.map((event) => event.zpubinstance));

    expect(instances).toEqual(new Set([first.instance, second.instance]));
    expect(collector.notices.map((notice) => notice.kind)).toEqual([
      'live',
      'ready',
    ]);
  });
});
