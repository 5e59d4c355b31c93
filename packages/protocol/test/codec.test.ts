import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_MESSAGE_BYTES,
  DecodeError,
  MESSAGE_EVENT_TYPE,
  ZpubError,
  createEvent,
  decodeMessage,
  encodeBatch,
  encodeEvent,
  type DecodeErrorCode,
  type DecodeOptions,
  type ZpubEvent,
} from '../src/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function makeEvent(sequence: number, topic = 'number'): ZpubEvent {
  return createEvent({
    id: `id-${sequence}`,
    source: 'urn:zpub:test',
    type: MESSAGE_EVENT_TYPE,
    time: '2024-05-01T12:00:00.000Z',
    topic,
    sequence,
    instance: '0b6c7f9e-5a4d-4e43-9a3c-6f1e2d3c4b5a',
    data: { value: sequence },
  });
}

function frames(topic: string, payload: string): Uint8Array[] {
  return [encoder.encode(topic), encoder.encode(payload)];
}

function eventJson(fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    specversion: '1.0',
    id: '1',
    source: 'urn:zpub:test',
    type: MESSAGE_EVENT_TYPE,
    ...fields,
  });
}

/** Returns the DecodeError that decodeMessage throws for these frames. */
function decodeError(
  message: readonly Uint8Array[],
  options?: DecodeOptions,
): DecodeError {
  try {
    decodeMessage(message, options);
  } catch (error) {
    if (error instanceof DecodeError) {
      return error;
    }
    throw error;
  }
  throw new Error('decodeMessage accepted the message');
}

function codeOf(
  message: readonly Uint8Array[],
  options?: DecodeOptions,
): DecodeErrorCode {
  return decodeError(message, options).code;
}

describe('encodeEvent', () => {
  it('puts the topic in frame 1', () => {
    const [topic] = encodeEvent('number', makeEvent(1));
    expect(decoder.decode(topic)).toBe('number');
  });

  it('puts the event JSON in frame 2', () => {
    const event = makeEvent(1);
    const [, payload] = encodeEvent('number', event);
    expect(JSON.parse(decoder.decode(payload))).toEqual(event);
  });

  it('round-trips through decodeMessage', () => {
    const event = makeEvent(1);
    const decoded = decodeMessage(encodeEvent('number', event));
    expect(decoded).toEqual({ topic: 'number', events: [event], batch: false });
  });

  it('round-trips non-ASCII data', () => {
    const event = { ...makeEvent(1), data: { text: 'größe 😀 \u2028' } };
    const decoded = decodeMessage(encodeEvent('number', event));
    expect(decoded.events[0]).toEqual(event);
  });
});

describe('encodeBatch', () => {
  it('round-trips three events', () => {
    const events = [makeEvent(1), makeEvent(2), makeEvent(3)];
    const decoded = decodeMessage(encodeBatch('number', events));
    expect(decoded).toEqual({ topic: 'number', events, batch: true });
  });

  it('encodes one event as a plain event', () => {
    const event = makeEvent(1);
    const [, payload] = encodeBatch('number', [event]);
    expect(decoder.decode(payload)).toBe(JSON.stringify(event));
  });

  it('reports one encoded event as no batch', () => {
    const decoded = decodeMessage(encodeBatch('number', [makeEvent(1)]));
    expect(decoded.batch).toBe(false);
  });

  it('encodes no events as an empty array', () => {
    const [, payload] = encodeBatch('number', []);
    expect(decoder.decode(payload)).toBe('[]');
  });

  it('round-trips an empty batch', () => {
    const decoded = decodeMessage(encodeBatch('number', []));
    expect(decoded).toEqual({ topic: 'number', events: [], batch: true });
  });
});

describe('decodeMessage', () => {
  it('decodes a one-item array as a batch', () => {
    const decoded = decodeMessage(frames('number', `[${eventJson()}]`));
    expect(decoded.batch).toBe(true);
  });

  it('accepts an event without a topic attribute', () => {
    const decoded = decodeMessage(frames('number', eventJson()));
    expect(decoded.events).toHaveLength(1);
  });

  it('accepts a matching topic attribute', () => {
    const payload = eventJson({ topic: 'number' });
    expect(decodeMessage(frames('number', payload)).topic).toBe('number');
  });

  it('keeps unknown extension attributes', () => {
    const payload = eventJson({ traceparent: '00-abc-def-01' });
    const [event] = decodeMessage(frames('number', payload)).events;
    expect(event?.traceparent).toBe('00-abc-def-01');
  });

  it('accepts an integer sequence', () => {
    const payload = eventJson({ sequence: 7 });
    const [event] = decodeMessage(frames('number', payload)).events;
    expect(event?.sequence).toBe(7);
  });

  it('accepts a message of exactly the size limit', () => {
    const message = frames('number', eventJson());
    const size = message[0]!.byteLength + message[1]!.byteLength;
    const decoded = decodeMessage(message, { maxMessageBytes: size });
    expect(decoded.events).toHaveLength(1);
  });

  it('accepts exactly the depth limit', () => {
    const payload = eventJson({ data: { a: [{}] } });
    const decoded = decodeMessage(frames('number', payload), { maxDepth: 4 });
    expect(decoded.events).toHaveLength(1);
  });

  it('counts a batch array as one level', () => {
    const payload = `[${eventJson({ data: {} })}]`;
    expect(codeOf(frames('number', payload), { maxDepth: 2 })).toBe(
      'JSON_TOO_DEEP',
    );
  });

  it('ignores brackets inside strings', () => {
    const payload = eventJson({ data: '[[[{{{"\\"[[[' });
    const decoded = decodeMessage(frames('number', payload), { maxDepth: 1 });
    expect(decoded.events).toHaveLength(1);
  });

  it('uses 1 MiB as the default size limit', () => {
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(1048576);
  });

  it('uses 64 as the default depth limit', () => {
    expect(DEFAULT_MAX_DEPTH).toBe(64);
  });

  it('accepts 64 levels by default', () => {
    const data = '['.repeat(63) + ']'.repeat(63);
    const payload = eventJson().replace(/}$/, `,"data":${data}}`);
    expect(decodeMessage(frames('number', payload)).events).toHaveLength(1);
  });

  it('rejects 65 levels by default', () => {
    const data = '['.repeat(64) + ']'.repeat(64);
    const payload = eventJson().replace(/}$/, `,"data":${data}}`);
    expect(codeOf(frames('number', payload))).toBe('JSON_TOO_DEEP');
  });

  it('rejects 1 MiB plus one byte by default', () => {
    const message = frames('number', eventJson());
    const size = message[0]!.byteLength + message[1]!.byteLength;
    const padding = ' '.repeat(DEFAULT_MAX_MESSAGE_BYTES - size + 1);
    const oversized = frames('number', eventJson() + padding);
    expect(codeOf(oversized)).toBe('MESSAGE_TOO_LARGE');
  });

  it('accepts 1 MiB by default', () => {
    const message = frames('number', eventJson());
    const size = message[0]!.byteLength + message[1]!.byteLength;
    const padding = ' '.repeat(DEFAULT_MAX_MESSAGE_BYTES - size);
    const full = frames('number', eventJson() + padding);
    expect(decodeMessage(full).events).toHaveLength(1);
  });
});

describe('decodeMessage errors', () => {
  const valid = eventJson();
  const cases: [string, Uint8Array[], DecodeErrorCode, DecodeOptions?][] = [
    ['no frames', [], 'FRAME_COUNT'],
    ['one frame', [encoder.encode('number')], 'FRAME_COUNT'],
    [
      'three frames',
      [...frames('number', valid), encoder.encode('x')],
      'FRAME_COUNT',
    ],
    [
      'topic with an invalid byte',
      [Uint8Array.of(0x6e, 0xff), encoder.encode(valid)],
      'TOPIC_NOT_UTF8',
    ],
    [
      'topic with an encoded surrogate',
      [Uint8Array.of(0xed, 0xa0, 0x80), encoder.encode(valid)],
      'TOPIC_NOT_UTF8',
    ],
    [
      'topic with an overlong encoding',
      [Uint8Array.of(0xc0, 0xae), encoder.encode(valid)],
      'TOPIC_NOT_UTF8',
    ],
    ['empty topic', frames('', valid), 'INVALID_TOPIC'],
    ['topic with a space', frames('a b', valid), 'INVALID_TOPIC'],
    ['control topic', frames('~zpub.hello.abc', valid), 'INVALID_TOPIC'],
    ['topic with a BOM', frames('\ufeffnumber', valid), 'INVALID_TOPIC'],
    ['topic over 1024 bytes', frames('x'.repeat(1025), valid), 'INVALID_TOPIC'],
    [
      'message over the limit',
      frames('number', valid),
      'MESSAGE_TOO_LARGE',
      { maxMessageBytes: 50 },
    ],
    ['empty payload', frames('number', ''), 'EMPTY_PAYLOAD'],
    [
      'payload with an invalid byte',
      [encoder.encode('number'), Uint8Array.of(0x7b, 0xff, 0x7d)],
      'PAYLOAD_NOT_UTF8',
    ],
    [
      'payload too deep',
      frames('number', eventJson({ data: { a: { b: 1 } } })),
      'JSON_TOO_DEEP',
      { maxDepth: 2 },
    ],
    ['truncated JSON', frames('number', valid.slice(0, -1)), 'INVALID_JSON'],
    ['trailing text', frames('number', `${valid}x`), 'INVALID_JSON'],
    ['payload with a BOM', frames('number', `\ufeff${valid}`), 'INVALID_JSON'],
    ['NaN', frames('number', '{"n":NaN}'), 'INVALID_JSON'],
    ['whitespace only', frames('number', ' '), 'INVALID_JSON'],
    ['JSON string', frames('number', '"hello"'), 'NOT_CLOUDEVENT'],
    ['JSON number', frames('number', '42'), 'NOT_CLOUDEVENT'],
    ['JSON null', frames('number', 'null'), 'NOT_CLOUDEVENT'],
    ['nested array', frames('number', `[[${valid}]]`), 'NOT_CLOUDEVENT'],
    [
      'missing specversion',
      frames('number', '{"id":"1","source":"s","type":"t"}'),
      'NOT_CLOUDEVENT',
    ],
    [
      'missing id',
      frames('number', '{"specversion":"1.0","source":"s","type":"t"}'),
      'NOT_CLOUDEVENT',
    ],
    [
      'empty source',
      frames('number', eventJson({ source: '' })),
      'NOT_CLOUDEVENT',
    ],
    [
      'numeric type',
      frames('number', eventJson({ type: 7 })),
      'NOT_CLOUDEVENT',
    ],
    [
      'invalid second batch item',
      frames('number', `[${valid},{"id":"2"}]`),
      'NOT_CLOUDEVENT',
    ],
    [
      'specversion 0.3',
      frames('number', eventJson({ specversion: '0.3' })),
      'UNSUPPORTED_SPECVERSION',
    ],
    [
      'numeric specversion',
      frames('number', eventJson({ specversion: 1 })),
      'UNSUPPORTED_SPECVERSION',
    ],
    [
      'null specversion',
      frames('number', eventJson({ specversion: null })),
      'UNSUPPORTED_SPECVERSION',
    ],
    [
      'other topic attribute',
      frames('number', eventJson({ topic: 'numbers' })),
      'TOPIC_MISMATCH',
    ],
    [
      'null topic attribute',
      frames('number', eventJson({ topic: null })),
      'TOPIC_MISMATCH',
    ],
    [
      'batch item of another topic',
      frames(
        'number',
        `[${eventJson({ topic: 'number' })},${eventJson({ topic: 'other' })}]`,
      ),
      'TOPIC_MISMATCH',
    ],
  ];

  it.each(
    cases.map(([name, message, code, options]) => ({
      name,
      message,
      code,
      options,
    })),
  )('$name is $code', ({ message, code, options }) => {
    expect(codeOf(message, options)).toBe(code);
  });

  it('covers every code', () => {
    const covered = new Set(cases.map(([, , code]) => code));
    const all: DecodeErrorCode[] = [
      'FRAME_COUNT',
      'TOPIC_NOT_UTF8',
      'INVALID_TOPIC',
      'EMPTY_PAYLOAD',
      'PAYLOAD_NOT_UTF8',
      'MESSAGE_TOO_LARGE',
      'JSON_TOO_DEEP',
      'INVALID_JSON',
      'NOT_CLOUDEVENT',
      'UNSUPPORTED_SPECVERSION',
      'TOPIC_MISMATCH',
    ];
    expect([...covered].sort()).toEqual([...all].sort());
  });
});

describe('decodeMessage check order', () => {
  it('checks the frame count first', () => {
    const message = [Uint8Array.of(0xff), new Uint8Array(), new Uint8Array()];
    expect(codeOf(message)).toBe('FRAME_COUNT');
  });

  it('checks the payload encoding before the depth', () => {
    const payload = Uint8Array.of(0x5b, 0x5b, 0x5b, 0xff);
    const message = [encoder.encode('number'), payload];
    expect(codeOf(message, { maxDepth: 1 })).toBe('PAYLOAD_NOT_UTF8');
  });

  it('checks the topic before the size', () => {
    const message = frames('a b', eventJson());
    expect(codeOf(message, { maxMessageBytes: 10 })).toBe('INVALID_TOPIC');
  });

  it('checks the size before an empty payload', () => {
    const message = frames('number', '');
    expect(codeOf(message, { maxMessageBytes: 3 })).toBe('MESSAGE_TOO_LARGE');
  });

  it('checks the depth before the syntax', () => {
    expect(codeOf(frames('number', '[[[['), { maxDepth: 3 })).toBe(
      'JSON_TOO_DEEP',
    );
  });

  it('checks specversion before id', () => {
    const payload = '{"specversion":"2.0"}';
    expect(codeOf(frames('number', payload))).toBe('UNSUPPORTED_SPECVERSION');
  });

  it('checks required attributes before the topic', () => {
    const payload = '{"specversion":"1.0","topic":"other"}';
    expect(codeOf(frames('number', payload))).toBe('NOT_CLOUDEVENT');
  });
});

describe('DecodeError', () => {
  it('is a ZpubError', () => {
    expect(decodeError(frames('number', ''))).toBeInstanceOf(ZpubError);
  });

  it('carries the topic when it was UTF-8', () => {
    expect(decodeError(frames('number', '')).topic).toBe('number');
  });

  it('carries the invalid topic text', () => {
    expect(decodeError(frames('a b', eventJson())).topic).toBe('a b');
  });

  it('has no topic when the topic is not UTF-8', () => {
    const message = [Uint8Array.of(0xff), encoder.encode(eventJson())];
    expect(decodeError(message).topic).toBeUndefined();
  });

  it('carries the total size of all frames', () => {
    const message = [
      encoder.encode('a'),
      encoder.encode('bc'),
      Uint8Array.of(1),
    ];
    expect(decodeError(message).size).toBe(4);
  });

  it('names the batch item in the reason', () => {
    const payload = `[${eventJson()},"x"]`;
    expect(decodeError(frames('number', payload)).reason).toContain(
      'batch item 1',
    );
  });

  it('uses the reason as its message', () => {
    const error = decodeError(frames('number', ''));
    expect(error.message).toBe(error.reason);
  });
});
