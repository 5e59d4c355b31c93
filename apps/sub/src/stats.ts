import type { Notice } from '@zpub/client';
import type { ZpubEvent } from '@zpub/protocol';
import { requestData } from './filters.js';
import { LatencyHistogram } from './histogram.js';

/**
 * The maximum number of topics, and of routes, counted one by one. Further
 * ones are counted together under {@link OTHER_ROW}, so that a publisher with
 * ever new topics cannot grow zsub's memory without bound.
 */
export const MAX_ROWS = 500;

/** The row that counts topics or routes past {@link MAX_ROWS}. */
export const OTHER_ROW = '(other)';

/**
 * The maximum number of publisher instances remembered. Past it, new ones
 * are not counted.
 */
export const MAX_INSTANCES = 10_000;

/** Status classes: 1xx to 5xx, and any other code. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'];

/** Counts over one span of time: the last interval, or since the start. */
export interface WindowCounts {
  events: number;
  /** Request events per class of {@link STATUS_CLASSES}, in that order. */
  statusClasses: number[];
  latency: LatencyHistogram;
  /** Events missed, from gaps in sequences. */
  missed: number;
  /** Messages skipped because they could not be decoded. */
  invalid: number;
  outOfOrder: number;
  restarts: number;
}

/** One topic or route. */
export interface RowCounts {
  name: string;
  /** Events in the last interval. */
  intervalEvents: number;
  totalEvents: number;
  /** For routes: per status class since the start. */
  statusClasses: number[];
  /** For routes: latency since the start. */
  latency: LatencyHistogram;
}

export type EndpointState = 'waiting' | 'live' | 'disconnected';

/** Everything the stats view shows at one refresh. */
export interface StatsSnapshot {
  /** Time since the start, in milliseconds. */
  elapsedMs: number;
  /** Length of the last interval, in milliseconds. */
  intervalMs: number;
  interval: WindowCounts;
  total: WindowCounts;
  /** Topics, most events in the last interval first. */
  topics: RowCounts[];
  /** Routes as "METHOD /route", most events in the last interval first. */
  routes: RowCounts[];
  /** Publisher instances seen since the start. */
  instances: number;
  endpoints: { endpoint: string; state: EndpointState }[];
}

function emptyWindow(): WindowCounts {
  return {
    events: 0,
    statusClasses: STATUS_CLASSES.map(() => 0),
    latency: new LatencyHistogram(),
    missed: 0,
    invalid: 0,
    outOfOrder: 0,
    restarts: 0,
  };
}

/** Returns the index in {@link STATUS_CLASSES} of a status code. */
export function statusClassIndex(status: number): number {
  const hundreds = Math.floor(status / 100);

  return hundreds >= 1 && hundreds <= 5 ? hundreds - 1 : 5;
}

/**
 * Counts events and notices for `zsub stats`: per interval and since the
 * start, per topic and per route, with status classes and latency.
 */
export class StatsCollector {
  readonly #startedAt: number;
  #intervalStartedAt: number;
  #interval = emptyWindow();
  readonly #total = emptyWindow();
  readonly #topics = new Map<string, RowCounts>();
  readonly #routes = new Map<string, RowCounts>();
  readonly #instances = new Set<string>();
  readonly #endpoints = new Map<string, EndpointState>();

  constructor(endpoints: readonly string[], now: number) {
    this.#startedAt = now;
    this.#intervalStartedAt = now;
    for (const endpoint of endpoints) {
      this.#endpoints.set(endpoint, 'waiting');
    }
  }

  /** Counts one event that passed the filters. */
  observe(event: ZpubEvent): void {
    this.#interval.events++;
    this.#total.events++;
    countRow(this.#topics, event.topic ?? '?');
    if (
      typeof event.zpubinstance === 'string' &&
      this.#instances.size < MAX_INSTANCES
    ) {
      this.#instances.add(event.zpubinstance);
    }

    const data = requestData(event);
    if (data === undefined) {
      return;
    }
    const statusClass = statusClassIndex(data.status);
    for (const window of [this.#interval, this.#total]) {
      window.statusClasses[statusClass] =
        (window.statusClasses[statusClass] ?? 0) + 1;
      window.latency.add(data.durationMs);
    }
    const route = countRow(
      this.#routes,
      `${data.method.toUpperCase()} ${data.route ?? '(no route)'}`,
    );
    route.statusClasses[statusClass] =
      (route.statusClasses[statusClass] ?? 0) + 1;
    route.latency.add(data.durationMs);
  }

  /** Counts a notice of the subscription. */
  notice(notice: Notice): void {
    switch (notice.kind) {
      case 'gap':
        this.#count('missed', notice.missed);
        return;
      case 'invalid':
        this.#count('invalid', 1);
        return;
      case 'out-of-order':
        this.#count('outOfOrder', 1);
        return;
      case 'restart':
        this.#count('restarts', 1);
        return;
      case 'ready':
        for (const { endpoint } of notice.endpoints) {
          this.#endpoints.set(endpoint, 'live');
        }
        return;
      case 'live':
      case 'reconnected':
        this.#endpoints.set(notice.endpoint, 'live');
        return;
      case 'disconnected':
        this.#endpoints.set(notice.endpoint, 'disconnected');
        return;
      case 'warning':
        return;
    }
  }

  /** Returns the counts so far and starts a new interval. */
  takeSnapshot(now: number): StatsSnapshot {
    const byIntervalEvents = (a: RowCounts, b: RowCounts): number =>
      b.intervalEvents - a.intervalEvents ||
      b.totalEvents - a.totalEvents ||
      a.name.localeCompare(b.name);
    const snapshot: StatsSnapshot = {
      elapsedMs: now - this.#startedAt,
      intervalMs: now - this.#intervalStartedAt,
      interval: this.#interval,
      total: { ...this.#total, statusClasses: [...this.#total.statusClasses] },
      topics: [...this.#topics.values()]
        .map((row) => ({ ...row }))
        .sort(byIntervalEvents),
      routes: [...this.#routes.values()]
        .map((row) => ({ ...row, statusClasses: [...row.statusClasses] }))
        .sort(byIntervalEvents),
      instances: this.#instances.size,
      endpoints: [...this.#endpoints].map(([endpoint, state]) => ({
        endpoint,
        state,
      })),
    };

    this.#interval = emptyWindow();
    this.#intervalStartedAt = now;
    for (const row of [...this.#topics.values(), ...this.#routes.values()]) {
      row.intervalEvents = 0;
    }

    return snapshot;
  }

  #count(
    field: 'missed' | 'invalid' | 'outOfOrder' | 'restarts',
    amount: number,
  ): void {
    this.#interval[field] += amount;
    this.#total[field] += amount;
  }
}

/** Counts an event in the row of `name`, or in the other row once full. */
function countRow(rows: Map<string, RowCounts>, name: string): RowCounts {
  let row = rows.get(name);
  if (row === undefined) {
    const key = rows.size < MAX_ROWS ? name : OTHER_ROW;
    row = rows.get(key);
    if (row === undefined) {
      row = {
        name: key,
        intervalEvents: 0,
        totalEvents: 0,
        statusClasses: STATUS_CLASSES.map(() => 0),
        latency: new LatencyHistogram(),
      };
      rows.set(key, row);
    }
  }
  row.intervalEvents++;
  row.totalEvents++;

  return row;
}
