import { describe, expect, it } from 'vitest';
import {
  BATCH_CONTENT_TYPE,
  DATA_CONTENT_TYPE,
  MESSAGE_EVENT_TYPE,
  REQUEST_EVENT_TYPE,
  SPEC_VERSION,
  createEvent,
  isRequestEvent,
  sequenceOf,
  type ZpubEvent,
} from '../src/index.js';

const instance = '0b6c7f9e-5a4d-4e43-9a3c-6f1e2d3c4b5a';

function withSequence(sequence: unknown): ZpubEvent {
  return {
    specversion: '1.0',
    id: '1',
    source: 'urn:zpub:test',
    type: MESSAGE_EVENT_TYPE,
    sequence: sequence as string,
  };
}

describe('constants', () => {
  it('uses CloudEvents 1.0', () => {
    expect(SPEC_VERSION).toBe('1.0');
  });

  it('names the request event type', () => {
    expect(REQUEST_EVENT_TYPE).toBe('dev.zpub.http.request');
  });

  it('names the message event type', () => {
    expect(MESSAGE_EVENT_TYPE).toBe('dev.zpub.message');
  });

  it('writes JSON data', () => {
    expect(DATA_CONTENT_TYPE).toBe('application/json');
  });

  it('names the batch media type', () => {
    expect(BATCH_CONTENT_TYPE).toBe('application/cloudevents-batch+json');
  });
});

describe('createEvent', () => {
  const event = createEvent({
    id: 'abc',
    source: 'urn:zpub:test',
    type: REQUEST_EVENT_TYPE,
    time: '2024-05-01T12:00:00.000Z',
    topic: 'http.GET._root',
    sequence: 12,
    instance,
    data: { status: 200 },
  });

  it('writes the attributes in a fixed order', () => {
    expect(Object.keys(event)).toEqual([
      'specversion',
      'id',
      'source',
      'type',
      'time',
      'datacontenttype',
      'topic',
      'sequence',
      'zpubinstance',
      'data',
    ]);
  });

  it('sets specversion', () => {
    expect(event.specversion).toBe('1.0');
  });

  it('sets datacontenttype', () => {
    expect(event.datacontenttype).toBe('application/json');
  });

  it('writes sequence as a decimal string', () => {
    expect(event.sequence).toBe('12');
  });

  it('writes the instance as zpubinstance', () => {
    expect(event.zpubinstance).toBe(instance);
  });

  it('keeps the data', () => {
    expect(event.data).toEqual({ status: 200 });
  });
});

describe('sequenceOf', () => {
  it.each([
    ['1', 1],
    ['42', 42],
    ['0042', 42],
    ['9007199254740991', 9007199254740991],
    [1, 1],
    [42, 42],
  ])('reads %j as %j', (sequence, expected) => {
    expect(sequenceOf(withSequence(sequence))).toBe(expected);
  });

  it.each([
    undefined,
    null,
    '',
    '0',
    '000',
    '-1',
    '+1',
    ' 1',
    '1 ',
    '1.0',
    '1e3',
    '0x10',
    '١٢',
    '9007199254740992',
    '99999999999999999999',
    0,
    -1,
    1.5,
    Number.NaN,
    9007199254740992,
    true,
    [1],
  ])('ignores %j', (sequence) => {
    expect(sequenceOf(withSequence(sequence))).toBeUndefined();
  });
});

describe('isRequestEvent', () => {
  it('accepts the request event type', () => {
    const event = { ...withSequence('1'), type: REQUEST_EVENT_TYPE };
    expect(isRequestEvent(event)).toBe(true);
  });

  it('rejects the message event type', () => {
    expect(isRequestEvent(withSequence('1'))).toBe(false);
  });
});
