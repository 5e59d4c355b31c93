import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../src/histogram.js';
import {
  formatMilliseconds,
  formatStatsLine,
  formatUptime,
  renderStatsScreen,
} from '../src/stats-view.js';
import { MAX_ROWS, OTHER_ROW, StatsCollector } from '../src/stats.js';
import { makeEvent, requestEvent } from './helpers.js';

describe('LatencyHistogram', () => {
  it('is empty at first', () => {
    const histogram = new LatencyHistogram();

    expect(histogram.count).toBe(0);
    expect(histogram.percentile(0.5)).toBeUndefined();
  });

  it('gives percentiles within 1 %', () => {
    const histogram = new LatencyHistogram();
    for (let value = 1; value <= 1000; value++) {
      histogram.add(value);
    }

    for (const [fraction, exact] of [
      [0.5, 500],
      [0.95, 950],
      [0.99, 990],
      [1, 1000],
    ] as const) {
      const estimate = histogram.percentile(fraction) ?? Number.NaN;
      expect(Math.abs(estimate - exact) / exact, `p${fraction}`).toBeLessThan(
        0.01,
      );
    }
  });

  it('keeps percentiles in the observed range', () => {
    const histogram = new LatencyHistogram();
    histogram.add(3.3);
    histogram.add(3.3);

    expect(histogram.percentile(0.5)).toBe(3.3);
    expect(histogram.percentile(0.99)).toBe(3.3);
  });

  it('counts zero and ignores invalid values', () => {
    const histogram = new LatencyHistogram();
    histogram.add(0);
    histogram.add(-1);
    histogram.add(Number.NaN);
    histogram.add(Number.POSITIVE_INFINITY);

    expect(histogram.count).toBe(1);
    expect(histogram.percentile(0.5)).toBe(0);
  });
});

describe('StatsCollector', () => {
  it('counts events per topic and route', () => {
    const collector = new StatsCollector(['tcp://127.0.0.1:1'], 0);
    collector.observe(requestEvent({ status: 200, durationMs: 2 }));
    collector.observe(requestEvent({ status: 404, durationMs: 4 }));
    collector.observe(
      requestEvent({ method: 'post', route: undefined, status: 503 }),
    );
    collector.observe(makeEvent({ topic: 'number' }));
    const snapshot = collector.takeSnapshot(2000);

    expect(snapshot.intervalMs).toBe(2000);
    expect(snapshot.interval.events).toBe(4);
    expect(snapshot.interval.statusClasses).toEqual([0, 1, 0, 1, 1, 0]);
    expect(snapshot.topics.map((row) => [row.name, row.totalEvents])).toEqual([
      ['http.GET.print.:number', 2],
      ['http.post.print.:number', 1],
      ['number', 1],
    ]);
    expect(snapshot.routes.map((row) => [row.name, row.totalEvents])).toEqual([
      ['GET /print/:number', 2],
      ['POST (no route)', 1],
    ]);
    expect(snapshot.routes[0]?.statusClasses).toEqual([0, 1, 0, 1, 0, 0]);
    expect(snapshot.routes[0]?.latency.percentile(1)).toBeCloseTo(4, 1);
  });

  it('starts a new interval at each snapshot', () => {
    const collector = new StatsCollector([], 0);
    collector.observe(requestEvent({}));
    collector.notice({
      kind: 'gap',
      topic: 'number',
      instance: 'a',
      missed: 3,
      expected: 2,
      received: 5,
    });
    collector.takeSnapshot(1000);
    collector.observe(makeEvent());
    const second = collector.takeSnapshot(1500);

    expect(second.elapsedMs).toBe(1500);
    expect(second.intervalMs).toBe(500);
    expect(second.interval.events).toBe(1);
    expect(second.interval.missed).toBe(0);
    expect(second.interval.latency.count).toBe(0);
    expect(second.total.events).toBe(2);
    expect(second.total.missed).toBe(3);
    expect(second.topics.map((row) => row.intervalEvents)).toEqual([1, 0]);
  });

  it('counts notices', () => {
    const collector = new StatsCollector([], 0);
    collector.notice({
      kind: 'restart',
      source: 's',
      previous: 'a',
      current: 'b',
    });
    collector.notice({
      kind: 'out-of-order',
      topic: 'number',
      instance: 'b',
      received: 1,
      last: 2,
    });
    const snapshot = collector.takeSnapshot(1);

    expect(snapshot.total.restarts).toBe(1);
    expect(snapshot.total.outOfOrder).toBe(1);
    expect(snapshot.total.invalid).toBe(0);
  });

  it('counts publisher instances', () => {
    const collector = new StatsCollector([], 0);
    collector.observe(makeEvent({ instance: 'a' }));
    collector.observe(makeEvent({ instance: 'a' }));
    collector.observe(makeEvent({ instance: 'b' }));

    expect(collector.takeSnapshot(1).instances).toBe(2);
  });

  it('follows the state of each endpoint', () => {
    const first = 'tcp://127.0.0.1:1';
    const second = 'tcp://127.0.0.1:2';
    const collector = new StatsCollector([first, second], 0);
    collector.notice({
      kind: 'live',
      endpoint: first,
      confirmed: true,
      pending: [second],
    });
    const states = (): string[] =>
      collector.takeSnapshot(1).endpoints.map((entry) => entry.state);

    expect(states()).toEqual(['live', 'waiting']);
    collector.notice({ kind: 'disconnected', endpoint: first });
    expect(states()).toEqual(['disconnected', 'waiting']);
  });

  it('bounds the number of topic rows', () => {
    const collector = new StatsCollector([], 0);
    for (let index = 0; index < MAX_ROWS + 20; index++) {
      collector.observe(makeEvent({ topic: `topic${index}` }));
    }
    const { topics } = collector.takeSnapshot(1);

    expect(topics).toHaveLength(MAX_ROWS + 1);
    expect(topics.find((row) => row.name === OTHER_ROW)?.totalEvents).toBe(20);
  });
});

describe('stats view', () => {
  function snapshotOfTraffic(): ReturnType<StatsCollector['takeSnapshot']> {
    const collector = new StatsCollector(['tcp://127.0.0.1:5555'], 0);
    for (let index = 0; index < 10; index++) {
      collector.observe(requestEvent({ status: 200, durationMs: 1 }));
    }
    collector.observe(requestEvent({ status: 500, durationMs: 100 }));
    collector.observe(
      makeEvent({ topic: 'number', instance: 'instance-request' }),
    );

    return collector.takeSnapshot(2000);
  }

  it('formats a summary line in logfmt', () => {
    const line = formatStatsLine(
      snapshotOfTraffic(),
      new Date('2024-01-02T03:04:05.000Z'),
    );

    expect(line).toBe(
      'time=2024-01-02T03:04:05.000Z interval=2.0s events=12 rate=6.0/s total=12 1xx=0 2xx=10 3xx=0 4xx=0 5xx=1 other=0 p50=1.00ms p95=100ms p99=100ms missed=0 invalid=0 out_of_order=0 restarts=0 instances=1 live=0/1',
    );
  });

  it('draws every section in the terminal size', () => {
    const lines = renderStatsScreen(
      snapshotOfTraffic(),
      { columns: 120, rows: 30 },
      ['zsub: ready, subscribed to tcp://127.0.0.1:5555 (topics: all)'],
    );
    const screen = lines.join('\n');

    expect(lines.length).toBeLessThanOrEqual(30);
    for (const line of lines) {
      expect(line.length).toBeLessThanOrEqual(120);
    }
    expect(screen).toContain('tcp://127.0.0.1:5555 waiting');
    expect(screen).toMatch(/since start\s+6\.0\s+12\s+0\s+10\s+0\s+0\s+1\s/);
    expect(screen).toMatch(/GET \/print\/:number\s+5\.5\s+11\s+10\s+0\s+1\s/);
    expect(screen).toMatch(/^number\s+0\.5\s+1$/m);
    expect(screen).toContain('NOTICES');
    expect(screen).toContain('zsub: ready, subscribed');
  });

  it('cuts rows to a small terminal', () => {
    const lines = renderStatsScreen(
      snapshotOfTraffic(),
      { columns: 40, rows: 12 },
      [],
    );

    expect(lines).toHaveLength(12);
    for (const line of lines) {
      expect(line.length).toBeLessThanOrEqual(40);
    }
  });

  it('formats times and durations', () => {
    expect(formatUptime(3_725_000)).toBe('1:02:05');
    expect(formatMilliseconds(undefined)).toBe('-');
    expect(formatMilliseconds(1.234)).toBe('1.23');
    expect(formatMilliseconds(12.34)).toBe('12.3');
    expect(formatMilliseconds(123.4)).toBe('123');
  });
});
