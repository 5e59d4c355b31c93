import { describe, expect, it } from 'vitest';
import { Publisher } from '../src/index.js';
import { collect, nextTurn, openPublisher } from './helpers.js';

function sequencesUpTo(count: number): string[] {
  return Array.from({ length: count }, (_, index) => String(index + 1));
}

describe('Publisher burst', () => {
  it('delivers 5,000 events across turns', async () => {
    const publisher = await openPublisher();
    const collector = await collect({
      endpoint: publisher.endpoint,
      topics: ['burst'],
    });

    for (let batch = 0; batch < 50; batch++) {
      for (let index = 0; index < 100; index++) {
        publisher.publish('burst', batch * 100 + index + 1);
      }
      await nextTurn();
    }
    // Sequences count per topic, so this marker leaves `burst` at 5,000 and
    // shows that nothing arrived after the last burst event.
    publisher.publish('burst.end', 'end');
    const events = await collector.take(5001, 8000);
    // Read before close, which makes the subscriber report `disconnected`.
    const noticeKinds = collector.notices.map((notice) => notice.kind);
    const stats = await publisher.close();

    const burst = events.slice(0, 5000);
    expect(burst.map((event) => event.sequence)).toEqual(sequencesUpTo(5000));
    expect(burst.map((event) => event.data)).toEqual(
      sequencesUpTo(5000).map(Number),
    );
    expect(events[5000]?.topic).toBe('burst.end');
    expect(stats).toEqual({
      published: 5001,
      unrouted: 0,
      dropped: 0,
      sendErrors: 0,
      queueDepth: 0,
    });
    expect(noticeKinds).toEqual(['ready']);
  });
});

describe('Publisher maxQueue', () => {
  it('drops and counts events over the bound', async () => {
    const publisher = await openPublisher({ maxQueue: 10 });

    const results = Array.from({ length: 15 }, (_, index) =>
      publisher.publish('number', index),
    );

    expect(results).toEqual([
      ...Array<boolean>(10).fill(true),
      ...Array<boolean>(5).fill(false),
    ]);
    expect(publisher.stats).toEqual({
      published: 0,
      unrouted: 0,
      dropped: 5,
      sendErrors: 0,
      queueDepth: 10,
    });
  });

  it('takes events again once the queue is sent', async () => {
    const publisher = await openPublisher({ maxQueue: 10 });
    const collector = await collect({
      endpoint: publisher.endpoint,
      topics: ['number'],
    });

    for (let index = 0; index < 12; index++) {
      publisher.publish('number', index);
    }
    await collector.take(10);
    const accepted = publisher.publish('number', 'after the drain');
    const [event] = await collector.take(1);

    expect(accepted).toBe(true);
    // The two dropped events took sequences 11 and 12, so subscribers see
    // them as a gap.
    expect(event?.sequence).toBe('13');
    expect(collector.notices).toContainEqual(
      expect.objectContaining({ kind: 'gap', missed: 2 }),
    );
    expect(publisher.stats).toEqual({
      published: 11,
      unrouted: 0,
      dropped: 2,
      sendErrors: 0,
      queueDepth: 0,
    });
  });

  it('drops events published after close', async () => {
    const publisher = await openPublisher();
    await publisher.close();

    const accepted = publisher.publish('number', 'late');

    expect(accepted).toBe(false);
    expect(publisher.stats).toEqual({
      published: 0,
      unrouted: 0,
      dropped: 1,
      sendErrors: 0,
      queueDepth: 0,
    });
  });
});

describe('Publisher close', () => {
  it('flushes queued events within the linger', async () => {
    const publisher = await openPublisher({ lingerMs: 2000 });
    const collector = await collect({
      endpoint: publisher.endpoint,
      topics: ['number'],
    });

    for (let index = 0; index < 100; index++) {
      publisher.publish('number', index);
    }
    const closing = publisher.close();
    const lateAccepted = publisher.publish('number', 'while closing');
    const stats = await closing;
    const events = await collector.take(100);

    expect(lateAccepted).toBe(false);
    expect(events.map((event) => event.data)).toEqual(
      Array.from({ length: 100 }, (_, index) => index),
    );
    expect(stats).toEqual({
      published: 100,
      unrouted: 0,
      dropped: 1,
      sendErrors: 0,
      queueDepth: 0,
    });
  });

  it('returns the same stats when called twice', async () => {
    const publisher = await openPublisher();
    publisher.publish('number', 1);

    const first = await publisher.close();
    const second = await publisher.close();

    expect(second).toEqual(first);
  });
});

describe('Publisher.open', () => {
  it.each([
    [{ maxQueue: 0 }, 'maxQueue'],
    [{ maxQueue: -1 }, 'maxQueue'],
    [{ maxQueue: 1.5 }, 'maxQueue'],
    [{ maxQueue: Number.NaN }, 'maxQueue'],
    [{ lingerMs: -1 }, 'lingerMs'],
    [{ lingerMs: 0.5 }, 'lingerMs'],
  ])('rejects %o', async (options, name) => {
    const error: unknown = await Publisher.open({
      endpoint: 'tcp://127.0.0.1:0',
      ...options,
    }).then(
      async (publisher) => {
        await publisher.close();
        return undefined;
      },
      (reason: unknown) => reason,
    );

    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toContain(name);
  });

  it.each([
    [{ source: '' }, 'source must be a non-blank string', "got ''"],
    [{ source: ' \t' }, 'source must be a non-blank string', "got ' \\t'"],
    [{ source: 42 }, 'source must be a non-blank string', 'got 42'],
    [{ mode: 'connnect' }, "mode must be 'bind' or 'connect'", "'connnect'"],
    [{ mode: 'Bind' }, "mode must be 'bind' or 'connect'", "got 'Bind'"],
    [{ endpoint: 5555 }, 'endpoint must be a string', 'got 5555'],
    [{ stream: 'ZPUB' }, 'stream must be an object', "got 'ZPUB'"],
    [
      { stream: { name: 'ZPUB' } },
      'stream needs a nats:// endpoint',
      '"tcp://127.0.0.1:0"',
    ],
    [{ onSendError: 'log' }, 'onSendError must be a function', "got 'log'"],
    [
      { onConnectionChange: true },
      'onConnectionChange must be a function',
      'got true',
    ],
    [
      { onHandshakeFailed: {} },
      'onHandshakeFailed must be a function',
      'got {}',
    ],
  ])('rejects %o by name', async (options, rule, value) => {
    const error: unknown = await Publisher.open({
      endpoint: 'tcp://127.0.0.1:0',
      ...(options as object),
    }).then(
      async (publisher) => {
        await publisher.close();
        return undefined;
      },
      (reason: unknown) => reason,
    );

    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(rule);
    expect((error as Error).message).toContain(value);
  });
});
