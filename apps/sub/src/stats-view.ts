import { printable } from './notices.js';
import type { LatencyHistogram } from './histogram.js';
import {
  STATUS_CLASSES,
  type RowCounts,
  type StatsSnapshot,
  type WindowCounts,
} from './stats.js';

/** Size of the terminal the view is drawn for. */
export interface ScreenSize {
  columns: number;
  rows: number;
}

const PERCENTILES = [
  ['p50', 0.5],
  ['p95', 0.95],
  ['p99', 0.99],
] as const;

/** Formats milliseconds with 3 significant digits or more, or "-" for none. */
export function formatMilliseconds(value: number | undefined): string {
  if (value === undefined) {
    return '-';
  }
  if (value < 10) {
    return value.toFixed(2);
  }
  if (value < 100) {
    return value.toFixed(1);
  }

  return value.toFixed(0);
}

function formatRate(events: number, milliseconds: number): string {
  return milliseconds > 0 ? (events / (milliseconds / 1000)).toFixed(1) : '0.0';
}

/** Formats an elapsed time as H:MM:SS. */
export function formatUptime(milliseconds: number): string {
  const seconds = Math.floor(milliseconds / 1000);
  const pad = (value: number): string => String(value).padStart(2, '0');

  return `${Math.floor(seconds / 3600)}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`;
}

/**
 * Returns the summary line of one interval, in logfmt (`key=value` pairs),
 * for a non-terminal stdout. Counts are for the interval, except `total`,
 * `instances` and `live`.
 */
export function formatStatsLine(snapshot: StatsSnapshot, now: Date): string {
  const { interval } = snapshot;
  const fields: [string, string | number][] = [
    ['time', now.toISOString()],
    ['interval', `${(snapshot.intervalMs / 1000).toFixed(1)}s`],
    ['events', interval.events],
    ['rate', `${formatRate(interval.events, snapshot.intervalMs)}/s`],
    ['total', snapshot.total.events],
  ];
  STATUS_CLASSES.forEach((name, index) => {
    fields.push([name, interval.statusClasses[index] ?? 0]);
  });
  for (const [name, fraction] of PERCENTILES) {
    const value = interval.latency.percentile(fraction);
    fields.push([
      name,
      value === undefined ? '-' : `${formatMilliseconds(value)}ms`,
    ]);
  }
  const live = snapshot.endpoints.filter((entry) => entry.state === 'live');
  fields.push(
    ['missed', interval.missed],
    ['invalid', interval.invalid],
    ['out_of_order', interval.outOfOrder],
    ['restarts', interval.restarts],
    ['instances', snapshot.instances],
    ['live', `${live.length}/${snapshot.endpoints.length}`],
  );

  return fields.map(([key, value]) => `${key}=${value}`).join(' ');
}

/**
 * Returns the lines of the terminal view, each at most `size.columns`
 * characters wide and at most `size.rows` of them. `notices` are the latest
 * notice lines, shown at the bottom.
 */
export function renderStatsScreen(
  snapshot: StatsSnapshot,
  size: ScreenSize,
  notices: readonly string[],
): string[] {
  const intervalSeconds = (snapshot.intervalMs / 1000).toFixed(1);
  const endpoints = snapshot.endpoints
    .map((entry) => `${printable(entry.endpoint)} ${entry.state}`)
    .join(', ');
  const header = [
    `zsub stats   up ${formatUptime(snapshot.elapsedMs)}   refreshed every ${intervalSeconds} s   Ctrl-C quits`,
    `endpoints    ${endpoints}`,
    `publishers   ${snapshot.instances} ${snapshot.instances === 1 ? 'instance' : 'instances'} seen, ${snapshot.total.restarts} restarts`,
    '',
    ...windowTable(snapshot),
    '',
    `missed events ${snapshot.total.missed}   invalid messages ${snapshot.total.invalid}   out of order ${snapshot.total.outOfOrder}   (since the start)`,
  ];
  const footer =
    notices.length === 0 ? [] : ['', 'NOTICES', ...notices.slice(-5)];

  // Each table takes a blank line and its heading besides its rows, and at
  // least one row. Lines past the terminal's height are cut below.
  const free = Math.max(0, size.rows - header.length - footer.length - 4);
  const topicRows = Math.max(1, Math.floor(free / 2));
  const routeRows = Math.max(1, free - topicRows);
  const lines = [
    ...header,
    '',
    ...rowTable('TOPIC', snapshot.topics, snapshot, topicRows, false, size),
    '',
    ...rowTable('ROUTE', snapshot.routes, snapshot, routeRows, true, size),
    ...footer,
  ];

  return lines.slice(0, size.rows).map((line) => truncate(line, size.columns));
}

const WINDOW_COLUMNS = [
  'events/s',
  'total',
  ...STATUS_CLASSES.slice(0, 5),
  'p50 ms',
  'p95 ms',
  'p99 ms',
];

function windowTable(snapshot: StatsSnapshot): string[] {
  const intervalLabel = `last ${(snapshot.intervalMs / 1000).toFixed(1)} s`;
  const row = (
    label: string,
    window: WindowCounts,
    milliseconds: number,
  ): string =>
    [
      label.padEnd(12),
      ...[
        formatRate(window.events, milliseconds),
        String(window.events),
        ...window.statusClasses.slice(0, 5).map(String),
        ...latencyCells(window.latency),
      ].map((cell, index) => cell.padStart(columnWidth(index))),
    ].join(' ');

  return [
    [
      ''.padEnd(12),
      ...WINDOW_COLUMNS.map((name, index) => name.padStart(columnWidth(index))),
    ].join(' '),
    row(intervalLabel, snapshot.interval, snapshot.intervalMs),
    row('since start', snapshot.total, snapshot.elapsedMs),
  ];
}

function columnWidth(index: number): number {
  return index < 2 || index >= 7 ? 9 : 6;
}

function latencyCells(histogram: LatencyHistogram): string[] {
  return PERCENTILES.map(([, fraction]) =>
    formatMilliseconds(histogram.percentile(fraction)),
  );
}

function rowTable(
  title: string,
  rows: readonly RowCounts[],
  snapshot: StatsSnapshot,
  maxRows: number,
  withStatus: boolean,
  size: ScreenSize,
): string[] {
  const columns = withStatus
    ? ['events/s', 'total', '2xx', '4xx', '5xx', 'p50 ms', 'p95 ms', 'p99 ms']
    : ['events/s', 'total'];
  const widths = withStatus ? [9, 9, 6, 6, 6, 9, 9, 9] : [9, 9];
  // Names get what the numbers leave of the width, from 16 to 40 columns.
  const cellsWidth = widths.reduce((sum, width) => sum + width + 1, 0);
  const nameWidth = Math.min(40, Math.max(16, size.columns - cellsWidth));
  const format = (name: string, cells: string[]): string =>
    [
      truncate(name, nameWidth).padEnd(nameWidth),
      ...cells.map((cell, index) => cell.padStart(widths[index] ?? 9)),
    ].join(' ');

  const lines = [format(title, columns)];
  if (rows.length === 0) {
    lines.push('(none yet)');
    return lines;
  }
  const shown = rows.length > maxRows ? rows.slice(0, maxRows - 1) : rows;
  for (const row of shown) {
    const cells = [
      formatRate(row.intervalEvents, snapshot.intervalMs),
      String(row.totalEvents),
    ];
    if (withStatus) {
      cells.push(
        String(row.statusClasses[1] ?? 0),
        String(row.statusClasses[3] ?? 0),
        String(row.statusClasses[4] ?? 0),
        ...latencyCells(row.latency),
      );
    }
    lines.push(format(printable(row.name), cells));
  }
  if (shown.length < rows.length) {
    lines.push(`... ${rows.length - shown.length} more`);
  }

  return lines;
}

function truncate(text: string, width: number): string {
  if (text.length <= width) {
    return text;
  }

  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}
