import {
  isRequestEvent,
  matchesAnyFilter,
  type RequestEventData,
  type ZpubEvent,
} from '@zpub/protocol';

/** An invalid filter value, with the reason in the message. */
export class FilterError extends Error {
  override readonly name = 'FilterError';
}

/** Returns true for an event that passes. */
export type EventPredicate = (event: ZpubEvent) => boolean;

/** Returns true for a status code that passes. */
export type StatusPredicate = (status: number) => boolean;

/** Filters applied on receipt, after the topic filters. */
export interface FilterConfig {
  /** Topic filters whose events are dropped, matched on whole tokens. */
  excludedTopics: readonly string[];
  /** Methods in uppercase; empty passes every method. */
  methods: readonly string[];
  /** Compiled --route patterns; empty passes every route. */
  routes: readonly RoutePattern[];
  /** Compiled --status specifications; empty passes every status. */
  statuses: readonly StatusSpec[];
  /** Minimum duration, exclusive, in milliseconds. */
  slowerThanMs: number | undefined;
}

/** Returns true when any filter that needs a request event is set. */
export function hasRequestFilters(config: FilterConfig): boolean {
  return (
    config.methods.length > 0 ||
    config.routes.length > 0 ||
    config.statuses.length > 0 ||
    config.slowerThanMs !== undefined
  );
}

/**
 * Builds the predicate of the filters. Different filters must all pass, and
 * one value of a repeated filter is enough. Any request filter drops every
 * event that is not a request event.
 */
export function createEventFilter(config: FilterConfig): EventPredicate {
  const needsRequest = hasRequestFilters(config);

  return (event) => {
    const topic = event.topic ?? '';
    if (
      config.excludedTopics.length > 0 &&
      matchesAnyFilter(topic, config.excludedTopics)
    ) {
      return false;
    }
    if (!needsRequest) {
      return true;
    }

    const data = requestData(event);
    if (data === undefined) {
      return false;
    }
    if (
      config.methods.length > 0 &&
      !config.methods.includes(data.method.toUpperCase())
    ) {
      return false;
    }
    if (
      config.routes.length > 0 &&
      !config.routes.some((route) => route.matchesRequest(data))
    ) {
      return false;
    }
    if (
      config.statuses.length > 0 &&
      !config.statuses.some((status) => status.matches(data.status))
    ) {
      return false;
    }

    return (
      config.slowerThanMs === undefined || data.durationMs > config.slowerThanMs
    );
  };
}

/**
 * Returns the data of a request event when it has the fields the filters
 * read, with the right types, and undefined for any other event.
 */
export function requestData(event: ZpubEvent): RequestEventData | undefined {
  if (!isRequestEvent(event)) {
    return undefined;
  }
  const data = event.data as Partial<RequestEventData> | null | undefined;
  if (
    typeof data !== 'object' ||
    data === null ||
    typeof data.method !== 'string' ||
    typeof data.path !== 'string' ||
    typeof data.status !== 'number' ||
    typeof data.durationMs !== 'number'
  ) {
    return undefined;
  }

  return data as RequestEventData;
}

/** A method token as HTTP defines it (RFC 9110, section 9.1). */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Parses a method, or several separated by commas, into uppercase. */
export function parseMethods(value: string): string[] {
  const methods = splitList(value);
  if (methods.length === 0) {
    throw new FilterError('Expected a method such as GET or POST.');
  }
  for (const method of methods) {
    if (!METHOD.test(method)) {
      throw new FilterError(
        `Invalid method ${JSON.stringify(method)}: expected a method such as GET or POST.`,
      );
    }
  }

  return methods.map((method) => method.toUpperCase());
}

/** A compiled --route pattern. */
export interface RoutePattern {
  readonly pattern: string;
  /** Matches the pattern against a route pattern or a path. */
  matches(text: string): boolean;
  /** Matches the route that the request matched, or else its path. */
  matchesRequest(data: RequestEventData): boolean;
}

/**
 * Compiles a route pattern. `*` matches any characters except `/`, `**`
 * matches any characters, and every other character matches itself. A
 * request passes when the pattern matches its route pattern, such as
 * `/print/:number`, or its path, such as `/print/7`.
 */
export function parseRoutePattern(pattern: string): RoutePattern {
  if (!pattern.startsWith('/')) {
    throw new FilterError(
      `Invalid route pattern ${JSON.stringify(pattern)}: expected a path that begins with "/", such as /orders/* or /print/:number.`,
    );
  }
  const source = pattern
    .split(/(\*\*|\*)/)
    .map((piece) => {
      if (piece === '**') {
        return '.*';
      }
      if (piece === '*') {
        return '[^/]*';
      }
      return piece.replace(/[\\^$.+?()[\]{}|]/g, '\\$&');
    })
    .join('');
  const expression = new RegExp(`^${source}$`);
  const matches = (text: string): boolean => expression.test(text);

  return {
    pattern,
    matches,
    matchesRequest: (data) =>
      (data.route !== undefined && matches(data.route)) || matches(data.path),
  };
}

/** A compiled --status specification. */
export interface StatusSpec {
  readonly text: string;
  matches: StatusPredicate;
}

const STATUS_CLASS = /^([1-5])xx$/i;
const STATUS_CODE = /^[1-5][0-9][0-9]$/;
const STATUS_COMPARISON = /^(>=|<=|>|<)([0-9]{3})$/;
const STATUS_RANGE = /^([0-9]{3})-([0-9]{3})$/;

/**
 * Parses a status specification: a class such as `5xx`, a code such as
 * `404`, a comparison such as `>=400`, a range such as `400-499`, or several
 * of them separated by commas, any of which may match.
 */
export function parseStatusSpec(value: string): StatusSpec {
  const items = splitList(value);
  if (items.length === 0) {
    throw new FilterError(statusHint(value));
  }
  const predicates = items.map(parseStatusItem);

  return {
    text: value,
    matches: (status) => predicates.some((predicate) => predicate(status)),
  };
}

function parseStatusItem(item: string): StatusPredicate {
  const statusClass = STATUS_CLASS.exec(item);
  if (statusClass !== null) {
    const hundreds = Number(statusClass[1]) * 100;
    return (status) => status >= hundreds && status < hundreds + 100;
  }
  if (STATUS_CODE.test(item)) {
    const code = Number(item);
    return (status) => status === code;
  }
  const comparison = STATUS_COMPARISON.exec(item);
  if (comparison !== null) {
    const bound = Number(comparison[2]);
    switch (comparison[1]) {
      case '>=':
        return (status) => status >= bound;
      case '<=':
        return (status) => status <= bound;
      case '>':
        return (status) => status > bound;
      default:
        return (status) => status < bound;
    }
  }
  const range = STATUS_RANGE.exec(item);
  if (range !== null) {
    const low = Number(range[1]);
    const high = Number(range[2]);
    if (low <= high) {
      return (status) => status >= low && status <= high;
    }
  }

  throw new FilterError(statusHint(item));
}

function statusHint(value: string): string {
  return `Invalid status ${JSON.stringify(value)}: expected a class such as 5xx, a code such as 404, a comparison such as >=400 or a range such as 400-499.`;
}

const DURATION = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ms|s|m)?$/;

/** Milliseconds per unit of {@link parseDuration}. */
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/**
 * Parses a duration such as `250ms`, `1.5s` or `2m` into milliseconds. A
 * number without a unit is in milliseconds.
 */
export function parseDuration(value: string): number {
  const match = DURATION.exec(value.trim());
  if (match === null) {
    throw new FilterError(
      `Invalid duration ${JSON.stringify(value)}: expected a number with ms, s or m, such as 250ms or 1.5s.`,
    );
  }

  return Number(match[1]) * (DURATION_UNITS[match[2] ?? 'ms'] ?? 1);
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}
