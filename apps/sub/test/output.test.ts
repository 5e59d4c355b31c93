import { Publisher } from '@zpub/client';
import { encodeEvent, type ZpubEvent } from '@zpub/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  RawPublisher,
  ZsubProcess,
  killRunningZsubs,
  makeEvent,
  runZsub,
} from './helpers.js';

const ANSI_ESCAPE = '\u001b[';

let publisher: Publisher;

beforeEach(async () => {
  publisher = await Publisher.open({ endpoint: 'tcp://127.0.0.1:0' });
});

afterEach(async () => {
  await killRunningZsubs();
  await publisher.close();
});

/** Starts zsub, waits until it is ready, and publishes each message. */
async function publishTo(
  args: readonly string[],
  messages: ReadonlyArray<[topic: string, data: unknown]>,
  env: Record<string, string> = {},
): Promise<ZsubProcess> {
  const zsub = new ZsubProcess(
    ['--endpoint', publisher.endpoint, ...args],
    env,
  );
  await zsub.waitForReady();
  for (const [topic, data] of messages) {
    publisher.publish(topic, data);
  }

  return zsub;
}

describe('json output', () => {
  it('prints three events in order', async () => {
    const zsub = await publishTo(
      ['--json', '--count', '3'],
      [
        ['number', { n: 1 }],
        ['number', { n: 2 }],
        ['number', { n: 3 }],
      ],
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    const events = zsub.stdoutLines.map(
      (line) => JSON.parse(line) as ZpubEvent,
    );
    expect(events.map((event) => event.data)).toEqual([
      { n: 1 },
      { n: 2 },
      { n: 3 },
    ]);
    expect(events.map((event) => event.sequence)).toEqual(['1', '2', '3']);
    for (const event of events) {
      expect(event.specversion).toBe('1.0');
      expect(event.topic).toBe('number');
      expect(event.source).toBe(publisher.source);
      expect(event.zpubinstance).toBe(publisher.instance);
    }
  });

  it('is the default when stdout is a pipe', async () => {
    const zsub = await publishTo(['--count', '1'], [['number', { n: 1 }]]);

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toHaveLength(1);
    const event = JSON.parse(zsub.stdoutLines[0] as string) as ZpubEvent;
    expect(event.data).toEqual({ n: 1 });
  });

  it('prints one line per event of a batch', async () => {
    const messages = Array.from(
      { length: 50 },
      (_, index): [string, unknown] => ['number', { n: index + 1 }],
    );
    const zsub = await publishTo(['--json', '--count', '50'], messages);

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    const numbers = zsub.stdoutLines.map(
      (line) => (JSON.parse(line) as ZpubEvent<{ n: number }>).data?.n,
    );
    expect(numbers).toEqual(messages.map((_, index) => index + 1));
  });

  it('writes all output before exiting', async () => {
    // About 4 MB, far more than a pipe buffers, so zsub has to wait for the
    // reader while it writes.
    const padding = 'x'.repeat(2000);
    const messages = Array.from(
      { length: 2000 },
      (_, index): [string, unknown] => ['number', { n: index + 1, padding }],
    );
    const zsub = await publishTo(['--json', '--count', '2000'], messages);

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toHaveLength(2000);
    const last = JSON.parse(zsub.stdoutLines[1999] as string) as ZpubEvent<{
      n: number;
    }>;
    expect(last.data?.n).toBe(2000);
  });
});

describe('pretty output', () => {
  const PRETTY_LINE = /^\d{2}:\d{2}:\d{2}\.\d{3} number \{"n":1\}$/;

  it('prints time, topic and data without color', async () => {
    const zsub = await publishTo(
      ['--output', 'pretty', '--no-color', '--count', '1'],
      [['number', { n: 1 }]],
      { FORCE_COLOR: '1' },
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toHaveLength(1);
    expect(zsub.stdoutLines[0]).toMatch(PRETTY_LINE);
  });

  it('colors output when color is forced', async () => {
    const zsub = await publishTo(
      ['--output', 'pretty', '--count', '1'],
      [['number', { n: 1 }]],
      { FORCE_COLOR: '1' },
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    const line = zsub.stdoutLines[0] as string;
    expect(line).toContain(ANSI_ESCAPE);
    // eslint-disable-next-line no-control-regex
    expect(line.replace(/\u001b\[[0-9;]*m/g, '')).toMatch(PRETTY_LINE);
  });

  it('turns color off for NO_COLOR', async () => {
    const zsub = await publishTo(
      ['--output', 'pretty', '--count', '1'],
      [['number', { n: 1 }]],
      { FORCE_COLOR: '1', NO_COLOR: '1' },
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines[0]).toMatch(PRETTY_LINE);
  });

  it('keeps color for an empty NO_COLOR', async () => {
    const zsub = await publishTo(
      ['--output', 'pretty', '--count', '1'],
      [['number', { n: 1 }]],
      { FORCE_COLOR: '1', NO_COLOR: '' },
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines[0]).toContain(ANSI_ESCAPE);
  });

  it('has no color when stdout is a pipe', async () => {
    const zsub = await publishTo(
      ['--output', 'pretty', '--count', '1'],
      [['number', { n: 1 }]],
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines[0]).toMatch(PRETTY_LINE);
  });

  it('shows the event time in local time', async () => {
    const raw = await RawPublisher.open({ replyToHello: true });
    try {
      const zsub = new ZsubProcess(
        ['--endpoint', raw.endpoint, '--output', 'pretty', '--count', '1'],
        { TZ: 'Asia/Kolkata' },
      );
      await zsub.waitForReady();
      const event = makeEvent({
        time: '2024-01-02T03:04:05.678Z',
        data: 'text',
      });
      await raw.send(encodeEvent('number', event));

      expect(await zsub.exited).toEqual({ code: 0, signal: null });
      // Asia/Kolkata is UTC+05:30 all year.
      expect(zsub.stdoutLines).toEqual(['08:34:05.678 number "text"']);
    } finally {
      raw.close();
    }
  });
});

describe('raw output', () => {
  it('prints only the data', async () => {
    const zsub = await publishTo(
      ['--raw', '--count', '5'],
      [
        ['number', 'plain text'],
        ['number', { n: 1 }],
        ['number', [1, 2]],
        ['number', 42],
        ['number', null],
      ],
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual([
      'plain text',
      '{"n":1}',
      '[1,2]',
      '42',
      'null',
    ]);
  });
});

describe('topic filter', () => {
  it('matches whole tokens only', async () => {
    const zsub = await publishTo(
      ['--topic', 'number', '--raw', '--count', '2'],
      [
        ['numbers', 'numbers'],
        ['other', 'other'],
        ['number.x', 'number.x'],
        ['number', 'number'],
      ],
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['number.x', 'number']);
    expect(zsub.stderrLines[0]).toBe(
      `zsub: ready, subscribed to ${publisher.endpoint} (topics: number)`,
    );
  });

  it('takes several topics', async () => {
    const zsub = await publishTo(
      ['--topic', 'a,b', '--topic', 'c', '--raw', '--count', '3'],
      [
        ['a', 'a'],
        ['d', 'd'],
        ['b', 'b'],
        ['c', 'c'],
      ],
    );

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['a', 'b', 'c']);
    expect(zsub.stderrLines[0]).toContain('(topics: a, b, c)');
  });
});

describe('environment variables', () => {
  it('set the endpoint, topics, output and count', async () => {
    const zsub = new ZsubProcess([], {
      ZSUB_ENDPOINT: publisher.endpoint,
      ZSUB_TOPIC: 'a,b',
      ZSUB_OUTPUT: 'raw',
      ZSUB_COUNT: '2',
    });
    await zsub.waitForReady();
    publisher.publish('c', 'c');
    publisher.publish('a', 'a');
    publisher.publish('b', 'b');

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    expect(zsub.stdoutLines).toEqual(['a', 'b']);
  });

  it('conflict with each other as a usage error', async () => {
    const result = await runZsub([], {
      ZSUB_ENDPOINT: 'tcp://127.0.0.1:1',
      ZSUB_PORT: '1',
    });

    expect(result.code).toBe(2);
    expect(result.stderr[0]).toBe(
      'zsub: ZSUB_ENDPOINT cannot be combined with ZSUB_HOST or ZSUB_PORT. Unset one of them.',
    );
  });

  it('yield to the command line', async () => {
    const port = publisher.endpoint.split(':').pop() as string;
    const zsub = new ZsubProcess(['--port', port, '--json', '--count', '1'], {
      ZSUB_ENDPOINT: 'tcp://127.0.0.1:1',
      ZSUB_OUTPUT: 'raw',
    });
    await zsub.waitForReady();
    publisher.publish('number', { n: 1 });

    expect(await zsub.exited).toEqual({ code: 0, signal: null });
    const event = JSON.parse(zsub.stdoutLines[0] as string) as ZpubEvent;
    expect(event.data).toEqual({ n: 1 });
  });
});
