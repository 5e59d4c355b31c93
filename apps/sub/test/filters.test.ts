import type { ZpubEvent } from '@zpub/protocol';
import { describe, expect, it } from 'vitest';
import {
  FilterError,
  createEventFilter,
  parseDuration,
  parseMethods,
  parseRoutePattern,
  parseStatusSpec,
  type FilterConfig,
} from '../src/filters.js';
import { makeEvent, requestEvent } from './helpers.js';

const NO_FILTERS: FilterConfig = {
  excludedTopics: [],
  methods: [],
  routes: [],
  statuses: [],
  slowerThanMs: undefined,
};

function passes(config: Partial<FilterConfig>, event: ZpubEvent): boolean {
  return createEventFilter({ ...NO_FILTERS, ...config })(event);
}

describe('parseStatusSpec', () => {
  it.each([
    ['5xx', [500, 503, 599], [499, 600, 200]],
    ['4XX', [400, 404], [500]],
    ['404', [404], [403, 405]],
    ['>=400', [400, 599], [399]],
    ['>400', [401], [400]],
    ['<300', [200, 299], [300]],
    ['<=299', [299], [300]],
    ['400-403', [400, 403], [399, 404]],
    ['404,5xx', [404, 500], [403, 200]],
  ])('%s matches its codes only', (spec, matching, other) => {
    const { matches } = parseStatusSpec(spec);
    for (const status of matching) {
      expect(matches(status), `${spec} ${status}`).toBe(true);
    }
    for (const status of other) {
      expect(matches(status), `${spec} ${status}`).toBe(false);
    }
  });

  it.each(['', 'abc', '6xx', '99', '=>400', '500-400', 'x'])(
    '%j is rejected',
    (spec) => {
      expect(() => parseStatusSpec(spec)).toThrow(FilterError);
    },
  );

  it('names the value in its error', () => {
    expect(() => parseStatusSpec('abc')).toThrow(
      'Invalid status "abc": expected a class such as 5xx',
    );
  });
});

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['250', 250],
    ['1.5s', 1500],
    ['.5s', 500],
    ['2m', 120_000],
    ['0', 0],
  ])('%s is %d ms', (text, milliseconds) => {
    expect(parseDuration(text)).toBe(milliseconds);
  });

  it.each(['', 'fast', '-1ms', '1h', '1 s s'])('%j is rejected', (text) => {
    expect(() => parseDuration(text)).toThrow(FilterError);
  });
});

describe('parseMethods', () => {
  it('uppercases and splits on commas', () => {
    expect(parseMethods('get, Post')).toEqual(['GET', 'POST']);
  });

  it.each(['', ',', 'GE T', 'GET/'])('%j is rejected', (text) => {
    expect(() => parseMethods(text)).toThrow(FilterError);
  });
});

describe('parseRoutePattern', () => {
  it.each([
    ['/print/:number', '/print/:number', true],
    ['/print/*', '/print/7', true],
    ['/print/*', '/print/7/8', false],
    ['/print/**', '/print/7/8', true],
    ['/orders', '/orders/1', false],
    ['/v1.2/*', '/v1x2/a', false],
    ['/a+b', '/a+b', true],
  ])('%s against %s is %s', (pattern, text, expected) => {
    expect(parseRoutePattern(pattern).matches(text)).toBe(expected);
  });

  it('rejects a pattern without a leading slash', () => {
    expect(() => parseRoutePattern('orders')).toThrow(
      'Invalid route pattern "orders"',
    );
  });
});

describe('createEventFilter', () => {
  it('passes everything without filters', () => {
    expect(passes({}, makeEvent())).toBe(true);
    expect(passes({}, requestEvent({}))).toBe(true);
  });

  it('drops excluded topics on whole tokens', () => {
    const excludedTopics = ['http.GET'];

    expect(passes({ excludedTopics }, requestEvent({}))).toBe(false);
    expect(passes({ excludedTopics }, requestEvent({ method: 'POST' }))).toBe(
      true,
    );
    expect(
      passes({ excludedTopics: ['num'] }, makeEvent({ topic: 'number' })),
    ).toBe(true);
  });

  it('drops events that are not requests', () => {
    expect(passes({ methods: ['GET'] }, makeEvent())).toBe(false);
  });

  it('drops a request event with malformed data', () => {
    const event = { ...requestEvent({}), data: { method: 'GET' } };

    expect(passes({ methods: ['GET'] }, event)).toBe(false);
  });

  it('matches methods in any case', () => {
    expect(passes({ methods: ['GET'] }, requestEvent({ method: 'get' }))).toBe(
      true,
    );
    expect(
      passes({ methods: ['GET', 'PUT'] }, requestEvent({ method: 'POST' })),
    ).toBe(false);
  });

  it('matches the route or the path', () => {
    const routes = [parseRoutePattern('/print/7')];

    expect(passes({ routes }, requestEvent({}))).toBe(true);
    expect(passes({ routes }, requestEvent({ path: '/print/8' }))).toBe(false);
    expect(
      passes(
        { routes: [parseRoutePattern('/print/:number')] },
        requestEvent({ path: '/print/8' }),
      ),
    ).toBe(true);
  });

  it('matches the path of an unmatched request', () => {
    const routes = [parseRoutePattern('/checkout')];
    const event = requestEvent({ route: undefined, path: '/checkout' });

    expect(passes({ routes }, event)).toBe(true);
  });

  it('matches any of several statuses', () => {
    const statuses = [parseStatusSpec('5xx'), parseStatusSpec('404')];

    expect(passes({ statuses }, requestEvent({ status: 503 }))).toBe(true);
    expect(passes({ statuses }, requestEvent({ status: 404 }))).toBe(true);
    expect(passes({ statuses }, requestEvent({ status: 200 }))).toBe(false);
  });

  it('passes requests slower than the bound', () => {
    expect(
      passes({ slowerThanMs: 250 }, requestEvent({ durationMs: 250.001 })),
    ).toBe(true);
    expect(
      passes({ slowerThanMs: 250 }, requestEvent({ durationMs: 250 })),
    ).toBe(false);
  });

  it('requires every filter to pass', () => {
    const config = {
      methods: ['POST'],
      statuses: [parseStatusSpec('5xx')],
    };

    expect(passes(config, requestEvent({ method: 'POST', status: 500 }))).toBe(
      true,
    );
    expect(passes(config, requestEvent({ method: 'POST', status: 200 }))).toBe(
      false,
    );
    expect(passes(config, requestEvent({ method: 'GET', status: 500 }))).toBe(
      false,
    );
  });
});
