import type { ZpubEvent } from '@zpub/protocol';
import { Chalk, supportsColor, type ChalkInstance } from 'chalk';
import type { OutputFormat } from './options.js';

/** Turns one event into the line zsub prints for it, without the newline. */
export type EventFormatter = (event: ZpubEvent) => string;

/**
 * Returns the chalk color level for stdout: 0 when color is turned off,
 * otherwise chalk's own detection, which is 0 when stdout is not a terminal
 * or TERM is dumb, and honors FORCE_COLOR.
 */
export function colorLevel(colorEnabled: boolean): 0 | 1 | 2 | 3 {
  if (!colorEnabled || supportsColor === false) {
    return 0;
  }

  return supportsColor.level;
}

/** Creates the formatter of one output format. */
export function createFormatter(
  format: OutputFormat,
  level: 0 | 1 | 2 | 3,
): EventFormatter {
  switch (format) {
    case 'json':
      return (event) => JSON.stringify(event);
    case 'raw':
      return formatRaw;
    case 'pretty': {
      const chalk = new Chalk({ level });
      return (event) => formatPretty(event, chalk);
    }
  }
}

function formatRaw(event: ZpubEvent): string {
  const { data } = event;
  if (typeof data === 'string') {
    return data;
  }

  // JSON.stringify returns undefined for an event without data.
  return JSON.stringify(data) ?? '';
}

function formatPretty(event: ZpubEvent, chalk: ChalkInstance): string {
  const parts = [
    chalk.gray(formatClock(eventTime(event))),
    chalk.cyan(event.topic ?? '?'),
  ];
  const data = JSON.stringify(event.data);
  if (data !== undefined) {
    parts.push(escapeTerminalControls(data));
  }

  return parts.join(' ');
}

/** Returns the event's `time` attribute, or now when it has none or it is invalid. */
function eventTime(event: ZpubEvent): Date {
  if (typeof event.time === 'string') {
    const time = new Date(event.time);
    if (!Number.isNaN(time.getTime())) {
      return time;
    }
  }

  return new Date();
}

/** Formats a time as local HH:MM:SS.mmm. */
export function formatClock(time: Date): string {
  const pad = (value: number, width = 2): string =>
    String(value).padStart(width, '0');

  return `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}.${pad(time.getMilliseconds(), 3)}`;
}

/**
 * Escapes DEL and the C1 control characters, which JSON.stringify leaves as
 * they are and some terminals act on. The result is still valid JSON.
 */
function escapeTerminalControls(json: string): string {
  return json.replace(
    /[\u007f-\u009f]/g,
    (character) =>
      `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
