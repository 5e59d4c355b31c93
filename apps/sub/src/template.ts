import type { ZpubEvent } from '@zpub/protocol';
import { FIELD_PATH, fieldText, fieldValue } from './fields.js';

/** An invalid --format template, with the reason in the message. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

/** Turns one event into the text zsub writes for it, terminator included. */
export type TemplateRenderer = (event: ZpubEvent) => string;

type Part =
  | { kind: 'text'; text: string }
  | { kind: 'field'; path: string; timeFormat: string | undefined };

const ESCAPES: Record<string, string> = {
  t: '\t',
  n: '\n',
  r: '\r',
  '0': '\0',
  '\\': '\\',
  '{': '{',
  '}': '}',
};

/**
 * Compiles a --format template. `{path}` is replaced by the field at that
 * path, `{path:FORMAT}` by the field read as a time and formatted with
 * strftime directives, and `\t`, `\n`, `\r`, `\0`, `\\`, `\{` and `\}` by
 * the characters they name. Each event ends with a newline, unless the
 * template ends with `\0`, which then ends it. Throws {@link TemplateError}.
 */
export function compileTemplate(template: string): TemplateRenderer {
  const { parts, endsWithNul } = parseTemplate(template);
  const terminator = endsWithNul ? '' : '\n';

  return (event) => {
    let text = '';
    for (const part of parts) {
      text += part.kind === 'text' ? part.text : renderField(event, part);
    }

    return text + terminator;
  };
}

function parseTemplate(template: string): {
  parts: Part[];
  endsWithNul: boolean;
} {
  const parts: Part[] = [];
  let text = '';
  let index = 0;
  let endsWithNul = false;
  while (index < template.length) {
    const character = template.charAt(index);
    endsWithNul = false;
    if (character === '\\') {
      const next = template.charAt(index + 1);
      const escaped = ESCAPES[next];
      if (escaped === undefined) {
        const shown = next === '' ? 'at the end' : `\\${next}`;
        throw new TemplateError(
          `Invalid escape ${shown}: use \\t, \\n, \\r, \\0, \\\\, \\{ or \\}.`,
        );
      }
      text += escaped;
      index += 2;
      endsWithNul = next === '0';
      continue;
    }
    if (character === '}') {
      throw new TemplateError(
        `Unexpected "}" at position ${index + 1}: write \\} for a literal brace.`,
      );
    }
    if (character !== '{') {
      text += character;
      index++;
      continue;
    }

    const end = template.indexOf('}', index);
    if (end === -1) {
      throw new TemplateError(
        `Unclosed "{" at position ${index + 1}: write \\{ for a literal brace.`,
      );
    }
    if (text !== '') {
      parts.push({ kind: 'text', text });
      text = '';
    }
    parts.push(parseField(template.slice(index + 1, end)));
    index = end + 1;
  }
  if (text !== '') {
    parts.push({ kind: 'text', text });
  }

  return { parts, endsWithNul };
}

function parseField(field: string): Part {
  const colon = field.indexOf(':');
  const path = colon === -1 ? field : field.slice(0, colon);
  const timeFormat = colon === -1 ? undefined : field.slice(colon + 1);
  if (!FIELD_PATH.test(path)) {
    throw new TemplateError(
      `Invalid field {${field}}: expected a path such as {topic} or {data.status}.`,
    );
  }
  if (timeFormat !== undefined) {
    checkTimeFormat(timeFormat);
  }

  return { kind: 'field', path, timeFormat };
}

function renderField(
  event: ZpubEvent,
  part: Extract<Part, { kind: 'field' }>,
): string {
  const value = fieldValue(event, part.path);
  if (part.timeFormat === undefined) {
    return fieldText(value);
  }

  const time = toDate(value);
  return time === undefined ? '' : formatTime(time, part.timeFormat);
}

/** Reads a time: RFC 3339 text, or a number of milliseconds since the epoch. */
function toDate(value: unknown): Date | undefined {
  let time: Date;
  if (typeof value === 'string') {
    time = new Date(value);
  } else if (typeof value === 'number') {
    time = new Date(value);
  } else {
    return undefined;
  }

  return Number.isNaN(time.getTime()) ? undefined : time;
}

const pad = (value: number, width = 2): string =>
  String(value).padStart(width, '0');

/** The strftime directives zsub supports, in local time. */
const TIME_DIRECTIVES: Record<string, (time: Date) => string> = {
  Y: (time) => String(time.getFullYear()),
  m: (time) => pad(time.getMonth() + 1),
  d: (time) => pad(time.getDate()),
  H: (time) => pad(time.getHours()),
  M: (time) => pad(time.getMinutes()),
  S: (time) => pad(time.getSeconds()),
  L: (time) => pad(time.getMilliseconds(), 3),
  s: (time) => String(Math.floor(time.getTime() / 1000)),
  z: (time) => formatOffset(time),
  F: (time) =>
    `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())}`,
  T: (time) =>
    `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`,
  '%': () => '%',
};

/** Formats the UTC offset of the local time zone as +hhmm or -hhmm. */
function formatOffset(time: Date): string {
  const minutes = -time.getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  const absolute = Math.abs(minutes);

  return `${sign}${pad(Math.floor(absolute / 60))}${pad(absolute % 60)}`;
}

function checkTimeFormat(format: string): void {
  for (let index = 0; index < format.length; index++) {
    if (format.charAt(index) !== '%') {
      continue;
    }
    const directive = format.charAt(index + 1);
    if (!(directive in TIME_DIRECTIVES)) {
      const shown = directive === '' ? '"%" at the end' : `%${directive}`;
      throw new TemplateError(
        `Invalid time directive ${shown}: use %Y, %m, %d, %H, %M, %S, %L, %s, %z, %F, %T or %%.`,
      );
    }
    index++;
  }
}

/** Formats a time in the local time zone with strftime directives. */
export function formatTime(time: Date, format: string): string {
  return format.replace(/%(.)/g, (directive, name: string) => {
    const render = TIME_DIRECTIVES[name];
    return render === undefined ? directive : render(time);
  });
}
