import { describe, expect, it } from 'vitest';
import { InvalidEndpointError } from '@zpub/protocol';
import {
  filtersToSubjects,
  parseNatsEndpoint,
  parseNatsServers,
  subjectMatches,
} from '../src/index.js';
import { assertJetStreamName, patternCovers } from '../src/stream.js';
import { consumerSubjects } from '../src/subscriber.js';

describe('filtersToSubjects', () => {
  it('maps a filter to the topic and its children', () => {
    expect(filtersToSubjects(['number'])).toEqual(['number', 'number.>']);
  });

  it('maps no filter to every subject', () => {
    expect(filtersToSubjects([])).toEqual(['>']);
    expect(filtersToSubjects(['number', ''])).toEqual(['>']);
  });

  it('keeps each subject once', () => {
    expect(filtersToSubjects(['a', 'a', 'b.c'])).toEqual([
      'a',
      'a.>',
      'b.c',
      'b.c.>',
    ]);
  });
});

describe('subjectMatches', () => {
  it.each([
    ['number', 'number', true],
    ['number.7', 'number.>', true],
    ['number', 'number.>', false],
    ['numbers', 'number.>', false],
    ['numbers', 'number', false],
    ['http.GET.x', 'http.*.x', true],
    ['http.GET.x.y', 'http.*.x', false],
    ['anything.at.all', '>', true],
  ])('%s against %s is %s', (subject, pattern, expected) => {
    expect(subjectMatches(subject, pattern)).toBe(expected);
  });
});

describe('patternCovers', () => {
  it.each([
    ['>', 'http.>', true],
    ['http.>', 'http.>', true],
    ['http.>', 'http.GET.>', true],
    ['http.*', 'http.>', false],
    ['http.>', 'http', false],
    ['number', 'number', true],
  ])('%s covers %s is %s', (pattern, subject, expected) => {
    expect(patternCovers(pattern, subject)).toBe(expected);
  });
});

describe('parseNatsEndpoint', () => {
  it('returns HOST:PORT for the client', () => {
    expect(parseNatsEndpoint('nats://127.0.0.1:4222')).toBe('127.0.0.1:4222');
    expect(parseNatsEndpoint('nats://localhost')).toBe('localhost:4222');
    expect(parseNatsEndpoint('nats://[::1]:4333')).toBe('[::1]:4333');
  });

  it.each([
    ['nats://', /expected nats:\/\/HOST:PORT/],
    ['nats://host:0', /port 0 is not a number from 1 to 65535/],
    ['nats://host:70000', /port 70000/],
    ['nats://user:secret@host:4222', /credentials in the URL/],
    ['nats://[nope]:4222', /not an IPv6 address/],
    ['tcp://127.0.0.1:4222', /expected nats:\/\//],
  ])('rejects %s', (endpoint, message) => {
    expect(() => parseNatsEndpoint(endpoint)).toThrow(InvalidEndpointError);
    expect(() => parseNatsEndpoint(endpoint)).toThrow(message);
  });
});

describe('parseNatsServers', () => {
  it('splits a list of servers', () => {
    expect(
      parseNatsServers('nats://127.0.0.1:4222, nats://127.0.0.1:4223'),
    ).toEqual(['127.0.0.1:4222', '127.0.0.1:4223']);
  });

  it('rejects an invalid server in the list', () => {
    expect(() => parseNatsServers('nats://127.0.0.1:4222,tcp://x:1')).toThrow(
      /invalid endpoint "tcp:\/\/x:1"/,
    );
  });
});

describe('assertJetStreamName', () => {
  it('accepts letters, digits, - and _', () => {
    expect(() => assertJetStreamName('stream', 'ZPUB_test-1')).not.toThrow();
  });

  it.each(['', 'a.b', 'a b', 'a>', 'x'.repeat(65)])('rejects %j', (name) => {
    expect(() => assertJetStreamName('stream', name)).toThrow(
      /invalid stream name/,
    );
  });
});

describe('consumerSubjects', () => {
  it('keeps subjects the stream covers', () => {
    expect(
      consumerSubjects(['number', 'number.>'], ['number', 'number.>']),
    ).toEqual(['number', 'number.>']);
  });

  it('drops subjects the stream cannot store', () => {
    expect(consumerSubjects(['load', 'load.>'], ['load.>'])).toEqual([
      'load.>',
    ]);
  });

  it('narrows a subject broader than the stream', () => {
    expect(
      consumerSubjects(['http', 'http.>'], ['http.GET.>', 'jobs']),
    ).toEqual(['http.GET.>']);
  });

  it('keeps the whole stream for every subject', () => {
    expect(consumerSubjects(['>'], ['http.>'])).toEqual(['>']);
  });

  it('returns nothing when no subject overlaps', () => {
    expect(consumerSubjects(['other', 'other.>'], ['http.>'])).toEqual([]);
  });
});
