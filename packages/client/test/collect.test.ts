import { collect } from 'test-helpers';
import { describe, expect, it } from 'vitest';
import { subscribe } from '../src/index.js';
import { openPublisher, openRawPublisher, sendEvent } from './helpers.js';

describe('shared collect helper', () => {
  it('take fails after its timeout', async () => {
    const publisher = await openPublisher();
    const collector = await collect(subscribe, {
      endpoint: publisher.endpoint,
      topics: ['number'],
    });
    publisher.publish('number', 1);

    await expect(collector.take(2, 200)).rejects.toThrow(
      'received 1 of 2 events',
    );
  });

  it('nextNotice returns notices in order', async () => {
    const transport = await openRawPublisher();
    const collector = await collect(subscribe, {
      endpoint: transport.endpoint,
      topics: ['number'],
    });
    for (const sequence of [1, 3, 6]) {
      await sendEvent(transport, {
        topic: 'number',
        sequence,
        instance: 'instance-a',
      });
    }
    // Notices are reported as events are decoded, so the events come first.
    await collector.take(3);

    const first = await collector.nextNotice('gap');
    const second = await collector.nextNotice('gap');

    expect(first.expected).toBe(2);
    expect(second.expected).toBe(4);
    await expect(collector.nextNotice('gap', 200)).rejects.toThrow(
      'no "gap" notice within 200 ms; notices so far: ready, gap, gap',
    );
  });
});
