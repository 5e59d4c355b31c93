import { describe, expect, it } from 'vitest';
import {
  CONTROL_PREFIX,
  HELLO_PREFIX,
  InvalidTopicError,
  MAX_TOPIC_BYTES,
  REJECTED_REQUEST_TOPIC,
  assertCustomTopic,
  assertTopic,
  assertTopicFilter,
  escapeRouteSegment,
  isControlTopic,
  isValidTopic,
  matchesAnyFilter,
  matchesFilter,
  requestTopic,
} from '../src/index.js';

describe('assertTopic', () => {
  it.each([
    'number',
    'number.7',
    'a',
    'A-b_c:d%20',
    'http.GET.print.:number',
    'http.GET._root',
    '_internal',
    '0.1.2',
    'x'.repeat(MAX_TOPIC_BYTES),
    `${'ab.'.repeat(341)}x`,
  ])('accepts %j', (topic) => {
    expect(() => assertTopic(topic)).not.toThrow();
  });

  it.each([
    ['', 'must not be empty'],
    ['.', 'must not begin or end'],
    ['.number', 'must not begin or end'],
    ['number.', 'must not begin or end'],
    ['number..7', 'must not begin or end'],
    ['num ber', 'may contain only'],
    ['number/7', 'may contain only'],
    ['number*', 'may contain only'],
    ['number>', 'may contain only'],
    ['numbér', 'may contain only'],
    ['\ufeffnumber', 'may contain only'],
    ['number\n', 'may contain only'],
    ['~zpub.hello.abc', 'may contain only'],
    ['x'.repeat(MAX_TOPIC_BYTES + 1), 'at most 1024 bytes'],
  ])('rejects %j', (topic, reason) => {
    expect(() => assertTopic(topic)).toThrow(reason);
  });

  it('counts the limit in UTF-8 bytes', () => {
    // 'é' is two bytes in UTF-8, so this topic is over the limit in bytes
    // while under it in characters.
    const topic = 'é'.repeat(MAX_TOPIC_BYTES / 2 + 1);
    expect(() => assertTopic(topic)).toThrow('at most 1024 bytes');
  });

  it('throws InvalidTopicError', () => {
    expect(() => assertTopic('a..b')).toThrow(InvalidTopicError);
  });

  it('names the topic in the error', () => {
    expect(() => assertTopic('a b')).toThrow('invalid topic "a b"');
  });
});

describe('isValidTopic', () => {
  it('returns true for a valid topic', () => {
    expect(isValidTopic('number.7')).toBe(true);
  });

  it('returns false for an invalid topic', () => {
    expect(isValidTopic('number..7')).toBe(false);
  });
});

describe('assertCustomTopic', () => {
  it.each(['number', 'orders.created', 'app.http', 'httpx', 'a_b'])(
    'accepts %j',
    (topic) => {
      expect(() => assertCustomTopic(topic)).not.toThrow();
    },
  );

  it.each([
    ['_zpub', 'reserved for zpub'],
    ['_x.y', 'reserved for zpub'],
    ['http', 'reserved for request events'],
    ['http.GET.print', 'reserved for request events'],
    ['number..7', 'must not begin or end'],
  ])('rejects %j', (topic, reason) => {
    expect(() => assertCustomTopic(topic)).toThrow(reason);
  });
});

describe('assertTopicFilter', () => {
  it('accepts the empty filter', () => {
    expect(() => assertTopicFilter('')).not.toThrow();
  });

  it('accepts a topic', () => {
    expect(() => assertTopicFilter('http.GET')).not.toThrow();
  });

  it('rejects a trailing dot', () => {
    expect(() => assertTopicFilter('http.')).toThrow(InvalidTopicError);
  });

  it('rejects a wildcard', () => {
    expect(() => assertTopicFilter('http.*')).toThrow(InvalidTopicError);
  });
});

describe('matchesFilter', () => {
  it.each([
    ['number', '', true],
    ['number', 'number', true],
    ['number.7', 'number', true],
    ['number.7.x', 'number', true],
    ['number.7.x', 'number.7', true],
    ['numbers', 'number', false],
    ['number7', 'number', false],
    ['number:7', 'number', false],
    ['number-7', 'number', false],
    ['number', 'number.7', false],
    ['num', 'number', false],
    ['number.70', 'number.7', false],
    ['other.number', 'number', false],
    ['Number', 'number', false],
    ['http.GET.print.:number', 'http.GET', true],
    ['http.GETX.print', 'http.GET', false],
    ['http.GET._root', 'http', true],
  ])('topic %j with filter %j is %j', (topic, filter, expected) => {
    expect(matchesFilter(topic, filter)).toBe(expected);
  });
});

describe('matchesAnyFilter', () => {
  it('matches when one filter matches', () => {
    expect(matchesAnyFilter('number.7', ['orders', 'number'])).toBe(true);
  });

  it('rejects when no filter matches', () => {
    expect(matchesAnyFilter('numbers', ['orders', 'number'])).toBe(false);
  });

  it('rejects with no filters', () => {
    expect(matchesAnyFilter('number', [])).toBe(false);
  });
});

describe('escapeRouteSegment', () => {
  it.each([
    ['print', 'print'],
    [':number', ':number'],
    ['a-b_c', 'a-b_c'],
    ['ABC09', 'ABC09'],
    ['_private', '%5Fprivate'],
    ['__x', '%5F_x'],
    ['a_', 'a_'],
    ['*', '%2A'],
    ['file.txt', 'file%2Etxt'],
    ['100%', '100%25'],
    ['a b', 'a%20b'],
    ['é', '%C3%A9'],
    ['€', '%E2%82%AC'],
    ['😀', '%F0%9F%98%80'],
    ['~', '%7E'],
    [':id(^\\d+)', ':id%28%5E%5Cd%2B%29'],
    ['', ''],
  ])('escapes %j as %j', (segment, token) => {
    expect(escapeRouteSegment(segment)).toBe(token);
  });

  it('uses uppercase hex', () => {
    expect(escapeRouteSegment('\u00ff')).toBe('%C3%BF');
  });

  it('pads bytes below 0x10', () => {
    expect(escapeRouteSegment('\t')).toBe('%09');
  });
});

describe('requestTopic', () => {
  it.each([
    ['GET', '/print/:number', 'http.GET.print.:number'],
    ['GET', '/', 'http.GET._root'],
    ['GET', '', 'http.GET._root'],
    ['GET', '//', 'http.GET._root'],
    ['GET', undefined, 'http.GET._unmatched'],
    ['POST', '/orders', 'http.POST.orders'],
    ['get', '/orders', 'http.GET.orders'],
    ['GET', '/orders/', 'http.GET.orders'],
    ['GET', '//orders//:id', 'http.GET.orders.:id'],
    ['GET', '/_root', 'http.GET.%5Froot'],
    ['GET', '/_unmatched', 'http.GET.%5Funmatched'],
    ['GET', '/files/*', 'http.GET.files.%2A'],
    ['GET', '/v1.2/items', 'http.GET.v1%2E2.items'],
    ['GET', '/café', 'http.GET.caf%C3%A9'],
    ['DELETE', '/a/:b/c', 'http.DELETE.a.:b.c'],
  ])('maps %s %j to %j', (method, route, topic) => {
    expect(requestTopic(method, route)).toBe(topic);
  });

  it.each([
    ['GET', '/print/:number'],
    ['GET', '/files/*'],
    ['GET', '/a b/ü/%/.'],
    ['GET', '/_x'],
    ['GET', undefined],
    ['M-SEARCH', '/'],
  ])('returns a valid topic for %s %j', (method, route) => {
    expect(isValidTopic(requestTopic(method, route))).toBe(true);
  });

  it('keeps distinct routes distinct', () => {
    expect(requestTopic('GET', '/a.b')).not.toBe(requestTopic('GET', '/a/b'));
  });
});

describe('control topics', () => {
  it('uses the ~zpub. prefix', () => {
    expect(CONTROL_PREFIX).toBe('~zpub.');
  });

  it('puts hello under the control prefix', () => {
    expect(HELLO_PREFIX).toBe('~zpub.hello.');
  });

  it('recognises a hello topic', () => {
    expect(isControlTopic(`${HELLO_PREFIX}abc123`)).toBe(true);
  });

  it('does not treat an event topic as control', () => {
    expect(isControlTopic('zpub.hello')).toBe(false);
  });

  it('is never a valid event topic', () => {
    expect(isValidTopic(`${CONTROL_PREFIX}x`)).toBe(false);
  });

  it('sorts after every topic character', () => {
    // libzmq resends stored subscriptions in byte order, so a subscription
    // that begins with "~" goes after every topic filter.
    const highest = Math.max(
      ...[...'AZaz09_:%-'].map((character) => character.charCodeAt(0)),
    );
    expect(CONTROL_PREFIX.charCodeAt(0)).toBeGreaterThan(highest);
  });
});

describe('REJECTED_REQUEST_TOPIC', () => {
  it('is a valid topic under http', () => {
    expect(isValidTopic(REJECTED_REQUEST_TOPIC)).toBe(true);
    expect(matchesFilter(REJECTED_REQUEST_TOPIC, 'http')).toBe(true);
  });

  it('is no request topic', () => {
    expect(requestTopic('_rejected', undefined)).toBe(
      'http.%5FREJECTED._unmatched',
    );
    expect(
      matchesFilter(requestTopic('_rejected', '/'), REJECTED_REQUEST_TOPIC),
    ).toBe(false);
  });

  it('is reserved for zpub', () => {
    expect(() => assertCustomTopic(REJECTED_REQUEST_TOPIC)).toThrow(
      InvalidTopicError,
    );
  });
});
