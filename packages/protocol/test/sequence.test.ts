import { describe, expect, it } from 'vitest';
import {
  MESSAGE_EVENT_TYPE,
  SequenceTracker,
  type ZpubEvent,
} from '../src/index.js';

const first = '11111111-1111-4111-8111-111111111111';
const second = '22222222-2222-4222-8222-222222222222';

function event(
  sequence: string | number | undefined,
  instance: string | null = first,
  source = 'urn:zpub:a',
): ZpubEvent {
  return {
    specversion: '1.0',
    id: `${instance ?? 'none'}-${sequence ?? 'none'}`,
    source,
    type: MESSAGE_EVENT_TYPE,
    ...(sequence === undefined ? {} : { sequence: sequence as string }),
    ...(instance === null ? {} : { zpubinstance: instance }),
  };
}

/** Feeds events to a new tracker and returns what it found for the last. */
function observeAll(
  ...observations: [topic: string, event: ZpubEvent][]
): ReturnType<SequenceTracker['observe']> {
  const tracker = new SequenceTracker();
  let result: ReturnType<SequenceTracker['observe']> | undefined;
  for (const [topic, item] of observations) {
    result = tracker.observe(topic, item);
  }
  if (result === undefined) {
    throw new Error('observeAll needs at least one event');
  }

  return result;
}

describe('SequenceTracker', () => {
  it('reports the first event', () => {
    expect(observeAll(['number', event('1')])).toEqual({
      kind: 'first',
      instance: first,
    });
  });

  it('reports a late join as first', () => {
    expect(observeAll(['number', event('500')]).kind).toBe('first');
  });

  it('accepts the next sequence', () => {
    const result = observeAll(['number', event('1')], ['number', event('2')]);
    expect(result).toEqual({ kind: 'in-order' });
  });

  it('accepts integer sequences', () => {
    const result = observeAll(['number', event(1)], ['number', event(2)]);
    expect(result.kind).toBe('in-order');
  });

  it('accepts mixed string and integer sequences', () => {
    const result = observeAll(['number', event('1')], ['number', event(2)]);
    expect(result.kind).toBe('in-order');
  });

  it('reports a gap with its count', () => {
    const result = observeAll(['number', event('3')], ['number', event('7')]);
    expect(result).toEqual({
      kind: 'gap',
      topic: 'number',
      instance: first,
      missed: 3,
      expected: 4,
      received: 7,
    });
  });

  it('reports one missed event', () => {
    const result = observeAll(['number', event('1')], ['number', event('3')]);
    expect(result).toMatchObject({ kind: 'gap', missed: 1 });
  });

  it('continues in order after a gap', () => {
    const result = observeAll(
      ['number', event('1')],
      ['number', event('5')],
      ['number', event('6')],
    );
    expect(result.kind).toBe('in-order');
  });

  it('reports a repeat as out-of-order', () => {
    const result = observeAll(['number', event('4')], ['number', event('4')]);
    expect(result).toEqual({
      kind: 'out-of-order',
      topic: 'number',
      instance: first,
      received: 4,
      last: 4,
    });
  });

  it('reports a step back as out-of-order', () => {
    const result = observeAll(['number', event('4')], ['number', event('2')]);
    expect(result.kind).toBe('out-of-order');
  });

  it('keeps the highest sequence after out-of-order', () => {
    const result = observeAll(
      ['number', event('4')],
      ['number', event('2')],
      ['number', event('5')],
    );
    expect(result.kind).toBe('in-order');
  });

  it('counts each topic on its own', () => {
    const result = observeAll(
      ['number', event('1')],
      ['orders', event('1')],
      ['number', event('2')],
      ['orders', event('2')],
    );
    expect(result.kind).toBe('in-order');
  });

  it('reports a new topic as first', () => {
    const result = observeAll(['number', event('9')], ['orders', event('1')]);
    expect(result).toEqual({ kind: 'first', instance: first });
  });

  it('reports a gap only on its own topic', () => {
    const tracker = new SequenceTracker();
    tracker.observe('number', event('1'));
    tracker.observe('orders', event('1'));
    const gap = tracker.observe('number', event('3'));
    const other = tracker.observe('orders', event('2'));
    expect(gap.kind).toBe('gap');
    expect(other.kind).toBe('in-order');
  });

  it('reports a new instance of a source as restart', () => {
    const result = observeAll(
      ['number', event('8', first)],
      ['number', event('1', second)],
    );
    expect(result).toEqual({
      kind: 'restart',
      source: 'urn:zpub:a',
      previous: first,
      current: second,
    });
  });

  it('reports no gap across a restart', () => {
    const result = observeAll(
      ['number', event('8', first)],
      ['number', event('1', second)],
      ['number', event('2', second)],
    );
    expect(result.kind).toBe('in-order');
  });

  it('reports a restart that begins mid-sequence', () => {
    const result = observeAll(
      ['number', event('8', first)],
      ['number', event('5', second)],
    );
    expect(result.kind).toBe('restart');
  });

  it('tracks gaps after a restart', () => {
    const result = observeAll(
      ['number', event('8', first)],
      ['number', event('1', second)],
      ['number', event('4', second)],
    );
    expect(result).toMatchObject({ kind: 'gap', missed: 2, instance: second });
  });

  it('reports another topic after a restart as first', () => {
    const result = observeAll(
      ['number', event('8', first)],
      ['number', event('1', second)],
      ['orders', event('1', second)],
    );
    expect(result).toEqual({ kind: 'first', instance: second });
  });

  it('keeps sources apart', () => {
    const result = observeAll(
      ['number', event('8', first, 'urn:zpub:a')],
      ['number', event('1', second, 'urn:zpub:b')],
    );
    expect(result).toEqual({ kind: 'first', instance: second });
  });

  it('ignores an event without a sequence', () => {
    const result = observeAll(
      ['number', event('1')],
      ['number', event(undefined)],
    );
    expect(result).toEqual({ kind: 'in-order' });
  });

  it('ignores an event without an instance', () => {
    const result = observeAll(
      ['number', event('1')],
      ['number', event('9', null)],
    );
    expect(result).toEqual({ kind: 'in-order' });
  });

  it('ignores an invalid sequence', () => {
    const result = observeAll(['number', event('1')], ['number', event('x')]);
    expect(result).toEqual({ kind: 'in-order' });
  });

  it('does not count an ignored event', () => {
    const result = observeAll(
      ['number', event('1')],
      ['number', event(undefined)],
      ['number', event('2')],
    );
    expect(result.kind).toBe('in-order');
  });
});
