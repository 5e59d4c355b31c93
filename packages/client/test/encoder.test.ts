import { randomUUID } from 'node:crypto';
import {
  MESSAGE_EVENT_TYPE,
  REQUEST_EVENT_TYPE,
  createEvent,
  type ZpubEvent,
} from '@zpub/protocol';
import { describe, expect, it } from 'vitest';
import { EventEncoder, IsoClock } from '../src/encoder.js';

const ODD_STRINGS = [
  '',
  'plain',
  'quote " and backslash \\',
  'controls \u0000\u0001\b\f\n\r\t\u001f',
  'line separators \u2028 \u2029',
  'lone surrogates \ud800 and \udfff',
  'emoji 😀 and é',
  '</script>',
  'x'.repeat(5000),
];

const DATA_CASES: unknown[] = [
  undefined,
  null,
  0,
  -1.5e-300,
  Number.NaN,
  true,
  ...ODD_STRINGS,
  [],
  {},
  { number: 7 },
  { nested: { deep: [1, { deeper: ['a', null, false] }] } },
  Object.fromEntries(ODD_STRINGS.map((text, index) => [text, index])),
  { date: new Date(0), skipped: undefined, fn: () => 1 },
  [undefined, () => 1, Symbol('s')],
];

/** Returns what JSON.stringify writes for the same event. */
function expected(
  text: string,
  source: string,
  instance: string,
  type: string,
  topic: string,
  data: unknown,
): string {
  const parsed = JSON.parse(text) as ZpubEvent;
  const event = createEvent({
    id: parsed.id,
    source,
    type,
    time: parsed.time ?? '',
    topic,
    sequence: Number(parsed.sequence),
    instance,
    data,
  });

  return JSON.stringify(event);
}

describe('EventEncoder', () => {
  it('writes what JSON.stringify writes', () => {
    const instance = randomUUID();
    const source = 'zpub://host/tcp/127.0.0.1:5555';
    const encoder = new EventEncoder(source, instance);
    const topic = encoder.topic('http.GET.print.:number');
    for (const data of DATA_CASES) {
      const text = encoder.encode(
        topic,
        REQUEST_EVENT_TYPE,
        JSON.stringify(data),
      );
      expect(text).toBe(
        expected(text, source, instance, REQUEST_EVENT_TYPE, topic.topic, data),
      );
    }
  });

  it('escapes odd sources and types like JSON.stringify', () => {
    for (const odd of ODD_STRINGS.filter((text) => text !== '')) {
      const instance = randomUUID();
      const encoder = new EventEncoder(odd, instance);
      const topic = encoder.topic('number');
      const text = encoder.encode(topic, odd, '{"number":7}');
      expect(text).toBe(
        expected(text, odd, instance, odd, 'number', { number: 7 }),
      );
    }
  });

  it('accepts every topic character unescaped', () => {
    const instance = randomUUID();
    const encoder = new EventEncoder('zpub://test', instance);
    const topic = encoder.topic('a_b-c:d%2E.Z9');
    const text = encoder.encode(topic, MESSAGE_EVENT_TYPE, '1');
    expect(text).toBe(
      expected(
        text,
        'zpub://test',
        instance,
        MESSAGE_EVENT_TYPE,
        'a_b-c:d%2E.Z9',
        1,
      ),
    );
  });

  it('numbers ids per instance and sequences per topic', () => {
    const instance = randomUUID();
    const encoder = new EventEncoder('zpub://test', instance);
    const first = encoder.topic('first');
    const second = encoder.topic('second');
    const events = [
      encoder.encode(first, MESSAGE_EVENT_TYPE, '1'),
      encoder.encode(second, MESSAGE_EVENT_TYPE, '2'),
      encoder.encode(first, MESSAGE_EVENT_TYPE, '3'),
    ].map((text) => JSON.parse(text) as ZpubEvent);

    expect(events.map((event) => event.id)).toEqual([
      `${instance}-1`,
      `${instance}-2`,
      `${instance}-3`,
    ]);
    expect(events.map((event) => event.sequence)).toEqual(['1', '1', '2']);
    expect(encoder.count).toBe(3);
  });

  it('leaves data out when it is undefined', () => {
    const encoder = new EventEncoder('zpub://test', randomUUID());
    const text = encoder.encode(
      encoder.topic('a'),
      MESSAGE_EVENT_TYPE,
      undefined,
    );
    expect('data' in (JSON.parse(text) as object)).toBe(false);
  });

  it('encodes types past the cache limit', () => {
    const encoder = new EventEncoder('zpub://test', randomUUID());
    const topic = encoder.topic('a');
    for (let index = 0; index < 100; index++) {
      const type = `type.${index}`;
      const event = JSON.parse(encoder.encode(topic, type, '1')) as ZpubEvent;
      expect(event.type).toBe(type);
    }
  });
});

describe('IsoClock', () => {
  it('formats like toISOString', () => {
    const clock = new IsoClock();
    const times = [
      0,
      1,
      999,
      1000,
      1001,
      -1,
      -999,
      -1000,
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      Date.UTC(2024, 2, 1, 0, 0, 0, 0),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10000, 0, 1, 0, 0, 0, 5),
      Date.UTC(1, 0, 1, 0, 0, 0, 42),
    ];
    for (const time of times) {
      expect(clock.now(time)).toBe(new Date(time).toISOString());
    }
  });

  it('stays right across a run of milliseconds', () => {
    const clock = new IsoClock();
    const start = Date.UTC(2026, 0, 1, 0, 0, 58, 500);
    for (let time = start; time < start + 3000; time += 7) {
      expect(clock.now(time)).toBe(new Date(time).toISOString());
      expect(clock.now(time)).toBe(new Date(time).toISOString());
    }
  });

  it('defaults to now', () => {
    const before = Date.now();
    const text = new IsoClock().now();
    const after = Date.now();
    const time = Date.parse(text);

    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(after);
  });
});
