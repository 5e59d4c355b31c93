import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  decodeMessage,
  type PublisherTransport,
  type TransportMessage,
  type ZpubEvent,
} from '@zpub/protocol';
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_BYTES, Publisher } from '../src/index.js';

/** A transport that records messages, resolving sends at once or later. */
class RecordingTransport implements PublisherTransport {
  readonly endpoint = 'test://recording';
  readonly messages: TransportMessage[] = [];
  /** Sends that had not settled when the next one was made. */
  overlapping = 0;
  failNext: Error | undefined;
  #pending = 0;

  constructor(readonly concurrentSends: boolean) {}

  async send(message: TransportMessage): Promise<void> {
    if (this.#pending > 0) {
      this.overlapping++;
    }
    this.#pending++;
    try {
      await nextTurn();
      const error = this.failNext;
      this.failNext = undefined;
      if (error !== undefined) {
        throw error;
      }
      this.messages.push(message);
    } finally {
      this.#pending--;
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  events(): { topic: string; events: ZpubEvent[] }[] {
    return this.messages.map(({ topic, payload }) => {
      const bytes =
        typeof payload === 'string' ? Buffer.from(payload) : payload;
      const decoded = decodeMessage([Buffer.from(topic), bytes]);
      return { topic: decoded.topic, events: decoded.events };
    });
  }
}

async function open(concurrentSends = true, maxQueue?: number) {
  const transport = new RecordingTransport(concurrentSends);
  const publisher = await Publisher.open({
    transport,
    source: 'zpub://test',
    maxQueue,
  });

  return { transport, publisher };
}

async function settle(publisher: Publisher): Promise<void> {
  for (let turn = 0; turn < 10 && publisher.stats.queueDepth > 0; turn++) {
    await nextTurn();
  }
}

describe('Publisher batching', () => {
  it('sends one message per topic per turn', async () => {
    const { transport, publisher } = await open();
    publisher.publish('a', 1);
    publisher.publish('b', 2);
    publisher.publish('a', 3);
    await settle(publisher);

    const messages = transport.events();
    expect(messages.map((message) => message.topic)).toEqual(['a', 'b']);
    expect(messages[0]?.events.map((event) => event.data)).toEqual([1, 3]);
    expect(messages[1]?.events.map((event) => event.data)).toEqual([2]);
  });

  it('sends a single event as a plain event', async () => {
    const { transport, publisher } = await open();
    publisher.publish('a', 1);
    await settle(publisher);

    const text = Buffer.from(transport.messages[0]?.payload ?? []).toString();
    expect(text.startsWith('{')).toBe(true);
  });

  it('splits batches at MAX_BATCH_BYTES', async () => {
    const { transport, publisher } = await open();
    const data = 'x'.repeat(50_000);
    for (let index = 0; index < 12; index++) {
      publisher.publish('big', data);
    }
    await settle(publisher);

    const sizes = transport.messages.map((message) => message.payload.length);
    expect(transport.messages.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_BATCH_BYTES + 2);
    const total = transport.events().flatMap((message) => message.events);
    expect(total.map((event) => event.sequence)).toEqual(
      Array.from({ length: 12 }, (_, index) => String(index + 1)),
    );
  });

  it('numbers sequences per topic', async () => {
    const { transport, publisher } = await open();
    publisher.publish('a', 1);
    publisher.publish('b', 1);
    await settle(publisher);
    publisher.publish('a', 2);
    await settle(publisher);

    const sequences = transport
      .events()
      .flatMap((message) => message.events)
      .map((event) => `${event.topic}:${event.sequence}`);
    expect(sequences).toEqual(['a:1', 'b:1', 'a:2']);
  });
});

describe('Publisher sends', () => {
  it('overlaps sends when the transport allows it', async () => {
    const { transport, publisher } = await open(true);
    publisher.publish('a', 1);
    publisher.publish('b', 1);
    publisher.publish('c', 1);
    await settle(publisher);

    expect(transport.messages).toHaveLength(3);
    expect(transport.overlapping).toBeGreaterThan(0);
  });

  it('waits for each send otherwise', async () => {
    const { transport, publisher } = await open(false);
    publisher.publish('a', 1);
    publisher.publish('b', 1);
    await nextTurn();
    publisher.publish('c', 1);
    await settle(publisher);

    expect(transport.messages.map((message) => message.topic)).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(transport.overlapping).toBe(0);
  });

  it('counts events of a failed send', async () => {
    const errors: Error[] = [];
    const transport = new RecordingTransport(true);
    const publisher = await Publisher.open({
      transport,
      onSendError: (error) => errors.push(error),
    });
    transport.failNext = new Error('send failed');
    publisher.publish('a', 1);
    publisher.publish('a', 2);
    await settle(publisher);

    expect(publisher.stats.sendErrors).toBe(2);
    expect(publisher.stats.published).toBe(0);
    expect(errors.map((error) => error.message)).toEqual(['send failed']);
  });

  it('counts published events and empties the queue', async () => {
    const { publisher } = await open();
    publisher.publish('a', 1);
    publisher.publish('b', 2);
    expect(publisher.stats.queueDepth).toBe(2);
    await settle(publisher);

    expect(publisher.stats).toEqual({
      published: 2,
      unrouted: 0,
      dropped: 0,
      sendErrors: 0,
      queueDepth: 0,
    });
  });
});

describe('Publisher limits', () => {
  it('drops events past maxQueue', async () => {
    const { publisher } = await open(true, 2);
    expect(publisher.publish('a', 1)).toBe(true);
    expect(publisher.publish('a', 2)).toBe(true);
    expect(publisher.publish('a', 3)).toBe(false);
    await settle(publisher);

    expect(publisher.stats.dropped).toBe(1);
    expect(publisher.stats.published).toBe(2);
  });

  it('rejects an invalid topic without a sequence', async () => {
    const { transport, publisher } = await open();
    expect(() => publisher.publish('bad topic', 1)).toThrow(/invalid topic/);
    expect(() => publisher.publish('bad topic', 1)).toThrow(/invalid topic/);
    publisher.publish('good', 1);
    await settle(publisher);

    expect(transport.events()[0]?.events[0]?.sequence).toBe('1');
  });

  it('rejects data JSON cannot encode without a sequence', async () => {
    const { transport, publisher } = await open();
    expect(() => publisher.publish('a', { big: 1n })).toThrow(TypeError);
    publisher.publish('a', 1);
    await settle(publisher);

    expect(transport.events()[0]?.events[0]?.sequence).toBe('1');
  });

  it('sends queued events on close', async () => {
    const { transport, publisher } = await open(false);
    publisher.publish('a', 1);
    publisher.publish('b', 2);
    const stats = await publisher.close();

    expect(stats.published).toBe(2);
    expect(transport.messages).toHaveLength(2);
    expect(publisher.publish('a', 3)).toBe(false);
  });
});

describe('Publisher flushDelayMs', () => {
  it('batches events across turns', async () => {
    const transport = new RecordingTransport(true);
    const publisher = await Publisher.open({ transport, flushDelayMs: 20 });
    publisher.publish('a', 1);
    await nextTurn();
    publisher.publish('a', 2);
    await nextTurn();
    expect(transport.messages).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(transport.events().map((message) => message.events.length)).toEqual([
      2,
    ]);
  });

  it('sends waiting events at close', async () => {
    const transport = new RecordingTransport(true);
    const publisher = await Publisher.open({
      transport,
      flushDelayMs: 60_000,
    });
    publisher.publish('a', 1);
    const stats = await publisher.close();

    expect(stats.published).toBe(1);
    expect(transport.messages).toHaveLength(1);
  });

  it('rejects a negative delay', async () => {
    await expect(
      Publisher.open({
        transport: new RecordingTransport(true),
        flushDelayMs: -1,
      }),
    ).rejects.toThrow(/flushDelayMs must be an integer of at least 0/);
  });
});
