import { ZmqPublisherTransport } from '@zpub/zeromq';
import type { ZpubEvent } from '@zpub/protocol';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Publisher, subscribe, type Notice } from '../src/index.js';
import { collect, nextTurn, openPublisher } from './helpers.js';

const MEGABYTE = 1024 * 1024;

/** Publishes `count` events on `topic` in chunks, letting each chunk go out. */
async function publishMany(
  publisher: Publisher,
  topic: string,
  count: number,
  onChunk: (sent: number) => void = () => undefined,
): Promise<void> {
  const chunk = 5000;
  for (let sent = 0; sent < count; sent += chunk) {
    for (let index = 0; index < chunk; index++) {
      publisher.publish(topic, sent + index);
    }
    while (publisher.stats.queueDepth > 0) {
      await nextTurn();
    }
    onChunk(sent + chunk);
  }
}

/** Collects garbage, when Node.js runs with --expose-gc as vitest.config.ts sets. */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

describe('no subscriber', () => {
  // 1,000,000 events through the real publisher and XPUB socket, in this
  // process. It checks two things: the events that reached no subscriber
  // are counted as unrouted, and memory levels off instead of growing with
  // the number of events. Garbage is collected before each sample, so that
  // heap use counts live objects only.
  it('counts 1,000,000 unrouted events in bounded memory', async () => {
    const publisher = await openPublisher();
    const total = 1_000_000;
    const warmUp = 100_000;
    let afterWarmUp = process.memoryUsage();

    await publishMany(publisher, 'number', total, (sent) => {
      if (sent === warmUp) {
        collectGarbage();
        afterWarmUp = process.memoryUsage();
      }
    });
    collectGarbage();
    const atEnd = process.memoryUsage();
    const stats = publisher.stats;
    const rssGrowth = (atEnd.rss - afterWarmUp.rss) / MEGABYTE;
    const heapGrowth = (atEnd.heapUsed - afterWarmUp.heapUsed) / MEGABYTE;

    expect(stats.published).toBe(total);
    expect(stats.unrouted).toBe(total);
    expect(stats.dropped).toBe(0);
    expect(stats.queueDepth).toBe(0);
    expect(
      rssGrowth,
      `RSS grew by ${rssGrowth.toFixed(1)} MB after warm-up`,
    ).toBeLessThan(50);
    // A leak of 10 bytes per event would be 9 MB here.
    expect(
      heapGrowth,
      `heap use grew by ${heapGrowth.toFixed(1)} MB after warm-up`,
    ).toBeLessThan(5);
  }, 120_000);

  it('counts as routed only events a subscriber matched', async () => {
    const publisher = await openPublisher();
    const collector = await collect({
      endpoint: publisher.endpoint,
      topics: ['number'],
    });

    publisher.publish('number', 1);
    publisher.publish('other', 2);
    await collector.take(1);
    while (publisher.stats.queueDepth > 0) {
      await nextTurn();
    }

    expect(publisher.stats.published).toBe(2);
    expect(publisher.stats.unrouted).toBe(1);
  });
});

/** Events of the slow subscriber's test: 10,000 at 10,000 per second. */
const FLOOD_EVENTS = 10_000;
const FLOOD_INTERVAL_MS = 0.1;
/** The slow subscriber reads one event every 10 ms, 100 per second. */
const SLOW_READ_MS = 10;

describe('slow subscriber', () => {
  // A subscriber that reads 100 events/s while 10,000/s are published falls
  // behind until libzmq's queues for it are full, and the publisher drops
  // its messages, while a fast subscriber beside it gets every event. Once the flood is over it reads the rest at full speed,
  // and a tail of further events shows where its stream ends. The events
  // are 4 KiB each, so that the flood is larger than every buffer between
  // the two (high-water marks of 1,000 and 100 messages plus the kernel's
  // socket buffers) and losses are certain.
  it('reports exactly what it missed', async () => {
    const transport = await ZmqPublisherTransport.open('tcp://127.0.0.1:0', {
      sendHighWaterMark: 1000,
    });
    const publisher = await Publisher.open({ transport, maxQueue: 100_000 });
    onTestFinished(async () => {
      await publisher.close();
    });
    const fast = await collect({
      endpoint: publisher.endpoint,
      topics: ['number'],
    });
    const slowNotices: Notice[] = [];
    const slow = subscribe({
      endpoint: publisher.endpoint,
      topics: ['number'],
      receiveHighWaterMark: 100,
      onNotice: (notice) => slowNotices.push(notice),
    });
    onTestFinished(() => slow.close());
    await slow.ready;

    let flooding = true;
    const slowEvents: ZpubEvent[] = [];
    let lastFlood = 0;
    const reading = (async () => {
      for await (const event of slow) {
        slowEvents.push(event);
        if (Number(event.sequence) > FLOOD_EVENTS) {
          return;
        }
        if (flooding) {
          await new Promise((resolve) => setTimeout(resolve, SLOW_READ_MS));
        }
      }
    })();

    // One event per turn of the event loop, so that each is a message of its
    // own, at 10,000 per second at most.
    const padding = 'x'.repeat(4096);
    const started = performance.now();
    while (lastFlood < FLOOD_EVENTS) {
      if (performance.now() - started >= lastFlood * FLOOD_INTERVAL_MS) {
        publisher.publish('number', { index: lastFlood, padding });
        lastFlood++;
      }
      await nextTurn();
    }
    const fastEvents = await fast.take(FLOOD_EVENTS, 30_000);
    flooding = false;
    // The tail: one event every 50 ms until the slow subscriber gets one.
    let tailDone = false;
    void reading.then(() => (tailDone = true));
    while (!tailDone) {
      publisher.publish('number', { tail: true });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await reading;

    const lastSequence = Number(slowEvents.at(-1)?.sequence);
    const missed = slowNotices.reduce(
      (total, notice) => total + (notice.kind === 'gap' ? notice.missed : 0),
      0,
    );
    expect(lastFlood).toBe(FLOOD_EVENTS);
    expect(fastEvents.map((event) => Number(event.sequence))).toEqual(
      Array.from({ length: FLOOD_EVENTS }, (_, index) => index + 1),
    );
    expect(fast.notices.filter((notice) => notice.kind === 'gap')).toEqual([]);
    expect(missed, 'the slow subscriber lost nothing').toBeGreaterThan(0);
    expect(slowEvents.length + missed).toBe(lastSequence);
  }, 60_000);
});
