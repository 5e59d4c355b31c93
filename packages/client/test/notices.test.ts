import { DecodeError, type DecodeErrorCode } from '@zpub/protocol';
import { describe, expect, it } from 'vitest';
import {
  collect,
  openPublisher,
  openRawPublisher,
  sendEvent,
  sendText,
} from './helpers.js';

const SOURCE = 'zpub://test/notices';

describe('gap notice', () => {
  it('reports events missed between sequences', async () => {
    const transport = await openRawPublisher();
    const collector = await collect({
      endpoint: transport.endpoint,
      topics: ['number'],
    });

    for (const sequence of [1, 2, 5]) {
      await sendEvent(transport, {
        topic: 'number',
        sequence,
        instance: 'instance-a',
        source: SOURCE,
      });
    }
    const events = await collector.take(3);
    const gaps = collector.notices.filter((notice) => notice.kind === 'gap');

    expect(events.map((event) => event.sequence)).toEqual(['1', '2', '5']);
    expect(gaps).toEqual([
      {
        kind: 'gap',
        topic: 'number',
        instance: 'instance-a',
        missed: 2,
        expected: 3,
        received: 5,
      },
    ]);
  });

  it('counts sequences per topic', async () => {
    const transport = await openRawPublisher();
    const collector = await collect({
      endpoint: transport.endpoint,
      topics: ['number'],
    });

    const sends: [topic: string, sequence: number][] = [
      ['number.a', 1],
      ['number.b', 1],
      ['number.a', 2],
      ['number.b', 2],
    ];
    for (const [topic, sequence] of sends) {
      await sendEvent(transport, { topic, sequence, instance: 'instance-a' });
    }
    await collector.take(sends.length);

    expect(collector.notices.map((notice) => notice.kind)).toEqual(['ready']);
  });
});

describe('out-of-order notice', () => {
  it('reports a sequence that went back', async () => {
    const transport = await openRawPublisher();
    const collector = await collect({
      endpoint: transport.endpoint,
      topics: ['number'],
    });

    for (const sequence of [1, 2, 3, 2, 4]) {
      await sendEvent(transport, {
        topic: 'number',
        sequence,
        instance: 'instance-a',
      });
    }
    const events = await collector.take(5);
    const kinds = collector.notices.map((notice) => notice.kind);

    expect(events.map((event) => event.sequence)).toEqual([
      '1',
      '2',
      '3',
      '2',
      '4',
    ]);
    expect(kinds).toEqual(['ready', 'out-of-order']);
    expect(collector.notices[1]).toMatchObject({
      kind: 'out-of-order',
      topic: 'number',
      instance: 'instance-a',
      received: 2,
    });
  });
});

describe('restart notice', () => {
  it('reports a new instance of one source', async () => {
    const transport = await openRawPublisher();
    const collector = await collect({
      endpoint: transport.endpoint,
      topics: ['number'],
    });

    const sends: [instance: string, sequence: number][] = [
      ['instance-a', 1],
      ['instance-a', 2],
      ['instance-b', 1],
      ['instance-b', 2],
    ];
    for (const [instance, sequence] of sends) {
      await sendEvent(transport, {
        topic: 'number',
        sequence,
        instance,
        source: SOURCE,
      });
    }
    const events = await collector.take(sends.length);
    const kinds = collector.notices.map((notice) => notice.kind);

    expect(events.map((event) => event.zpubinstance)).toEqual(
      sends.map(([instance]) => instance),
    );
    expect(kinds).toEqual(['ready', 'restart']);
    expect(collector.notices[1]).toEqual({
      kind: 'restart',
      source: SOURCE,
      previous: 'instance-a',
      current: 'instance-b',
    });
  });

  it('follows a publisher restart on one port', async () => {
    const first = await openPublisher({ source: SOURCE });
    const endpoint = first.endpoint;
    const collector = await collect({ endpoint, topics: ['number'] });
    first.publish('number', 'before');
    const [before] = await collector.take(1);

    await first.close();
    const disconnected = await collector.nextNotice('disconnected');
    const second = await openPublisher({ endpoint, source: SOURCE });
    const reconnected = await collector.nextNotice('reconnected');
    second.publish('number', 'after');
    const [after] = await collector.take(1);
    const restart = await collector.nextNotice('restart');

    expect(before?.zpubinstance).toBe(first.instance);
    expect(disconnected).toEqual({ kind: 'disconnected', endpoint });
    expect(reconnected).toEqual({
      kind: 'reconnected',
      endpoint,
      confirmed: true,
    });
    expect(after?.zpubinstance).toBe(second.instance);
    expect(after?.sequence).toBe('1');
    expect(restart).toEqual({
      kind: 'restart',
      source: SOURCE,
      previous: first.instance,
      current: second.instance,
    });
    expect(collector.notices.some((notice) => notice.kind === 'gap')).toBe(
      false,
    );
  });
});

describe('invalid notice', () => {
  it('reports each malformed message and goes on', async () => {
    const transport = await openRawPublisher();
    const collector = await collect({
      endpoint: transport.endpoint,
      topics: ['number'],
      maxMessageBytes: 1024,
    });

    const malformed: [payload: string, code: DecodeErrorCode][] = [
      ['not json', 'INVALID_JSON'],
      ['', 'EMPTY_PAYLOAD'],
      ['{}', 'NOT_CLOUDEVENT'],
      ['[{"specversion":"1.0","id":"1","source":"s"}]', 'NOT_CLOUDEVENT'],
      [
        '{"specversion":"0.3","id":"1","source":"s","type":"t"}',
        'UNSUPPORTED_SPECVERSION',
      ],
      [
        '{"specversion":"1.0","id":"1","source":"s","type":"t","topic":"other"}',
        'TOPIC_MISMATCH',
      ],
      [`"${'x'.repeat(2000)}"`, 'MESSAGE_TOO_LARGE'],
      [`${'['.repeat(100)}${']'.repeat(100)}`, 'JSON_TOO_DEEP'],
    ];
    for (const [payload] of malformed) {
      await sendText(transport, 'number', payload);
    }
    await sendEvent(transport, {
      topic: 'number',
      sequence: 1,
      instance: 'instance-a',
      data: 'valid',
    });
    const [event] = await collector.take(1);
    const invalid = collector.notices.flatMap((notice) =>
      notice.kind === 'invalid' ? [notice.error] : [],
    );

    expect(event?.data).toBe('valid');
    expect(invalid.map((error) => error.code)).toEqual(
      malformed.map(([, code]) => code),
    );
    for (const error of invalid) {
      expect(error).toBeInstanceOf(DecodeError);
      expect(error.topic).toBe('number');
    }
  });

  it('is not reported for an unsubscribed topic', async () => {
    const transport = await openRawPublisher();
    const collector = await collect({
      endpoint: transport.endpoint,
      topics: ['number'],
    });

    // `numbers` passes the byte-prefix filter of the socket but not the
    // whole-token filter `number`.
    await sendText(transport, 'numbers', 'not json');
    await sendEvent(transport, {
      topic: 'number',
      sequence: 1,
      instance: 'instance-a',
    });
    const [event] = await collector.take(1);

    expect(event?.topic).toBe('number');
    expect(collector.notices.map((notice) => notice.kind)).toEqual(['ready']);
  });
});
