import {
  MESSAGE_EVENT_TYPE,
  SPEC_VERSION,
  decodeMessage,
  type DecodedMessage,
  type SubscriberStatus,
} from '@zpub/protocol';
import { ZmqSubscriberTransport } from '@zpub/zeromq';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  WAIT_TIMEOUT_MS,
  collect,
  openPublisher,
  openRawPublisher,
  sendEvent,
  sendText,
  withTimeout,
} from './helpers.js';

describe('publish and subscribe', () => {
  it('delivers one event', async () => {
    const publisher = await openPublisher({ source: 'zpub://test/one' });
    const collector = await collect({
      endpoint: publisher.endpoint,
      topics: ['number'],
    });

    const queued = publisher.publish('number', { value: 7 });
    const [event] = await collector.take(1);

    expect(queued).toBe(true);
    expect(event?.specversion).toBe(SPEC_VERSION);
    expect(event?.type).toBe(MESSAGE_EVENT_TYPE);
    expect(event?.source).toBe('zpub://test/one');
    expect(event?.topic).toBe('number');
    expect(event?.sequence).toBe('1');
    expect(event?.zpubinstance).toBe(publisher.instance);
    expect(event?.data).toEqual({ value: 7 });
    expect(collector.notices).toEqual([
      { kind: 'ready', endpoint: publisher.endpoint, confirmed: true },
    ]);
  });

  it('sends one batch per topic per turn', async () => {
    const publisher = await openPublisher();
    const collector = await collect({
      endpoint: publisher.endpoint,
      topics: ['number'],
    });
    const raw = await openRawSubscriber(publisher.endpoint, ['number']);

    // One turn: two topics, interleaved.
    publisher.publish('number', 'a');
    publisher.publish('number.x', 'b');
    publisher.publish('number', 'c');
    publisher.publish('number.x', 'd');
    publisher.publish('number', 'e');
    await collector.take(5);
    // A later turn, so that its message follows the batches on the wire.
    publisher.publish('number.end', 'f');
    const [first, second, third] = await raw.take(3);

    expect(first).toMatchObject({ topic: 'number', batch: true });
    expect(first?.events.map((event) => event.data)).toEqual(['a', 'c', 'e']);
    expect(second).toMatchObject({ topic: 'number.x', batch: true });
    expect(second?.events.map((event) => event.data)).toEqual(['b', 'd']);
    expect(third).toMatchObject({ topic: 'number.end', batch: false });
  });

  it('yields a batch flattened in order', async () => {
    const publisher = await openPublisher();
    const collector = await collect({
      endpoint: publisher.endpoint,
      topics: ['number'],
    });

    for (let value = 1; value <= 20; value++) {
      publisher.publish('number', value);
    }
    const events = await collector.take(20);

    const expected = Array.from({ length: 20 }, (_, index) => index + 1);
    expect(events.map((event) => event.data)).toEqual(expected);
    expect(events.map((event) => event.sequence)).toEqual(expected.map(String));
    expect(events.map((event) => event.topic)).toEqual(
      expected.map(() => 'number'),
    );
    expect(noticeKinds(collector.notices)).toEqual(['ready']);
  });
});

/** Topics each case publishes, in this order. */
const PUBLISHED_TOPICS = [
  'numbers',
  'number',
  'other',
  'number.x',
  'numberx',
  'number.x.y',
  'number.y',
];

describe.each([
  {
    topics: ['number'],
    expected: ['number', 'number.x', 'number.x.y', 'number.y'],
    last: 'number.last',
  },
  {
    topics: ['number.x'],
    expected: ['number.x', 'number.x.y'],
    last: 'number.x.last',
  },
  { topics: ['numbers'], expected: ['numbers'], last: 'numbers.last' },
  {
    topics: ['number.x', 'numbers'],
    expected: ['numbers', 'number.x', 'number.x.y'],
    last: 'numbers.last',
  },
  { topics: [], expected: PUBLISHED_TOPICS, last: 'last' },
  { topics: [''], expected: PUBLISHED_TOPICS, last: 'last' },
  { topics: ['number', ''], expected: PUBLISHED_TOPICS, last: 'last' },
])('topics $topics', ({ topics, expected, last }) => {
  it('receive the matching topics only', async () => {
    const publisher = await openPublisher();
    const collector = await collect({ endpoint: publisher.endpoint, topics });

    for (const topic of PUBLISHED_TOPICS) {
      publisher.publish(topic, topic);
    }
    // Published last and matched by the filters, so every event that was
    // wrongly let through arrives before it.
    publisher.publish(last, last);
    const events = await collector.take(expected.length + 1);

    expect(events.map((event) => event.topic)).toEqual([...expected, last]);
  });
});

describe('control topics', () => {
  it('are never yielded', async () => {
    const transport = await openRawPublisher();
    const collector = await collect({ endpoint: transport.endpoint });

    // A second subscriber makes the publisher reply to its hello, on a topic
    // the first subscriber receives because it subscribed to everything.
    const other = await collect({ endpoint: transport.endpoint });
    await sendText(transport, '~zpub.other', '{"specversion":"1.0"}');
    await sendText(transport, '~zpub.hello.unknown.1', '{}');
    await sendEvent(transport, {
      topic: 'number',
      sequence: 1,
      instance: 'instance-a',
    });
    const [event] = await collector.take(1);
    const [otherEvent] = await other.take(1);

    expect(event?.topic).toBe('number');
    expect(otherEvent?.topic).toBe('number');
    expect(noticeKinds(collector.notices)).toEqual(['ready']);
  });
});

function noticeKinds(notices: readonly { kind: string }[]): string[] {
  return notices.map((notice) => notice.kind);
}

/**
 * Opens a transport-level subscriber, waits until it is live, and decodes the
 * messages it receives, so a test can see how events were batched.
 */
async function openRawSubscriber(endpoint: string, filters: string[]) {
  let markLive: (() => void) | undefined;
  const live = new Promise<void>((resolve) => (markLive = resolve));
  const transport = ZmqSubscriberTransport.open({
    endpoints: [endpoint],
    filters,
    onStatus: (status: SubscriberStatus) => {
      if (status.kind === 'live') {
        markLive?.();
      }
    },
  });
  onTestFinished(() => transport.close());
  await withTimeout(live, WAIT_TIMEOUT_MS, 'the live status');
  const iterator = transport[Symbol.asyncIterator]();

  return {
    async take(count: number): Promise<DecodedMessage[]> {
      const messages: DecodedMessage[] = [];
      while (messages.length < count) {
        const next = await withTimeout(
          iterator.next(),
          WAIT_TIMEOUT_MS,
          `message ${messages.length + 1} of ${count}`,
        );
        if (next.done === true) {
          throw new Error('the subscriber ended');
        }
        messages.push(decodeMessage(next.value));
      }

      return messages;
    },
  };
}
