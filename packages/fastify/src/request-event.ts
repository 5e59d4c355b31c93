import type { FastifyReply, FastifyRequest } from 'fastify';
import fastJson from 'fast-json-stringify';
import type { RequestEventData } from '@zpub/protocol';

/** The maximum length of a string field of a request event, in characters. */
export const MAX_FIELD_LENGTH = 2048;

/** The maximum number of headers, params or query keys copied into an event. */
export const MAX_ENTRIES = 100;

/**
 * The maximum length of `params`, `query` or `headers` of one event: the
 * characters of the names and string values copied into it. Entries past
 * it are left out, so that with the other limits a request event's data
 * stays under about 56,000 characters whatever the request holds.
 */
export const MAX_SECTION_LENGTH = 16_384;

/** Headers whose values never leave the server, whatever the options say. */
export const REDACTED_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'cookie',
  'set-cookie',
  'proxy-authorization',
]);

/** Value that replaces a redacted header. */
export const REDACTED = '[REDACTED]';

/** Request headers copied into events: none, all, or the named ones. */
export type HeaderSelection = false | true | readonly string[];

/** `data` of a request event, with a route's `config.publish.data`. */
export type RequestEventDataWithExtra = RequestEventData & {
  extra?: Record<string, unknown>;
};

/**
 * Builds the `data` of the request event for one finished request. `route`
 * is the matched route pattern (`request.routeOptions.url`), undefined when
 * no route matched. Members are added in the order of
 * {@link REQUEST_DATA_SCHEMA}, so that JSON.stringify and
 * {@link serializeRequestData} write the same text.
 */
export function buildRequestData(
  request: FastifyRequest,
  reply: FastifyReply,
  headers: HeaderSelection,
  route: string | undefined,
): RequestEventData {
  const requestHeaders = request.headers;
  const userAgent = requestHeaders['user-agent'];
  const data: RequestEventData = {
    method: request.method,
    path: truncate(pathOf(request.url)),
    route: route === undefined ? undefined : truncate(route),
    params: copyEntries(request.params),
    query: copyEntries(request.query),
    status: reply.statusCode,
    durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
    requestId: String(request.id),
    clientAddress: request.ip,
    userAgent: userAgent === undefined ? undefined : truncate(userAgent),
    requestSize: toSize(requestHeaders['content-length']),
    responseSize: toSize(reply.getHeader('content-length')),
  };
  if (headers !== false) {
    data.headers = selectHeaders(requestHeaders, headers);
  }

  return data;
}

/**
 * JSON Schema of {@link RequestEventDataWithExtra} for fast-json-stringify.
 * `params` and `query` are plain objects that {@link buildRequestData}
 * copies. `headers` and `extra` have the empty schema, which
 * fast-json-stringify writes with JSON.stringify.
 */
export const REQUEST_DATA_SCHEMA = {
  type: 'object',
  properties: {
    method: { type: 'string' },
    path: { type: 'string' },
    route: { type: 'string' },
    params: { type: 'object', additionalProperties: true },
    query: { type: 'object', additionalProperties: true },
    status: { type: 'integer' },
    durationMs: { type: 'number' },
    requestId: { type: 'string' },
    clientAddress: { type: 'string' },
    userAgent: { type: 'string' },
    requestSize: { type: 'number' },
    responseSize: { type: 'number' },
    headers: {},
    extra: {},
  },
} as const;

const compiledSerializer = fastJson(REQUEST_DATA_SCHEMA);

/**
 * Returns the JSON text of a request event's data, the same text that
 * JSON.stringify returns for data from {@link buildRequestData}, with
 * `extra` last when given. A serializer compiled from
 * {@link REQUEST_DATA_SCHEMA} writes the fixed members without walking the
 * object.
 */
export function serializeRequestData(data: RequestEventDataWithExtra): string {
  return compiledSerializer(data);
}

function pathOf(url: string): string {
  const index = url.indexOf('?');

  return index === -1 ? url : url.slice(0, index);
}

/** Cuts a string to {@link MAX_FIELD_LENGTH}, marking the cut with `…`. */
export function truncate(value: string): string {
  return value.length <= MAX_FIELD_LENGTH
    ? value
    : `${value.slice(0, MAX_FIELD_LENGTH - 1)}…`;
}

function copyEntries(source: unknown): Record<string, unknown> {
  if (typeof source !== 'object' || source === null) {
    return {};
  }
  const copy: Record<string, unknown> = {};
  const budget = new SectionBudget();
  for (const [key, value] of Object.entries(source)) {
    const name = truncate(key);
    const copied = copyValue(value);
    if (!budget.take(name, copied)) {
      break;
    }
    copy[name] = copied;
  }

  return copy;
}

function copyValue(value: unknown): unknown {
  if (typeof value === 'string') {
    return truncate(value);
  }
  if (Array.isArray(value)) {
    return value.slice(0, MAX_ENTRIES).map((item) => copyValue(item));
  }
  if (typeof value === 'object' && value !== null) {
    return truncate(JSON.stringify(value));
  }

  return value;
}

/**
 * Counts the entries and characters copied into one section of an event
 * against {@link MAX_ENTRIES} and {@link MAX_SECTION_LENGTH}.
 */
class SectionBudget {
  #entries = 0;
  #length = 0;

  /** Returns true when the entry fits, and counts it. */
  take(name: string, value: unknown): boolean {
    const length = name.length + textLength(value);
    if (
      this.#entries >= MAX_ENTRIES ||
      this.#length + length > MAX_SECTION_LENGTH
    ) {
      return false;
    }
    this.#entries++;
    this.#length += length;

    return true;
  }
}

/** Returns the characters of the strings in a copied value. */
function textLength(value: unknown): number {
  if (typeof value === 'string') {
    return value.length;
  }
  if (Array.isArray(value)) {
    return value.reduce((total: number, item) => total + textLength(item), 0);
  }

  return 0;
}

function toSize(value: unknown): number | undefined {
  const text: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof text === 'number') {
    // JSON.stringify writes NaN and Infinity as null, and a size is neither.
    return Number.isFinite(text) ? text : undefined;
  }
  if (typeof text !== 'string' || !/^[0-9]{1,15}$/.test(text)) {
    return undefined;
  }

  return Number(text);
}

function selectHeaders(
  source: FastifyRequest['headers'],
  selection: true | readonly string[],
): Record<string, string | string[]> {
  const names =
    selection === true
      ? Object.keys(source)
      : selection.map((name) => name.toLowerCase());
  const headers: Record<string, string | string[]> = {};
  const budget = new SectionBudget();
  for (const name of names) {
    const value = source[name];
    if (value === undefined) {
      continue;
    }
    const copied = REDACTED_HEADERS.has(name)
      ? REDACTED
      : Array.isArray(value)
        ? value.slice(0, MAX_ENTRIES).map(truncate)
        : truncate(value);
    const key = truncate(name);
    if (!budget.take(key, copied)) {
      break;
    }
    headers[key] = copied;
  }

  return headers;
}
