import { describe, expect, it } from 'vitest';
import { TemplateError, compileTemplate, formatTime } from '../src/template.js';
import { makeEvent } from './helpers.js';

const EVENT = {
  ...makeEvent({
    topic: 'http.GET.print.:number',
    sequence: 7,
    time: '2024-01-02T03:04:05.678Z',
    data: {
      method: 'GET',
      status: 200,
      durationMs: 1.5,
      params: { number: '7' },
      tags: ['a', 'b'],
      nothing: null,
    },
  }),
  id: 'event-1',
};

function render(template: string): string {
  return compileTemplate(template)(EVENT);
}

describe('template fields', () => {
  it.each([
    ['{topic}', 'http.GET.print.:number\n'],
    ['{id} {sequence}', 'event-1 7\n'],
    ['{data.status}', '200\n'],
    ['{data.durationMs}ms', '1.5ms\n'],
    ['{data.params.number}', '7\n'],
    ['{data.params}', '{"number":"7"}\n'],
    ['{data.tags.1}', 'b\n'],
    ['{data.nothing}', 'null\n'],
    ['[{data.missing}]', '[]\n'],
    ['[{data.status.deeper}]', '[]\n'],
    ['[{constructor}]', '[]\n'],
    ['plain text', 'plain text\n'],
  ])('%j renders %j', (template, expected) => {
    expect(render(template)).toBe(expected);
  });
});

describe('template escapes', () => {
  it.each([
    ['{topic}\\t{data.status}', 'http.GET.print.:number\t200\n'],
    ['a\\nb', 'a\nb\n'],
    ['a\\rb', 'a\rb\n'],
    ['\\\\', '\\\n'],
    ['\\{topic\\}', '{topic}\n'],
  ])('%j renders %j', (template, expected) => {
    expect(render(template)).toBe(expected);
  });

  it('ends with NUL in place of newline', () => {
    expect(render('{id}\\0')).toBe('event-1\0');
  });

  it('keeps the newline after an escaped backslash and 0', () => {
    expect(render('{id}\\\\0')).toBe('event-1\\0\n');
  });
});

describe('template times', () => {
  it('formats the event time in local time', () => {
    const time = new Date(EVENT.time as string);
    const pad = (value: number): string => String(value).padStart(2, '0');
    const expected = `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())} ${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}.678`;

    expect(render('{time:%Y-%m-%d %H:%M:%S.%L}')).toBe(`${expected}\n`);
    expect(render('{time:%F %T.%L}')).toBe(`${expected}\n`);
  });

  it('prints the time attribute as it is', () => {
    expect(render('{time}')).toBe('2024-01-02T03:04:05.678Z\n');
  });

  it('formats seconds since the epoch', () => {
    expect(render('{time:%s}')).toBe('1704164645\n');
  });

  it('reads a number as epoch milliseconds', () => {
    expect(formatTime(new Date(0), '%s %%')).toBe('0 %');
    const event = makeEvent({ data: { at: 1704164645678 } });
    expect(compileTemplate('{data.at:%s.%L}')(event)).toBe('1704164645.678\n');
  });

  it('prints nothing for a field that is no time', () => {
    expect(render('[{data.params:%T}]')).toBe('[]\n');
    expect(render('[{data.missing:%T}]')).toBe('[]\n');
  });

  it('formats the UTC offset', () => {
    expect(render('{time:%z}')).toMatch(/^[+-]\d{4}\n$/);
  });
});

describe('template errors', () => {
  it.each([
    ['{topic', 'Unclosed "{" at position 1'],
    ['topic}', 'Unexpected "}" at position 6'],
    ['{}', 'Invalid field {}'],
    ['{data..x}', 'Invalid field {data..x}'],
    ['{a b}', 'Invalid field {a b}'],
    ['\\q', 'Invalid escape \\q'],
    ['end\\', 'Invalid escape at the end'],
    ['{time:%Q}', 'Invalid time directive %Q'],
    ['{time:%}', 'Invalid time directive "%" at the end'],
  ])('%j is rejected', (template, message) => {
    expect(() => compileTemplate(template)).toThrow(TemplateError);
    expect(() => compileTemplate(template)).toThrow(message);
  });
});
